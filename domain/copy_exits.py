"""Fills, positions and their exit legs: an exchange answer applied to its order row
(``apply_ack``), what a fill holds, the exit ladder, the take-profit
and stop legs of live positions, provider events applied to them, closing a position.

Used by the copy engine (``domain.copying``), the position monitor (``close_position``)
and the provider-event job (``legs_for_provider_event``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import ROUND_UP, Decimal
from types import SimpleNamespace
from typing import Any

from tortoise.functions import Count

from domain.copy_reports import ENTRY, with_outcome
from domain.copy_results import ShardResult
from domain.copy_rows import insert_rows, save_rows
from domain.fanout import client_order_id
from domain.models import (
    CopyOrder,
    CopySettings,
    OrderStatus,
    PaperAccount,
    Position,
    PositionStatus,
    Side,
    SignalState,
)
from domain.outcomes import realized_pnl
from domain.ports import OrderAck
from domain.risk import exit_amounts
from domain.sizing import AMOUNT_QUANTUM, FillModel, money

OPEN_ON_EXCHANGE = (OrderStatus.PLACED, OrderStatus.PARTIALLY_FILLED)


def net_fill(ack: OrderAck, fee_rate: Decimal = FillModel().fee_rate) -> tuple[Decimal, Decimal]:
    """(amount held after the fill, fee in quote currency). Binance spot takes the fee
    of a buy in the asset received: then the position holds ``filled - fee`` and the fee
    is worth ``fee × average`` in quote currency. A spot buy whose fee the exchange did
    not report (an order found by lookup) is assumed to have paid ``fee_rate`` in the
    asset received, so exits never try to sell more than is held."""
    base = ack.symbol.partition("/")[0]
    if ack.fee is None and ack.side == "buy" and ":" not in ack.symbol and ack.filled > 0:
        fee = (ack.filled * fee_rate).quantize(Decimal("1e-12"), rounding=ROUND_UP)
        return ack.filled - fee, money(fee * (ack.average or 0))
    fee = Decimal(ack.fee or 0)
    if ack.fee_currency and ack.fee_currency == base and ack.side == "buy":
        return ack.filled - fee, money(fee * (ack.average or 0))
    return ack.filled, money(fee)


async def configure_exits(positions: list[Position], steps: dict[tuple[str, str], Decimal],
                           native_stops: dict[tuple[str, str], bool]) -> None:
    """Set each new position's exit ladder (the follower's ladder, even split by default,
    rounded to the market's amount step) and its break-even option."""
    fresh = [p for p in positions if p.exit_amounts is None]
    if not fresh:
        return
    rows = await CopySettings.filter(
        subscription__user_id__in={p.user_id for p in fresh},  # type: ignore[attr-defined]
        subscription__provider_id__in={p.signal.provider_id for p in fresh}  # type: ignore[attr-defined]
    ).values("subscription__user_id", "subscription__provider_id", "exit_ladder",
             "move_stop_to_breakeven")
    by_key = {(r["subscription__user_id"], r["subscription__provider_id"]): r for r in rows}
    for position in fresh:
        row = by_key.get((position.user_id, position.signal.provider_id))  # type: ignore[attr-defined]
        settings = SimpleNamespace(**row) if row else None
        ladder = tuple(Decimal(str(p)) for p in (settings.exit_ladder if settings else ()) or ())
        exchange = position.copy_order.exchange
        step = steps.get((exchange, position.symbol), AMOUNT_QUANTUM)
        amounts = exit_ladder(Decimal(position.remaining_amount), len(position.targets),
                              step, ladder)
        position.exit_amounts = [str(a) for a in amounts]
        position.break_even_after_first_target = bool(settings and
                                                      settings.move_stop_to_breakeven)
        position.stop_on_exchange = position.mode == "live" and native_stops.get(
            (exchange, position.symbol), False)
    await save_rows(fresh, ["exit_amounts", "break_even_after_first_target",
                            "stop_on_exchange"])


