from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.AlterModelOptions(
            name='CopySettings',
            options={'table': 'copy_settings', 'app': 'models', 'pk_attr': 'subscription_id'},
        ),
        ops.AlterModelOptions(
            name='PaperAccount',
            options={'table': 'paper_accounts', 'app': 'models', 'pk_attr': 'user_id', 'table_description': "A follower's paper wallet. ``balance`` is realized equity in ``currency``."},
        ),
        ops.AlterModelOptions(
            name='SignalState',
            options={'table': 'signal_states', 'app': 'models', 'pk_attr': 'signal_id', 'table_description': 'Mutable lifecycle projection of a signal, rebuilt only from its events.'},
        ),
        ops.AddField(
            model_name='User',
            name='discord_user_id',
            field=fields.BigIntField(null=True, unique=True),
        ),
    ]
