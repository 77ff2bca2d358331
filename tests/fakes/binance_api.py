"""A fake Binance (spot + USDⓈ-M futures REST) on loopback, for tests and benchmarks.

ccxt talks to it unmodified once every ``exchange.urls['api']`` entry points here
(``integrations.exchange_ccxt`` does that for an account's ``api_base_url``)::

    async with FakeBinance() as fake:            # http://127.0.0.1:<port>
        fake.add_account("key", "secret", spot={"USDT": "1000"}, futures_usdt="1000")
        gateway = ...build with api_base_url=fake.base_url...
        fake.fail_next("rate_limit", n=2)        # the next 2 order requests get 429

Or in its own process: ``python -m tests.fakes.binance_api --port N [--latency-ms 20]
[--account KEY:SECRET ...]`` (each account: 100,000 USDT spot and futures). Control it
over HTTP: ``POST /_fake/fault?kind=...&n=...[&endpoint=any][&retry_after=s]``,
``/_fake/latency?seconds=``, ``/_fake/hang?seconds=``, ``/_fake/price?symbol=BTCUSDT&
price=``, ``/_fake/account?key=&secret=[&usdt=]``; every one answers with
``GET /_fake/state`` (requests per path, order posts and stored orders per client id).

What it speaks (paths, parameters, response and error bodies as Binance's docs; the
endpoints live in ``tests.fakes.binance_spot`` and ``tests.fakes.binance_futures``,
the checks they share in ``tests.fakes.binance_checks``):

- spot ``/api/v3``: ``time``, ``exchangeInfo``, ``ticker/price``, ``order`` (POST, GET and
  DELETE by ``orderId`` or ``origClientOrderId``), ``openOrders``, ``account``,
  ``myTrades``; ``/sapi/v1/account/apiRestrictions``.
- futures ``/fapi``: ``v1/time``, ``v1/exchangeInfo``, ``v1/ticker/price``, ``v1/order``,
  ``v1/openOrders``, ``v1/userTrades``, ``v1/algoOrder`` (conditional orders: STOP_MARKET with
  ``triggerPrice``, the endpoint ccxt 4.5 uses), ``v1/openAlgoOrders``, ``v2/balance``,
  ``v2/account``, ``v3/account``, ``v2/positionRisk``, ``v3/positionRisk``.
- Signed endpoints check ``X-MBX-APIKEY`` (-2014 format, -2015 unknown key), the
  HMAC-SHA256 ``signature`` over query + body (-1022) and ``timestamp``/``recvWindow``
  (-1021).
- Orders: LOT_SIZE / PRICE_FILTER / NOTIONAL filters (-1013 "Filter failure: ...",
  futures -4164 min notional, -1111 precision), balances (-2010 "Account has
  insufficient balance for requested action.", futures -2019 "Margin is insufficient."),
  duplicate client id (spot -2010 "Duplicate order sent.", futures -4116
  "ClientOrderId is duplicated."), a malformed client id (spot -1100, futures -4015
  "Client order id is not valid."; 1-36 of Binance's characters), unknown order
  (-2013 "Order does not exist.", futures algo -2013 too), reduce-only that would grow
  a position (-2022).
- MARKET orders fill at once at the symbol's price: by default the close of the last
  real candle in ``signalhub/data`` (``set_price`` or ``set_price_from_candle`` to move
  it; never an invented number), with the taker commission (spot 0.1% in the asset
  received, as Binance charges without BNB; futures 0.04% of the quote notional, not
  reported in the order response, as on Binance). Every fill is also a trade in
  ``myTrades``/``userTrades`` (``tests.fakes.binance_trades``) carrying its commission.
- Futures leverage: ``POST /fapi/v1/leverage`` (``symbol``, ``leverage``) answers
  ``{"leverage", "maxNotionalValue", "symbol"}`` and sets the account's leverage of the
  symbol (Binance's default initial leverage, 20x, until then); a leverage outside
  1..``max_leverage[symbol]`` (125 unless a test lowers it, as Binance does for some
  accounts and symbols) is -4028 "Leverage N is not valid", a non-integer -1100. Margin
  checks and positionRisk use the symbol's leverage; ``leverage_calls`` records every
  accepted change and ``order_leverage[client id]`` the leverage a futures order was
  checked at.

Faults (``fail_next(kind, n, endpoint="order"|"trades"|"any")``; "trades": the GETs of
``myTrades``/``userTrades``):

    rate_limit            429 {"code":-1003,...} with Retry-After   -> ccxt DDoSProtection
    maintenance           503 {"code":1,"msg":"System is under maintenance."} -> OnMaintenance
    backend_timeout       503 {"code":-1007,...} "execution status unknown" (the order
                          is not stored)                          -> ccxt RequestTimeout
    insufficient_balance  400 {"code":-2010, "Account has insufficient balance ..."}
    timeout_after_accept  the order is stored, the answer waits ``hang_s`` seconds
    drop_after_accept     the order is stored, the connection is closed without answer
    server_error          500 with an HTML body (no Binance code)  -> ExchangeNotAvailable

``latency_s`` delays every answer (the benchmark's "realistic response time").
Counters: ``requests`` per (method, path), ``order_posts[client id]`` (requests that
arrived) and ``orders_created(client id)`` (orders stored: exactly-once means <= 1).
Exchange-side events for reconciliation tests: ``fill_on_exchange(client id, qty,
price)`` (partial or full fill of a resting order, a stop triggering) and
``cancel_on_exchange(client id)``.
Not thread-safe: drive it from the event loop that serves it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import hmac
import itertools
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from integrations.prices import load_candles
from tests.fakes.binance_checks import BinanceError, FakeAccount, fmt, now_ms
from tests.fakes.binance_futures import (
    FUTURES_ROUTES,
    FUTURES_TAKER,
    FuturesEndpoints,
)
from tests.fakes.binance_markets import FUTURES_SYMBOLS, SPOT_SYMBOLS, filters_of
from tests.fakes.binance_spot import SPOT_ROUTES, SPOT_TAKER, SpotEndpoints

__all__ = ["DATA", "FUTURES_TAKER", "SPOT_TAKER", "BinanceError", "FakeAccount", "FakeBinance",
           "Fault", "main", "real_close", "running_fake_binance"]

DATA = Path(__file__).resolve().parents[2] / "signalhub" / "data"
MAX_LEVERAGE = 125
FAULT_KINDS = ("rate_limit", "maintenance", "backend_timeout", "insufficient_balance",
               "timeout_after_accept", "drop_after_accept", "server_error")
FAULT_ENDPOINTS = ("order", "trades", "any")
ORDER_PATHS = frozenset({"/api/v3/order", "/fapi/v1/order", "/fapi/v1/algoOrder"})
TRADE_PATHS = frozenset({"/api/v3/myTrades", "/fapi/v1/userTrades"})


@dataclass
class Fault:
    """One injected failure, consumed by the next matching request."""

    kind: str
    endpoint: str = "order"
    retry_after: int = 1


def real_close(market_id: str, index: int = -1) -> Decimal:
    """Close of candle ``index`` of ``signalhub/data/<BASE>_USDT-1h.csv`` (quote currency)."""
    base = market_id.removesuffix("USDT")
    return load_candles(DATA / f"{base}_USDT-1h.csv")[index].close


class FakeBinance(SpotEndpoints, FuturesEndpoints):
    """Binance spot + USDⓈ-M REST on ``127.0.0.1:<port>`` (see the module docstring)."""

    def __init__(self, *, latency_s: float = 0.0, hang_s: float = 5.0,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.latency_s = latency_s
        self.hang_s = hang_s
        self.base_url = ""
        self.accounts: dict[str, FakeAccount] = {}
        self.prices: dict[str, Decimal] = {s["symbol"]: real_close(s["symbol"])
                                           for s in SPOT_SYMBOLS}
        self.requests: Counter[tuple[str, str]] = Counter()
        self.order_posts: Counter[str] = Counter()
        self.max_leverage: dict[str, int] = {s["symbol"]: MAX_LEVERAGE for s in FUTURES_SYMBOLS}
        self.leverage_calls: list[tuple[str, str, int]] = []  # (api key, symbol, leverage)
        self.order_leverage: dict[str, int] = {}  # futures client id -> leverage checked at
        self.faults: deque[Fault] = deque()
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self._ids = itertools.count(5_000_000_001)
        self._trade_ids = itertools.count(900_000_001)
        self._spot = {s["symbol"]: filters_of(s) for s in SPOT_SYMBOLS}
        self._futures = {s["symbol"]: filters_of(s) for s in FUTURES_SYMBOLS}

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> str:
        """Bind and serve; returns ``base_url`` (``http://127.0.0.1:<port>``)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5,
                                     handler_cancellation=True)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()
        self.base_url = f"http://{self._host}:{self._runner.addresses[0][1]}"
        return self.base_url

    async def close(self) -> None:
        """Stop serving (hanging answers are cancelled); idempotent."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeBinance:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- test helpers ----------------------------------------------------------------

    def add_account(self, api_key: str, secret: str, *, spot: dict[str, str] | None = None,
                    futures_usdt: str = "0", enable_withdrawals: bool = False) -> FakeAccount:
        """Register an API key with spot balances (asset -> amount) and futures USDT."""
        account = FakeAccount(api_key, secret,
                              {k: Decimal(v) for k, v in (spot or {}).items()},
                              futures_wallet=Decimal(futures_usdt),
                              enable_withdrawals=enable_withdrawals)
        self.accounts[api_key] = account
        return account

    def set_price(self, market_id: str, price: Decimal) -> None:
        """Price (quote currency) MARKET orders of ``market_id`` (``BTCUSDT``) fill at."""
        self.prices[market_id] = Decimal(price)

    def set_price_from_candle(self, market_id: str, index: int) -> Decimal:
        """Set the price to the close of real candle ``index``; returns it."""
        self.prices[market_id] = real_close(market_id, index)
        return self.prices[market_id]

    def fail_next(self, kind: str, n: int = 1, *, endpoint: str = "order",
                  retry_after: int = 1) -> None:
        """Make the next ``n`` order requests (``endpoint="any"``: any request) fail.

        ``kind`` is one of ``FAULT_KINDS``; ``retry_after`` (s) goes in 429's header;
        ``endpoint="trades"``: the next trades lookups. Raises ``ValueError`` for an
        unknown kind or endpoint.
        """
        if kind not in FAULT_KINDS or endpoint not in FAULT_ENDPOINTS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}, endpoint one of "
                             f"{FAULT_ENDPOINTS}")
        self.faults.extend(Fault(kind, endpoint, retry_after) for _ in range(n))

    def orders_created(self, client_order_id: str) -> int:
        """How many stored orders (any account, spot, futures, algo) carry this client id."""
        return sum(1 for account in self.accounts.values()
                   for (_, cid) in account.orders if cid == client_order_id)

    def order(self, client_order_id: str) -> dict[str, Any] | None:
        """The stored order (Binance's GET shape) with this client id, or None."""
        for account in self.accounts.values():
            for (_, cid), order in account.orders.items():
                if cid == client_order_id:
                    return order
        return None

    def cancel_on_exchange(self, client_order_id: str) -> None:
        """Cancel an open order as the exchange would (expiry, user action on the site)."""
        order = self.order(client_order_id)
        if order is None:
            raise KeyError(client_order_id)
        status_key = "algoStatus" if "algoId" in order else "status"
        order[status_key] = "CANCELED"
        order["updateTime"] = now_ms()

    def fill_on_exchange(self, client_order_id: str, qty: Decimal | None = None,
                         price: Decimal | None = None) -> dict[str, Any]:
        """Fill a resting order as the exchange would (a match, or a stop triggering).

        ``qty`` (base currency; default: all that is left) at ``price`` (quote currency;
        default: the order's limit price, for a stop the symbol's current price). Spot
        balances, futures positions and the taker commission move like a MARKET fill.
        Status becomes PARTIALLY_FILLED or FILLED (algo stops: FINISHED). Returns the order.
        """
        account, venue, order = self._locate(client_order_id)
        symbol = order["symbol"]
        if venue == "algo":
            qty = Decimal(order["quantity"])
            fill = price or self.prices[symbol]
            actual = next(self._ids)
            self._apply_futures_fill(account, symbol, order["side"], qty, fill, actual)
            order.update(algoStatus="FINISHED", triggerTime=now_ms(), updateTime=now_ms(),
                         actualOrderId=str(actual), actualPrice=fmt(fill))
            return order
        left = Decimal(order["origQty"]) - Decimal(order["executedQty"])
        qty = left if qty is None else min(Decimal(qty), left)
        limit = Decimal(order["price"])
        fill = price or (limit if limit > 0 else self.prices[symbol])
        if venue == "spot":
            self._spot_settle(account, order, qty, limit, fill)
            quote_key = "cummulativeQuoteQty"
        else:
            self._apply_futures_fill(account, symbol, order["side"], qty, fill,
                                     order["orderId"])
            quote_key = "cumQuote"
        executed = Decimal(order["executedQty"]) + qty
        quote = Decimal(order[quote_key]) + qty * fill
        order.update({"executedQty": fmt(executed), quote_key: fmt(quote),
                      "status": "FILLED" if executed == Decimal(order["origQty"])
                      else "PARTIALLY_FILLED", "updateTime": now_ms()})
        if venue == "futures":
            order.update(cumQty=fmt(executed), avgPrice=fmt(quote / executed))
        return order

    def _locate(self, client_order_id: str) -> tuple[FakeAccount, str, dict[str, Any]]:
        for account in self.accounts.values():
            for (venue, cid), order in account.orders.items():
                if cid == client_order_id:
                    return account, venue, order
        raise KeyError(client_order_id)

    def state(self) -> dict[str, Any]:
        """Counters as JSON: requests per path, order posts and stored orders per client id."""
        stored = Counter(cid for a in self.accounts.values() for (_, cid) in a.orders)
        return {"requests": {f"{m} {p}": n for (m, p), n in self.requests.items()},
                "order_posts": dict(self.order_posts), "orders_created": dict(stored),
                "faults_pending": len(self.faults)}

    # -- plumbing --------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        self.requests[(request.method, path)] += 1
        if path.startswith("/_fake/"):
            return await self._control(request, path)
        if self.latency_s > 0:
            await asyncio.sleep(self.latency_s)
        body = await request.text()
        try:
            fault = self._take_fault(request.method, path)
            if fault is not None and fault.kind not in ("timeout_after_accept",
                                                         "drop_after_accept"):
                return _fault_response(fault)
            result = await self._route(request, path, body)
            if fault is not None:
                return await self._after_accept(request, fault, result)
            return web.json_response(result)
        except BinanceError as exc:
            return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status)

    def _take_fault(self, method: str, path: str) -> Fault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        if (fault.endpoint == "any" or (fault.endpoint == "order" and method == "POST"
                                        and path in ORDER_PATHS)
                or (fault.endpoint == "trades" and method == "GET" and path in TRADE_PATHS)):
            return self.faults.popleft()
        return None

    async def _after_accept(self, request: web.Request, fault: Fault,
                            result: Any) -> web.StreamResponse:
        if fault.kind == "drop_after_accept":
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        await asyncio.sleep(self.hang_s)
        return web.json_response(result)

    async def _control(self, request: web.Request, path: str) -> web.Response:
        query = dict(request.query)
        if path == "/_fake/fault":
            self.fail_next(query["kind"], int(query.get("n", "1")),
                           endpoint=query.get("endpoint", "order"),
                           retry_after=int(query.get("retry_after", "1")))
        elif path == "/_fake/latency":
            self.latency_s = float(query["seconds"])
        elif path == "/_fake/hang":
            self.hang_s = float(query["seconds"])
        elif path == "/_fake/price":
            self.set_price(query["symbol"], Decimal(query["price"]))
        elif path == "/_fake/account":
            self.add_account(query["key"], query["secret"],
                             spot={"USDT": query.get("usdt", "10000")},
                             futures_usdt=query.get("usdt", "10000"))
        return web.json_response(self.state())

    async def _route(self, request: web.Request, path: str, body: str) -> Any:
        route = _ROUTES.get((request.method, path))
        if route is None:
            raise BinanceError(404, -1000, f"Unknown path {path}")
        handler, signed = route
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        params.update(dict(parse_qsl(body, keep_blank_values=True)))
        account = self._authenticate(request, body) if signed else None
        return handler(self, account, params)

    def _authenticate(self, request: web.Request, body: str) -> FakeAccount:
        key = request.headers.get("X-MBX-APIKEY", "")
        if not key or len(key) < 8:
            raise BinanceError(401, -2014, "API-key format invalid.")
        account = self.accounts.get(key)
        if account is None:
            raise BinanceError(401, -2015, "Invalid API-key, IP, or permissions for action.")
        payload, signature = _signed_payload(request.query_string, body)
        expected = hmac.new(account.secret.encode(), payload.encode(), hashlib.sha256)
        if signature is None or not hmac.compare_digest(expected.hexdigest(), signature):
            raise BinanceError(400, -1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(payload))
        window = int(params.get("recvWindow", "5000"))
        if abs(now_ms() - int(params.get("timestamp", "0"))) > window:
            raise BinanceError(400, -1021, "Timestamp for this request is outside of the "
                                           "recvWindow.")
        return account

    # -- public endpoints ------------------------------------------------------------

    def _time(self, account: None, params: dict[str, str]) -> Any:
        return {"serverTime": now_ms()}

    def _ticker_price(self, account: None, params: dict[str, str]) -> Any:
        if "symbol" in params:
            price = self.prices.get(params["symbol"])
            if price is None:
                raise BinanceError(400, -1121, "Invalid symbol.")
            return {"symbol": params["symbol"], "price": fmt(price), "time": now_ms()}
        return [{"symbol": s, "price": fmt(p), "time": now_ms()} for s, p in self.prices.items()]