async def exit_intents(positions: list[Position]) -> list[int]:
    """PENDING exit legs of live positions: a reduce-only limit per take-profit target
    (amounts from the exit ladder) and a native stop order. Paper positions' exits are
    enforced by the position monitor. Returns the new rows' ids."""
    rows: list[dict[str, Any]] = []
    for position in positions:
        if position.mode != "live" or position.exit_amounts is None:
            continue
        amounts = [Decimal(a) for a in position.exit_amounts]
        close_side = Side.SELL if position.side is Side.BUY else Side.BUY
        uid: int = position.user_id  # type: ignore[attr-defined]
        sid: int = position.signal_id  # type: ignore[attr-defined]
        for index, (target, amount) in enumerate(zip(position.targets, amounts,
                                                     strict=True), 1):
            if amount <= 0:
                continue
            rows.append(exit_leg(position, sid, uid, f"tp{index}", close_side, amount,
                             "limit", limit_price=Decimal(str(target))))
        if position.stop_on_exchange:
            rows.append(exit_leg(position, sid, uid, "sl1", close_side,
                             Decimal(position.remaining_amount), "stop_market",
                             stop_price=Decimal(position.stop_loss)))
    if not rows:
        return []
    await insert_rows(CopyOrder, rows, ignore_conflicts=True)
    return await pending_leg_ids(rows)


async def pending_leg_ids(rows: list[dict[str, Any]]) -> list[int]:
    """Ids of the PENDING copy orders of ``rows`` (``exit_leg`` values), found by
    (signal, user, leg) — not by client id: a row written before the id format changed
    keeps its old id. One query; writes nothing."""
    if not rows:
        return []
    wanted = {(r["signal_id"], r["user_id"], r["leg"]) for r in rows}
    found = await CopyOrder.filter(
        signal_id__in={w[0] for w in wanted}, user_id__in={w[1] for w in wanted},
        leg__in={w[2] for w in wanted}, status=OrderStatus.PENDING,
    ).values_list("id", "signal_id", "user_id", "leg")
    return [int(i) for i, sid, uid, leg in found if (sid, uid, leg) in wanted]  # type: ignore[misc]


async def apply_exit_fill(order: CopyOrder, size: Decimal,
                           fill_model: FillModel) -> Position | None:
    """Close ``size`` of the follower's position at the exit leg's fill price. Inside the
    caller's transaction. Returns the position (None if it was already closed)."""
    position = await Position.get_or_none(signal_id=order.signal.id,
                                          user_id=order.user_id)  # type: ignore[attr-defined]
    if position is None:
        return None
    index = int(order.leg[2:]) if order.leg.startswith("tp") and order.leg[2:].isdigit() else 0
    reason = f"target {index}" if index else ("stop-loss" if order.leg.startswith("sl")
                                              else "closed by provider")
    share = size / Decimal(order.filled) if order.filled else Decimal(1)
    fee = money(Decimal(order.fee) * share) if order.fee is not None else None
    # A full exit (stop, close, last target) closes what the position holds: the amount
    # sent was rounded down to the market's step, the dust stays on the exchange.
    whole = order.status is OrderStatus.FILLED and (
        not order.leg.startswith("tp") or index >= len(position.targets))
    return await close_position(position.id, Decimal(order.price or 0),
                                None if whole else size, reason, fill_model.fee_rate, index,
                                fee=fee)


