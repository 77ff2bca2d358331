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
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_UP, Decimal
from types import SimpleNamespace
from typing import Any, Protocol

from tortoise import connections
from tortoise.functions import Count
from tortoise.models import Model
from tortoise.transactions import in_transaction

from domain import subscriptions as subscriptions_module
from domain.copy_reports import (
    ENTRY,
    position_event,
    skip_reason,
    trade_event,
    with_outcome,
    write_notices,
)
from domain.daily_loss import HeldPosition, day_pnl_of, held_positions
from domain.errors import DomainError, OrderStatusUnknown, RetryableError
from domain.fanout import client_order_id
from domain.models import (
    CopyOrder,
    CopySettings,
    OrderStatus,
    PaperAccount,
    Position,
    PositionStatus,
    Side,
    Signal,
    SignalState,
    Subscription,
    SubscriptionStatus,
    User,
)
from domain.outcomes import realized_pnl
from domain.paper_exchange import MarketLookup, MemoryPaperBook, PaperBook, PaperGateway
from domain.ports import ExchangeGateway, MarketRules, OrderAck, OrderRequest, PriceSource
from domain.risk import SlippageAction, daily_loss_reached, quote_currency
from domain.sizing import (
    AMOUNT_QUANTUM,
    AccountState,
    CopyDecision,
    CopyLimits,
    FillModel,
    SignalTerms,
    decide_copy,
    money,
)

WORKING = (OrderStatus.PENDING, OrderStatus.SENDING)
OPEN_ON_EXCHANGE = (OrderStatus.PLACED, OrderStatus.PARTIALLY_FILLED)
MAX_ATTEMPTS = 8
RETRY_LATER = "\x00retry:"
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 60.0


TRADES_TOPIC = "trades:"


def trades_topic(user_id: int) -> str:
    """Bus topic of one follower's trade events (``myTradeEvents``)."""
    return f"{TRADES_TOPIC}{user_id}"


# --- routing: which gateway a follower's orders go to ----------------------------------


@dataclass(frozen=True)
class Route:
    """Where one follower's orders go: ``mode`` paper or live, the ccxt exchange id
    (``paper`` for the paper exchange), the exchange account row and whether live mode
    was confirmed (``live_confirmed_at`` set)."""

    mode: str = "paper"
    exchange: str = "paper"
    account_id: int | None = None
    live_confirmed: bool = False
    quote: str = "USDT"

    @property
    def live(self) -> bool:
        """True only for a live account whose live mode was confirmed."""
        return self.mode == "live" and self.live_confirmed


PAPER = Route()


class Gateways(Protocol):
    """Gives each follower a route and a gateway (paper or live)."""

    async def routes(self, user_ids: list[int]) -> dict[int, Route]:
        """Route of each of ``user_ids`` (missing users trade paper)."""
        ...

    async def gateway(self, user_id: int, route: Route) -> ExchangeGateway:
        """The gateway of ``route`` for ``user_id``; raises ``PermanentError`` if the
        account can no longer be used (deleted, credentials unreadable)."""
        ...


class PaperGateways:
    """Every follower trades on the paper exchange (a ``PaperGateway`` per follower)."""

    def __init__(self, prices: PriceSource, book: PaperBook | None = None,
                 fill_model: FillModel = FillModel(), rules: MarketLookup | None = None
                 ) -> None:
        self.prices, self.fill_model, self.rules = prices, fill_model, rules
        self.book: PaperBook = book if book is not None else MemoryPaperBook()

    async def routes(self, user_ids: list[int]) -> dict[int, Route]:
        """Paper for everyone."""
        return dict.fromkeys(user_ids, PAPER)

    async def gateway(self, user_id: int, route: Route) -> ExchangeGateway:
        """A ``PaperGateway`` on the follower's paper account."""
        return PaperGateway(user_id, self.prices, self.book, self.fill_model, self.rules)


# --- results -----------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderResult:
    """What happened to one copy order; ``notice_id`` is the follower's Delivery row."""

    order_id: int
    user_id: int
    status: OrderStatus
    reason: str
    notice_id: int | None
    signal_id: int = 0
    leg: str = ENTRY


@dataclass(frozen=True)
class Retry:
    """An order to send again on its own after ``delay_s`` seconds (attempt number)."""

    order_id: int
    attempt: int
    delay_s: float


@dataclass
class ShardResult:
    """Outcome of one shard: results, retries to schedule, trade events to announce and
    the positions whose exit orders (live) were created as new PENDING legs."""

    results: list[OrderResult] = field(default_factory=list)
    retries: list[Retry] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    exit_order_ids: list[int] = field(default_factory=list)
    cancel_order_ids: list[int] = field(default_factory=list)
    db_s: float = 0.0
    exchange_s: float = 0.0

    @property
    def notice_ids(self) -> list[int]:
        """Delivery ids of the follower notices written."""
        return [r.notice_id for r in self.results if r.notice_id is not None]


