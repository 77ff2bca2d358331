"""arq jobs of copy execution: shards of order legs, single-order retries, reconciliation.

- ``execute_copy_orders(order_ids, attempt=0)``: one shard through ``CopyEngine.run``;
  each order needing a retry is re-enqueued ON ITS OWN (job
  ``copy:retry:<order id>:<attempt>``, deferred by the engine's back-off), new exit legs
  of live positions go out as a shard of their own, follower notices are enqueued for
  delivery and every result is announced as a trade event (``trades:<user id>``).
- ``reconcile_copy_orders``: cron ``cron:<ns>:reconcile_copy_orders`` every 10 s and at
  worker start: orders claimed by a worker whose heartbeat is gone (SIGKILL, OOM) or
  left PENDING/SENDING without a job get a recovery job (SENDING ones are looked up by
  client order id before any re-send); at start and then every 60 s per worker,
  PLACED/PARTIALLY_FILLED orders (oldest first, 500 a run) are looked up on their
  exchange and fills, partial fills and exchange-side cancels are applied.

Each worker process has a copy-worker id with a Redis heartbeat
(``<ns>:copy-worker:<id>``, 3 s TTL renewed every second): the engine's claims are
tagged with it, so a claim of a dead worker can be taken over and a live one cannot.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from domain.copy_exits import OPEN_ON_EXCHANGE, legs_for_provider_event
from domain.copy_reports import position_event, trades_topic
from domain.copy_results import ShardResult, backoff_s
from domain.copy_routing import PAPER, Gateways, PaperGateways, Route
from domain.copying import WORKING, CopyEngine
from domain.errors import DomainError, PermanentError
from domain.exchange_models import AccountStatus, ExchangeAccount, TradingMode
from domain.fanout import shards
from domain.market import Candle
from domain.models import CopyOrder, SignalEvent
from domain.paper_exchange import match_candle
from domain.ports import ExchangeGateway
from integrations.secrets import SecretError
from workers.context import ACTIVITY_TOPIC, COPY_SHARD, DELIVERY_SHARD, WorkerDeps, deps

log = logging.getLogger(__name__)
HEARTBEAT_TTL_S = 3
HEARTBEAT_EVERY_S = 1.0
STALE_UNCLAIMED_S = 15.0
EXIT_DEFER_S = 2.0
REFRESH_EVERY_S = 60.0
REFREEZE_S = 3600.0  # at most this long between full collections of the frozen heap


class RedisPaperBook:
    """``domain.paper_exchange.PaperBook`` in Redis, shared by every process of a namespace.

    Orders: hash ``<ns>:paper:orders`` field ``<account>:<client id>`` -> JSON; resting
    ones also in set ``<ns>:paper:resting:<symbol>``.
    """

    def __init__(self, redis: Any, namespace: str) -> None:
        self.redis, self.prefix = redis, f"{namespace}:paper"

    async def get(self, account: int, client_order_id: str) -> dict[str, Any] | None:
        """The stored order dict, or None."""
        raw = await self.redis.hget(f"{self.prefix}:orders", f"{account}:{client_order_id}")
        return json.loads(raw) if raw else None

    async def put(self, account: int, order: dict[str, Any]) -> None:
        """Store ``order``; keep the resting index in step with its status."""
        field = f"{account}:{order['clientOrderId']}"
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(f"{self.prefix}:orders", field, json.dumps(order))
        key = f"{self.prefix}:resting:{order['symbol']}"
        if order["status"] == "open":
            pipe.sadd(key, field)
        else:
            pipe.srem(key, field)
        await pipe.execute()

    async def resting(self, symbol: str) -> list[tuple[int, dict[str, Any]]]:
        """(account, order) of every open order of ``symbol``."""
        fields = [f.decode() if isinstance(f, bytes) else f
                  for f in await self.redis.smembers(f"{self.prefix}:resting:{symbol}")]
        if not fields:
            return []
        raws = await self.redis.hmget(f"{self.prefix}:orders", fields)
        out = []
        for field, raw in zip(fields, raws, strict=True):
            if raw:
                order = json.loads(raw)
                if order["status"] == "open":
                    out.append((int(field.split(":", 1)[0]), order))
        return out


class AccountGateways:
    """``Gateways`` over exchange accounts: a follower whose ACTIVE exchange account is in
    live mode with ``live_confirmed_at`` set trades on it (``gateway_for``: the process's
    ``GatewayPool`` client, credentials decrypted only here); everyone else trades paper.
    An account in live mode without confirmation routes as unconfirmed live (the engine
    skips the entry with that reason), never to the exchange.
    """

    def __init__(self, paper: PaperGateways,
                 gateway_for: Callable[[ExchangeAccount], Awaitable[ExchangeGateway]]) -> None:
        self.paper, self.gateway_for = paper, gateway_for
        # account id -> (row version, gateway): decrypting and the pool's lock per call
        # cost ~1 ms; a changed row (new key, disconnect) builds it again. Versions come
        # from each shard's routes query, so a changed row is noticed by the next shard.
        self._versions: dict[int, tuple[Any, str]] = {}
        self._gateways: dict[int, tuple[Any, ExchangeGateway]] = {}
        self.built = 0  # live gateways built so far (see ``freeze_long_lived``)

    async def routes(self, user_ids: list[int]) -> dict[int, Route]:
        """Each user's route (paper unless an ACTIVE live account exists)."""
        rows = await ExchangeAccount.filter(
            user_id__in=user_ids, status=AccountStatus.ACTIVE, mode=TradingMode.LIVE
        ).values("id", "user_id", "exchange_id", "live_confirmed_at", "updated_at",
                 "credentials_key_id")
        out = dict.fromkeys(user_ids, PAPER)
        for row in rows:
            self._versions[row["id"]] = (row["updated_at"], row["credentials_key_id"])
            out[row["user_id"]] = Route(mode="live", exchange=row["exchange_id"],
                                        account_id=row["id"],
                                        live_confirmed=row["live_confirmed_at"] is not None)
        return out

    async def gateway(self, user_id: int, route: Route) -> ExchangeGateway:
        """The paper gateway, or the live account's pooled ccxt gateway.

        Raises ``PermanentError`` when the account is gone/disconnected or its
        credentials cannot be decrypted."""
        if route.mode != "live" or route.account_id is None:
            return await self.paper.gateway(user_id, route)
        cached = self._gateways.get(route.account_id)
        if cached is not None and cached[0] == self._versions.get(route.account_id):
            return cached[1]
        account = await ExchangeAccount.get_or_none(id=route.account_id)
        if account is None or account.status is not AccountStatus.ACTIVE:
            raise PermanentError("the exchange account was disconnected")
        version = (account.updated_at, account.credentials_key_id)
        self._versions[account.id] = version
        if cached is not None and cached[0] == version:
            return cached[1]
        try:
            gateway = await self.gateway_for(account)
        except SecretError as exc:
            raise PermanentError(f"exchange credentials unusable: {exc}") from None
        self._gateways[account.id] = (version, gateway)
        self.built += 1
        return gateway


