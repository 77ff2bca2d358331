"""GraphQL output types of SignalHub: scalars, enums and objects.

Units everywhere: prices are in the market's quote currency (``BTC/USDT`` -> USDT),
amounts in its base currency, money in the quote currency of the paper account
(USDT) unless a field says US dollars; all of them are ``Decimal`` scalars (strings,
never floats). Times are ``DateTime`` scalars: ISO-8601 in UTC.

A ``Signal`` is built from the same channel-neutral dict every channel uses
(``domain.events.signal_dict``), so a query and a subscription event show a signal
identically; ``SignalEvent`` wraps the bus message of ``domain.events.event_message``
and reads it lazily (the subscription executes it once per listener group).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import strawberry
from graphql import FloatValueNode, IntValueNode, StringValueNode, ValueNode

from domain import models
from domain.copy_settings import copy_limits
from domain.events import signal_dict
from domain.outcomes import realized_pnl
from domain.sizing import CopyLimits

# --- scalars ---------------------------------------------------------------------


def serialize_decimal(value: Decimal | str) -> str:
    """Plain decimal text without exponent or trailing zeros (``64000.500`` -> ``64000.5``)."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def parse_decimal(value: object) -> Decimal:
    """A Decimal from a string or JSON number; raises ``ValueError`` for anything else."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"Decimal must be a number written as a string, got {value!r}")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number (write e.g. \"64000.5\")") from None


def parse_decimal_literal(node: ValueNode, _variables: dict[str, Any] | None = None) -> Decimal:
    """A Decimal from a literal in the query; keeps the exact digits of ``0.1``."""
    if isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
        return parse_decimal(node.value)
    raise ValueError("Decimal must be a string or number literal")


def serialize_datetime(value: datetime) -> str:
    """ISO-8601 in UTC; a naive value is taken as UTC."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def parse_datetime(value: object) -> datetime:
    """A timezone-aware datetime from ISO-8601 text (an offset is required)."""
    parsed = datetime.fromisoformat(str(value))
    if parsed.tzinfo is None:
        raise ValueError("DateTime needs a UTC offset, e.g. 2024-05-01T12:00:00+00:00")
    return parsed.astimezone(UTC)


DECIMAL_SCALAR = strawberry.scalar(
    name="Decimal",
    description=("Exact decimal number written as a string, e.g. \"64000.5\". Prices are "
                 "in the quote currency, amounts in the base currency."),
    serialize=serialize_decimal, parse_value=parse_decimal,
    parse_literal=parse_decimal_literal,
)
DATETIME_SCALAR = strawberry.scalar(
    name="DateTime", description="Point in time, ISO-8601 in UTC (2024-05-01T12:00:00+00:00).",
    serialize=serialize_datetime, parse_value=parse_datetime,
)
SCALARS: dict[object, Any] = {Decimal: DECIMAL_SCALAR, datetime: DATETIME_SCALAR}

# --- enums -----------------------------------------------------------------------

# The domain's enums are exposed as they are (registered once, with a description).
strawberry.enum(models.Role, description="Account role: user, provider or admin.")
strawberry.enum(models.Side, description="Trade direction: BUY (long) or SELL (short).")
strawberry.enum(models.SignalStatus,
                description="Lifecycle of a signal: PENDING (entry not reached), ACTIVE, "
                            "CLOSED, CANCELLED or EXPIRED.")
strawberry.enum(models.Outcome, description="How a closed signal ended.")
strawberry.enum(models.EventKind, description="What happened to a signal.")
strawberry.enum(models.SubscriptionStatus,
                description="Subscription lifecycle: PENDING_PAYMENT (checkout not paid yet), "
                            "TRIALING, ACTIVE, PAST_DUE (payment failed: signals continue "
                            "until graceUntil), PAUSED (billing paused: no signals), "
                            "CANCELLED (at period end: signals until currentPeriodEnd; at "
                            "once: none), EXPIRED.")
strawberry.enum(models.PositionStatus, description="OPEN, or CLOSED once nothing remains.")


def _field(description: str) -> Any:
    return strawberry.field(description=description)


# --- objects ---------------------------------------------------------------------


@strawberry.type(description="A SignalHub account.")
class User:
    id: int = _field("User id.")
    name: str = _field("Display name (1–64 characters).")
    role: models.Role = _field("Role: providers and admins may create providers.")
    created_at: datetime = _field("When the account was created (ISO-8601 UTC).")

    @classmethod
    def from_model(cls, user: models.User) -> User:
        return cls(id=user.id, name=user.name, role=user.role, created_at=user.created_at)


