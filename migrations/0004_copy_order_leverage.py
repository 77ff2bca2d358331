from tortoise import fields, migrations
from tortoise.migrations import operations as ops


class Migration(migrations.Migration):
    dependencies = [('models', '0003_daily_loss_latch')]

    initial = False

    operations = [
        ops.AddField(
            model_name='CopyOrder',
            name='leverage',
            field=fields.IntField(null=True),
        ),
    ]
