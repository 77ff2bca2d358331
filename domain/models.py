"""Persistent models (tortoise-orm). Prices and amounts are ``Decimal``/``NUMERIC``.

Published signals are append-only: ``Signal`` rows are never updated; corrections and
outcomes are ``SignalEvent`` rows, and the mutable projection of a signal's lifecycle
lives in ``SignalState``. Unique constraints carry the idempotency of every job.
"""

from __future__ import annotations

from enum import StrEnum

# Prices: NUMERIC(30, 12); money amounts: NUMERIC(24, 8).
from tortoise import fields
from tortoise.models import Model


class Role(StrEnum):
    USER = "user"
    PROVIDER = "provider"
    ADMIN = "admin"


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class SignalStatus(StrEnum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class Outcome(StrEnum):
    STOP_LOSS = "STOP_LOSS"
    TARGET = "TARGET"
    CLOSED_BY_PROVIDER = "CLOSED_BY_PROVIDER"


class EventKind(StrEnum):
    PUBLISHED = "PUBLISHED"
    ACTIVATED = "ACTIVATED"
    TARGET_HIT = "TARGET_HIT"
    STOP_HIT = "STOP_HIT"
    CLOSED = "CLOSED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"
    STOP_MOVED = "STOP_MOVED"


class SubscriptionStatus(StrEnum):
    """Lifecycle of a subscription (see ``domain.billing`` for the transitions)."""

    PENDING_PAYMENT = "PENDING_PAYMENT"
    TRIALING = "TRIALING"
    ACTIVE = "ACTIVE"
    PAST_DUE = "PAST_DUE"
    PAUSED = "PAUSED"
    CANCELLED = "CANCELLED"
    EXPIRED = "EXPIRED"


class OrderStatus(StrEnum):
    """Copy-order leg states (see docs/architecture.md, Copy execution).

    PENDING -> SENDING (committed before the exchange call) -> PLACED (resting),
    PARTIALLY_FILLED or FILLED, or SKIPPED (decision) / FAILED (exchange message).
    A PLACED order the exchange cancelled becomes CANCELLED.
    """

    PENDING = "PENDING"
    SENDING = "SENDING"
    PLACED = "PLACED"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    SKIPPED = "SKIPPED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class PositionStatus(StrEnum):
    OPEN = "OPEN"
    CLOSED = "CLOSED"


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SENT = "SENT"
    UNREACHABLE = "UNREACHABLE"
    FAILED = "FAILED"


class User(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=64)
    role = fields.CharEnumField(Role, max_length=16, default=Role.USER)
    telegram_user_id = fields.BigIntField(null=True, unique=True)
    telegram_chat_id = fields.BigIntField(null=True)
    telegram_reachable = fields.BooleanField(default=True)
    discord_user_id = fields.BigIntField(null=True, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"


class ApiToken(Model):
    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="tokens", on_delete=fields.CASCADE
    )
    token_hash = fields.CharField(max_length=64, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "api_tokens"


class Provider(Model):
    id = fields.IntField(primary_key=True)
    owner: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="providers", on_delete=fields.RESTRICT
    )
    slug = fields.CharField(max_length=48, unique=True)
    name = fields.CharField(max_length=80)
    description = fields.TextField(default="")
    monthly_price = fields.DecimalField(max_digits=12, decimal_places=2, default="3.00")
    trial_days = fields.IntField(default=0, db_default=0)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "providers"


class Signal(Model):
    """One published signal. Never updated after insert (see ``SignalState``)."""

    id = fields.IntField(primary_key=True)
    provider: fields.ForeignKeyRelation[Provider] = fields.ForeignKeyField(
        "models.Provider", related_name="signals", on_delete=fields.RESTRICT
    )
    seq = fields.IntField()
    symbol = fields.CharField(max_length=48, db_index=True)
    side = fields.CharEnumField(Side, max_length=4)
    entry_low = fields.DecimalField(max_digits=30, decimal_places=12)
    entry_high = fields.DecimalField(max_digits=30, decimal_places=12)
    stop_loss = fields.DecimalField(max_digits=30, decimal_places=12)
    targets: fields.Field[list[str]] = fields.JSONField()
    leverage = fields.IntField(null=True)
    note = fields.TextField(default="")
    prev_hash = fields.CharField(max_length=64)
    content_hash = fields.CharField(max_length=64)
    created_at = fields.DatetimeField()

    class Meta:
        table = "signals"
        unique_together = (("provider", "seq"),)


class SignalState(Model):
    """Mutable lifecycle projection of a signal, rebuilt only from its events."""

    signal: fields.OneToOneRelation[Signal] = fields.OneToOneField(
        "models.Signal", related_name="state", on_delete=fields.CASCADE, primary_key=True
    )
    status = fields.CharEnumField(SignalStatus, max_length=16, default=SignalStatus.PENDING)
    outcome = fields.CharEnumField(Outcome, max_length=24, null=True)
    targets_hit = fields.IntField(default=0)
    stop_loss = fields.DecimalField(max_digits=30, decimal_places=12)
    symbol = fields.CharField(max_length=48, db_index=True)
    since_ts = fields.BigIntField(default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "signal_states"


class SignalEvent(Model):
    """Something that happened to a signal, unique per (signal, kind, target)."""

    id = fields.IntField(primary_key=True)
    signal: fields.ForeignKeyRelation[Signal] = fields.ForeignKeyField(
        "models.Signal", related_name="events", on_delete=fields.CASCADE
    )
    kind = fields.CharEnumField(EventKind, max_length=16)
    target_index = fields.IntField(default=0)
    price = fields.DecimalField(max_digits=30, decimal_places=12, null=True)
    market_ts = fields.BigIntField(null=True)
    note = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "signal_events"
        unique_together = (("signal", "kind", "target_index"),)


class Subscription(Model):
    """A user's subscription to a provider and its billing state.

    ``stripe_version`` orders Stripe's updates (event time x 8 + state rank), so an
    older event never overwrites a newer state. ``grace_until`` bounds PAST_DUE access.
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="subscriptions", on_delete=fields.CASCADE
    )
    provider: fields.ForeignKeyRelation[Provider] = fields.ForeignKeyField(
        "models.Provider", related_name="subscriptions", on_delete=fields.CASCADE
    )
    status = fields.CharEnumField(
        SubscriptionStatus, max_length=16, default=SubscriptionStatus.ACTIVE
    )
    monthly_price = fields.DecimalField(max_digits=12, decimal_places=2, default="0",
                                        db_default="0")
    current_period_end = fields.DatetimeField(null=True)
    cancel_at_period_end = fields.BooleanField(default=False, db_default=False)
    grace_until = fields.DatetimeField(null=True)
    stripe_subscription_id = fields.CharField(max_length=64, null=True, unique=True)
    stripe_customer_id = fields.CharField(max_length=64, null=True)
    stripe_version = fields.BigIntField(default=0, db_default=0)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "subscriptions"
        unique_together = (("user", "provider"),)


class CopySettings(Model):
    subscription: fields.OneToOneRelation[Subscription] = fields.OneToOneField(
        "models.Subscription", related_name="copy_settings", on_delete=fields.CASCADE,
        primary_key=True,
    )
    enabled = fields.BooleanField(default=False)
    scale_factor = fields.DecimalField(max_digits=6, decimal_places=3, default="1")
    max_position_pct = fields.DecimalField(max_digits=6, decimal_places=3, default="10")
    max_open_positions = fields.IntField(default=5)
    # Risk limits (domain.sizing.CopyLimits): percents are percent (5 = 5%).
    max_daily_loss_pct = fields.DecimalField(max_digits=6, decimal_places=3, default="5",
                                             db_default="5")
    slippage_guard_pct = fields.DecimalField(max_digits=6, decimal_places=3, default="0.5",
                                             db_default="0.5")
    slippage_action = fields.CharField(max_length=8, default="skip", db_default="skip")
    leverage_cap = fields.IntField(default=10, db_default=10)
    allowed_symbols: fields.Field[list[str]] = fields.JSONField(default=list, db_default="[]")
    denied_symbols: fields.Field[list[str]] = fields.JSONField(default=list, db_default="[]")
    exit_ladder: fields.Field[list[str]] = fields.JSONField(default=list, db_default="[]")
    move_stop_to_breakeven = fields.BooleanField(default=False, db_default=False)
    # The UTC day the daily loss limit was last reached: new signals of this provider
    # are skipped until the next 00:00 UTC (domain.risk.daily_loss_block's latch).
    daily_loss_hit_on = fields.DateField(null=True)

    class Meta:
        table = "copy_settings"


class PaperAccount(Model):
    """A follower's paper wallet. ``balance`` is realized equity in ``currency``."""

    user: fields.OneToOneRelation[User] = fields.OneToOneField(
        "models.User", related_name="paper_account", on_delete=fields.CASCADE, primary_key=True
    )
    currency = fields.CharField(max_length=12, default="USDT")
    starting_balance = fields.DecimalField(max_digits=24, decimal_places=8, default="10000")
    balance = fields.DecimalField(max_digits=24, decimal_places=8, default="10000")

    class Meta:
        table = "paper_accounts"


class CopyOrder(Model):
    """One order leg of a follower copying a signal, unique per (signal, user, leg)."""

    id = fields.IntField(primary_key=True)
    signal: fields.ForeignKeyRelation[Signal] = fields.ForeignKeyField(
        "models.Signal", related_name="copy_orders", on_delete=fields.CASCADE
    )
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="copy_orders", on_delete=fields.CASCADE
    )
    leg = fields.CharField(max_length=16, default="entry")
    client_order_id = fields.CharField(max_length=36, unique=True)
    mode = fields.CharField(max_length=8, default="paper")
    status = fields.CharEnumField(OrderStatus, max_length=16, default=OrderStatus.PENDING)
    reason = fields.TextField(default="")
    symbol = fields.CharField(max_length=48)
    side = fields.CharEnumField(Side, max_length=4)
    amount = fields.DecimalField(max_digits=30, decimal_places=12, null=True)
    price = fields.DecimalField(max_digits=30, decimal_places=12, null=True)
    notional = fields.DecimalField(max_digits=24, decimal_places=8, null=True)
    fee = fields.DecimalField(max_digits=24, decimal_places=8, null=True)
    fee_rate = fields.DecimalField(max_digits=10, decimal_places=6, null=True)
    slippage_rate = fields.DecimalField(max_digits=10, decimal_places=6, null=True)
    order_type = fields.CharField(max_length=16, default="market", db_default="market")
    limit_price = fields.DecimalField(max_digits=30, decimal_places=12, null=True)
    stop_price = fields.DecimalField(max_digits=30, decimal_places=12, null=True)
    leverage = fields.IntField(null=True)  # the decision's (entries; set on linear markets)
    filled = fields.DecimalField(max_digits=30, decimal_places=12, null=True)
    exchange = fields.CharField(max_length=32, default="paper", db_default="paper")
    exchange_account_id = fields.IntField(null=True)
    exchange_order_id = fields.CharField(max_length=64, null=True)
    attempts = fields.IntField(default=0, db_default=0)
    claimed_by = fields.CharField(max_length=32, default="", db_default="")
    sent_at = fields.DatetimeField(null=True)
    acked_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "copy_orders"
        unique_together = (("signal", "user", "leg"),)


class Position(Model):
    """A follower's position (paper or live) opened by a filled copy entry order.

    ``exit_amounts`` holds the amount each take-profit target closes (decimal strings,
    rounded to the market's step, remainder on the last). ``stop_on_exchange`` is true
    when the stop-loss rests on the exchange as a native stop order (else the position
    monitor enforces it).
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="positions", on_delete=fields.CASCADE
    )
    signal: fields.ForeignKeyRelation[Signal] = fields.ForeignKeyField(
        "models.Signal", related_name="positions", on_delete=fields.CASCADE
    )
    copy_order: fields.OneToOneRelation[CopyOrder] = fields.OneToOneField(
        "models.CopyOrder", related_name="position", on_delete=fields.CASCADE
    )
    symbol = fields.CharField(max_length=48, db_index=True)
    side = fields.CharEnumField(Side, max_length=4)
    entry_price = fields.DecimalField(max_digits=30, decimal_places=12)
    amount = fields.DecimalField(max_digits=30, decimal_places=12)
    remaining_amount = fields.DecimalField(max_digits=30, decimal_places=12)
    stop_loss = fields.DecimalField(max_digits=30, decimal_places=12)
    targets: fields.Field[list[str]] = fields.JSONField()
    targets_hit = fields.IntField(default=0)
    status = fields.CharEnumField(PositionStatus, max_length=8, default=PositionStatus.OPEN)
    realized_pnl = fields.DecimalField(max_digits=24, decimal_places=8, default="0")
    fees = fields.DecimalField(max_digits=24, decimal_places=8, default="0")
    close_reason = fields.CharField(max_length=32, default="")
    exit_price = fields.DecimalField(max_digits=30, decimal_places=12, null=True)
    opened_market_ts = fields.BigIntField(default=0)
    mode = fields.CharField(max_length=8, default="paper", db_default="paper")
    exchange_account_id = fields.IntField(null=True)
    exit_amounts: fields.Field[list[str] | None] = fields.JSONField(null=True)
    stop_on_exchange = fields.BooleanField(default=False, db_default=False)
    break_even_after_first_target = fields.BooleanField(default=False, db_default=False)
    opened_at = fields.DatetimeField(auto_now_add=True)
    closed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "positions"


class Delivery(Model):
    """One message to one user on one channel. ``key`` makes it unique.

    ``key`` is ``ev:<event id>:<user id>:<channel>`` for signal events and
    ``<kind>:<id>:<user id>:<channel>`` for personal notices (copy orders, closes).
    """

    id = fields.IntField(primary_key=True)
    key = fields.CharField(max_length=96, unique=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="deliveries", on_delete=fields.CASCADE
    )
    event: fields.ForeignKeyNullableRelation[SignalEvent] = fields.ForeignKeyField(
        "models.SignalEvent", related_name="deliveries", null=True, on_delete=fields.CASCADE
    )
    channel = fields.CharField(max_length=16, default="telegram")
    text = fields.TextField(default="")
    status = fields.CharEnumField(DeliveryStatus, max_length=16, default=DeliveryStatus.PENDING)
    attempts = fields.IntField(default=0)
    error = fields.TextField(default="")
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)

    class Meta:
        table = "deliveries"


class OutboxMessage(Model):
    """Written in the same transaction as a signal event, it becomes an arq job after commit."""

    id = fields.IntField(primary_key=True)
    topic = fields.CharField(max_length=32)
    ref_id = fields.IntField()
    created_at = fields.DatetimeField(auto_now_add=True)
    processed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "outbox"
        unique_together = (("topic", "ref_id"),)