async def exit_followups(order: CopyOrder, position: Position, out: ShardResult) -> None:
    """After an exit leg of a live position filled: a closed position's other legs are
    cancelled; after a take-profit the native stop is replaced by one for what remains
    (at the entry price once target 1 is hit, if the follower chose break-even)."""
    if position.mode != "live":
        return
    await position.fetch_related("copy_order")
    uid: int = position.user_id  # type: ignore[attr-defined]
    sid: int = position.signal_id  # type: ignore[attr-defined]
    legs = await CopyOrder.filter(signal_id=sid, user_id=uid).exclude(leg=ENTRY)
    open_legs = [leg for leg in legs if leg.id != order.id and leg.status in (
        OrderStatus.PENDING, *OPEN_ON_EXCHANGE)]
    if position.status is PositionStatus.CLOSED:
        out.cancel_order_ids += [leg.id for leg in open_legs]
        return
    if not order.leg.startswith("tp"):
        return
    if position.break_even_after_first_target and position.targets_hit >= 1 \
            and Decimal(position.stop_loss) != Decimal(position.entry_price):
        # Spot stops are watched by the monitor on this same column; native stops are
        # replaced below at it.
        position.stop_loss = position.entry_price
        await position.save(update_fields=["stop_loss"])
    if not position.stop_on_exchange:
        return
    out.cancel_order_ids += [leg.id for leg in open_legs if leg.leg.startswith("sl")]
    number = 1 + sum(1 for leg in legs if leg.leg.startswith("sl"))
    close_side = Side.SELL if position.side is Side.BUY else Side.BUY
    new = exit_leg(position, sid, uid, f"sl{number}", close_side,
               Decimal(position.remaining_amount), "stop_market",
               stop_price=Decimal(position.stop_loss))
    await insert_rows(CopyOrder, [new], ignore_conflicts=True)
    row = await CopyOrder.get(signal_id=sid, user_id=uid, leg=new["leg"])
    if row.status is OrderStatus.PENDING:
        out.exit_order_ids.append(row.id)


async def legs_for_provider_event(signal_id: int, kind: str, price: Decimal | None
                                  ) -> tuple[list[int], list[int]]:
    """What a provider's CLOSED/CANCELLED/STOP_MOVED event does to followers' orders.

    Returns (legs to cancel, new PENDING legs to execute). CLOSED/CANCELLED: entries not
    filled yet are cancelled; each OPEN live position has its exit legs cancelled and a
    reduce-only market ``close`` leg for what remains (paper positions are closed at the
    market price by ``domain.monitor.close_positions_for_event``). STOP_MOVED: live
    positions with a native stop get it replaced at ``price``.
    """
    cancel: list[int] = []
    new: list[dict[str, Any]] = []
    if kind in ("CLOSED", "CANCELLED"):
        cancel += list(await CopyOrder.filter(
            signal_id=signal_id, leg=ENTRY,
            status__in=(OrderStatus.PENDING, *OPEN_ON_EXCHANGE)).values_list("id", flat=True))  # type: ignore[arg-type]
    positions = await Position.filter(signal_id=signal_id, status=PositionStatus.OPEN,
                                      mode="live").select_related("copy_order")
    for position in positions:
        uid: int = position.user_id  # type: ignore[attr-defined]
        legs = await CopyOrder.filter(signal_id=signal_id, user_id=uid).exclude(leg=ENTRY)
        open_legs = [leg for leg in legs if leg.status in (OrderStatus.PENDING,
                                                           *OPEN_ON_EXCHANGE)]
        close_side = Side.SELL if position.side is Side.BUY else Side.BUY
        if kind in ("CLOSED", "CANCELLED"):
            cancel += [leg.id for leg in open_legs]
            new.append(exit_leg(position, signal_id, uid, "close", close_side,
                            Decimal(position.remaining_amount), "market"))
        elif kind == "STOP_MOVED" and price is not None and position.stop_on_exchange:
            cancel += [leg.id for leg in open_legs if leg.leg.startswith("sl")]
            number = 1 + sum(1 for leg in legs if leg.leg.startswith("sl"))
            new.append(exit_leg(position, signal_id, uid, f"sl{number}", close_side,
                            Decimal(position.remaining_amount), "stop_market",
                            stop_price=price))
    await insert_rows(CopyOrder, new, ignore_conflicts=True)
    return cancel, await pending_leg_ids(new)


