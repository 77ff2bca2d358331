"""Subscription ``myTradeEvents``: the signed-in follower's own copy-trading events.

The copy engine (``workers.copy_jobs``) publishes one bus message per order result and
per closed position on ``trades:<user id>`` (Redis pub/sub, any process); this
process's ``BusHub`` hands them to the listener. The topic is the user's own, so the
stream is per user by construction; the field is not in the schema's grouped fields
(its result depends on who listens), each listener executes its own selection.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Any

import strawberry

from domain.copy_reports import trades_topic
from graphql_api.errors import raising_api_errors


@strawberry.enum(description="What happened to a copy order or position.")
class TradeEventKind(Enum):
    ORDER_PLACED = strawberry.enum_value(
        "ORDER_PLACED", description="The order rests on the exchange (limit, stop).")
    ORDER_FILLED = strawberry.enum_value(
        "ORDER_FILLED", description="The order filled (completely, or partly: see status).")
    ORDER_SKIPPED = strawberry.enum_value(
        "ORDER_SKIPPED", description="The signal was not copied; reason says why.")
    ORDER_FAILED = strawberry.enum_value(
        "ORDER_FAILED", description="The exchange refused the order; reason holds its "
                                    "message.")
    ORDER_CANCELLED = strawberry.enum_value(
        "ORDER_CANCELLED", description="The order was cancelled (by the exchange, the "
                                       "provider's close, or an exit that replaced it).")
    POSITION_CLOSED = strawberry.enum_value(
        "POSITION_CLOSED", description="A copied position was closed (target, stop-loss, "
                                       "provider).")


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@strawberry.type(description="One event of the follower's copy trading. Prices in the "
                             "market's quote currency, amounts in its base currency, "
                             "fee and PnL in quote currency.")
class TradeEvent:
    message: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="What happened.")
    def kind(self) -> TradeEventKind:
        return TradeEventKind(self.message["kind"])

    @strawberry.field(description="Copy order id; null for POSITION_CLOSED.")
    def order_id(self) -> int | None:
        return self.message.get("orderId")

    @strawberry.field(description="Position id for POSITION_CLOSED; null otherwise.")
    def position_id(self) -> int | None:
        return self.message.get("positionId")

    @strawberry.field(description="The copied signal's id.")
    def signal_id(self) -> int:
        return int(self.message["signalId"])

    @strawberry.field(description="Order leg: entry, tp<n> (take-profit target n), "
                                  "sl<n> (stop-loss), close; null for POSITION_CLOSED.")
    def leg(self) -> str | None:
        return self.message.get("leg")

    @strawberry.field(description="paper or live.")
    def mode(self) -> str:
        return str(self.message["mode"])

    @strawberry.field(description="ccxt exchange id (paper for the paper exchange); null "
                                  "for POSITION_CLOSED.")
    def exchange(self) -> str | None:
        return self.message.get("exchange")

    @strawberry.field(description="ccxt unified symbol, e.g. BTC/USDT.")
    def symbol(self) -> str:
        return str(self.message["symbol"])

    @strawberry.field(description="BUY or SELL (the order's side; the position's side for "
                                  "POSITION_CLOSED).")
    def side(self) -> str:
        return str(self.message["side"])

    @strawberry.field(description="Order status (PLACED, PARTIALLY_FILLED, FILLED, SKIPPED, "
                                  "FAILED, CANCELLED) or position status (CLOSED).")
    def status(self) -> str:
        return str(self.message["status"])

    @strawberry.field(description="Why: the sizing decision, the skip reason, the "
                                  "exchange's message, or how the position closed.")
    def reason(self) -> str:
        return str(self.message.get("reason") or "")

    @strawberry.field(description="Client order id sent to the exchange; null for "
                                  "POSITION_CLOSED.")
    def client_order_id(self) -> str | None:
        return self.message.get("clientOrderId")

    @strawberry.field(description="Filled (or ordered) amount, base currency; the "
                                  "position's amount for POSITION_CLOSED.")
    def amount(self) -> Decimal | None:
        return _dec(self.message.get("amount"))

    @strawberry.field(description="Average fill price (exit price for POSITION_CLOSED).")
    def price(self) -> Decimal | None:
        return _dec(self.message.get("price"))

    @strawberry.field(description="Fee paid, quote currency (all fees for POSITION_CLOSED).")
    def fee(self) -> Decimal | None:
        return _dec(self.message.get("fee"))

    @strawberry.field(description="Realized PnL of the closed position, quote currency.")
    def realized_pnl(self) -> Decimal | None:
        return _dec(self.message.get("realizedPnl"))

    @strawberry.field(description="When the engine recorded it (ISO-8601 UTC).")
    def at(self) -> datetime:
        return datetime.fromisoformat(self.message["at"])


def trade_event(message: dict[str, Any]) -> TradeEvent:
    return TradeEvent(message=message)


@strawberry.type(description="Live updates over websocket (graphql-transport-ws or graphql-ws).")
class TradeEventsSubscription:
    @strawberry.subscription(description=(
        "The signed-in user's copy-trading events as they happen: order placed, filled, "
        "skipped, failed or cancelled, position closed. Only the caller's own events. "
        "Fails before any event with NOT_ALLOWED (extensions.code) when not signed in."))
    async def my_trade_events(self, info: strawberry.Info) -> AsyncIterator[TradeEvent]:
        with raising_api_errors():
            user = info.context.require_user()
        return info.context.services.hub.stream(  # type: ignore[no-any-return]
            [trades_topic(user.id)], trade_event)
