"""Copy trading over GraphQL: the follower's limits, copy orders with their reasons, PnL.

``setCopyTrading`` (mutation) switches copying and sets every limit of
``domain.copy_settings``; ``myCopySettings``, ``myCopyOrders`` (cursor connection,
newest first) and ``myPnl`` read. Positions with their unrealized PnL are
``myPositions`` (``Position.unrealizedPnl``). Units: percents are percent (10 = 10%),
money in the account's quote currency (USDT).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from domain import copy_settings, models
from domain.errors import InvalidInput
from domain.portfolio import load_pnl
from domain.sizing import reason_lines
from graphql_api.errors import CALLER_ERRORS, error_result, raising_api_errors
from graphql_api.mutations import ProviderSubscriptionResult, SlugArg, _subscription_view
from graphql_api.types import CopySettings, PageInfo

MAX_PAGE = 100
CURSOR_PREFIX = "copyorder:"

if not hasattr(models.OrderStatus, "_enum_definition"):  # registered once, here or elsewhere
    strawberry.enum(models.OrderStatus, description=(
        "State of a copy order leg: PENDING (to be decided), SENDING (being sent), PLACED "
        "(resting on the exchange), PARTIALLY_FILLED, FILLED, SKIPPED (not sent, see its "
        "reasons), FAILED (the exchange refused it, its message in the reasons) or "
        "CANCELLED."))


def encode_order_cursor(order_id: int) -> str:
    """Opaque cursor of the copy order ``order_id``."""
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{order_id}".encode()).decode()


def decode_order_cursor(cursor: str) -> int:
    """The copy order id in ``cursor``; raises ``InvalidInput("after")``."""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
        if text.startswith(CURSOR_PREFIX):
            return int(text.removeprefix(CURSOR_PREFIX))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise InvalidInput("after", "is not a cursor returned by myCopyOrders")


def _f(description: str) -> object:
    return strawberry.field(description=description)


@strawberry.type(description="One order leg of copying a signal, with the decision's "
                             "reasons.")
class CopyOrder:
    id: int = _f("Copy order id.")
    signal_id: int = _f("Id of the copied signal.")
    provider_slug: str = _f("Slug of the signal's provider.")
    leg: str = _f("Which leg of the signal: `entry`, or an exit leg.")
    mode: str = _f("`paper` or `live`.")
    status: models.OrderStatus = _f("Where the leg stands (see OrderStatus).")
    symbol: str = _f("Market in ccxt unified form.")
    side: models.Side = _f("BUY or SELL.")
    reason: str = _f("Every reason in one line (the `reasons` joined with `; `).")
    reasons: list[str] = _f("Why it was placed, resized, skipped or failed, one line each "
                            "(`skipped: …`, `resized: …`, `placed: …`).")
    order_type: str = _f("`market`, `limit` (e.g. at the entry past the slippage guard) or "
                         "`stop_market`.")
    exchange: str = _f("`paper`, or the ccxt exchange id of a live order.")
    amount: Decimal | None = _f("Amount, base currency (contracts on contract markets); "
                                "null unless placed.")
    filled: Decimal | None = _f("Amount filled so far, same unit as `amount`; null before "
                                "any fill is known.")
    price: Decimal | None = _f("Fill (or expected fill) price, quote currency; null unless "
                               "placed.")
    limit_price: Decimal | None = _f("Price of a limit order, quote currency; null for "
                                     "market orders.")
    stop_price: Decimal | None = _f("Trigger price of a stop order, quote currency; null "
                                    "otherwise.")
    notional: Decimal | None = _f("Amount × price, quote currency; null unless placed.")
    fee: Decimal | None = _f("Fee paid, quote currency; null unless filled.")
    created_at: datetime = _f("When the order intent was written (ISO-8601 UTC).")
    updated_at: datetime = _f("Last change of status (ISO-8601 UTC).")

    @classmethod
    def from_model(cls, order: models.CopyOrder) -> CopyOrder:
        return cls(
            id=order.id, signal_id=order.signal_id,  # type: ignore[attr-defined]
            provider_slug=order.signal.provider.slug, leg=order.leg, mode=order.mode,
            status=order.status, symbol=order.symbol, side=order.side, reason=order.reason,
            reasons=reason_lines(order.reason), order_type=order.order_type,
            exchange=order.exchange, amount=order.amount, filled=order.filled,
            price=order.price, limit_price=order.limit_price, stop_price=order.stop_price,
            notional=order.notional, fee=order.fee, created_at=order.created_at,
            updated_at=order.updated_at)


@strawberry.type(description="One copy order of a page with its cursor.")
class CopyOrderEdge:
    cursor: str = _f("Opaque cursor of this copy order.")
    node: CopyOrder = _f("The copy order.")


@strawberry.type(description="A page of copy orders, newest first (Relay cursor "
                             "connection).")
class CopyOrderConnection:
    edges: list[CopyOrderEdge] = _f("Copy orders of this page, newest first.")
    page_info: PageInfo = _f("Whether another (older) page follows and its cursor.")


@strawberry.type(description="Closed-position statistics over the last `days` days; money "
                             "in the account's quote currency (USDT), fees included.")
class PnlSummary:
    days: int = _f("Length of the period in days, ending now.")
    trades: int = _f("Positions closed in the period.")
    wins: int = _f("Closed with realized PnL above 0.")
    losses: int = _f("Closed with realized PnL below 0.")
    realized_pnl: Decimal = _f("Sum of realized PnL of the closed positions.")
    gross_profit: Decimal = _f("Sum of the winning positions' realized PnL.")
    gross_loss: Decimal = _f("Sum of the losing positions' realized PnL, as a positive "
                             "number.")
    win_rate: Decimal | None = _f("wins / trades as a fraction (0.6 = 60%); null without "
                                  "trades.")
    profit_factor: Decimal | None = _f("grossProfit / grossLoss; null without a losing "
                                       "trade.")


@strawberry.type(description="Read operations.")
class CopyTradingQuery:
    @strawberry.field(description=(
        "The caller's copy settings (switch and every risk limit) for one provider they "
        "are subscribed to. Errors (extensions.code): NOT_ALLOWED (not subscribed, not "
        "signed in), NOT_FOUND (no such provider)."))
    async def my_copy_settings(self, info: strawberry.Info, provider_slug: SlugArg
                               ) -> CopySettings:
        with raising_api_errors():
            user = info.context.require_user()
            settings = await copy_settings.get_copy_settings(user, provider_slug)
        return CopySettings.from_model(settings)

    @strawberry.field(description=(
        "The caller's copy orders, newest first, each with the reasons of its decision "
        "(placed, resized and why, skipped and why, failed and why). Errors "
        "(extensions.code): NOT_ALLOWED (not signed in), VALIDATION (`first` outside "
        "1–100, a foreign `after` cursor)."))
    async def my_copy_orders(
        self, info: strawberry.Info,
        first: Annotated[int, strawberry.argument(description="Page size, 1–100.")] = 20,
        after: Annotated[str | None, strawberry.argument(
            description="`pageInfo.endCursor` of the previous page; null for the newest "
                        "orders.")] = None,
        provider_slug: Annotated[str | None, strawberry.argument(
            description="Only orders copying this provider's signals; null for all.")] = None,
    ) -> CopyOrderConnection:
        with raising_api_errors():
            user = info.context.require_user()
            if not 1 <= first <= MAX_PAGE:
                raise InvalidInput("first", f"must be between 1 and {MAX_PAGE}")
            before = decode_order_cursor(after) if after else None
        query = models.CopyOrder.filter(user_id=user.id).select_related("signal__provider")
        if before is not None:
            query = query.filter(id__lt=before)
        if provider_slug:
            query = query.filter(signal__provider__slug=provider_slug.strip().lower())
        rows = await query.order_by("-id").limit(first + 1)
        edges = [CopyOrderEdge(cursor=encode_order_cursor(r.id), node=CopyOrder.from_model(r))
                 for r in rows[:first]]
        return CopyOrderConnection(edges=edges, page_info=PageInfo(
            has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None))

    @strawberry.field(description=(
        "Realized PnL, win rate and profit factor of the caller's positions closed in the "
        "last `days` days. Errors (extensions.code): NOT_ALLOWED (not signed in), "
        "VALIDATION (`days` outside 1–3650)."))
    async def my_pnl(
        self, info: strawberry.Info,
        days: Annotated[int, strawberry.argument(
            description="Period in days ending now, 1–3650.")] = 30,
    ) -> PnlSummary:
        with raising_api_errors():
            user = info.context.require_user()
            summary = await load_pnl(user.id, days, datetime.now(UTC))
        return PnlSummary(
            days=summary.days, trades=summary.trades, wins=summary.wins,
            losses=summary.losses, realized_pnl=summary.realized,
            gross_profit=summary.gross_profit, gross_loss=summary.gross_loss,
            win_rate=summary.win_rate, profit_factor=summary.profit_factor)


def _arg(description: str) -> object:
    return strawberry.argument(description=description)


@strawberry.type(description="Write operations; each returns its result or a typed error.")
class CopyTradingMutation:
    @strawberry.mutation(description=(
        "Switch copy trading for one subscription on or off and set its risk limits; "
        "omitted (null) values keep their current values. On any error nothing is "
        "changed. Errors: ValidationError naming the field (scaleFactor 0.1–2.0, "
        "maxPositionPct above 0 and at most 100, maxOpenPositions 1–100, maxDailyLossPct "
        "above 0 and at most 100, slippageGuardPct 0–20, slippageAction skip|limit, "
        "leverageCap 1–125, allowedSymbols/deniedSymbols ccxt unified symbols (at most "
        "50), exitLadder 1–10 positive percents summing to 100), NotAllowed (no "
        "subscription, not signed in), NotFound (provider)."))
    async def set_copy_trading(
        self, info: strawberry.Info, provider_slug: SlugArg,
        enabled: Annotated[bool | None, _arg("Copy new signals? null keeps the current "
                                             "switch.")] = None,
        scale_factor: Annotated[Decimal | None, _arg(
            "Size multiplier 0.1–2.0 (1 = as computed).")] = None,
        max_position_pct: Annotated[Decimal | None, _arg(
            "Largest position, percent of equity (10 = 10%).")] = None,
        max_open_positions: Annotated[int | None, _arg(
            "Most OPEN positions at once, 1–100.")] = None,
        max_daily_loss_pct: Annotated[Decimal | None, _arg(
            "Daily loss limit, percent of the equity at 00:00 UTC (5 = 5%).")] = None,
        slippage_guard_pct: Annotated[Decimal | None, _arg(
            "Slippage guard, percent past the entry, 0–20 (0.5 = 0.5%).")] = None,
        slippage_action: Annotated[str | None, _arg(
            "Past the guard: `skip` or `limit` (a limit order at the entry).")] = None,
        leverage_cap: Annotated[int | None, _arg("Highest leverage, 1–125 (x).")] = None,
        allowed_symbols: Annotated[list[str] | None, _arg(
            "Only copy these ccxt unified symbols; [] allows all.")] = None,
        denied_symbols: Annotated[list[str] | None, _arg(
            "Never copy these ccxt unified symbols; [] clears the list.")] = None,
        exit_ladder: Annotated[list[Decimal] | None, _arg(
            "Percent closed per take-profit target, summing to 100 (e.g. [50, 30, 20]); "
            "[] for an even split.")] = None,
        move_stop_to_breakeven: Annotated[bool | None, _arg(
            "Move the stop-loss to the entry once target 1 is hit.")] = None,
    ) -> ProviderSubscriptionResult:
        try:
            user = info.context.require_user()
            settings = await copy_settings.set_copy_trading(
                user, provider_slug, enabled, scale_factor, max_position_pct,
                max_open_positions, max_daily_loss_pct=max_daily_loss_pct,
                slippage_guard_pct=slippage_guard_pct, slippage_action=slippage_action,
                leverage_cap=leverage_cap, allowed_symbols=allowed_symbols,
                denied_symbols=denied_symbols, exit_ladder=exit_ladder,
                move_stop_to_breakeven=move_stop_to_breakeven)
        except CALLER_ERRORS as exc:
            return error_result(exc)
        return await _subscription_view(settings.subscription_id)  # type: ignore[attr-defined]