def default_gateways(d: WorkerDeps, book: RedisPaperBook) -> Gateways:
    """Exchange accounts (live when confirmed) over the process's ``GatewayPool``, paper
    otherwise; paper orders follow the precision and minimums of the exchange the price
    source quotes (its shipped markets snapshot)."""
    from integrations.exchange_markets import SnapshotMarkets, price_exchange
    from signalhub.exchange_accounts import exchange_services

    assert d.services.prices is not None
    markets = SnapshotMarkets(price_exchange(d.services.settings.price_source))
    paper = PaperGateways(d.services.prices, book, d.fill_model, rules=markets)

    async def gateway_for(account: ExchangeAccount) -> ExchangeGateway:
        return await exchange_services(d.services).gateway_for(account)

    return AccountGateways(paper, gateway_for)


class CopyRuntime:
    """Per-process copy-execution state: worker id + heartbeat, engine, gateways."""

    def __init__(self, d: WorkerDeps, gateways: Gateways | None = None) -> None:
        services = d.services
        self.namespace = services.settings.signalhub_namespace
        self.redis = services.redis
        self.worker_id = uuid.uuid4().hex[:12]
        if services.prices is None:
            raise RuntimeError("worker has no price source; cannot execute copy orders")
        self.book = RedisPaperBook(services.redis, self.namespace)
        self.gateways: Gateways = (gateways or services.extras.get("copy_gateways")
                                   or default_gateways(d, self.book))
        self.engine = CopyEngine(services.prices, self.gateways, fill_model=d.fill_model,
                                 claimer=self.worker_id, alive=self.alive)
        self._beat: asyncio.Task[None] | None = None
        self.last_refresh = -REFRESH_EVERY_S  # the first reconciliation refreshes at once
        self.frozen_at = 0  # ``gateways.built`` when the heap was last frozen
        self.full_collected_at = -REFREEZE_S  # monotonic time of the last full collection

    def freeze_long_lived(self) -> None:
        """After a shard that built live gateways: collect the young garbage, then move
        every object the process holds to the permanent generation (``gc.freeze``), so
        the cyclic collector stops re-scanning the cached ccxt clients (~2,000 objects
        per account). With 1,000 accounts each full collection cost ~100-260 ms of CPU,
        every few seconds, in the middle of shards. Frozen objects are still freed by
        reference counting; cycles that become garbage while frozen stay until the next
        freeze that comes at least ``REFREEZE_S`` after the last full collection: it
        unfreezes and collects everything first. Freezes happen only after shards that
        built gateways, so a worker that builds none keeps what its last freeze held."""
        built = getattr(self.gateways, "built", 0)
        if built == self.frozen_at:
            return
        now = time.monotonic()
        if now - self.full_collected_at >= REFREEZE_S:
            gc.unfreeze()
            gc.collect()
            self.full_collected_at = now
        else:
            gc.collect(1)
        gc.freeze()
        self.frozen_at = built

    def heartbeat_key(self, worker_id: str) -> str:
        return f"{self.namespace}:copy-worker:{worker_id}"

    async def start(self) -> None:
        """Write the first heartbeat and keep renewing it."""
        await self.redis.set(self.heartbeat_key(self.worker_id), "1", ex=HEARTBEAT_TTL_S)
        if self._beat is None:
            self._beat = asyncio.create_task(self._renew(), name="copy-heartbeat")

    async def stop(self) -> None:
        """Stop the heartbeat and delete it (claims of this worker become takeable)."""
        if self._beat is not None:
            self._beat.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._beat
            self._beat = None
        with contextlib.suppress(Exception):
            await self.redis.delete(self.heartbeat_key(self.worker_id))

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_EVERY_S)
            with contextlib.suppress(Exception):
                await self.redis.set(self.heartbeat_key(self.worker_id), "1",
                                     ex=HEARTBEAT_TTL_S)

    async def alive(self, owners: set[str]) -> set[str]:
        """Which of ``owners`` (copy-worker ids) have a heartbeat; this worker always."""
        others = sorted(o for o in owners if o != self.worker_id)
        found = {self.worker_id}
        if others:
            values = await self.redis.mget([self.heartbeat_key(o) for o in others])
            found |= {o for o, v in zip(others, values, strict=True) if v is not None}
        return found


