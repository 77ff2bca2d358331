"""What a follower is told about a copy order: its reason lines, its Telegram notice
and its ``myTradeEvents`` messages.

A copy order's ``reason`` is a list of lines joined with "; " (``reason_lines`` splits
it). First come the *decision* lines of ``domain.sizing.decide_copy`` and of the
engine's own checks — each starts ``placed:``, ``resized:`` or ``skipped:`` — then at
most one *execution* line: what the exchange did ("filled at market (paper)", "filled on
binance", "placed on binance (limit)", "retrying: …", the exchange's refusal).
``with_outcome`` replaces the execution line and keeps the decision lines, so "resized:
max position 10% …" is still there after the order filled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.models import CopyOrder, Delivery, OrderStatus, Position
from domain.sizing import reason_lines

ENTRY = "entry"
DECISION_PREFIXES = ("placed:", "resized:", "skipped:")
SEPARATOR = "; "


def decision_lines(reason: str) -> list[str]:
    """The decision lines (``placed:``/``resized:``/``skipped:``) of a stored reason."""
    return [line for line in reason_lines(reason) if line.startswith(DECISION_PREFIXES)]


def outcome_lines(reason: str) -> list[str]:
    """The execution lines of a stored reason (everything but the decision lines)."""
    return [line for line in reason_lines(reason)
            if not line.startswith(DECISION_PREFIXES)]


def with_outcome(reason: str, outcome: str) -> str:
    """``reason``'s decision lines followed by ``outcome`` (the execution line, which
    replaces any earlier one). A "; " inside ``outcome`` (an exchange's message) becomes
    ", " so the lines stay separable."""
    line = outcome.replace(SEPARATOR, ", ").strip()
    return SEPARATOR.join([*decision_lines(reason), *([line] if line else [])])


def skip_reason(reason: str) -> str:
    """A skip reason in the form every skip has: starting with ``skipped:``."""
    return reason if reason.startswith("skipped:") else f"skipped: {reason}"


# --- the follower's Telegram notice ----------------------------------------------------


async def write_notices(orders: list[CopyOrder]) -> dict[int, int]:
    """Follower notices (Telegram Delivery rows) of finished orders; id per order.
    Orders need ``user`` and ``signal`` loaded; unique keys make it safe to run twice."""
    rows = []
    for order in orders:
        user = order.user
        if not user.telegram_chat_id or not user.telegram_reachable:
            continue
        if order.status in (OrderStatus.SENDING, OrderStatus.PENDING):
            continue
        rows.append(Delivery(key=notice_key(order), user_id=user.id, channel="telegram",
                             text=notice_text(order)))
    if not rows:
        return {}
    await Delivery.bulk_create(rows, ignore_conflicts=True)
    by_key = {d["key"]: d["id"] for d in await Delivery.filter(
        key__in=[r.key for r in rows]).values("key", "id")}
    return {order.id: by_key[notice_key(order)] for order in orders
            if notice_key(order) in by_key}


def notice_key(order: CopyOrder) -> str:
    """``copy:<order>:<user>:telegram`` (a filled or skipped entry), else with the status."""
    suffix = "" if order.status in (OrderStatus.FILLED, OrderStatus.SKIPPED) and \
        order.leg == ENTRY else f":{order.status.value.lower()}"
    return f"copy:{order.id}:{order.user_id}:telegram{suffix}"  # type: ignore[attr-defined]


def notice_text(order: CopyOrder) -> str:
    """The follower's Telegram notice of one order (fill, placement, skip or failure).

    A fill or placement names what the decision changed (its ``resized:`` lines); a
    skip says why; a failure gives the exchange's message."""
    signal = order.signal
    what = "Paper copy" if order.mode == "paper" else f"Copy on {order.exchange}"
    leg = "" if order.leg == ENTRY else f" ({order.leg})"
    head = f"{what} of signal #{signal.id} {signal.symbol} {signal.side.value}{leg}"
    resized = "".join(f"\n{line}" for line in decision_lines(order.reason)
                      if line.startswith("resized:"))
    if order.status is OrderStatus.FILLED:
        return (f"{head}: filled {order.amount} at {Decimal(order.price or 0):.8g} "
                f"(notional {Decimal(order.notional or 0):.2f}, fee "
                f"{Decimal(order.fee or 0):.4f}).{resized}")
    if order.status is OrderStatus.PARTIALLY_FILLED:
        return f"{head}: partly filled {order.filled} of {order.amount}.{resized}"
    if order.status is OrderStatus.PLACED:
        return f"{head}: {order.order_type} order placed for {order.amount}.{resized}"
    if order.status is OrderStatus.SKIPPED:
        why = "; ".join(line.removeprefix("skipped: ") for line in reason_lines(order.reason))
        return f"Signal #{signal.id} {signal.symbol} was not copied: {why}."
    failure = "; ".join(outcome_lines(order.reason)) or order.reason
    return f"{head} failed: {failure}."


# --- myTradeEvents ---------------------------------------------------------------------


def trade_event(order: CopyOrder, **extra: Any) -> dict[str, Any]:
    """The ``myTradeEvents`` bus message of ``order`` (decimals as strings)."""
    kind = {OrderStatus.FILLED: "ORDER_FILLED", OrderStatus.PARTIALLY_FILLED: "ORDER_FILLED",
            OrderStatus.PLACED: "ORDER_PLACED", OrderStatus.SKIPPED: "ORDER_SKIPPED",
            OrderStatus.CANCELLED: "ORDER_CANCELLED"}.get(order.status, "ORDER_FAILED")
    return {
        "kind": kind, "userId": order.user_id,  # type: ignore[attr-defined]
        "orderId": order.id, "signalId": order.signal_id,  # type: ignore[attr-defined]
        "leg": order.leg, "mode": order.mode, "exchange": order.exchange,
        "symbol": order.symbol, "side": order.side.value, "status": order.status.value,
        "reason": order.reason, "clientOrderId": order.client_order_id,
        "amount": _s(order.filled if order.filled else order.amount),
        "price": _s(order.price), "fee": _s(order.fee), "positionId": None,
        "realizedPnl": None, "at": datetime.now(UTC).isoformat(), **extra,
    }


def position_event(position: Position) -> dict[str, Any]:
    """The ``myTradeEvents`` bus message of a closed position."""
    return {
        "kind": "POSITION_CLOSED", "userId": position.user_id,  # type: ignore[attr-defined]
        "orderId": None, "signalId": position.signal_id,  # type: ignore[attr-defined]
        "leg": None, "mode": position.mode, "exchange": None, "symbol": position.symbol,
        "side": position.side.value, "status": position.status.value,
        "reason": position.close_reason, "clientOrderId": None,
        "amount": _s(position.amount), "price": _s(position.exit_price), "fee": _s(position.fees),
        "positionId": position.id, "realizedPnl": _s(position.realized_pnl),
        "at": datetime.now(UTC).isoformat(),
    }


def _s(value: Decimal | None) -> str | None:
    return None if value is None else format(Decimal(value).normalize(), "f")


TRADES_TOPIC = "trades:"


def trades_topic(user_id: int) -> str:
    """Bus topic of one follower's trade events (``myTradeEvents``)."""
    return f"{TRADES_TOPIC}{user_id}"