def exit_leg(position: Position, signal_id: int, user_id: int, leg: str, side: Side,
         amount: Decimal, order_type: str, *, limit_price: Decimal | None = None,
         stop_price: Decimal | None = None) -> dict[str, Any]:
    """A new PENDING exit leg of ``position`` as ``insert_rows`` values."""
    return dict(signal_id=signal_id, user_id=user_id, leg=leg,
                client_order_id=client_order_id(signal_id, user_id, leg),
                symbol=position.symbol, side=side, amount=amount, order_type=order_type,
                limit_price=limit_price, stop_price=stop_price, mode=position.mode,
                exchange=position.copy_order.exchange,
                exchange_account_id=position.exchange_account_id,
                reason=f"placed: {_leg_name(leg)} of the copied position")


def _leg_name(leg: str) -> str:
    if leg.startswith("tp"):
        return f"take-profit {leg[2:]}"
    return "stop-loss" if leg.startswith("sl") else "close"


def exit_ladder(amount: Decimal, targets: int, step: Decimal | None,
                ladder: Iterable[Decimal] = ()) -> list[Decimal]:
    """Amount closed at each take-profit target: ``ladder`` percents (even split when
    empty), each leg rounded down to ``step`` (1e-12 when None), the remainder on the
    last target, so the legs sum to ``amount``."""
    return exit_amounts(amount, tuple(ladder), targets, step or Decimal("1e-12"))


async def open_position_counts(user_ids: list[int]) -> dict[int, int]:
    """OPEN positions per user for many users in one query."""
    rows = await Position.filter(user_id__in=user_ids, status=PositionStatus.OPEN).annotate(
        n=Count("id")).group_by("user_id").values("user_id", "n")
    return {row["user_id"]: row["n"] for row in rows}


async def close_position(position_id: int, price: Decimal, amount: Decimal | None,
                         reason: str, fee_rate: Decimal, target_index: int = 0,
                         fee: Decimal | None = None) -> Position | None:
    """Close ``amount`` (None: all that remains) of an OPEN position at ``price``.

    Realized PnL (quote currency) = gross move × amount − exit fee (``fee`` when the
    exchange reported it, else ``fee_rate`` × exit notional), each rounded to 1e-8; a
    paper account's balance moves by the same. The position is CLOSED when nothing
    remains. Returns None if the position was already closed. Call inside a transaction.
    """
    position = await Position.filter(id=position_id).select_for_update().get_or_none()
    if position is None or position.status is PositionStatus.CLOSED:
        return None
    size = position.remaining_amount if amount is None else min(amount,
                                                                position.remaining_amount)
    exit_fee = money(fee) if fee is not None else money(price * size * fee_rate)
    pnl = money(realized_pnl(position.side, position.entry_price, price, size)) - exit_fee
    position.remaining_amount -= size
    position.realized_pnl += pnl
    position.fees += exit_fee
    position.targets_hit = max(position.targets_hit, target_index)
    position.exit_price = price
    if position.remaining_amount <= 0:
        position.status, position.close_reason = PositionStatus.CLOSED, reason
        position.closed_at = datetime.now(UTC)
    await position.save()
    if position.mode == "paper":
        account = await PaperAccount.filter(user_id=position.user_id  # type: ignore[attr-defined]
                                            ).select_for_update().get()
        account.balance += pnl
        await account.save(update_fields=["balance"])
    return position