def runtime(ctx: dict[str, Any]) -> CopyRuntime:
    """This process's ``CopyRuntime`` (created on first use)."""
    if "copy_runtime" not in ctx:
        ctx["copy_runtime"] = CopyRuntime(deps(ctx))
        deps(ctx).services.extras["copy_runtime"] = ctx["copy_runtime"]
    return ctx["copy_runtime"]  # type: ignore[no-any-return]


async def on_worker_start(ctx: dict[str, Any]) -> None:
    """arq ``on_startup`` part: start the heartbeat (reconciliation runs as a startup cron)."""
    if deps(ctx).services.prices is not None:
        await runtime(ctx).start()


async def on_worker_stop(ctx: dict[str, Any]) -> None:
    """arq ``on_shutdown`` part: stop the heartbeat."""
    rt = ctx.get("copy_runtime")
    if rt is not None:
        await rt.stop()


async def execute_copy_orders(ctx: dict[str, Any], order_ids: list[int],
                              attempt: int = 0) -> dict[str, int]:
    """Execute a shard of copy-order legs (paper or live); see the module doc.

    Returns counts per final status of this run (``retry`` for re-enqueued orders).
    """
    d = deps(ctx)
    rt = runtime(ctx)
    if rt._beat is None:
        await rt.start()
    result = await rt.engine.run(order_ids)
    rt.freeze_long_lived()
    await after_shard(d, result)
    counts: dict[str, int] = {}
    for r in result.results:
        counts[r.status.value] = counts.get(r.status.value, 0) + 1
    if result.retries:
        counts["retry"] = len(result.retries)
    return counts