@strawberry.type(description="Someone who publishes signals; users subscribe to receive them.")
class Provider:
    id: int = _field("Provider id.")
    slug: str = _field("Unique handle: 3–48 lowercase letters, digits and dashes.")
    name: str = _field("Display name (1–80 characters).")
    description: str = _field("Free text shown to prospective subscribers.")
    monthly_price: Decimal = _field("Subscription price in US dollars per month (cents).")
    created_at: datetime = _field("When the provider was created (ISO-8601 UTC).")

    @classmethod
    def from_model(cls, provider: models.Provider) -> Provider:
        return cls(id=provider.id, slug=provider.slug, name=provider.name,
                   description=provider.description,
                   monthly_price=Decimal(str(provider.monthly_price)),
                   created_at=provider.created_at)


@strawberry.type(description="A published trading signal. Its content never changes; "
                             "status, outcome and targetsHit follow its lifecycle.")
class Signal:
    id: int = _field("Signal id (closeSignal takes it).")
    provider_slug: str = _field("Slug of the publishing provider.")
    provider_name: str = _field("Display name of the publishing provider.")
    seq: int = _field("Position in the provider's sequence of signals, from 1.")
    symbol: str = _field("Market in ccxt unified form: BTC/USDT, or BTC/USDT:USDT for a "
                         "linear perpetual.")
    side: models.Side = _field("BUY (long) or SELL (short).")
    entry_low: Decimal = _field("Lower bound of the entry zone, quote currency.")
    entry_high: Decimal = _field("Upper bound of the entry zone, quote currency; equals "
                                 "entryLow for a single entry price.")
    stop_loss: Decimal = _field("Stop-loss price, quote currency.")
    targets: list[Decimal] = _field("Take-profit prices, quote currency, in the order they "
                                    "are reached (ascending for BUY, descending for SELL).")
    leverage: int | None = _field("Leverage 1–125, or null (spot / not stated).")
    note: str = _field("Provider's comment (at most 1000 characters).")
    status: models.SignalStatus = _field("Current lifecycle status.")
    outcome: models.Outcome | None = _field("How it ended; null while open.")
    targets_hit: int = _field("Number of targets reached so far (0–10).")
    content_hash: str = _field("SHA-256 hex of the previous signal's hash and this signal's "
                               "canonical content: the provider's tamper-evident chain.")
    created_at: datetime = _field("When it was published (ISO-8601 UTC).")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signal:
        """From ``domain.events.signal_dict`` output (decimals as strings, ISO times)."""
        return cls(
            id=data["id"], provider_slug=data["providerSlug"],
            provider_name=data["providerName"], seq=data["seq"], symbol=data["symbol"],
            side=models.Side(data["side"]), entry_low=Decimal(data["entryLow"]),
            entry_high=Decimal(data["entryHigh"]), stop_loss=Decimal(data["stopLoss"]),
            targets=[Decimal(t) for t in data["targets"]], leverage=data["leverage"],
            note=data["note"], status=models.SignalStatus(data["status"]),
            outcome=models.Outcome(data["outcome"]) if data["outcome"] else None,
            targets_hit=data["targetsHit"], content_hash=data["contentHash"],
            created_at=datetime.fromisoformat(data["createdAt"]),
        )

    @classmethod
    def from_model(cls, signal: models.Signal, provider: models.Provider,
                   state: models.SignalState | None) -> Signal:
        return cls.from_dict(signal_dict(signal, provider, state))


@strawberry.type(description="Something that happened to a signal: published, entry "
                             "reached, a target or the stop hit, closed, cancelled, expired.")
class SignalEvent:
    message: strawberry.Private[dict[str, Any]]

    def event_key(self) -> tuple[int, dict[str, Any]]:
        """``(event id, message)``: what the subscription groups memoise results by."""
        return self.message["eventId"], self.message

    @strawberry.field(description="Event id, unique across all signals.")
    def event_id(self) -> int:
        return int(self.message["eventId"])

    @strawberry.field(description="What happened.")
    def kind(self) -> models.EventKind:
        return models.EventKind(self.message["kind"])

    @strawberry.field(description="For TARGET_HIT the 1-based number of the target "
                                  "reached; 0 for every other kind.")
    def target_index(self) -> int:
        return int(self.message["targetIndex"])

    @strawberry.field(description="Market price at the event, quote currency; null if "
                                  "unknown (e.g. PUBLISHED).")
    def price(self) -> Decimal | None:
        price = self.message["price"]
        return None if price is None else Decimal(price)

    @strawberry.field(description="Provider's note on the event (e.g. why it was closed).")
    def note(self) -> str:
        return str(self.message["note"])

    @strawberry.field(description="When the event was recorded (ISO-8601 UTC).")
    def created_at(self) -> datetime:
        return datetime.fromisoformat(self.message["createdAt"])

    @strawberry.field(description="The signal as of this event (status after it).")
    def signal(self) -> Signal:
        return Signal.from_dict(self.message["signal"])