@dataclass
class _Outcome:
    ack: OrderAck | None = None
    retry: str | None = None
    retry_after: float | None = None
    failed: str | None = None
    maybe_placed: bool = False


def backoff_s(attempt: int, retry_after: float | None = None) -> float:
    """Delay before attempt ``attempt`` + 1: 0.5 s doubling per attempt, at most 60 s,
    never less than the exchange's ``retry_after``."""
    delay = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** max(0, attempt - 1))
    return max(delay, retry_after or 0.0)


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
            context = await _follow_context(pending)
            context.stops = await current_stops({o.signal.id for o in pending})
            context.held = await held_positions({u: "live" if routes.get(u, PAPER).live
                                                 else "paper" for u in user_ids}, now)
            open_positions = await _open_positions_of(pending)
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

    def _decide_one(self, order: CopyOrder, route: Route, context: _FollowContext,
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
              context: _FollowContext, rules: MarketRules | None,
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
            positions = await _open_positions(fills, self.prices.now_ms())
            await _configure_exits(positions, self._steps, self._native_stops)
            out.exit_order_ids = await _exit_intents(positions)
            for order, size in exits:
                closed = await _apply_exit_fill(order, size, self.fill_model)
                if closed is None:
                    continue
                if closed.status is PositionStatus.CLOSED:
                    out.events.append(position_event(closed))
                await _exit_followups(order, closed, out)
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


async def save_rows(rows: Sequence[Model], fields: list[str]) -> None:
    """UPDATE ``fields`` of many rows of one model: one pipelined ``executemany`` on
    PostgreSQL (tortoise's ``bulk_update`` builds a CASE per field and cost ~100 ms of
    CPU per 100 rows here), ``bulk_update`` elsewhere (SQLite)."""
    if not rows:
        return
    model = type(rows[0])
    meta = model._meta
    conn = connections.get(meta.default_connection or "default")
    if conn.capabilities.dialect != "postgres":
        await model.bulk_update(list(rows), fields=fields)
        return
    columns = [meta.fields_db_projection[f] for f in fields]
    assignments = ", ".join(f'"{c}" = ${i}' for i, c in enumerate(columns, 1))
    pk = meta.db_pk_column
    sql = (f'UPDATE "{meta.db_table}" SET {assignments} '
           f'WHERE "{pk}" = ${len(columns) + 1}')
    values = [[meta.fields_map[f].to_db_value(getattr(row, f), row) for f in fields]
              + [row.pk] for row in rows]
    await conn.execute_many(sql, values)


async def insert_rows(model: type[Model], rows: Sequence[dict[str, Any]], *,
                      ignore_conflicts: bool = False) -> None:
    """INSERT rows of one model given as {field: value} (the fields' defaults, and now
    for auto_now fields, fill the rest): one pipelined ``executemany`` on PostgreSQL
    (building a tortoise model cost ~90 µs of CPU per row here), ``bulk_create``
    elsewhere. Values are validated and converted by the model's fields; a missing
    required field raises ``KeyError``. ``ignore_conflicts``: rows hitting a unique
    constraint are left out (``ON CONFLICT DO NOTHING``), else the conflict raises."""
    if not rows:
        return
    meta = model._meta
    conn = connections.get(meta.default_connection or "default")
    if conn.capabilities.dialect != "postgres":
        await model.bulk_create([model(**row) for row in rows],
                                ignore_conflicts=ignore_conflicts)
        return
    names = [n for n in meta.fields_db_projection if not meta.fields_map[n].generated]
    fields = [meta.fields_map[n] for n in names]
    now = datetime.now(UTC)
    defaults = {f.model_field_name: now for f in fields
                if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)}
    values = [[f.to_db_value(row[n] if n in row else _default(f, defaults, n), model)
               for n, f in zip(names, fields, strict=True)] for row in rows]
    columns = ", ".join(f'"{meta.fields_db_projection[n]}"' for n in names)
    params = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    await conn.execute_many(f'INSERT INTO "{meta.db_table}" ({columns}) VALUES ({params})'
                            f"{conflict}", values)


def _default(field: Any, defaults: dict[str, Any], name: str) -> Any:
    if name in defaults:
        return defaults[name]
    if field.default is None and not field.null:
        raise KeyError(f"{field.model._meta.db_table}.{name} needs a value")
    return field.default() if callable(field.default) else field.default