async def after_shard(d: WorkerDeps, result: ShardResult) -> None:
    """Enqueue retries, exit legs and notices of a shard; announce its trade events."""
    queue = d.services.queue
    rt = d.services.extras.get("copy_runtime")
    if result.cancel_order_ids and rt is not None:
        await after_shard(d, await rt.engine.cancel(result.cancel_order_ids))
    for retry in result.retries:
        await queue.enqueue("execute_copy_orders", [retry.order_id], retry.attempt,
                            job_id=f"copy:retry:{retry.order_id}:{retry.attempt}",
                            defer_by=retry.delay_s)
    for shard in shards(result.exit_order_ids, COPY_SHARD):
        # Exits rest at target/stop prices: they go out just after the signal's entry
        # shards (latency-critical) rather than between them.
        await queue.enqueue("execute_copy_orders", shard, job_id=f"copy:exits:{shard[0]}",
                            defer_by=EXIT_DEFER_S)
    for shard in shards(result.notice_ids, DELIVERY_SHARD):
        await queue.enqueue("deliver_messages", shard, job_id=f"deliver:notice:{shard[0]}")
    lines = []
    for r in result.results:
        leg = "" if r.leg == "entry" else f" ({r.leg})"
        lines.append((ACTIVITY_TOPIC, {
            "kind": "copy", "orderId": r.order_id,
            "text": f"copy order #{r.order_id}{leg} of user {r.user_id}: "
                    f"{r.status.value} ({r.reason})"}))
    await publish_many(d, [(trades_topic(e["userId"]), e) for e in result.events] + lines)