def _signed_payload(query: str, body: str) -> tuple[str, str | None]:
    """(what was signed, the signature): query + body with ``&signature=...`` removed."""
    signature = None
    parts = []
    for chunk in (query, body):
        if not chunk:
            continue
        kept = []
        for item in chunk.split("&"):
            if item.startswith("signature="):
                signature = item.removeprefix("signature=")
            else:
                kept.append(item)
        parts.append("&".join(kept))
    return "&".join(p for p in parts if p), signature


def _fault_response(fault: Fault) -> web.Response:
    if fault.kind == "rate_limit":
        return web.json_response(
            {"code": -1003, "msg": "Too many requests; current limit of IP(127.0.0.1) is 6000 "
                                   "requests per minute. Please use WebSocket Streams for "
                                   "live updates to avoid polling the API."},
            status=429, headers={"Retry-After": str(fault.retry_after)})
    if fault.kind == "maintenance":
        return web.json_response({"code": 1, "msg": "System is under maintenance."},
                                 status=503)
    if fault.kind == "server_error":
        return web.Response(status=500, content_type="text/html",
                            text="<html><head><title>500 Internal Server Error</title></head>"
                                 "<body><center><h1>500 Internal Server Error</h1></center>"
                                 "</body></html>")
    if fault.kind == "backend_timeout":
        return web.json_response({"code": -1007, "msg": "Timeout waiting for response from "
                                                        "backend server. Send status unknown; "
                                                        "execution status unknown."}, status=503)
    return web.json_response({"code": -2010, "msg": "Account has insufficient balance for "
                                                    "requested action."}, status=400)




