"""Position and signal monitor: applies each closed candle to open signals and positions.

For every candle of a symbol: open signals whose ``since_ts`` is not after the candle
advance through ``domain.outcomes.evaluate_signal`` (events are stored once each,
unique per signal/kind/target, with an outbox row for their delivery), and open paper
positions opened before the candle are (partly) closed by ``evaluate_position`` with
the amounts of their exit ladder (stop moved to the entry after target 1 when the
follower chose break-even). The monitor is the paper exchange's matching of exits.
Live positions rest their exits on the exchange; only a live position whose exchange
takes no native stop is watched here, and its stop is sent as a market ``sl1`` leg.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from domain.copy_exits import close_position
from domain.events import event_message
from domain.fanout import client_order_id
from domain.market import Candle
from domain.models import (
    CopyOrder,
    Delivery,
    EventKind,
    OutboxMessage,
    Position,
    PositionStatus,
    Side,
    SignalEvent,
    SignalState,
    SignalStatus,
)
from domain.outcomes import (
    Levels,
    PositionFill,
    Progress,
    evaluate_position,
    evaluate_signal,
    levels_of,
)
from domain.sizing import FillModel


@dataclass
class MonitorResult:
    """What one candle changed: outbox rows to dispatch, bus messages, follower notices."""

    outbox: list[OutboxMessage] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    notices: list[Delivery] = field(default_factory=list)
    closed_positions: list[Position] = field(default_factory=list)
    exit_order_ids: list[int] = field(default_factory=list)


async def on_candle(candle: Candle, fill_model: FillModel = FillModel()) -> MonitorResult:
    """Apply one closed candle to the open signals and positions of its symbol."""
    result = MonitorResult()
    states = await SignalState.filter(
        symbol=candle.symbol, status__in=(SignalStatus.PENDING, SignalStatus.ACTIVE),
        since_ts__lte=candle.ts).select_related("signal__provider")
    for state in states:
        await _advance_signal(state, candle, result)
    positions = await Position.filter(symbol=candle.symbol, status=PositionStatus.OPEN,
                                      opened_market_ts__lte=candle.ts)
    for position in positions:
        await _advance_position(position, candle, fill_model, result)
    return result


async def _advance_signal(state: SignalState, candle: Candle, result: MonitorResult) -> None:
    signal = state.signal
    levels = levels_of(signal.side, signal.entry_low, signal.entry_high, state.stop_loss,
                       signal.targets)
    progress = Progress(state.status, state.targets_hit, state.outcome)
    new, found = evaluate_signal(levels, progress, candle)
    if not found:
        return
    async with in_transaction():
        locked = await SignalState.filter(signal_id=signal.id).select_for_update().get()
        if locked.status != state.status or locked.targets_hit != state.targets_hit:
            return  # another monitor got here first
        locked.status, locked.targets_hit = new.status, new.targets_hit
        locked.outcome = new.outcome  # type: ignore[assignment]
        await locked.save()
        for outcome in found:
            event = await SignalEvent.create(signal=signal, kind=outcome.kind,
                                             target_index=outcome.target_index,
                                             price=outcome.price, market_ts=candle.ts)
            result.outbox.append(await OutboxMessage.create(topic="signal.event",
                                                            ref_id=event.id))
            result.messages.append(event_message(event, signal, signal.provider, locked))


async def _advance_position(position: Position, candle: Candle, fill_model: FillModel,
                            result: MonitorResult) -> None:
    if position.mode == "live":
        await _watch_live_stop(position, candle, result)
        return
    levels = Levels(position.side, position.entry_price, position.entry_price,
                    position.stop_loss, levels_of(position.side, Decimal(0), Decimal(0),
                                                  Decimal(0), position.targets).targets)
    fills = ladder_fills(evaluate_position(levels, position.amount, position.remaining_amount,
                                           position.targets_hit, candle), position)
    if not fills:
        return
    async with in_transaction():
        closed = None
        for fill in fills:
            closed = await close_position(position.id, fill.price, fill.amount, fill.reason,
                                          fill_model.fee_rate, fill.target_index)
            if closed is None:
                return
            result.notices.extend(await _position_notice(closed, fill.reason, fill.price,
                                                         candle))
        if closed is not None and closed.status is PositionStatus.CLOSED:
            result.closed_positions.append(closed)
        elif closed is not None and closed.break_even_after_first_target \
                and closed.targets_hit >= 1 and closed.stop_loss != closed.entry_price:
            closed.stop_loss = closed.entry_price
            await closed.save(update_fields=["stop_loss"])


def ladder_fills(fills: list[PositionFill], position: Position) -> list[PositionFill]:
    """``fills`` with each target's amount taken from the position's exit ladder
    (``exit_amounts``; the last target closes whatever remains). Without a ladder the
    even split of ``evaluate_position`` stands."""
    if not position.exit_amounts:
        return fills
    ladder = [Decimal(a) for a in position.exit_amounts]
    left = Decimal(position.remaining_amount)
    out = []
    for fill in fills:
        if fill.target_index == 0:
            out.append(fill)
            continue
        last = fill.target_index >= len(ladder)
        size = left if last else min(ladder[fill.target_index - 1], left)
        left -= size
        if size > 0:
            out.append(replace(fill, amount=size))
    return out


async def _watch_live_stop(position: Position, candle: Candle, result: MonitorResult) -> None:
    """A live position whose stop cannot rest on its exchange: when a candle trades
    through the stop, a reduce-only market ``sl1`` leg closes what remains (sent by the
    copy engine). Positions with a native stop are left to the exchange."""
    if position.stop_on_exchange:
        return
    long = position.side is Side.BUY
    hit = candle.low <= position.stop_loss if long else candle.high >= position.stop_loss
    if not hit:
        return
    # Keyed by (signal, user, leg), not by the id: a row made before the id format
    # changed keeps its old id.
    uid: int = position.user_id  # type: ignore[attr-defined]
    order, created = await CopyOrder.get_or_create(
        signal_id=position.signal_id, user_id=uid, leg="sl1",  # type: ignore[attr-defined]
        defaults={"client_order_id": client_order_id(position.signal_id, uid, "sl1"),  # type: ignore[attr-defined]
                  "symbol": position.symbol,
                  "side": Side.SELL if long else Side.BUY,
                  "amount": position.remaining_amount, "order_type": "market",
                  "mode": position.mode, "exchange": await _exchange_of(position),
                  "exchange_account_id": position.exchange_account_id,
                  "reason": f"stop-loss {position.stop_loss} reached (monitor)"})
    if created:
        result.exit_order_ids.append(order.id)


async def _exchange_of(position: Position) -> str:
    entry = await CopyOrder.get(id=position.copy_order_id)  # type: ignore[attr-defined]
    return entry.exchange


async def _position_notice(position: Position, reason: str, price: Decimal,
                           candle: Candle) -> list[Delivery]:
    await position.fetch_related("user")
    user = position.user
    if not user.telegram_chat_id or not user.telegram_reachable:
        return []
    state = "closed" if position.status is PositionStatus.CLOSED else "partly closed"
    text = (f"Paper position #{position.id} {position.symbol} {position.side.value} {state} "
            f"at {reason} ({price}). Realized PnL so far: {position.realized_pnl:.2f} USDT.")
    delivery, _ = await Delivery.get_or_create(
        key=f"pos:{position.id}:{reason.replace(' ', '')}:{candle.ts}",
        defaults={"user_id": user.id, "channel": "telegram", "text": text})
    return [delivery]


async def close_positions_for_event(event_id: int, price: Decimal | None,
                                    fill_model: FillModel = FillModel()) -> list[Position]:
    """Close at ``price`` every OPEN paper position of the signal of a CLOSED/CANCELLED
    event (live positions get a ``close`` leg from ``domain.copying``).

    Returns the positions closed; with no price known, nothing is closed.
    """
    event = await SignalEvent.get(id=event_id)
    if event.kind not in (EventKind.CLOSED, EventKind.CANCELLED) or price is None:
        return []
    closed = []
    for position in await Position.filter(signal_id=event.signal_id,  # type: ignore[attr-defined]
                                          status=PositionStatus.OPEN, mode="paper"):
        async with in_transaction():
            done = await close_position(position.id, price, None, "closed by provider",
                                        fill_model.fee_rate)
        if done is not None:
            closed.append(done)
    return closed