async def publish_many(d: WorkerDeps, messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Publish (topic, message) pairs on the bus in one Redis round trip (a pipeline of
    PUBLISH; ``RedisBus``'s topic naming); best effort, like every live view."""
    if not messages:
        return
    bus = d.services.bus
    try:
        pipe = bus.redis.pipeline(transaction=False)
        for topic, message in messages:
            pipe.publish(f"{bus.namespace}:{topic}", json.dumps(message))
        await pipe.execute()
    except Exception:  # noqa: BLE001 - live views are best effort
        log.debug("bus messages not published", exc_info=True)


async def apply_provider_event(ctx: dict[str, Any], event_id: int) -> dict[str, int]:
    """Apply a provider's CLOSED/CANCELLED/STOP_MOVED event to every follower's orders:
    cancel what must go, execute the new close/stop legs (``legs_for_provider_event``).
    Paper positions are closed by ``fan_out_event``. Safe to run twice."""
    d = deps(ctx)
    rt = runtime(ctx)
    event = await SignalEvent.get(id=event_id)
    cancel, new = await legs_for_provider_event(event.signal_id,  # type: ignore[attr-defined]
                                                event.kind.value, event.price)
    if cancel:
        await after_shard(d, await rt.engine.cancel(cancel))
    for shard in shards(new, COPY_SHARD):
        await d.services.queue.enqueue("execute_copy_orders", shard,
                                       job_id=f"copy:event{event_id}:{shard[0]}")
    return {"cancelled": len(cancel), "new_legs": len(new)}


async def position_closed_events(d: WorkerDeps, positions: list[Any]) -> None:
    """Announce POSITION_CLOSED trade events of positions the monitor closed."""
    await publish_trade_events(d, [position_event(p) for p in positions])


async def publish_trade_events(d: WorkerDeps, events: list[dict[str, Any]]) -> None:
    """Publish each trade event on its follower's topic; best effort."""
    await publish_many(d, [(trades_topic(e["userId"]), e) for e in events])


async def reconcile_copy_orders(ctx: dict[str, Any]) -> dict[str, int]:
    """Recover orders of dead workers and apply exchange-side changes (module doc).

    Returns ``{"recovered": jobs enqueued, "updated": open orders whose state changed}``.
    """
    d = deps(ctx)
    if d.services.prices is None:
        return {"recovered": 0, "updated": 0}
    rt = runtime(ctx)
    recovered = await _recover(d, rt, ctx.get("stale_unclaimed_s", STALE_UNCLAIMED_S))
    updated = 0
    now = time.monotonic()
    if now - rt.last_refresh >= ctx.get("refresh_every_s", REFRESH_EVERY_S):
        rt.last_refresh = now
        updated = await _refresh_open(d, rt)
    return {"recovered": recovered, "updated": updated}


async def _recover(d: WorkerDeps, rt: CopyRuntime, stale_s: float) -> int:
    """Enqueue recovery shards for PENDING/SENDING rows nobody works on: claimed by a
    worker whose heartbeat is gone, or unclaimed for ``stale_s`` seconds beyond their
    back-off (their job was lost with a killed worker or a Redis restart). A row that
    still has a job is claimed by whichever job comes first; the other does nothing."""
    rows = await CopyOrder.filter(status__in=WORKING).order_by("id").limit(20_000).values(
        "id", "claimed_by", "updated_at", "attempts")
    owners = {r["claimed_by"].split(":")[0] for r in rows if r["claimed_by"]}
    alive = await rt.alive(owners)
    now = datetime.now(UTC)

    def lost(row: dict[str, Any]) -> bool:
        if row["claimed_by"]:
            return bool(row["claimed_by"].split(":")[0] not in alive)
        waited = (now - row["updated_at"]).total_seconds()
        return waited > stale_s + (backoff_s(row["attempts"]) if row["attempts"] else 0)

    ids = [r["id"] for r in rows if lost(r)]
    stamp = now.strftime("%H%M%S")
    new = 0
    for shard in shards(ids, COPY_SHARD):
        new += await d.services.queue.enqueue(
            "execute_copy_orders", shard,
            job_id=f"copy:recover:{rt.worker_id}:{stamp}:{shard[0]}")
    return new


async def _refresh_open(d: WorkerDeps, rt: CopyRuntime) -> int:
    orders = await CopyOrder.filter(status__in=OPEN_ON_EXCHANGE).select_related(
        "signal", "user").order_by("updated_at").limit(500)
    pairs = []
    for order in orders:
        route = Route(mode=order.mode, exchange=order.exchange,
                      account_id=order.exchange_account_id, live_confirmed=True)
        try:
            gateway = await rt.gateways.gateway(order.user_id, route)  # type: ignore[attr-defined]
            ack = await gateway.fetch_order_by_client_id(order.symbol, order.client_order_id)
        except DomainError as exc:
            log.info("reconcile: order %s not looked up: %s", order.id, exc.message)
            continue
        if ack is None or (ack.status == "open" and ack.filled == (order.filled or 0)):
            continue
        pairs.append((order, ack))
    result = await rt.engine.apply_acks(pairs)
    await after_shard(d, result)
    return len(pairs)


async def fill_resting_paper_orders(d: WorkerDeps, candle: Candle) -> int:
    """Fill the resting paper orders (limit entries) ``candle`` crosses and apply the
    fills like exchange fills. Returns how many filled."""
    rt = d.services.extras.get("copy_runtime")
    if rt is None:
        return 0
    acks = await match_candle(rt.book, candle, d.fill_model)
    if not acks:
        return 0
    by_id = {ack.client_order_id: ack for _, ack in acks}
    orders = await CopyOrder.filter(client_order_id__in=list(by_id),
                                    status__in=OPEN_ON_EXCHANGE).select_related("signal", "user")
    result = await rt.engine.apply_acks([(o, by_id[o.client_order_id]) for o in orders])
    await after_shard(d, result)
    return len(orders)