@strawberry.type(description="A subscriber's copy-trading settings for one provider. "
                             "Percents are percent (10 = 10%).")
class CopySettings:
    enabled: bool = _field("Whether new signals of the provider are copied as paper orders.")
    scale_factor: Decimal = _field("Multiplier of the computed position size, 0.1–2.0 "
                                   "(1 = as computed); never above maxPositionPct.")
    max_position_pct: Decimal = _field("Largest position (its margin) as a percent of "
                                       "equity, above 0 and at most 100 (10 = 10%).")
    max_open_positions: int = _field("Most OPEN paper positions at once, 1–100; further "
                                     "signals are skipped.")
    max_daily_loss_pct: Decimal = _field(
        "Daily loss limit, percent of the equity at 00:00 UTC, above 0 and at most 100: "
        "once today's realized + unrealized loss reaches it, new signals are skipped "
        "until 00:00 UTC.")
    slippage_guard_pct: Decimal = _field(
        "Slippage guard, percent 0–20: how far the price may have moved past the signal's "
        "entry (against you) for a market order.")
    slippage_action: str = _field("Past the slippage guard: `skip` the signal, or place "
                                  "a `limit` order at the entry.")
    leverage_cap: int = _field("Highest leverage used on derivatives, 1–125 (x); a signal "
                               "asking more is resized to it. Spot is always 1x.")
    allowed_symbols: list[str] = _field("Only these ccxt unified symbols are copied; empty: "
                                        "every symbol.")
    denied_symbols: list[str] = _field("These ccxt unified symbols are never copied.")
    exit_ladder: list[Decimal] = _field("Percent of the position closed at each take-profit "
                                        "target (sums to 100); empty: an even split.")
    move_stop_to_breakeven: bool = _field("Move the stop-loss to the entry price once "
                                          "target 1 is hit.")

    @classmethod
    def from_model(cls, settings: models.CopySettings | None) -> CopySettings:
        limits = CopyLimits() if settings is None else copy_limits(settings)
        return cls(
            enabled=settings is not None and settings.enabled,
            scale_factor=limits.scale_factor, max_position_pct=limits.max_position_pct,
            max_open_positions=limits.max_open_positions,
            max_daily_loss_pct=limits.max_daily_loss_pct,
            slippage_guard_pct=limits.slippage_guard_pct,
            slippage_action=limits.slippage_action.value, leverage_cap=limits.leverage_cap,
            allowed_symbols=list(limits.allowed_symbols),
            denied_symbols=list(limits.denied_symbols), exit_ladder=list(limits.exit_ladder),
            move_stop_to_breakeven=limits.move_stop_to_breakeven)


@strawberry.type(description="A user's subscription to a provider.")
class ProviderSubscription:
    id: int = _field("Subscription id.")
    provider: Provider = _field("The provider subscribed to.")
    status: models.SubscriptionStatus = _field("Lifecycle status (see SubscriptionStatus).")
    monthly_price: Decimal = _field("Price in US dollars per month (0 = free).")
    current_period_end: datetime | None = _field(
        "End of the paid or trial period, i.e. the renewal date (ISO-8601 UTC); null for a "
        "free subscription.")
    cancel_at_period_end: bool = _field("True when cancelled but running until "
                                        "currentPeriodEnd.")
    grace_until: datetime | None = _field("While PAST_DUE, signals keep coming until this "
                                          "time (ISO-8601 UTC); null otherwise.")
    copy_settings: CopySettings = _field("Copy-trading switch and risk limits.")
    created_at: datetime = _field("When the user first subscribed (ISO-8601 UTC).")
    updated_at: datetime = _field("Last change of status (ISO-8601 UTC).")

    @classmethod
    def from_model(cls, sub: models.Subscription, provider: models.Provider,
                   settings: models.CopySettings | None) -> ProviderSubscription:
        return cls(id=sub.id, provider=Provider.from_model(provider), status=sub.status,
                   monthly_price=Decimal(str(sub.monthly_price)),
                   current_period_end=sub.current_period_end,
                   cancel_at_period_end=sub.cancel_at_period_end, grace_until=sub.grace_until,
                   copy_settings=CopySettings.from_model(settings),
                   created_at=sub.created_at, updated_at=sub.updated_at)


