from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0002_exchange_billing_linking')]

    initial = False

    operations = [
        ops.AddField(
            model_name='CopySettings',
            name='daily_loss_hit_on',
            field=fields.DateField(null=True),
        ),
    ]
