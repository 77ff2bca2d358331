from tortoise import migrations
from tortoise.migrations import operations as ops
from domain.linking_models import Platform, PostStatus, SourceMode
from domain.models import EventKind, OrderStatus, SubscriptionStatus
from orjson import loads
from tortoise.fields.base import OnDelete
from tortoise.fields.data import JSON_DUMPS
from tortoise import fields

class Migration(migrations.Migration):
    dependencies = [('models', '0001_initial')]

    initial = False

    operations = [
        ops.CreateModel(
            name='BillingCustomer',
            fields=[
                ('user', fields.OneToOneField('models.User', source_field='user_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='billing_customer', on_delete=OnDelete.CASCADE)),
                ('customer_id', fields.CharField(unique=True, max_length=64)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'billing_customers', 'app': 'models', 'pk_attr': 'user_id', 'table_description': 'The Stripe customer of a user (one per user, created at the first checkout).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ChannelSource',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('provider', fields.ForeignKeyField('models.Provider', source_field='provider_id', db_constraint=True, to_field='id', related_name='channel_sources', on_delete=OnDelete.CASCADE)),
                ('added_by', fields.ForeignKeyField('models.User', source_field='added_by_id', db_constraint=True, to_field='id', related_name='channel_sources', on_delete=OnDelete.CASCADE)),
                ('platform', fields.CharEnumField(description='TELEGRAM: telegram\nDISCORD: discord\nAPI: api', enum_type=Platform, max_length=16)),
                ('chat_id', fields.BigIntField()),
                ('title', fields.CharField(default='', max_length=128)),
                ('mode', fields.CharEnumField(default=SourceMode.CONFIRM, description='AUTO: auto\nCONFIRM: confirm', enum_type=SourceMode, max_length=8)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'channel_sources', 'app': 'models', 'unique_together': (('platform', 'chat_id'),), 'pk_attr': 'id', 'table_description': "A provider's own Telegram channel or Discord channel whose posts are parsed."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='ConnectAccount',
            fields=[
                ('provider', fields.OneToOneField('models.Provider', source_field='provider_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='connect_account', on_delete=OnDelete.CASCADE)),
                ('account_id', fields.CharField(unique=True, max_length=64)),
                ('charges_enabled', fields.BooleanField(default=False)),
                ('payouts_enabled', fields.BooleanField(default=False)),
                ('details_submitted', fields.BooleanField(default=False)),
                ('stripe_version', fields.BigIntField(default=0)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'connect_accounts', 'app': 'models', 'pk_attr': 'provider_id', 'table_description': "A provider's Stripe Connect (Express) account and its onboarding state."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DiscordAlert',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('guild_id', fields.BigIntField(db_index=True)),
                ('channel_id', fields.BigIntField()),
                ('provider', fields.ForeignKeyField('models.Provider', source_field='provider_id', db_constraint=True, to_field='id', related_name='discord_alerts', on_delete=OnDelete.CASCADE)),
                ('created_by', fields.BigIntField()),
                ('enabled', fields.BooleanField(default=True)),
                ('disabled_reason', fields.TextField(default='', unique=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'discord_alerts', 'app': 'models', 'unique_together': (('channel_id', 'provider'),), 'pk_attr': 'id', 'table_description': "One provider's signals posted into one Discord channel."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='DiscordAlertMessage',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('alert', fields.ForeignKeyField('models.DiscordAlert', source_field='alert_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('signal', fields.ForeignKeyField('models.Signal', source_field='signal_id', db_constraint=True, to_field='id', related_name='discord_messages', on_delete=OnDelete.CASCADE)),
                ('message_id', fields.BigIntField()),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'discord_alert_messages', 'app': 'models', 'unique_together': (('alert', 'signal'),), 'pk_attr': 'id', 'table_description': 'The Discord message that shows one signal in one alert channel (edited in place).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LedgerEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subscription', fields.ForeignKeyField('models.Subscription', source_field='subscription_id', null=True, db_constraint=True, to_field='id', related_name='ledger', on_delete=OnDelete.SET_NULL)),
                ('provider', fields.ForeignKeyField('models.Provider', source_field='provider_id', db_constraint=True, to_field='id', related_name='ledger', on_delete=OnDelete.RESTRICT)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', null=True, db_constraint=True, to_field='id', related_name='payments', on_delete=OnDelete.SET_NULL)),
                ('currency', fields.CharField(max_length=3)),
                ('gross', fields.DecimalField(max_digits=24, decimal_places=8)),
                ('stripe_fee', fields.DecimalField(null=True, max_digits=24, decimal_places=8)),
                ('platform_fee', fields.DecimalField(max_digits=24, decimal_places=8)),
                ('provider_net', fields.DecimalField(max_digits=24, decimal_places=8)),
                ('fee_pct', fields.DecimalField(max_digits=6, decimal_places=3)),
                ('period_start', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('period_end', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('paid_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('stripe_invoice_id', fields.CharField(unique=True, max_length=64)),
                ('stripe_subscription_id', fields.CharField(null=True, max_length=64)),
                ('stripe_payment_intent_id', fields.CharField(null=True, max_length=64)),
                ('stripe_event_id', fields.CharField(max_length=255)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'ledger_entries', 'app': 'models', 'pk_attr': 'id', 'table_description': 'One payment of a subscription invoice, unique per Stripe invoice.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='LinkCode',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('code_hash', fields.CharField(unique=True, max_length=64)),
                ('user', fields.ForeignKeyField('models.User', source_field='user_id', db_constraint=True, to_field='id', related_name='link_codes', on_delete=OnDelete.CASCADE)),
                ('platform', fields.CharEnumField(description='TELEGRAM: telegram\nDISCORD: discord\nAPI: api', enum_type=Platform, max_length=16)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'link_codes', 'app': 'models', 'pk_attr': 'id', 'table_description': "A one-time code that links another app's identity to the issuing account."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotificationPreferences',
            fields=[
                ('user', fields.OneToOneField('models.User', source_field='user_id', primary_key=True, db_index=True, db_constraint=True, to_field='id', related_name='notification_preferences', on_delete=OnDelete.CASCADE)),
                ('muted_kinds', fields.JSONField(default=list, encoder=JSON_DUMPS, decoder=loads)),
                ('quiet_start', fields.IntField(null=True)),
                ('quiet_end', fields.IntField(null=True)),
                ('time_zone', fields.CharField(default='UTC', max_length=64)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'notification_preferences', 'app': 'models', 'pk_attr': 'user_id', 'table_description': 'Which signal events a user receives and their quiet hours (local time).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PendingPost',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('provider', fields.ForeignKeyField('models.Provider', source_field='provider_id', db_constraint=True, to_field='id', related_name='pending_posts', on_delete=OnDelete.CASCADE)),
                ('author', fields.ForeignKeyField('models.User', source_field='author_id', db_constraint=True, to_field='id', related_name='pending_posts', on_delete=OnDelete.CASCADE)),
                ('source', fields.ForeignKeyField('models.ChannelSource', source_field='source_id', null=True, db_constraint=True, to_field='id', related_name='posts', on_delete=OnDelete.SET_NULL)),
                ('platform', fields.CharEnumField(description='TELEGRAM: telegram\nDISCORD: discord\nAPI: api', enum_type=Platform, max_length=16)),
                ('chat_id', fields.BigIntField()),
                ('message_id', fields.BigIntField()),
                ('text', fields.TextField(default='', unique=False)),
                ('status', fields.CharEnumField(default=PostStatus.PENDING, description='PENDING: PENDING\nEDITING: EDITING\nPUBLISHED: PUBLISHED\nCANCELLED: CANCELLED', enum_type=PostStatus, max_length=16)),
                ('problem', fields.TextField(default='', unique=False)),
                ('signal', fields.ForeignKeyField('models.Signal', source_field='signal_id', null=True, db_constraint=True, to_field='id', related_name='posts', on_delete=OnDelete.SET_NULL)),
                ('preview_chat_id', fields.BigIntField(null=True)),
                ('preview_message_id', fields.BigIntField(null=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
            ],
            options={'table': 'pending_posts', 'app': 'models', 'unique_together': (('platform', 'chat_id', 'message_id'),), 'pk_attr': 'id', 'table_description': 'A parsed draft awaiting the provider: a channel post or a /publish message.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='StripeEvent',
            fields=[
                ('id', fields.CharField(primary_key=True, unique=True, db_index=True, max_length=255)),
                ('type', fields.CharField(max_length=96)),
                ('created', fields.BigIntField()),
                ('payload', fields.JSONField(encoder=JSON_DUMPS, decoder=loads)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('processed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('outcome', fields.TextField(default='', unique=False)),
            ],
            options={'table': 'stripe_events', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A Stripe webhook event, stored once by its id. A redelivery finds the row and'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='SubscriptionTransition',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('subscription', fields.ForeignKeyField('models.Subscription', source_field='subscription_id', db_constraint=True, to_field='id', related_name='transitions', on_delete=OnDelete.CASCADE)),
                ('from_status', fields.CharField(max_length=16)),
                ('to_status', fields.CharField(max_length=16)),
                ('cause', fields.CharField(max_length=128)),
                ('note', fields.TextField(default='', unique=False)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'subscription_transitions', 'app': 'models', 'pk_attr': 'id', 'table_description': "One change of a subscription's status and the cause of it (a Stripe event id"},
            bases=['Model'],
        ),
        ops.AlterField(
            model_name='CopyOrder',
            name='status',
            field=fields.CharEnumField(default=OrderStatus.PENDING, description='PENDING: PENDING\nSENDING: SENDING\nPLACED: PLACED\nPARTIALLY_FILLED: PARTIALLY_FILLED\nFILLED: FILLED\nSKIPPED: SKIPPED\nFAILED: FAILED\nCANCELLED: CANCELLED', enum_type=OrderStatus, max_length=16),
        ),
        ops.AddField(
            model_name='CopyOrder',
            name='acked_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='CopyOrder',
            name='attempts',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='CopyOrder',
            name='claimed_by',
            field=fields.CharField(default='', db_default='', max_length=32),
        ),
        ops.AddField(
            model_name='CopyOrder',
            name='exchange',
            field=fields.CharField(default='paper', db_default='paper', max_length=32),
        ),
        ops.AddField(
            model_name='CopyOrder',
            name='exchange_account_id',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='CopyOrder',
            name='exchange_order_id',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='CopyOrder',
            name='filled',
            field=fields.DecimalField(null=True, max_digits=30, decimal_places=12),
        ),
        ops.AddField(
            model_name='CopyOrder',
            name='limit_price',
            field=fields.DecimalField(null=True, max_digits=30, decimal_places=12),
        ),
        ops.AddField(
            model_name='CopyOrder',
            name='order_type',
            field=fields.CharField(default='market', db_default='market', max_length=16),
        ),
        ops.AddField(
            model_name='CopyOrder',
            name='sent_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='CopyOrder',
            name='stop_price',
            field=fields.DecimalField(null=True, max_digits=30, decimal_places=12),
        ),
        ops.AlterModelOptions(
            name='CopySettings',
            options={'table': 'copy_settings', 'app': 'models', 'pk_attr': 'subscription_id'},
        ),
        ops.AddField(
            model_name='CopySettings',
            name='allowed_symbols',
            field=fields.JSONField(default=list, db_default='[]', encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='CopySettings',
            name='denied_symbols',
            field=fields.JSONField(default=list, db_default='[]', encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='CopySettings',
            name='exit_ladder',
            field=fields.JSONField(default=list, db_default='[]', encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='CopySettings',
            name='leverage_cap',
            field=fields.IntField(default=10, db_default=10),
        ),
        ops.AddField(
            model_name='CopySettings',
            name='max_daily_loss_pct',
            field=fields.DecimalField(default='5', db_default='5', max_digits=6, decimal_places=3),
        ),
        ops.AddField(
            model_name='CopySettings',
            name='move_stop_to_breakeven',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='CopySettings',
            name='slippage_action',
            field=fields.CharField(default='skip', db_default='skip', max_length=8),
        ),
        ops.AddField(
            model_name='CopySettings',
            name='slippage_guard_pct',
            field=fields.DecimalField(default='0.5', db_default='0.5', max_digits=6, decimal_places=3),
        ),
        ops.AlterModelOptions(
            name='PaperAccount',
            options={'table': 'paper_accounts', 'app': 'models', 'pk_attr': 'user_id', 'table_description': "A follower's paper wallet. ``balance`` is realized equity in ``currency``."},
        ),
        ops.AlterModelOptions(
            name='Position',
            options={'table': 'positions', 'app': 'models', 'pk_attr': 'id', 'table_description': "A follower's position (paper or live) opened by a filled copy entry order."},
        ),
        ops.AddField(
            model_name='Position',
            name='break_even_after_first_target',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Position',
            name='exchange_account_id',
            field=fields.IntField(null=True),
        ),
        ops.AddField(
            model_name='Position',
            name='exit_amounts',
            field=fields.JSONField(null=True, encoder=JSON_DUMPS, decoder=loads),
        ),
        ops.AddField(
            model_name='Position',
            name='mode',
            field=fields.CharField(default='paper', db_default='paper', max_length=8),
        ),
        ops.AddField(
            model_name='Position',
            name='stop_on_exchange',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Provider',
            name='trial_days',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.AlterField(
            model_name='SignalEvent',
            name='kind',
            field=fields.CharEnumField(description='PUBLISHED: PUBLISHED\nACTIVATED: ACTIVATED\nTARGET_HIT: TARGET_HIT\nSTOP_HIT: STOP_HIT\nCLOSED: CLOSED\nCANCELLED: CANCELLED\nEXPIRED: EXPIRED\nSTOP_MOVED: STOP_MOVED', enum_type=EventKind, max_length=16),
        ),
        ops.AlterModelOptions(
            name='SignalState',
            options={'table': 'signal_states', 'app': 'models', 'pk_attr': 'signal_id', 'table_description': 'Mutable lifecycle projection of a signal, rebuilt only from its events.'},
        ),
        ops.AlterModelOptions(
            name='Subscription',
            options={'table': 'subscriptions', 'app': 'models', 'unique_together': (('user', 'provider'),), 'pk_attr': 'id', 'table_description': "A user's subscription to a provider and its billing state."},
        ),
        ops.AlterField(
            model_name='Subscription',
            name='status',
            field=fields.CharEnumField(default=SubscriptionStatus.ACTIVE, description='PENDING_PAYMENT: PENDING_PAYMENT\nTRIALING: TRIALING\nACTIVE: ACTIVE\nPAST_DUE: PAST_DUE\nPAUSED: PAUSED\nCANCELLED: CANCELLED\nEXPIRED: EXPIRED', enum_type=SubscriptionStatus, max_length=16),
        ),
        ops.AddField(
            model_name='Subscription',
            name='cancel_at_period_end',
            field=fields.BooleanField(default=False, db_default=False),
        ),
        ops.AddField(
            model_name='Subscription',
            name='current_period_end',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Subscription',
            name='grace_until',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='Subscription',
            name='monthly_price',
            field=fields.DecimalField(default='0', db_default='0', max_digits=12, decimal_places=2),
        ),
        ops.AddField(
            model_name='Subscription',
            name='stripe_customer_id',
            field=fields.CharField(null=True, max_length=64),
        ),
        ops.AddField(
            model_name='Subscription',
            name='stripe_subscription_id',
            field=fields.CharField(null=True, unique=True, max_length=64),
        ),
        ops.AddField(
            model_name='Subscription',
            name='stripe_version',
            field=fields.BigIntField(default=0, db_default=0),
        ),
        ops.AddField(
            model_name='User',
            name='discord_user_id',
            field=fields.BigIntField(null=True, unique=True),
        ),
    ]