async def attach_related(orders: list[CopyOrder]) -> list[CopyOrder]:
    """Load each order's signal and user with one query per model (a shard's orders
    share one signal: ``select_related`` would build it once per row)."""
    if not orders:
        return orders
    signals = {s.id: s for s in await Signal.filter(
        id__in={o.signal_id for o in orders})}  # type: ignore[attr-defined]
    users = {u.id: u for u in await User.filter(
        id__in={o.user_id for o in orders})}  # type: ignore[attr-defined]
    for order in orders:
        order.signal = signals[order.signal_id]  # type: ignore[attr-defined]
        order.user = users[order.user_id]  # type: ignore[attr-defined]
    return orders


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


def _message(exc: BaseException | None) -> str:
    if exc is None:
        return "no market data"
    return exc.message if isinstance(exc, DomainError) else f"{type(exc).__name__}: {exc}"


SETTINGS_FIELDS = ("enabled", "scale_factor", "max_position_pct", "max_open_positions",
                   "max_daily_loss_pct", "slippage_guard_pct", "slippage_action",
                   "leverage_cap", "allowed_symbols", "denied_symbols", "exit_ladder",
                   "move_stop_to_breakeven")


def copy_limits(settings: Any) -> CopyLimits:
    """The ``CopyLimits`` of a stored copy-settings row, or of any object with its
    ``SETTINGS_FIELDS`` as attributes (what ``decide_copy`` takes)."""
    return CopyLimits(
        scale_factor=Decimal(settings.scale_factor),
        max_position_pct=Decimal(settings.max_position_pct),
        max_open_positions=settings.max_open_positions,
        max_daily_loss_pct=Decimal(settings.max_daily_loss_pct),
        slippage_guard_pct=Decimal(settings.slippage_guard_pct),
        slippage_action=SlippageAction(settings.slippage_action),
        leverage_cap=settings.leverage_cap,
        allowed_symbols=tuple(settings.allowed_symbols or ()),
        denied_symbols=tuple(settings.denied_symbols or ()),
        exit_ladder=tuple(Decimal(str(p)) for p in settings.exit_ladder or ()),
        move_stop_to_breakeven=settings.move_stop_to_breakeven,
    )


@dataclass
class _FollowContext:
    """What a shard's decisions read: entitled users per provider, copy settings per
    (user, provider), current stops per signal, positions per user for the day PnL, and
    the copy settings (subscription ids) whose daily loss limit was reached now."""

    entitled: dict[int, set[int]]
    settings: dict[tuple[int, int], Any]
    stops: dict[int, Decimal] = field(default_factory=dict)
    held: dict[int, list[HeldPosition]] = field(default_factory=dict)
    latched: set[int] = field(default_factory=set)


async def _follow_context(orders: list[CopyOrder]) -> _FollowContext:
    """Entitlement (billing's rule when present, else ACTIVE) and copy settings, in bulk."""
    by_provider: dict[int, set[int]] = {}
    for order in orders:
        by_provider.setdefault(order.signal.provider_id, set()).add(order.user_id)  # type: ignore[attr-defined]
    entitled: dict[int, set[int]] = {}
    settings: dict[tuple[int, int], Any] = {}
    rule = getattr(subscriptions_module, "entitled_user_ids", None)
    for provider_id, users in by_provider.items():
        if rule is not None:
            entitled[provider_id] = set(await rule(provider_id, sorted(users)))
        else:
            entitled[provider_id] = set(await Subscription.filter(
                provider_id=provider_id, user_id__in=sorted(users),
                status=SubscriptionStatus.ACTIVE).values_list("user_id", flat=True))  # type: ignore[arg-type]
        for row in await CopySettings.filter(subscription__provider_id=provider_id,
                                             subscription__user_id__in=sorted(users)
                                             ).values(*SETTINGS_FIELDS,
                                                      "subscription__user_id",
                                                      "subscription_id", "daily_loss_hit_on"):
            user_id = row.pop("subscription__user_id")
            settings[(user_id, provider_id)] = SimpleNamespace(**row)
    return _FollowContext(entitled, settings)


async def current_stops(signal_ids: Iterable[int]) -> dict[int, Decimal]:
    """The stop-loss in force per signal (``SignalState.stop_loss``: moved by the
    provider's STOP_MOVED events), what new decisions and positions use."""
    rows = await SignalState.filter(signal_id__in=list(signal_ids)).values(
        "signal_id", "stop_loss")
    return {row["signal_id"]: Decimal(row["stop_loss"]) for row in rows}


async def latch_daily_loss(subscription_ids: set[int], now: datetime) -> None:
    """Record that the daily loss limit of these copy settings was reached on ``now``'s
    UTC day: their new signals are skipped until the next 00:00 UTC."""
    if subscription_ids:
        await CopySettings.filter(subscription_id__in=sorted(subscription_ids)).update(
            daily_loss_hit_on=now.astimezone(UTC).date())


