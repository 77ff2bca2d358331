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

What it speaks (paths, parameters, response and error bodies as Binance's docs):

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
import re
import time
from collections import Counter, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from integrations.prices import load_candles
from tests.fakes.binance_markets import (
    FUTURES_SYMBOLS,
    SPOT_SYMBOLS,
    filters_of,
    futures_exchange_info,
    spot_exchange_info,
)
from tests.fakes.binance_trades import (
    TradeQueryError,
    futures_trade,
    select_trades,
    spot_trade,
)

DATA = Path(__file__).resolve().parents[2] / "signalhub" / "data"
SPOT_TAKER = Decimal("0.001")
FUTURES_TAKER = Decimal("0.0004")
DEFAULT_LEVERAGE = 20  # Binance's initial leverage of a symbol never set
MAX_LEVERAGE = 125
MAX_NOTIONAL = "1000000"  # maxNotionalValue of Binance's documented example answer
FAULT_KINDS = ("rate_limit", "maintenance", "backend_timeout", "insufficient_balance",
               "timeout_after_accept", "drop_after_accept", "server_error")
FAULT_ENDPOINTS = ("order", "trades", "any")
ORDER_PATHS = frozenset({"/api/v3/order", "/fapi/v1/order", "/fapi/v1/algoOrder"})
TRADE_PATHS = frozenset({"/api/v3/myTrades", "/fapi/v1/userTrades"})
SPOT_CLIENT_ID = re.compile(r"^[a-zA-Z0-9-_]{1,36}$")
FUTURES_CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")


class BinanceError(Exception):
    """An error answer: HTTP ``status`` with Binance's ``{"code", "msg"}`` body."""

    def __init__(self, status: int, code: int, msg: str) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg = status, code, msg


@dataclass
class FakeAccount:
    """One API key's account: spot balances (free, locked) and a futures USDT wallet."""

    api_key: str
    secret: str
    spot_free: dict[str, Decimal] = field(default_factory=dict)
    spot_locked: dict[str, Decimal] = field(default_factory=dict)
    futures_wallet: Decimal = Decimal(0)
    positions: dict[str, Decimal] = field(default_factory=dict)  # futures symbol -> qty
    leverage: dict[str, int] = field(default_factory=dict)  # futures symbol -> x
    enable_withdrawals: bool = False
    orders: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    trades: dict[str, list[dict[str, Any]]] = field(  # venue (spot|futures) -> trades
        default_factory=lambda: {"spot": [], "futures": []})


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


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f") if value else "0"


def _steps(value: Decimal, step: Decimal) -> bool:
    return step == 0 or (value / step) == (value / step).to_integral_value()


class FakeBinance:
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
        order["updateTime"] = _now()

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
            order.update(algoStatus="FINISHED", triggerTime=_now(), updateTime=_now(),
                         actualOrderId=str(actual), actualPrice=_fmt(fill))
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
        order.update({"executedQty": _fmt(executed), quote_key: _fmt(quote),
                      "status": "FILLED" if executed == Decimal(order["origQty"])
                      else "PARTIALLY_FILLED", "updateTime": _now()})
        if venue == "futures":
            order.update(cumQty=_fmt(executed), avgPrice=_fmt(quote / executed))
        return order

    def _locate(self, client_order_id: str) -> tuple[FakeAccount, str, dict[str, Any]]:
        for account in self.accounts.values():
            for (venue, cid), order in account.orders.items():
                if cid == client_order_id:
                    return account, venue, order
        raise KeyError(client_order_id)

    def _spot_settle(self, account: FakeAccount, order: dict[str, Any], qty: Decimal,
                     limit: Decimal, fill: Decimal) -> None:
        base = order["symbol"].removesuffix("USDT")
        if order["side"] == "BUY":
            account.spot_locked["USDT"] -= qty * limit
            account.spot_free["USDT"] = account.spot_free.get("USDT", Decimal(0)) + qty * (
                limit - fill)
            account.spot_free[base] = (account.spot_free.get(base, Decimal(0))
                                       + qty * (1 - SPOT_TAKER))
            commission, asset = qty * SPOT_TAKER, base
        else:
            account.spot_locked[base] -= qty
            account.spot_free["USDT"] = (account.spot_free.get("USDT", Decimal(0))
                                         + qty * fill * (1 - SPOT_TAKER))
            commission, asset = qty * fill * SPOT_TAKER, "USDT"
        account.trades["spot"].append(spot_trade(next(self._trade_ids), order, qty, fill,
                                                 commission, asset, _now()))

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
        if abs(_now() - int(params.get("timestamp", "0"))) > window:
            raise BinanceError(400, -1021, "Timestamp for this request is outside of the "
                                           "recvWindow.")
        return account

    # -- public endpoints ------------------------------------------------------------

    def _time(self, account: None, params: dict[str, str]) -> Any:
        return {"serverTime": _now()}

    def _spot_info(self, account: None, params: dict[str, str]) -> Any:
        return spot_exchange_info(_now())

    def _futures_info(self, account: None, params: dict[str, str]) -> Any:
        return futures_exchange_info(_now())

    def _ticker_price(self, account: None, params: dict[str, str]) -> Any:
        if "symbol" in params:
            price = self.prices.get(params["symbol"])
            if price is None:
                raise BinanceError(400, -1121, "Invalid symbol.")
            return {"symbol": params["symbol"], "price": _fmt(price), "time": _now()}
        return [{"symbol": s, "price": _fmt(p), "time": _now()} for s, p in self.prices.items()]

    # -- spot ------------------------------------------------------------------------

    def _spot_new_order(self, account: FakeAccount, params: dict[str, str]) -> Any:
        symbol, filters = self._symbol(params, self._spot)
        client_id = params.get("newClientOrderId") or f"web_{next(self._ids)}"
        if not SPOT_CLIENT_ID.match(client_id):
            raise BinanceError(400, -1100, "Illegal characters found in parameter "
                                           "'newClientOrderId'; legal range is "
                                           "'^[a-zA-Z0-9-_]{1,36}$'.")
        self.order_posts[client_id] += 1
        if ("spot", client_id) in account.orders:
            raise BinanceError(400, -2010, "Duplicate order sent.")
        kind, side = params.get("type", ""), params.get("side", "")
        if kind not in ("MARKET", "LIMIT", "STOP_LOSS_LIMIT", "LIMIT_MAKER"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        qty = self._quantity(params, filters)
        price = self._limit_price(params, filters, kind != "MARKET")
        last = self.prices[symbol]
        _check_notional(qty * (price or last), filters["NOTIONAL"])
        base = symbol.removesuffix("USDT")
        if kind == "MARKET":
            return self._spot_fill(account, symbol, base, side, qty, client_id, params)
        return self._spot_rest(account, symbol, base, side, kind, qty, price, client_id, params)

    def _spot_fill(self, account: FakeAccount, symbol: str, base: str, side: str, qty: Decimal,
                   client_id: str, params: dict[str, str]) -> Any:
        price = self.prices[symbol]
        quote_qty = qty * price
        pay, pay_amount, get, get_amount = (("USDT", quote_qty, base, qty) if side == "BUY"
                                            else (base, qty, "USDT", quote_qty))
        if account.spot_free.get(pay, Decimal(0)) < pay_amount:
            raise BinanceError(400, -2010, "Account has insufficient balance for requested "
                                           "action.")
        commission = get_amount * SPOT_TAKER
        account.spot_free[pay] -= pay_amount
        account.spot_free[get] = account.spot_free.get(get, Decimal(0)) + get_amount - commission
        order = self._spot_order(symbol, client_id, side, "MARKET", qty, Decimal(0), "FILLED",
                                 qty, quote_qty)
        account.orders[("spot", client_id)] = order
        trade = spot_trade(next(self._trade_ids), order, qty, price, commission, get,
                           order["time"])
        account.trades["spot"].append(trade)
        fill = {"price": trade["price"], "qty": trade["qty"],
                "commission": trade["commission"], "commissionAsset": get,
                "tradeId": trade["id"]}
        return {**_spot_ack(order, params), "fills": [fill]}

    def _spot_rest(self, account: FakeAccount, symbol: str, base: str, side: str, kind: str,
                   qty: Decimal, price: Decimal | None, client_id: str,
                   params: dict[str, str]) -> Any:
        assert price is not None
        lock, amount = ("USDT", qty * price) if side == "BUY" else (base, qty)
        if account.spot_free.get(lock, Decimal(0)) < amount:
            raise BinanceError(400, -2010, "Account has insufficient balance for requested "
                                           "action.")
        account.spot_free[lock] -= amount
        account.spot_locked[lock] = account.spot_locked.get(lock, Decimal(0)) + amount
        order = self._spot_order(symbol, client_id, side, kind, qty, price, "NEW",
                                 Decimal(0), Decimal(0))
        if "stopPrice" in params:
            order["stopPrice"] = params["stopPrice"]
        account.orders[("spot", client_id)] = order
        return {**_spot_ack(order, params), "fills": []}

    def _spot_order(self, symbol: str, client_id: str, side: str, kind: str, qty: Decimal,
                    price: Decimal, status: str, executed: Decimal, quote: Decimal
                    ) -> dict[str, Any]:
        now = _now()
        return {"symbol": symbol, "orderId": next(self._ids), "orderListId": -1,
                "clientOrderId": client_id, "price": _fmt(price), "origQty": _fmt(qty),
                "executedQty": _fmt(executed), "cummulativeQuoteQty": _fmt(quote),
                "status": status, "timeInForce": "GTC", "type": kind, "side": side,
                "stopPrice": "0.00000000", "icebergQty": "0.00000000", "time": now,
                "updateTime": now, "isWorking": True, "workingTime": now,
                "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "EXPIRE_MAKER"}

    def _spot_get_order(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return self._find(account, "spot", params)

    def _spot_cancel(self, account: FakeAccount, params: dict[str, str]) -> Any:
        order = self._find(account, "spot", params)
        if order["status"] != "NEW":
            raise BinanceError(400, -2011, "Unknown order sent.")
        base = order["symbol"].removesuffix("USDT")
        qty, price = Decimal(order["origQty"]), Decimal(order["price"])
        lock, amount = ("USDT", qty * price) if order["side"] == "BUY" else (base, qty)
        account.spot_locked[lock] -= amount
        account.spot_free[lock] = account.spot_free.get(lock, Decimal(0)) + amount
        order.update(status="CANCELED", updateTime=_now())
        return {**order, "origClientOrderId": order["clientOrderId"]}

    def _spot_open_orders(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return [o for (venue, _), o in account.orders.items() if venue == "spot"
                and o["status"] == "NEW" and params.get("symbol", o["symbol"]) == o["symbol"]]

    def _spot_trades(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return _trades(account, "spot", params)

    def _spot_account(self, account: FakeAccount, params: dict[str, str]) -> Any:
        assets = sorted(set(account.spot_free) | set(account.spot_locked))
        return {
            "makerCommission": 10, "takerCommission": 10, "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {"maker": "0.00100000", "taker": "0.00100000",
                                "buyer": "0.00000000", "seller": "0.00000000"},
            "canTrade": True, "canWithdraw": account.enable_withdrawals, "canDeposit": True,
            "brokered": False, "requireSelfTradePrevention": False, "preventSor": False,
            "updateTime": _now(), "accountType": "SPOT",
            "balances": [{"asset": a, "free": _fmt(account.spot_free.get(a, Decimal(0))),
                          "locked": _fmt(account.spot_locked.get(a, Decimal(0)))}
                         for a in assets],
            "permissions": ["SPOT"], "uid": 354937868,
        }

    def _api_restrictions(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return {"ipRestrict": False, "createTime": 1698645219000, "enableReading": True,
                "enableWithdrawals": account.enable_withdrawals,
                "enableInternalTransfer": False, "enableMargin": False, "enableFutures": True,
                "permitsUniversalTransfer": False, "enableVanillaOptions": False,
                "enableFixApiTrade": False, "enableFixReadOnly": False,
                "enableSpotAndMarginTrading": True, "enablePortfolioMarginTrading": False}

    # -- futures ---------------------------------------------------------------------

    def _futures_new_order(self, account: FakeAccount, params: dict[str, str]) -> Any:
        symbol, filters = self._symbol(params, self._futures)
        client_id = params.get("newClientOrderId") or f"web_{next(self._ids)}"
        if not FUTURES_CLIENT_ID.match(client_id):
            raise BinanceError(400, -4015, "Client order id is not valid.")
        self.order_posts[client_id] += 1
        if ("futures", client_id) in account.orders:
            raise BinanceError(400, -4116, "ClientOrderId is duplicated.")
        kind, side = params.get("type", ""), params.get("side", "")
        if kind in ("STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT",
                    "TRAILING_STOP_MARKET"):
            raise BinanceError(400, -4120, "Order type not supported for this endpoint. "
                                           "Please use the Algo Order API endpoints instead.")
        if kind not in ("MARKET", "LIMIT"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        qty = self._quantity(params, filters, futures=True)
        price = self._limit_price(params, filters, kind == "LIMIT")
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        self._check_futures(account, symbol, side, qty, price, filters, reduce_only)
        if not reduce_only:
            self.order_leverage[client_id] = account.leverage.get(symbol, DEFAULT_LEVERAGE)
        status, executed = ("FILLED", qty) if kind == "MARKET" else ("NEW", Decimal(0))
        fill_price = self.prices[symbol] if kind == "MARKET" else Decimal(0)
        order = self._futures_order(symbol, client_id, side, kind, qty, price or Decimal(0),
                                    status, executed, fill_price, reduce_only)
        if kind == "MARKET":
            self._apply_futures_fill(account, symbol, side, qty, fill_price, order["orderId"])
        account.orders[("futures", client_id)] = order
        return order

    def _check_futures(self, account: FakeAccount, symbol: str, side: str, qty: Decimal,
                       price: Decimal | None, filters: dict[str, Any], reduce_only: bool) -> None:
        position = account.positions.get(symbol, Decimal(0))
        signed = qty if side == "BUY" else -qty
        if reduce_only:
            if position == 0 or (position > 0) == (signed > 0) or abs(signed) > abs(position):
                raise BinanceError(400, -2022, "ReduceOnly Order is rejected.")
            return
        notional = qty * (price or self.prices[symbol])
        minimum = Decimal(filters["MIN_NOTIONAL"]["notional"])
        if notional < minimum:
            raise BinanceError(400, -4164, f"Order's notional must be no smaller than "
                                           f"{minimum} (unless you choose reduce only).")
        if notional / account.leverage.get(symbol, DEFAULT_LEVERAGE) > self._available_margin(
                account):
            raise BinanceError(400, -2019, "Margin is insufficient.")

    def _available_margin(self, account: FakeAccount) -> Decimal:
        used = sum((abs(q) * self.prices[s] / account.leverage.get(s, DEFAULT_LEVERAGE)
                    for s, q in account.positions.items()), Decimal(0))
        return account.futures_wallet - used

    def _set_leverage(self, account: FakeAccount, params: dict[str, str]) -> Any:
        symbol, _ = self._symbol(params, self._futures)
        raw = params.get("leverage", "")
        if not re.fullmatch(r"[0-9]{1,20}", raw):
            raise BinanceError(400, -1100, "Illegal characters found in parameter 'leverage'; "
                                           "legal range is '^[0-9]{1,20}$'.")
        leverage = int(raw)
        if not 1 <= leverage <= self.max_leverage[symbol]:
            raise BinanceError(400, -4028, f"Leverage {leverage} is not valid")
        account.leverage[symbol] = leverage
        self.leverage_calls.append((account.api_key, symbol, leverage))
        return {"leverage": leverage, "maxNotionalValue": MAX_NOTIONAL, "symbol": symbol}

    def _apply_futures_fill(self, account: FakeAccount, symbol: str, side: str, qty: Decimal,
                            price: Decimal, order_id: int) -> None:
        signed = qty if side == "BUY" else -qty
        commission = qty * price * FUTURES_TAKER
        account.positions[symbol] = account.positions.get(symbol, Decimal(0)) + signed
        account.futures_wallet -= commission
        account.trades["futures"].append(futures_trade(
            next(self._trade_ids), order_id, symbol, side, qty, price, commission, _now()))

    def _futures_order(self, symbol: str, client_id: str, side: str, kind: str, qty: Decimal,
                       price: Decimal, status: str, executed: Decimal, avg: Decimal,
                       reduce_only: bool) -> dict[str, Any]:
        return {"orderId": next(self._ids), "symbol": symbol, "status": status,
                "clientOrderId": client_id, "price": _fmt(price), "avgPrice": _fmt(avg),
                "origQty": _fmt(qty), "executedQty": _fmt(executed),
                "cumQty": _fmt(executed), "cumQuote": _fmt(executed * avg),
                "timeInForce": "GTC", "type": kind, "reduceOnly": reduce_only,
                "closePosition": False, "side": side, "positionSide": "BOTH",
                "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False,
                "origType": kind, "priceMatch": "NONE", "selfTradePreventionMode": "NONE",
                "goodTillDate": 0, "updateTime": _now()}

    def _futures_trades(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return _trades(account, "futures", params)

    def _futures_get_order(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return self._find(account, "futures", params)

    def _futures_cancel(self, account: FakeAccount, params: dict[str, str]) -> Any:
        order = self._find(account, "futures", params)
        if order["status"] != "NEW":
            raise BinanceError(400, -2011, "Unknown order sent.")
        order.update(status="CANCELED", updateTime=_now())
        return order

    def _futures_open_orders(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return [o for (venue, _), o in account.orders.items() if venue == "futures"
                and o["status"] == "NEW" and params.get("symbol", o["symbol"]) == o["symbol"]]

    def _algo_new_order(self, account: FakeAccount, params: dict[str, str]) -> Any:
        symbol, filters = self._symbol(params, self._futures)
        client_id = params.get("clientAlgoId") or f"algo_{next(self._ids)}"
        if not FUTURES_CLIENT_ID.match(client_id):
            raise BinanceError(400, -4015, "Client order id is not valid.")
        self.order_posts[client_id] += 1
        if ("algo", client_id) in account.orders:
            raise BinanceError(400, -4116, "ClientOrderId is duplicated.")
        kind = params.get("type", "")
        if params.get("algoType") != "CONDITIONAL" or kind not in (
                "STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise BinanceError(400, -1116, "Invalid orderType.")
        qty = self._quantity(params, filters, futures=True)
        trigger = Decimal(params.get("triggerPrice", "0"))
        if trigger <= 0 or not _steps(trigger, Decimal(filters["PRICE_FILTER"]["tickSize"])):
            raise BinanceError(400, -1111, "Precision is over the maximum defined for this "
                                           "asset.")
        now = _now()
        order = {"algoId": next(self._ids), "clientAlgoId": client_id, "algoType": "CONDITIONAL",
                 "orderType": kind, "symbol": symbol, "side": params.get("side"),
                 "positionSide": "BOTH", "timeInForce": "GTC", "quantity": _fmt(qty),
                 "algoStatus": "NEW", "triggerPrice": _fmt(trigger), "price": "0",
                 "icebergQuantity": None, "selfTradePreventionMode": "EXPIRE_MAKER",
                 "workingType": "CONTRACT_PRICE", "priceMatch": "NONE", "closePosition": False,
                 "priceProtect": False,
                 "reduceOnly": params.get("reduceOnly", "false").lower() == "true",
                 "createTime": now, "updateTime": now, "triggerTime": 0, "goodTillDate": 0}
        account.orders[("algo", client_id)] = order
        return order

    def _algo_get_order(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return self._find(account, "algo", params)

    def _algo_cancel(self, account: FakeAccount, params: dict[str, str]) -> Any:
        order = self._find(account, "algo", params)
        if order["algoStatus"] != "NEW":
            raise BinanceError(400, -2011, "Unknown order sent.")
        order.update(algoStatus="CANCELED", updateTime=_now())
        return {"algoId": order["algoId"], "clientAlgoId": order["clientAlgoId"],
                "code": "200", "msg": "success"}

    def _algo_open_orders(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return [o for (venue, _), o in account.orders.items() if venue == "algo"
                and o["algoStatus"] == "NEW" and params.get("symbol", o["symbol"]) == o["symbol"]]

    def _futures_assets(self, account: FakeAccount) -> list[dict[str, Any]]:
        unrealized = self._unrealized(account)
        wallet = account.futures_wallet
        available = self._available_margin(account) + unrealized
        return [{"asset": "USDT", "walletBalance": _fmt(wallet),
                 "unrealizedProfit": _fmt(unrealized), "marginBalance": _fmt(wallet + unrealized),
                 "maintMargin": "0", "initialMargin": _fmt(wallet - available + unrealized),
                 "positionInitialMargin": "0", "openOrderInitialMargin": "0",
                 "crossWalletBalance": _fmt(wallet), "crossUnPnl": _fmt(unrealized),
                 "availableBalance": _fmt(available), "maxWithdrawAmount": _fmt(available),
                 "marginAvailable": True, "updateTime": _now()}]

    def _unrealized(self, account: FakeAccount) -> Decimal:
        # Positions are opened at the fill price; without entry tracking PnL stays 0 here.
        return Decimal(0)

    def _futures_account(self, account: FakeAccount, params: dict[str, str]) -> Any:
        assets = self._futures_assets(account)
        usdt = assets[0]
        return {"totalInitialMargin": usdt["initialMargin"], "totalMaintMargin": "0",
                "totalWalletBalance": usdt["walletBalance"],
                "totalUnrealizedProfit": usdt["unrealizedProfit"],
                "totalMarginBalance": usdt["marginBalance"],
                "totalPositionInitialMargin": "0", "totalOpenOrderInitialMargin": "0",
                "totalCrossWalletBalance": usdt["crossWalletBalance"],
                "totalCrossUnPnl": usdt["crossUnPnl"],
                "availableBalance": usdt["availableBalance"],
                "maxWithdrawAmount": usdt["maxWithdrawAmount"], "canTrade": True,
                "canDeposit": True, "canWithdraw": account.enable_withdrawals,
                "assets": assets, "positions": self._positions(account)}

    def _futures_balance(self, account: FakeAccount, params: dict[str, str]) -> Any:
        usdt = self._futures_assets(account)[0]
        return [{"accountAlias": "SgsR", "asset": "USDT", "balance": usdt["walletBalance"],
                 "crossWalletBalance": usdt["crossWalletBalance"],
                 "crossUnPnl": usdt["crossUnPnl"], "availableBalance": usdt["availableBalance"],
                 "maxWithdrawAmount": usdt["maxWithdrawAmount"], "marginAvailable": True,
                 "updateTime": _now()}]

    def _positions(self, account: FakeAccount) -> list[dict[str, Any]]:
        return [{"symbol": s, "positionSide": "BOTH", "positionAmt": _fmt(q),
                 "entryPrice": _fmt(self.prices[s]), "markPrice": _fmt(self.prices[s]),
                 "unRealizedProfit": "0", "notional": _fmt(q * self.prices[s]),
                 "leverage": str(account.leverage.get(s, DEFAULT_LEVERAGE)),
                 "marginType": "cross", "isolatedMargin": "0",
                 "liquidationPrice": "0", "updateTime": _now()}
                for s, q in account.positions.items() if q != 0]

    def _position_risk(self, account: FakeAccount, params: dict[str, str]) -> Any:
        return [p for p in self._positions(account)
                if params.get("symbol", p["symbol"]) == p["symbol"]]

    # -- shared checks ---------------------------------------------------------------

    def _symbol(self, params: dict[str, str], table: dict[str, dict[str, Any]]
                ) -> tuple[str, dict[str, Any]]:
        symbol = params.get("symbol", "")
        if symbol not in table:
            raise BinanceError(400, -1121, "Invalid symbol.")
        return symbol, table[symbol]

    def _quantity(self, params: dict[str, str], filters: dict[str, Any],
                  futures: bool = False) -> Decimal:
        try:
            qty = Decimal(params.get("quantity", ""))
        except ArithmeticError:
            raise BinanceError(400, -1102, "Mandatory parameter 'quantity' was not sent, "
                                           "was empty/null, or malformed.") from None
        lot = filters["LOT_SIZE"]
        step = Decimal(lot["stepSize"])
        if futures and not _steps(qty, step):
            raise BinanceError(400, -1111, "Precision is over the maximum defined for this "
                                           "asset.")
        if qty < Decimal(lot["minQty"]) or qty > Decimal(lot["maxQty"]) or not _steps(qty, step):
            raise BinanceError(400, -1013, "Filter failure: LOT_SIZE")
        return qty

    def _limit_price(self, params: dict[str, str], filters: dict[str, Any],
                     required: bool) -> Decimal | None:
        if not required:
            return None
        if "price" not in params:
            raise BinanceError(400, -1102, "Mandatory parameter 'price' was not sent, was "
                                           "empty/null, or malformed.")
        price = Decimal(params["price"])
        rule = filters["PRICE_FILTER"]
        if (price < Decimal(rule["minPrice"]) or price > Decimal(rule["maxPrice"])
                or not _steps(price, Decimal(rule["tickSize"]))):
            raise BinanceError(400, -1013, "Filter failure: PRICE_FILTER")
        return price

    def _find(self, account: FakeAccount, venue: str, params: dict[str, str]) -> dict[str, Any]:
        client_id = (params.get("origClientOrderId") or params.get("clientAlgoId"))
        if client_id:
            order = account.orders.get((venue, client_id))
        else:
            wanted = params.get("orderId") or params.get("algoId")
            id_key = "algoId" if venue == "algo" else "orderId"
            order = next((o for (v, _), o in account.orders.items()
                          if v == venue and str(o[id_key]) == wanted), None)
        if order is None or order["symbol"] != params.get("symbol", order["symbol"]):
            raise BinanceError(400, -2013, "Order does not exist.")
        return order


def _trades(account: FakeAccount, venue: str, params: dict[str, str]) -> Any:
    try:
        return select_trades(account.trades[venue], params)
    except TradeQueryError as exc:
        raise BinanceError(400, exc.code, exc.msg) from None


def _check_notional(notional: Decimal, rule: dict[str, Any]) -> None:
    if notional < Decimal(rule["minNotional"]):
        raise BinanceError(400, -1013, "Filter failure: NOTIONAL")


def _spot_ack(order: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
    keys = ("symbol", "orderId", "orderListId", "clientOrderId", "price", "origQty",
            "executedQty", "origQuoteOrderQty", "cummulativeQuoteQty", "status", "timeInForce",
            "type", "side", "workingTime", "selfTradePreventionMode")
    ack = {k: order[k] for k in keys}
    ack["transactTime"] = order["time"]
    if "stopPrice" in params:
        ack["stopPrice"] = params["stopPrice"]
    return ack


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


def _now() -> int:
    return int(time.time() * 1000)


_ROUTES: dict[tuple[str, str], tuple[Any, bool]] = {
    ("GET", "/api/v3/time"): (FakeBinance._time, False),
    ("GET", "/api/v3/ping"): (lambda self, a, p: {}, False),
    ("GET", "/api/v3/exchangeInfo"): (FakeBinance._spot_info, False),
    ("GET", "/api/v3/ticker/price"): (FakeBinance._ticker_price, False),
    ("POST", "/api/v3/order"): (FakeBinance._spot_new_order, True),
    ("GET", "/api/v3/order"): (FakeBinance._spot_get_order, True),
    ("DELETE", "/api/v3/order"): (FakeBinance._spot_cancel, True),
    ("GET", "/api/v3/openOrders"): (FakeBinance._spot_open_orders, True),
    ("GET", "/api/v3/account"): (FakeBinance._spot_account, True),
    ("GET", "/api/v3/myTrades"): (FakeBinance._spot_trades, True),
    ("GET", "/sapi/v1/account/apiRestrictions"): (FakeBinance._api_restrictions, True),
    ("GET", "/fapi/v1/time"): (FakeBinance._time, False),
    ("GET", "/fapi/v1/ping"): (lambda self, a, p: {}, False),
    ("GET", "/fapi/v1/exchangeInfo"): (FakeBinance._futures_info, False),
    ("GET", "/fapi/v1/ticker/price"): (FakeBinance._ticker_price, False),
    ("POST", "/fapi/v1/order"): (FakeBinance._futures_new_order, True),
    ("GET", "/fapi/v1/order"): (FakeBinance._futures_get_order, True),
    ("DELETE", "/fapi/v1/order"): (FakeBinance._futures_cancel, True),
    ("GET", "/fapi/v1/openOrders"): (FakeBinance._futures_open_orders, True),
    ("GET", "/fapi/v1/userTrades"): (FakeBinance._futures_trades, True),
    ("POST", "/fapi/v1/leverage"): (FakeBinance._set_leverage, True),
    ("POST", "/fapi/v1/algoOrder"): (FakeBinance._algo_new_order, True),
    ("GET", "/fapi/v1/algoOrder"): (FakeBinance._algo_get_order, True),
    ("DELETE", "/fapi/v1/algoOrder"): (FakeBinance._algo_cancel, True),
    ("GET", "/fapi/v1/openAlgoOrders"): (FakeBinance._algo_open_orders, True),
    ("GET", "/fapi/v2/balance"): (FakeBinance._futures_balance, True),
    ("GET", "/fapi/v2/account"): (FakeBinance._futures_account, True),
    ("GET", "/fapi/v3/account"): (FakeBinance._futures_account, True),
    ("GET", "/fapi/v2/positionRisk"): (FakeBinance._position_risk, True),
    ("GET", "/fapi/v3/positionRisk"): (FakeBinance._position_risk, True),
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
