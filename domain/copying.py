"""Execution of copy-order intents as paper fills, and closing of paper positions.

Paper mode only in this release: an order fills at the price source's last price,
moved against the follower by the assumed slippage, and pays the assumed taker fee
(``domain.sizing.FillModel``). Each order is decided and written in its own
transaction after re-reading it under a row lock, so a job that runs twice fills
nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from tortoise.functions import Count
from tortoise.transactions import in_transaction

from domain.models import (
    CopyOrder,
    CopySettings,
    Delivery,
    OrderStatus,
    PaperAccount,
    Position,
    PositionStatus,
    Subscription,
    SubscriptionStatus,
)
from domain.outcomes import realized_pnl
from domain.ports import PriceSource
from domain.sizing import CopyDecision, CopyLimits, FillModel, decide_copy_order, money


@dataclass(frozen=True)
class OrderResult:
    """What happened to one copy order; ``notice_id`` is the follower's Delivery row."""

    order_id: int
    user_id: int
    status: OrderStatus
    reason: str
    notice_id: int | None


async def execute_copy_orders(order_ids: list[int], prices: PriceSource,
                              fill_model: FillModel = FillModel()) -> list[OrderResult]:
    """Decide and paper-fill each PENDING order of ``order_ids``; others are left alone.

    Writes per order: copy_orders (FILLED with amount/price/notional/fee/slippage, or
    SKIPPED with the reason), positions (when filled), paper_accounts (entry fee), and
    a notice Delivery for followers with a Telegram chat. Idempotent. Orders of one
    follower are serialised by a lock on their paper account (PostgreSQL), so concurrent
    shards cannot together exceed ``max_open_positions``.
    """
    results = []
    for order_id in order_ids:
        result = await _execute_one(order_id, prices, fill_model)
        if result is not None:
            results.append(result)
    return results


async def _execute_one(order_id: int, prices: PriceSource,
                       fill_model: FillModel) -> OrderResult | None:
    async with in_transaction():
        order = await CopyOrder.filter(id=order_id).select_for_update().get_or_none()
        if order is None or order.status is not OrderStatus.PENDING:
            return None
        await order.fetch_related("signal", "user")
        # One follower's orders are decided one at a time: the account row lock makes a
        # concurrent shard wait, so its open-position count sees this order's position.
        await PaperAccount.filter(user_id=order.user.id).select_for_update().get()
        decision = await _decide(order, prices, fill_model)
        _apply(order, decision, fill_model)
        await order.save()
        if decision.placed:
            await _open_position(order, decision, prices.now_ms())
        notice = await _notice(order, decision)
    return OrderResult(order.id, order.user.id, order.status, order.reason,
                       notice.id if notice else None)


async def _decide(order: CopyOrder, prices: PriceSource, fill_model: FillModel) -> CopyDecision:
    signal = order.signal
    sub = await Subscription.get_or_none(user_id=order.user.id,
                                         provider_id=signal.provider_id)  # type: ignore[attr-defined]
    settings = await CopySettings.get_or_none(subscription_id=sub.id) if sub else None
    if sub is None or sub.status is not SubscriptionStatus.ACTIVE:
        return CopyDecision(False, "subscription is no longer active")
    if settings is None or not settings.enabled:
        return CopyDecision(False, "copy trading was switched off")
    account = await PaperAccount.get(user_id=order.user.id)
    return decide_copy_order(
        side=signal.side, stop_loss=signal.stop_loss,
        first_target=Decimal(str(signal.targets[0])),
        market_price=prices.last_price(signal.symbol), equity=account.balance,
        open_positions=await open_position_count(order.user.id),
        limits=CopyLimits(settings.scale_factor, settings.max_position_pct,
                          settings.max_open_positions),
        fill_model=fill_model,
    )


def _apply(order: CopyOrder, decision: CopyDecision, fill_model: FillModel) -> None:
    order.reason = decision.reason
    if not decision.placed:
        order.status = OrderStatus.SKIPPED
        return
    order.status = OrderStatus.FILLED
    order.amount, order.price = decision.amount, decision.price
    order.notional, order.fee = decision.notional, decision.fee
    order.fee_rate, order.slippage_rate = fill_model.fee_rate, fill_model.slippage_rate


async def _open_position(order: CopyOrder, decision: CopyDecision, market_ts: int) -> Position:
    signal = order.signal
    account = await PaperAccount.get(user_id=order.user.id)
    account.balance -= decision.fee
    await account.save(update_fields=["balance"])
    return await Position.create(
        user_id=order.user.id, signal_id=signal.id, copy_order=order, symbol=signal.symbol,
        side=signal.side, entry_price=decision.price, amount=decision.amount,
        remaining_amount=decision.amount, stop_loss=signal.stop_loss, targets=signal.targets,
        realized_pnl=-decision.fee, fees=decision.fee, opened_market_ts=market_ts,
    )


async def _notice(order: CopyOrder, decision: CopyDecision) -> Delivery | None:
    user = order.user
    if not user.telegram_chat_id or not user.telegram_reachable:
        return None
    signal = order.signal
    if decision.placed:
        text = (f"Paper copy of signal #{signal.id} {signal.symbol} {signal.side.value}: "
                f"filled {decision.amount} at {decision.price:.8g} "
                f"(notional {decision.notional:.2f}, fee {decision.fee:.4f}).")
    else:
        text = f"Signal #{signal.id} {signal.symbol} was not copied: {decision.reason}."
    delivery, _ = await Delivery.get_or_create(
        key=f"copy:{order.id}:{user.id}:telegram",
        defaults={"user_id": user.id, "channel": "telegram", "text": text})
    return delivery


async def open_position_count(user_id: int) -> int:
    """Number of OPEN paper positions of a user."""
    return await Position.filter(user_id=user_id, status=PositionStatus.OPEN).count()


async def open_position_counts(user_ids: list[int]) -> dict[int, int]:
    """OPEN paper positions per user for many users in one query."""
    rows = await Position.filter(user_id__in=user_ids, status=PositionStatus.OPEN).annotate(
        n=Count("id")).group_by("user_id").values("user_id", "n")
    return {row["user_id"]: row["n"] for row in rows}


async def close_position(position_id: int, price: Decimal, amount: Decimal | None,
                         reason: str, fee_rate: Decimal, target_index: int = 0
                         ) -> Position | None:
    """Close ``amount`` (None: all that remains) of an OPEN position at ``price``.

    Realized PnL (quote currency) = gross move × amount − exit fee (``fee_rate`` ×
    exit notional), each rounded to 1e-8; the account balance moves by the same.
    The position is CLOSED when nothing remains. Returns None if the position was
    already closed. Call inside a transaction.
    """
    position = await Position.filter(id=position_id).select_for_update().get_or_none()
    if position is None or position.status is PositionStatus.CLOSED:
        return None
    size = position.remaining_amount if amount is None else min(amount,
                                                                position.remaining_amount)
    fee = money(price * size * fee_rate)
    pnl = money(realized_pnl(position.side, position.entry_price, price, size)) - fee
    position.remaining_amount -= size
    position.realized_pnl += pnl
    position.fees += fee
    position.targets_hit = max(position.targets_hit, target_index)
    position.exit_price = price
    if position.remaining_amount <= 0:
        position.status, position.close_reason = PositionStatus.CLOSED, reason
        position.closed_at = datetime.now(UTC)
    await position.save()
    account = await PaperAccount.filter(user_id=position.user_id).select_for_update().get()  # type: ignore[attr-defined]
    account.balance += pnl
    await account.save(update_fields=["balance"])
    return position