_ROUTES: dict[tuple[str, str], tuple[Any, bool]] = {
    ("GET", "/api/v3/time"): (FakeBinance._time, False),
    ("GET", "/api/v3/ping"): (lambda self, a, p: {}, False),
    ("GET", "/api/v3/ticker/price"): (FakeBinance._ticker_price, False),
    ("GET", "/fapi/v1/time"): (FakeBinance._time, False),
    ("GET", "/fapi/v1/ping"): (lambda self, a, p: {}, False),
    ("GET", "/fapi/v1/ticker/price"): (FakeBinance._ticker_price, False),
    **SPOT_ROUTES,
    **FUTURES_ROUTES,
}


@contextlib.asynccontextmanager
async def running_fake_binance(**kwargs: Any) -> AsyncIterator[FakeBinance]:
    """``FakeBinance(**kwargs)`` started on a free port; closed on exit."""
    async with FakeBinance(**kwargs) as fake:
        yield fake


async def _serve_forever(port: int, latency_ms: float, accounts: list[str]) -> None:
    fake = FakeBinance(latency_s=latency_ms / 1000, port=port)
    for spec in accounts:
        key, _, secret = spec.partition(":")
        fake.add_account(key, secret, spot={"USDT": "100000"}, futures_usdt="100000")
    await fake.start()
    print(f"fake binance listening on {fake.base_url}", flush=True)  # noqa: T201
    try:
        await asyncio.Event().wait()
    finally:
        await fake.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.fakes.binance_api --port N [--latency-ms 20] [--account K:S ...]``."""
    parser = argparse.ArgumentParser(description="fake Binance spot + USDⓈ-M REST")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--account", action="append", default=[],
                        help="API key and secret as KEY:SECRET (100,000 USDT spot and futures)")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_forever(args.port, args.latency_ms, args.account))


if __name__ == "__main__":
    main()
