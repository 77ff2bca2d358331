"""Copy execution: one engine for paper and live order legs, exactly once per leg.

A copy order is one order *leg* (``entry``, take-profit ``tp<n>``, stop ``sl<n>``,
``close``) of one follower for one signal. Its client order id is
``domain.fanout.client_order_id(signal, follower, leg)`` (``sh<signal>u<user><leg>``,
letters and digits only, at most 32 characters: binance, bybit, okx and bitget accept
it; rows written before keep their stored ``sh-…`` ids) and its row is unique on
(signal, user, leg). States::

    PENDING --decide--> SKIPPED (reason)
       |
       +--> SENDING (committed BEFORE the exchange call)
               |--ack--> PLACED | PARTIALLY_FILLED | FILLED
               |--PermanentError--> FAILED (the exchange's message)
               |--RetryableError--> SENDING, attempts+1, retried on its own
    PLACED / PARTIALLY_FILLED --reconciliation--> FILLED | CANCELLED

A row in SENDING may or may not exist on the exchange (the worker died, or the call
timed out after the exchange accepted it): it is *always* looked up with
``fetch_order_by_client_id`` before anything is sent again, and re-sending uses the
same client order id, which exchanges reject as a duplicate.

The unit of work is a shard of rows (``CopyEngine.run``): the rows are *claimed*
(``claimed_by`` = this worker's id and a job number; a claim of a worker whose
heartbeat is gone may be taken over), everything needed is read in bulk, each entry
is decided by ``domain.sizing`` under a lock of the followers' paper-account rows (so
two shards of one follower cannot together exceed ``max_open_positions``), the
decisions are committed, the exchange calls run concurrently (bounded per exchange),
and the results are written in one transaction. Orders needing a retry are returned
to the caller, which re-enqueues each on its own with back-off.

Paper and live share all of this: ``Gateways`` gives each follower a gateway, the
paper exchange (``domain.paper_exchange.PaperGateway``) unless the follower's exchange
account is live *and* its live mode was confirmed; the engine checks that again
before every live send.

The engine's parts live beside it: ``domain.copy_routing`` (routes and gateways),
``domain.copy_context`` (what a shard reads before deciding), ``domain.copy_exits``
(``apply_ack``, positions, exit legs, provider events, ``close_position``),
``domain.copy_results`` (what a shard returns, retry back-off), ``domain.copy_rows``
(bulk row writes) and ``domain.copy_reports`` (reasons, notices, trade events and
their bus topic).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tortoise.transactions import in_transaction

from domain.copy_context import (
    FollowContext,
    busy_slots,
    follow_context,
    latch_daily_loss,
    open_positions_of,
)
from domain.copy_exits import (
    OPEN_ON_EXCHANGE,
    apply_ack,
    apply_exit_fill,
    configure_exits,
    current_stops,
    exit_followups,
    exit_intents,
    open_positions_for_fills,
)
from domain.copy_reports import (
    ENTRY,
    position_event,
    skip_reason,
    trade_event,
    with_outcome,
    write_notices,
)
from domain.copy_results import OrderResult, Retry, ShardResult, backoff_s
from domain.copy_routing import PAPER, Gateways, PaperGateways, Route
from domain.copy_rows import attach_related, insert_rows, save_rows
from domain.copy_settings import copy_limits
from domain.daily_loss import day_pnl_of, held_positions
from domain.errors import DomainError, OrderStatusUnknown, RetryableError
from domain.models import (
    CopyOrder,
    OrderStatus,
    PaperAccount,
    Position,
    PositionStatus,
    Side,
)
from domain.ports import MarketRules, OrderAck, OrderRequest, PriceSource
from domain.risk import daily_loss_reached, quote_currency
from domain.sizing import (
    AccountState,
    CopyDecision,
    FillModel,
    SignalTerms,
    decide_copy,
)

WORKING = (OrderStatus.PENDING, OrderStatus.SENDING)
MAX_ATTEMPTS = 8
RETRY_LATER = "\x00retry:"


@dataclass
class _Outcome:
    ack: OrderAck | None = None
    retry: str | None = None
    retry_after: float | None = None
    failed: str | None = None
    maybe_placed: bool = False


Alive = Callable[[set[str]], Awaitable[set[str]]]


class CopyEngine:
    """Executes shards of copy-order legs (see the module doc).

    ``claimer`` identifies this process (≤ 12 chars; each run adds a job number);
    ``alive(owners)`` returns which of the claimer ids still run (None: a claim by any
    other claimer may be taken over, for single-process use). ``concurrency`` bounds
    the exchange calls in flight per exchange id. A live account's equity (what the
    position size is a percent of) is fetched from the exchange and reused for
    ``equity_ttl_s`` seconds (an exchange round trip per follower per signal otherwise).
    """

    def __init__(self, prices: PriceSource, gateways: Gateways | None = None, *,
                 fill_model: FillModel = FillModel(), claimer: str = "local",
                 alive: Alive | None = None, concurrency: int = 100,
                 max_attempts: int = MAX_ATTEMPTS, equity_ttl_s: float = 60.0) -> None:
        self.prices, self.fill_model = prices, fill_model
        self.gateways = gateways if gateways is not None else PaperGateways(prices,
                                                                             fill_model=fill_model)
        self.claimer, self.alive = claimer[:12], alive
        self.concurrency, self.max_attempts = concurrency, max_attempts
        self.equity_ttl_s = equity_ttl_s
        self._runs = itertools.count(1)
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._steps: dict[tuple[str, str], Decimal] = {}
        self._native_stops: dict[tuple[str, str], bool] = {}
        self._equity: dict[tuple[int, str], tuple[float, Decimal]] = {}
        self.stats = {"shards": 0.0, "orders": 0.0, "db_s": 0.0, "exchange_s": 0.0}

    # --- claim ------------------------------------------------------------------------

    async def claim(self, order_ids: Iterable[int]) -> tuple[str, list[CopyOrder]]:
        """Claim the PENDING/SENDING rows of ``order_ids`` not held by a live claimer.

        Returns the claim token and the claimed rows (signal and user loaded)."""
        ids = sorted(set(order_ids))
        token = f"{self.claimer}:{next(self._runs)}"
        rows = await CopyOrder.filter(id__in=ids, status__in=WORKING).values_list(
            "claimed_by", flat=True)
        held = {str(c) for c in rows if c}
        owners = {c.split(":")[0] for c in held}
        alive = await self.alive(owners) if self.alive is not None else {self.claimer}
        takeable = [""] + [c for c in held if c.split(":")[0] not in alive]
        await CopyOrder.filter(id__in=ids, status__in=WORKING,
                               claimed_by__in=takeable).update(claimed_by=token)
        claimed = await CopyOrder.filter(id__in=ids, status__in=WORKING,
                                         claimed_by=token).order_by("id")
        return token, await attach_related(list(claimed))

    # --- the shard --------------------------------------------------------------------

    async def run(self, order_ids: Iterable[int], now: datetime | None = None) -> ShardResult:
        """Execute a shard: claim, decide, send concurrently, write results in bulk.

        ``now`` (timezone-aware, default the clock) is the time of the decisions: the
        UTC day of the daily loss limit and its latch."""
        out = ShardResult()
        started = time.perf_counter()
        _, orders = await self.claim(order_ids)
        if not orders:
            out.db_s = time.perf_counter() - started
            return out
        routes = await self.gateways.routes(sorted({o.user_id for o in orders}))  # type: ignore[attr-defined]
        pending = [o for o in orders if o.status is OrderStatus.PENDING]
        sending = [o for o in orders if o.status is OrderStatus.SENDING]
        t_prep = time.perf_counter()
        prep = await self._prepare(pending, routes)
        out.exchange_s = time.perf_counter() - t_prep
        decided, skipped = await self._decide_and_mark(pending, routes, prep, out.retries,
                                                       now or datetime.now(UTC))
        out.db_s += time.perf_counter() - started - out.exchange_s
        t_ex = time.perf_counter()
        await self._free_positions([o for o in decided if o.leg != ENTRY], out)
        calls = [(o, True) for o in sending] + [(o, False) for o in decided]
        outcomes = await asyncio.gather(*(self._call(o, resolve, routes) for o, resolve in calls))
        out.exchange_s += time.perf_counter() - t_ex
        t_db = time.perf_counter()
        await self._write(list(zip([o for o, _ in calls], outcomes, strict=True)), skipped,
                          routes, out)
        out.db_s += time.perf_counter() - t_db
        for key, value in (("shards", 1), ("orders", len(orders)), ("db_s", out.db_s),
                           ("exchange_s", out.exchange_s)):
            self.stats[key] += value
        return out

    # --- before the decision: live equity and market rules (exchange calls) ------------

    async def _prepare(self, pending: list[CopyOrder], routes: dict[int, Route]
                       ) -> dict[tuple[int, str], Any]:
        """Market rules per (user, symbol) and equity per live user, fetched concurrently;
        paper entries get their (paper) market rules only.

        A failure is stored in place of the value (an exception object)."""
        wanted: dict[tuple[int, str], Awaitable[Any]] = {}
        for order in pending:
            route = routes.get(order.user_id, PAPER)  # type: ignore[attr-defined]
            key = (order.user_id, order.symbol)  # type: ignore[attr-defined]
            if order.leg != ENTRY or key in wanted:
                continue
            if route.live:
                wanted[key] = self._rules_and_equity(order.user_id, route,  # type: ignore[attr-defined]
                                                     order.symbol)
            else:
                wanted[key] = self._paper_rules(order.user_id, route,  # type: ignore[attr-defined]
                                                order.symbol)
        values = await asyncio.gather(*wanted.values(), return_exceptions=True)
        return dict(zip(wanted.keys(), values, strict=True))

    async def _paper_rules(self, user_id: int, route: Route, symbol: str) -> MarketRules:
        rules = await (await self.gateways.gateway(user_id, route)).market(symbol)
        if rules.amount_step:
            self._steps[(route.exchange, symbol)] = rules.amount_step
        return rules

    async def _rules_and_equity(self, user_id: int, route: Route,
                                symbol: str) -> tuple[MarketRules, Decimal]:
        gateway = await self.gateways.gateway(user_id, route)
        quote = quote_currency(symbol)
        async with self._limit(route.exchange):
            rules = await gateway.market(symbol)
            cached = self._equity.get((route.account_id or 0, quote))
            if cached is not None and time.monotonic() - cached[0] < self.equity_ttl_s:
                equity = cached[1]
            else:
                equity = await gateway.fetch_equity(quote)
                self._equity[(route.account_id or 0, quote)] = (time.monotonic(), equity)
        if rules.amount_step:
            self._steps[(route.exchange, symbol)] = rules.amount_step
        # A spot stop would lock the same coins the take-profit limits already lock
        # (binance rejects it: insufficient balance): on spot the monitor enforces it.
        self._native_stops[(route.exchange, symbol)] = rules.linear and bool(
            getattr(gateway, "supports_stop_orders", False))
        return rules, equity

    # --- decision (one transaction, followers' paper accounts locked) ------------------

    async def _decide_and_mark(self, pending: list[CopyOrder], routes: dict[int, Route],
                               prep: dict[tuple[int, str], Any], retries: list[Retry],
                               now: datetime) -> tuple[list[CopyOrder], list[CopyOrder]]:
        if not pending:
            return [], []
        user_ids = sorted({o.user_id for o in pending})  # type: ignore[attr-defined]
        have = set(await PaperAccount.filter(user_id__in=user_ids).values_list(
            "user_id", flat=True))
        await insert_rows(PaperAccount, [{"user_id": u} for u in user_ids if u not in have],
                          ignore_conflicts=True)
        decided: list[CopyOrder] = []
        skipped: list[CopyOrder] = []
        later: list[CopyOrder] = []
        async with in_transaction():
            accounts = {a.user_id: a for a in await PaperAccount.filter(  # type: ignore[attr-defined]
                user_id__in=user_ids).order_by("user_id").select_for_update()}
            counts = await busy_slots(user_ids)
            context = await follow_context(pending)
            context.stops = await current_stops({o.signal.id for o in pending})
            context.held = await held_positions({u: "live" if routes.get(u, PAPER).live
                                                 else "paper" for u in user_ids}, now)
            open_positions = await open_positions_of(pending)
            for order in pending:
                order.updated_at = now
                route = routes.get(order.user_id, PAPER)  # type: ignore[attr-defined]
                reason = self._decide_one(order, route, context, accounts, counts, prep,
                                          open_positions, now)
                if reason.startswith(RETRY_LATER):
                    order.claimed_by, order.reason = "", reason.removeprefix(RETRY_LATER)
                    order.attempts += 1
                    later.append(order)
                    continue
                if reason:
                    order.status, order.reason = OrderStatus.SKIPPED, skip_reason(reason)
                    order.claimed_by = ""
                    skipped.append(order)
                    continue
                order.status, order.sent_at = OrderStatus.SENDING, now
                if order.leg == ENTRY:  # exit legs go where their position is
                    order.mode = "live" if route.live else "paper"
                    order.exchange = route.exchange if route.live else "paper"
                    order.exchange_account_id = route.account_id if route.live else None
                    counts[order.user_id] = counts.get(order.user_id, 0) + 1  # type: ignore[attr-defined]
                decided.append(order)
            await latch_daily_loss(context.latched, now)
            await save_rows(pending, [
                "status", "reason", "claimed_by", "sent_at", "mode", "exchange",
                "exchange_account_id", "amount", "price", "notional", "fee", "fee_rate",
                "slippage_rate", "order_type", "limit_price", "leverage", "attempts",
                "updated_at"])
        for order in later:
            retries.append(Retry(order.id, order.attempts,
                                       backoff_s(order.attempts)))
        return decided, skipped

    def _decide_one(self, order: CopyOrder, route: Route, context: FollowContext,
                    accounts: dict[int, PaperAccount], counts: dict[int, int],
                    prep: dict[tuple[int, str], Any],
                    open_positions: dict[tuple[int, int], Position], now: datetime) -> str:
        """Empty string when ``order`` is to be sent (fields set), else the skip reason."""
        signal = order.signal
        user_id: int = order.user_id  # type: ignore[attr-defined]
        if order.leg != ENTRY:
            position = open_positions.get((signal.id, user_id))
            return "" if position is not None else "skipped: the position is already closed"
        provider_id: int = signal.provider_id  # type: ignore[attr-defined]
        if user_id not in context.entitled.get(provider_id, set()):
            return "skipped: subscription is no longer active"
        settings = context.settings.get((user_id, provider_id))
        if settings is None or not settings.enabled:
            return "skipped: copy trading was switched off"
        if route.mode == "live" and not route.live_confirmed:
            return "skipped: live trading is not confirmed for this exchange account"
        rules: MarketRules | None = None
        if route.live:
            fetched = prep.get((user_id, order.symbol))
            if isinstance(fetched, RetryableError):
                return RETRY_LATER + fetched.message
            if isinstance(fetched, BaseException) or fetched is None:
                return f"skipped: exchange account unavailable: {_message(fetched)}"
            rules, equity = fetched
        else:
            paper_rules = prep.get((user_id, order.symbol))
            rules = paper_rules if isinstance(paper_rules, MarketRules) else None
            equity = Decimal(accounts[user_id].balance)
        decision = self._size(order, equity, counts.get(user_id, 0), settings, context,
                              rules, now)
        if not decision.placed:
            return decision.reason
        order.reason = decision.reason
        order.amount, order.price = decision.amount, decision.price
        order.notional = decision.notional
        order.order_type = decision.order_type.value
        order.limit_price = decision.limit_price
        order.leverage = decision.leverage  # set on the exchange before a linear entry
        if not route.live:
            order.fee_rate = self.fill_model.fee_rate
            order.slippage_rate = self.fill_model.slippage_rate
        return ""

    def _size(self, order: CopyOrder, equity: Decimal, busy: int, settings: Any,
              context: FollowContext, rules: MarketRules | None,
              now: datetime) -> CopyDecision:
        """``decide_copy`` on the signal's current stop and the account's day PnL; a
        daily loss limit reached now is latched (``context.latched``)."""
        signal = order.signal
        user_id: int = order.user_id  # type: ignore[attr-defined]
        limits = copy_limits(settings)
        day = day_pnl_of(context.held.get(user_id, []), now, equity, self.prices.last_price)
        if daily_loss_reached(day, limits.max_daily_loss_pct, now):
            settings.daily_loss_hit_on = now.astimezone(UTC).date()
            context.latched.add(settings.subscription_id)
        return decide_copy(
            SignalTerms(symbol=signal.symbol, side=signal.side, entry_low=signal.entry_low,
                        entry_high=signal.entry_high,
                        stop_loss=context.stops.get(signal.id, signal.stop_loss),
                        first_target=Decimal(str(signal.targets[0])),
                        leverage=signal.leverage),
            AccountState(equity=equity, open_positions=busy, day=day,
                         loss_limit_hit_on=settings.daily_loss_hit_on),
            limits, market_price=self.prices.last_price(signal.symbol),
            now=now, market=rules, fill_model=self.fill_model)

    # --- exchange calls ---------------------------------------------------------------

    def _limit(self, exchange: str) -> asyncio.Semaphore:
        if exchange not in self._limits:
            self._limits[exchange] = asyncio.Semaphore(self.concurrency)
        return self._limits[exchange]

    async def _call(self, order: CopyOrder, resolve: bool, routes: dict[int, Route]) -> _Outcome:
        """Look up (rows found in SENDING) and/or send one order; never raises."""
        user_id: int = order.user_id  # type: ignore[attr-defined]
        route = Route(mode=order.mode, exchange=order.exchange,
                      account_id=order.exchange_account_id,
                      live_confirmed=order.mode == "live")
        current = routes.get(user_id, PAPER)
        looked_up = not resolve
        try:
            gateway = await self.gateways.gateway(user_id, route)
            async with self._limit(route.exchange):
                if resolve:
                    found = await gateway.fetch_order_by_client_id(order.symbol,
                                                                   order.client_order_id)
                    looked_up = True
                    if found is not None:
                        return _Outcome(ack=found)
                if order.mode == "live" and order.leg == ENTRY and not (
                        current.live and current.account_id == route.account_id):
                    return _Outcome(failed="live trading was switched off for this exchange "
                                           "account before the order was sent")
                return _Outcome(ack=await gateway.create_order(self._request(order)))
        except OrderStatusUnknown as exc:
            return _Outcome(retry=exc.message, retry_after=exc.retry_after, maybe_placed=True)
        except RetryableError as exc:
            return _Outcome(retry=exc.message, retry_after=exc.retry_after,
                            maybe_placed=not looked_up)
        except DomainError as exc:
            if not looked_up:  # the lookup itself was refused: it may still exist
                return _Outcome(retry=exc.message, maybe_placed=True)
            return _Outcome(failed=exc.message)

    def _request(self, order: CopyOrder) -> OrderRequest:
        side = "buy" if order.side is Side.BUY else "sell"
        return OrderRequest(symbol=order.symbol, side=side, type=order.order_type,
                            amount=Decimal(order.amount or 0),
                            client_order_id=order.client_order_id,
                            price=order.limit_price, stop_price=order.stop_price,
                            reduce_only=order.leg != ENTRY,
                            leverage=order.leverage if order.leg == ENTRY else None)

    async def apply_acks(self, pairs: list[tuple[CopyOrder, OrderAck]]) -> ShardResult:
        """Apply the exchange's later view of open orders (reconciliation, paper fills of
        resting orders): status, fills, positions, notices and events, as a shard would.
        ``pairs`` hold orders with signal and user loaded."""
        out = ShardResult()
        if pairs:
            await self._write([(o, _Outcome(ack=a)) for o, a in pairs], [], {}, out)
        return out

    async def _free_positions(self, exits: list[CopyOrder], out: ShardResult) -> None:
        """Before a market exit (stop enforced by the monitor, provider close) of a
        position, cancel its resting exit legs: on spot they lock the coins to sell."""
        market = [o for o in exits if o.order_type == "market"]
        if not market:
            return
        siblings = await CopyOrder.filter(
            signal_id__in={o.signal.id for o in market}, user_id__in={o.user_id for o in market},  # type: ignore[attr-defined]
            status__in=OPEN_ON_EXCHANGE).exclude(leg=ENTRY).exclude(
            id__in=[o.id for o in market])
        wanted = {(o.signal.id, o.user_id) for o in market}  # type: ignore[attr-defined]
        ids = [s.id for s in siblings if (s.signal_id, s.user_id) in wanted]  # type: ignore[attr-defined]
        if ids:
            freed = await self.cancel(ids)
            out.results += freed.results
            out.events += freed.events

    async def cancel(self, order_ids: Iterable[int]) -> ShardResult:
        """Cancel order legs: PENDING ones never sent are CANCELLED at once, PLACED and
        PARTIALLY_FILLED ones are cancelled on their exchange (a fill that happened
        meanwhile is applied as a fill). Legs in SENDING are left to reconciliation."""
        ids = sorted(set(order_ids))
        out = ShardResult()
        if not ids:
            return out
        await CopyOrder.filter(id__in=ids, status=OrderStatus.PENDING, claimed_by="").update(
            status=OrderStatus.CANCELLED, reason="cancelled before it was sent")
        orders = await CopyOrder.filter(id__in=ids, status__in=OPEN_ON_EXCHANGE
                                        ).select_related("signal", "user")
        acks = await asyncio.gather(*(self._cancel_one(o) for o in orders))
        pairs = [(o, a) for o, a in zip(orders, acks, strict=True) if a is not None]
        await self._write([(o, _Outcome(ack=a)) for o, a in pairs], [], {}, out)
        return out

    async def _cancel_one(self, order: CopyOrder) -> OrderAck | None:
        route = Route(mode=order.mode, exchange=order.exchange,
                      account_id=order.exchange_account_id, live_confirmed=True)
        try:
            gateway = await self.gateways.gateway(order.user_id, route)  # type: ignore[attr-defined]
            async with self._limit(route.exchange):
                ack = await gateway.cancel_order(order.symbol, order.client_order_id)
        except DomainError:
            return None  # left PLACED: reconciliation looks again
        if ack is None:
            return OrderAck(id=order.exchange_order_id or "", client_order_id=order.client_order_id,
                            symbol=order.symbol, side=order.side.value.lower(),
                            type=order.order_type, status="canceled",
                            amount=Decimal(order.amount or 0),
                            filled=Decimal(order.filled or 0), average=order.price,
                            fee=order.fee, fee_currency=None, timestamp=0)
        return ack

    # --- writing results ----------------------------------------------------------------

    async def _write(self, outcomes: list[tuple[CopyOrder, _Outcome]],
                     skipped: list[CopyOrder], routes: dict[int, Route],
                     out: ShardResult) -> None:
        now = datetime.now(UTC)
        fills: list[tuple[CopyOrder, OrderAck]] = []
        exits: list[tuple[CopyOrder, Decimal]] = []
        for order, outcome in outcomes:
            order.claimed_by, order.updated_at = "", now
            if outcome.ack is not None:
                before = Decimal(order.filled or 0)
                apply_ack(order, outcome.ack, now)
                if outcome.ack.filled > 0:
                    fills.append((order, outcome.ack))
                if order.leg != ENTRY and outcome.ack.filled > before:
                    exits.append((order, outcome.ack.filled - before))
            elif outcome.retry is not None:
                order.attempts += 1
                # An order that may exist on the exchange is never given up: it keeps
                # being looked up (back-off capped at 60 s) until its state is known.
                if order.attempts >= self.max_attempts and not outcome.maybe_placed:
                    order.status = OrderStatus.FAILED
                    order.reason = with_outcome(order.reason, f"gave up after "
                                                f"{order.attempts} attempts: {outcome.retry}")
                else:
                    order.reason = with_outcome(order.reason, f"retrying: {outcome.retry}")
                    out.retries.append(Retry(order.id, order.attempts,
                                             backoff_s(order.attempts, outcome.retry_after)))
            else:
                order.status = OrderStatus.FAILED
                order.reason = with_outcome(order.reason, outcome.failed or "failed")
        async with in_transaction():
            if outcomes:
                await save_rows([o for o, _ in outcomes], [
                    "status", "reason", "claimed_by", "attempts", "amount", "price", "filled",
                    "notional", "fee", "exchange_order_id", "acked_at", "updated_at"])
            positions = await open_positions_for_fills(fills, self.prices.now_ms())
            await configure_exits(positions, self._steps, self._native_stops)
            out.exit_order_ids = await exit_intents(positions)
            for order, size in exits:
                closed = await apply_exit_fill(order, size, self.fill_model)
                if closed is None:
                    continue
                if closed.status is PositionStatus.CLOSED:
                    out.events.append(position_event(closed))
                await exit_followups(order, closed, out)
            notices = await write_notices([o for o, outcome in outcomes if outcome.retry is None
                                      or o.status is OrderStatus.FAILED] + skipped)
        for order in [o for o, _ in outcomes] + skipped:
            if order.status is OrderStatus.SENDING:
                continue
            notice = notices.get(order.id)
            out.results.append(OrderResult(order.id, order.user_id,  # type: ignore[attr-defined]
                                           order.status, order.reason, notice,
                                           order.signal.id, order.leg))
            out.events.append(trade_event(order))


def _message(exc: BaseException | None) -> str:
    if exc is None:
        return "no market data"
    return exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"


# --- compatibility entry point and positions -------------------------------------------


async def execute_copy_orders(order_ids: list[int], prices: PriceSource,
                              fill_model: FillModel = FillModel(), *,
                              engine: CopyEngine | None = None) -> list[OrderResult]:
    """Execute the PENDING/SENDING orders of ``order_ids`` (paper unless ``engine`` routes
    live) and return what happened to each finished one; retries are not scheduled here
    (use ``CopyEngine.run`` for that). Idempotent."""
    engine = engine or CopyEngine(prices, fill_model=fill_model)
    return (await engine.run(order_ids)).results