@strawberry.type(description="A position opened by copying a signal: on the follower's paper "
                             "account, or on their exchange account when live.")
class Position:
    id: int = _field("Position id.")
    signal_id: int = _field("Id of the copied signal.")
    symbol: str = _field("Market in ccxt unified form.")
    side: models.Side = _field("BUY (long) or SELL (short).")
    entry_price: Decimal = _field("Fill price of the entry, quote currency (slippage "
                                  "included).")
    amount: Decimal = _field("Size opened, base currency.")
    remaining_amount: Decimal = _field("Size still open, base currency.")
    stop_loss: Decimal = _field("Stop-loss price, quote currency.")
    targets: list[Decimal] = _field("Take-profit prices, quote currency.")
    targets_hit: int = _field("Targets reached so far (each closes part of the position).")
    status: models.PositionStatus = _field("OPEN or CLOSED.")
    mode: str = _field("'paper' (the SignalHub paper account) or 'live' (orders on the "
                       "follower's exchange account).")
    exchange_account_id: int | None = _field("Id of the exchange account a live position "
                                             "trades on (myExchangeAccounts); null for paper.")
    stop_on_exchange: bool = _field("True when the stop-loss rests on the exchange as a "
                                    "native stop order; false when the position monitor "
                                    "enforces it (paper, spot).")
    realized_pnl: Decimal = _field("Realized profit (negative: loss) in the account's quote "
                                   "currency (USDT), entry and exit fees deducted.")
    fees: Decimal = _field("Fees paid so far, quote currency (USDT).")
    close_reason: str = _field("Why it closed (stop loss, targets, closed by provider); "
                               "empty while open.")
    exit_price: Decimal | None = _field("Price of the latest exit fill, quote currency; null "
                                        "before any.")
    opened_at: datetime = _field("When it was opened (ISO-8601 UTC).")
    closed_at: datetime | None = _field("When it closed (ISO-8601 UTC); null while open.")

    @strawberry.field(description="The copied signal (batched: one query per request).")
    async def signal(self, info: strawberry.Info) -> Signal | None:
        return await info.context.loaders.signal.load(self.signal_id)

    @strawberry.field(description="Last market price of the symbol (quote currency) from "
                                  "the price source; null if unknown.")
    def mark_price(self, info: strawberry.Info) -> Decimal | None:
        prices = info.context.services.prices
        return prices.last_price(self.symbol) if prices is not None else None

    @strawberry.field(description="Unrealized PnL of the remaining amount at markPrice, "
                                  "quote currency, before exit fees; 0 once closed, null "
                                  "while no price is known.")
    def unrealized_pnl(self, info: strawberry.Info) -> Decimal | None:
        if self.status is models.PositionStatus.CLOSED:
            return Decimal(0)
        price = self.mark_price(info)
        return None if price is None else realized_pnl(self.side, self.entry_price, price,
                                                       self.remaining_amount)

    @classmethod
    def from_model(cls, p: models.Position) -> Position:
        return cls(
            id=p.id, signal_id=p.signal_id, symbol=p.symbol,  # type: ignore[attr-defined]
            side=p.side, entry_price=p.entry_price, amount=p.amount,
            remaining_amount=p.remaining_amount, stop_loss=p.stop_loss,
            targets=[Decimal(str(t)) for t in p.targets], targets_hit=p.targets_hit,
            status=p.status, mode=p.mode, exchange_account_id=p.exchange_account_id,
            stop_on_exchange=p.stop_on_exchange,
            realized_pnl=p.realized_pnl, fees=p.fees,
            close_reason=p.close_reason, exit_price=p.exit_price, opened_at=p.opened_at,
            closed_at=p.closed_at,
        )


@strawberry.type(description="Relay page information.")
class PageInfo:
    has_next_page: bool = _field("True if more (older) signals follow this page.")
    end_cursor: str | None = _field("Cursor of the last edge; pass it as `after` for the "
                                    "next page. Null on an empty page.")


@strawberry.type(description="One signal of a page with its cursor.")
class SignalEdge:
    cursor: str = _field("Opaque cursor of this signal.")
    node: Signal = _field("The signal.")


@strawberry.type(description="A page of signals, newest first (Relay cursor connection).")
class SignalConnection:
    edges: list[SignalEdge] = _field("Signals of this page, newest first.")
    page_info: PageInfo = _field("Whether another page follows and its cursor.")