async def open_positions_for_fills(fills: list[tuple[CopyOrder, OrderAck]], market_ts: int
                                   ) -> list[Position]:
    """Positions of entry fills (new ones created, partly filled ones grown, with the
    entry's cumulative fee while nothing was exited yet); paper accounts pay the entry
    fee. ``market_ts``: the price source's clock, Unix ms. Inside the caller's
    transaction; returns the positions with ``copy_order`` and ``signal`` attached."""
    entries = [(o, a) for o, a in fills if o.leg == ENTRY]
    if not entries:
        return []
    existing = {p.copy_order_id: p for p in await Position.filter(  # type: ignore[attr-defined]
        copy_order_id__in=[o.id for o, _ in entries])}
    created: list[dict[str, Any]] = []
    fees: dict[int, Decimal] = {}
    stops = await current_stops({o.signal.id for o, _ in entries})
    for order, ack in entries:
        signal = order.signal
        held, fee = net_fill(ack)
        position = existing.get(order.id)
        if position is not None:  # a partly filled entry filled further
            untouched = position.remaining_amount == position.amount  # no exit yet
            position.amount = position.remaining_amount = held
            position.entry_price = ack.average or position.entry_price
            if untouched and fee > position.fees:  # the entry fee is cumulative
                position.realized_pnl -= fee - position.fees
                position.fees = fee
            await position.save(update_fields=["amount", "remaining_amount", "entry_price",
                                               "fees", "realized_pnl"])
            continue
        if order.mode == "paper":
            fees[order.user_id] = fees.get(order.user_id, Decimal(0)) + fee  # type: ignore[attr-defined]
        created.append(dict(
            user_id=order.user_id, signal_id=signal.id, copy_order_id=order.id,  # type: ignore[attr-defined]
            symbol=signal.symbol, side=signal.side, entry_price=ack.average or order.price,
            amount=held, remaining_amount=held,
            stop_loss=stops.get(signal.id, signal.stop_loss),
            targets=signal.targets, realized_pnl=-fee, fees=fee, opened_market_ts=market_ts,
            mode=order.mode, exchange_account_id=order.exchange_account_id,
        ))
    await insert_rows(Position, created)
    if fees:
        accounts = await PaperAccount.filter(user_id__in=list(fees)).select_for_update()
        for account in accounts:
            account.balance -= fees[account.user_id]  # type: ignore[attr-defined]
        await save_rows(accounts, ["balance"])
    by_id = {o.id: o for o, _ in entries}
    positions = list(await Position.filter(copy_order_id__in=list(by_id)))
    for position in positions:
        order = by_id[position.copy_order_id]  # type: ignore[attr-defined]
        position.copy_order, position.signal = order, order.signal
    return positions


async def current_stops(signal_ids: Iterable[int]) -> dict[int, Decimal]:
    """The stop-loss in force per signal (``SignalState.stop_loss``: moved by the
    provider's STOP_MOVED events), what new decisions and positions use."""
    rows = await SignalState.filter(signal_id__in=list(signal_ids)).values(
        "signal_id", "stop_loss")
    return {row["signal_id"]: Decimal(row["stop_loss"]) for row in rows}


def apply_ack(order: CopyOrder, ack: OrderAck, now: datetime) -> None:
    """Copy the exchange's view of ``order`` onto the row (status, fill, fee, ids); the
    reason keeps its decision lines and gets the execution line (``with_outcome``)."""
    order.exchange_order_id = ack.id[:64]
    order.filled = ack.filled
    order.acked_at = order.acked_at or now
    if ack.average is not None and ack.filled > 0:
        order.price = ack.average
        order.notional = money(ack.average * ack.filled)
    if ack.fee is not None:
        order.fee = net_fill(ack)[1]
    if ack.status == "closed" or (ack.filled >= ack.amount > 0):
        order.status = OrderStatus.FILLED
        order.amount = ack.filled if ack.filled > 0 else ack.amount
        if order.mode == "paper":
            line = "filled at market (paper)" if order.order_type == "market" else (
                f"filled at limit {order.limit_price} (paper)")
        else:
            line = f"filled on {order.exchange}"
    elif ack.status == "open":
        order.status = (OrderStatus.PARTIALLY_FILLED if ack.filled > 0
                        else OrderStatus.PLACED)
        line = (f"partly filled ({ack.filled} of {ack.amount})" if ack.filled > 0
                else f"placed on {order.exchange} ({order.order_type})")
    elif ack.filled > 0:
        order.status = OrderStatus.FILLED
        order.amount = ack.filled
        line = f"filled {ack.filled} of {ack.amount}, the rest was {ack.status}"
    else:
        order.status = OrderStatus.CANCELLED if ack.status in ("canceled", "expired") \
            else OrderStatus.FAILED
        line = f"order {ack.status} by the exchange"
    order.reason = with_outcome(order.reason, line)