async def _open_positions_of(orders: list[CopyOrder]) -> dict[tuple[int, int], Position]:
    exits = [o for o in orders if o.leg != ENTRY]
    if not exits:
        return {}
    rows = await Position.filter(signal_id__in={o.signal.id for o in exits},
                                 user_id__in={o.user_id for o in exits},  # type: ignore[attr-defined]
                                 status=PositionStatus.OPEN)
    return {(p.signal_id, p.user_id): p for p in rows}  # type: ignore[attr-defined]


async def busy_slots(user_ids: list[int]) -> dict[int, int]:
    """Per user: OPEN positions plus entry orders that may still open one (SENDING or
    PLACED without a fill yet). What ``max_open_positions`` is checked against."""
    counts = await open_position_counts(user_ids)
    rows = await CopyOrder.filter(user_id__in=user_ids, leg=ENTRY,
                                  status__in=(OrderStatus.SENDING, OrderStatus.PLACED)
                                  ).annotate(n=Count("id")).group_by("user_id").values(
        "user_id", "n")
    for row in rows:
        counts[row["user_id"]] = counts.get(row["user_id"], 0) + row["n"]
    return counts


async def _open_positions(fills: list[tuple[CopyOrder, OrderAck]], market_ts: int
                          ) -> list[Position]:
    """Positions of entry fills (new ones created, partly filled ones grown); paper
    accounts pay the entry fee. Inside the caller's transaction."""
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
        if position is not None:
            position.amount = position.remaining_amount = held
            position.entry_price = ack.average or position.entry_price
            await position.save(update_fields=["amount", "remaining_amount", "entry_price"])
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


async def _configure_exits(positions: list[Position], steps: dict[tuple[str, str], Decimal],
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


async def _exit_intents(positions: list[Position]) -> list[int]:
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
            rows.append(_leg(position, sid, uid, f"tp{index}", close_side, amount,
                             "limit", limit_price=Decimal(str(target))))
        if position.stop_on_exchange:
            rows.append(_leg(position, sid, uid, "sl1", close_side,
                             Decimal(position.remaining_amount), "stop_market",
                             stop_price=Decimal(position.stop_loss)))
    if not rows:
        return []
    await insert_rows(CopyOrder, rows, ignore_conflicts=True)
    return list(await CopyOrder.filter(client_order_id__in=[r["client_order_id"] for r in rows],
                                       status=OrderStatus.PENDING).values_list("id", flat=True))  # type: ignore[arg-type]


async def _apply_exit_fill(order: CopyOrder, size: Decimal,
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


async def _exit_followups(order: CopyOrder, position: Position, out: ShardResult) -> None:
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
    new = _leg(position, sid, uid, f"sl{number}", close_side,
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
            new.append(_leg(position, signal_id, uid, "close", close_side,
                            Decimal(position.remaining_amount), "market"))
        elif kind == "STOP_MOVED" and price is not None and position.stop_on_exchange:
            cancel += [leg.id for leg in open_legs if leg.leg.startswith("sl")]
            number = 1 + sum(1 for leg in legs if leg.leg.startswith("sl"))
            new.append(_leg(position, signal_id, uid, f"sl{number}", close_side,
                            Decimal(position.remaining_amount), "stop_market",
                            stop_price=price))
    await insert_rows(CopyOrder, new, ignore_conflicts=True)
    ids = list(await CopyOrder.filter(client_order_id__in=[n["client_order_id"] for n in new],
                                      status=OrderStatus.PENDING).values_list("id", flat=True)) \
        if new else []
    return cancel, ids  # type: ignore[return-value]


def _leg(position: Position, signal_id: int, user_id: int, leg: str, side: Side,
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
    from domain.risk import exit_amounts

    return exit_amounts(amount, tuple(ladder), targets, step or Decimal("1e-12"))


# --- compatibility entry point and positions -------------------------------------------


async def execute_copy_orders(order_ids: list[int], prices: PriceSource,
                              fill_model: FillModel = FillModel(), *,
                              engine: CopyEngine | None = None) -> list[OrderResult]:
    """Execute the PENDING/SENDING orders of ``order_ids`` (paper unless ``engine`` routes
    live) and return what happened to each finished one; retries are not scheduled here
    (use ``CopyEngine.run`` for that). Idempotent."""
    engine = engine or CopyEngine(prices, fill_model=fill_model)
    return (await engine.run(order_ids)).results


async def open_position_count(user_id: int) -> int:
    """Number of OPEN positions of a user."""
    return await Position.filter(user_id=user_id, status=PositionStatus.OPEN).count()


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
