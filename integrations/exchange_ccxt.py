"""Live exchange accounts through ccxt: ``CcxtGateway`` (``domain.ports.ExchangeGateway``)
and ``make_exchange``; ``integrations.exchange_pool.GatewayPool`` keeps one per account.

    CcxtGateway(exchange, spec, ...)
      market / create_order / fetch_order_by_client_id / cancel_order / fetch_equity
      check_account() -> AccountCheck (balance + withdrawal permission)
      supports_stop_orders, close()

Errors (``domain.errors``): ccxt ``RateLimitExceeded``/``DDoSProtection`` and
``OnMaintenance`` -> ``RetryableError`` (``retry_after`` from a 429's Retry-After);
any other ``NetworkError`` (timeout, dropped connection, 5xx) from sending an order ->
``OrderStatusUnknown`` (the order may exist: look it up by client id), elsewhere
``RetryableError``; ``AuthenticationError``/``PermissionDenied`` ->
``CredentialsRejected``; every other ccxt error -> ``PermanentError`` with the
exchange's message. Messages never contain credentials or signed query strings.

Leverage: an entry on a linear perpetual whose request carries ``leverage`` first sets
that leverage on the symbol (ccxt ``set_leverage``; binance ``POST /fapi/v1/leverage``),
once per (gateway = account, symbol, leverage): the gateway remembers what it set and
holds a per-symbol lock from the change to the order's answer, so two entries of one
account never race each other's leverage. A refusal is a ``PermanentError`` with the
exchange's message; the order is then not sent.

Fees: a (partly) filled binance order whose answer carries no fee (every USDⓈ-M order;
spot orders read back by lookup, whose endpoint has no fills) gets the sum of its trades'
commissions: one ``fetch_my_trades(symbol, params={"orderId": ...})`` call (spot
``GET /api/v3/myTrades``, USDⓈ-M ``GET /fapi/v1/userTrades``). If that call fails the
ack stays without a fee (logged; the order is neither failed nor re-sent over it).

Every request first takes a slot of the shared Redis rate limiter for (exchange,
account) when the pool has Redis. ccxt logs request headers (the API key) at DEBUG:
each client gets the ``signalhub.ccxt`` logger, capped at INFO.
This module and ``integrations.prices`` are the only ones that import ccxt; specs,
snapshots and the Redis markets cache live in ``integrations.exchange_markets``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
import ssl
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import ccxt.async_support as ccxt_async
import certifi

from domain.errors import (
    CredentialsRejected,
    InvalidInput,
    OrderStatusUnknown,
    PermanentError,
    RetryableError,
)
from domain.ports import MarketRules, OrderAck, OrderRequest
from integrations.exchange_markets import (
    ExchangeSpec,
    rules_of,
    snapshot_path,
)
from integrations.ratelimit import RedisRateLimiter
from integrations.secrets import ExchangeCredentials

log = logging.getLogger(__name__)
CCXT_LOG = logging.getLogger("signalhub.ccxt")
CCXT_LOG.setLevel(logging.INFO)  # ccxt's DEBUG lines carry request headers (the API key)

MARKET_TYPES = ("spot", "linear")
DEFAULT_TIMEOUT_MS = 10_000
_QUERY = re.compile(r"\?\S*")


@dataclass(frozen=True)
class AccountCheck:
    """What connecting learned: balances (currency -> total) and withdrawal permission.

    ``withdrawals_enabled`` is None where the exchange does not report it.
    """

    balances: dict[str, Decimal]
    withdrawals_enabled: bool | None


def check_exchange_id(exchange_id: str) -> str:
    """``exchange_id`` if ccxt knows it; ``InvalidInput`` (field ``exchange``) otherwise."""
    if exchange_id not in ccxt_async.exchanges:
        raise InvalidInput("exchange", f"{exchange_id!r} is not a ccxt exchange id (e.g. "
                                       "binance, bybit, okx, bitget, mexc)")
    return exchange_id


def needs_password(exchange_id: str) -> bool:
    """True when the exchange's API keys come with a passphrase (okx, bitget, kucoin...).

    Raises ``InvalidInput`` for an id ccxt does not know.
    """
    exchange = getattr(ccxt_async, check_exchange_id(exchange_id))()
    return bool(exchange.requiredCredentials.get("password"))


def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context (certifi's CA bundle, as ccxt builds it) for every client of the
    process: ccxt would load the CA file per client (~40 ms of CPU each)."""
    global _SSL_CONTEXT
    if _SSL_CONTEXT is None:
        _SSL_CONTEXT = ssl.create_default_context(cafile=certifi.where())
    return _SSL_CONTEXT


_SSL_CONTEXT: ssl.SSLContext | None = None


def make_exchange(spec: ExchangeSpec, credentials: ExchangeCredentials | None, *,
                  timeout_ms: int = DEFAULT_TIMEOUT_MS, throttle: bool = False,
                  session: aiohttp.ClientSession | None = None) -> Any:
    """A configured ``ccxt.async_support`` client (not yet connected; caller closes it).

    ``defaultType`` follows the market type (``swap`` for linear); binance loads only
    that type's markets and skips its private currency call. Testnet: binance
    USDⓈ-M uses ccxt's demo trading (binance retired the futures sandbox), every other
    case ``set_sandbox_mode(True)``. ``throttle`` keeps ccxt's own per-client limiter
    (off when the shared Redis limiter is used). ``session``: an aiohttp session shared
    with other clients (its owner closes it; ccxt then does not), else ccxt opens its own.
    """
    check_exchange_id(spec.exchange_id)
    config: dict[str, Any] = {
        "enableRateLimit": throttle, "timeout": timeout_ms, "logger": CCXT_LOG,
        "ssl_context": shared_ssl_context(),
        "options": {"defaultType": "swap" if spec.market_type == "linear" else "spot",
                    "fetchMarkets": {"types": [spec.market_type]},
                    "fetchCurrencies": False, "fetchMargins": False},
    }
    if session is not None:
        config["session"] = session
    if credentials is not None:
        config.update(apiKey=credentials.api_key, secret=credentials.secret)
        if credentials.password:
            config["password"] = credentials.password
    exchange = getattr(ccxt_async, spec.exchange_id)(config)
    if spec.testnet:
        if spec.exchange_id == "binance" and spec.market_type == "linear":
            exchange.enable_demo_trading(True)
        else:
            exchange.set_sandbox_mode(True)
    if spec.api_base_url:
        exchange.urls["api"] = _rebase(exchange.urls["api"], spec.api_base_url.rstrip("/"))
    return exchange


def _rebase(urls: Any, base: str) -> Any:
    if isinstance(urls, dict):
        return {key: _rebase(value, base) for key, value in urls.items()}
    if isinstance(urls, str) and urls.startswith(("http://", "https://")):
        parts = urlsplit(urls)
        return base + parts.path + (f"?{parts.query}" if parts.query else "")
    return urls


def _clean(exc: BaseException) -> str:
    """The exception's message without URLs' query strings (signatures, parameters)."""
    return _QUERY.sub("", str(exc)).strip()


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


class CcxtGateway:
    """``ExchangeGateway`` over one ccxt client holding one account's keys.

    ``limiter``/``account_key``: the shared Redis limiter and this account's bucket key
    (an int); without them only ccxt's own throttle applies (if enabled). Markets must
    be set on the client (``GatewayPool`` does it) or are loaded on first use.
    ``stop_limit_offset`` is the distance (fraction) of the limit price beyond the
    trigger on exchanges where a spot stop must be STOP_LOSS_LIMIT.
    """

    def __init__(self, exchange: Any, spec: ExchangeSpec, *,
                 limiter: RedisRateLimiter | None = None, account_key: int = 0,
                 stop_limit_offset: Decimal = Decimal("0.005")) -> None:
        self.exchange = exchange
        self.spec = spec
        self._limiter = limiter
        self._account_key = account_key
        self._stop_limit_offset = stop_limit_offset
        self._markets_lock = asyncio.Lock()
        self._leverage: dict[str, int] = {}  # symbol -> leverage this gateway set
        self._leverage_locks: dict[str, asyncio.Lock] = {}

    def __repr__(self) -> str:
        return f"CcxtGateway({self.spec.exchange_id}, {self.spec.market_type})"

    # -- capabilities ----------------------------------------------------------------

    @property
    def supports_stop_orders(self) -> bool:
        """True when stop-loss orders can rest on the exchange (else the monitor enforces)."""
        has = self.exchange.has
        return bool(has.get("createStopMarketOrder") or has.get("createStopLossOrder")
                    or has.get("createTriggerOrder"))

    def stop_order_type(self, symbol: str) -> str | None:
        """The native stop this market takes: ``STOP_MARKET``, ``STOP_LOSS``,
        ``STOP_LOSS_LIMIT`` (binance order types) or ``trigger`` (other exchanges), None if
        stops must be enforced by the monitor. Needs markets loaded."""
        if not self.supports_stop_orders:
            return None
        market = self.exchange.market(symbol)
        if self.spec.exchange_id != "binance":
            return "trigger"
        if market.get("contract"):
            return "STOP_MARKET"
        types = market.get("info", {}).get("orderTypes", [])
        for kind in ("STOP_LOSS", "STOP_LOSS_LIMIT"):
            if kind in types:
                return kind
        return None

    # -- ExchangeGateway ---------------------------------------------------------------

    async def market(self, symbol: str) -> MarketRules:
        """Rules of ``symbol``; ``InvalidInput`` (field ``symbol``) if the account's market
        type does not list it."""
        await self._ensure_markets()
        market = self.exchange.markets.get(symbol)
        wanted_contract = self.spec.market_type == "linear"
        if market is None or bool(market.get("contract")) != wanted_contract:
            raise InvalidInput("symbol", f"{symbol} is not a {self.spec.market_type} market "
                                         f"on {self.spec.exchange_id}")
        return rules_of(market, self.exchange.precisionMode)

    async def create_order(self, request: OrderRequest) -> OrderAck:
        """Send one order with ``request.client_order_id``; a duplicate returns the order
        already placed under that id.

        A linear entry with ``request.leverage`` sets that leverage first (module doc).
        Raises ``InvalidInput`` (not listed / unsupported stop / bad leverage),
        ``RetryableError``, ``OrderStatusUnknown`` (sent, no answer: look it up),
        ``CredentialsRejected``, ``PermanentError`` (also: leverage refused).
        """
        rules = await self.market(request.symbol)
        kind, price, params = self._order_shape(request, rules)
        if request.leverage is None or request.reduce_only or not rules.linear:
            return await self._send(request, kind, price, params)
        lock = self._leverage_locks.setdefault(request.symbol, asyncio.Lock())
        async with lock:
            await self._ensure_leverage(request.symbol, request.leverage)
            return await self._send(request, kind, price, params)

    async def _send(self, request: OrderRequest, kind: str, price: float | None,
                    params: dict[str, Any]) -> OrderAck:
        amount = float(request.amount)
        try:
            await self._throttle()
            raw = await self.exchange.create_order(request.symbol, kind, request.side,
                                                   amount, price, params)
        except ccxt_async.NetworkError as exc:
            raise await self._fail(exc, "create_order", sending=True) from exc
        except ccxt_async.BaseError as exc:
            if _is_duplicate(exc):
                existing = await self.fetch_order_by_client_id(request.symbol,
                                                               request.client_order_id)
                if existing is not None:
                    return existing
            raise await self._fail(exc, "create_order") from exc
        return await self._with_trade_fee(self._ack(raw, request), raw)

    async def _ensure_leverage(self, symbol: str, leverage: int) -> None:
        """Set ``leverage`` on ``symbol`` unless this gateway already did."""
        if self._leverage.get(symbol) == leverage:
            return
        if not 1 <= leverage <= 125:
            raise InvalidInput("leverage", f"leverage must be 1-125x, got {leverage}")
        if not self.exchange.has.get("setLeverage"):
            raise PermanentError(f"{self.spec.exchange_id} cannot set the leverage through "
                                 f"ccxt: set {leverage}x for {symbol} on the exchange")
        try:
            await self._throttle()
            await self.exchange.set_leverage(leverage, symbol)
        except ccxt_async.BaseError as exc:
            if not _is_unchanged(exc):
                raise await self._fail(exc, f"set_leverage {leverage}x {symbol}") from exc
        self._leverage[symbol] = leverage

    async def fetch_order_by_client_id(self, symbol: str,
                                       client_order_id: str) -> OrderAck | None:
        """The order placed under ``client_order_id`` (stop orders included), or None."""
        await self.market(symbol)
        for params in self._lookup_params(symbol, client_order_id):
            try:
                await self._throttle()
                raw = await self.exchange.fetch_order(None, symbol, params)
            except ccxt_async.OrderNotFound:
                continue
            except ccxt_async.BaseError as exc:
                raise await self._fail(exc, "fetch_order") from exc
            return await self._with_trade_fee(self._ack(raw, None, client_order_id), raw)
        return None

    async def cancel_order(self, symbol: str, client_order_id: str) -> OrderAck | None:
        """Cancel an open order by client id; None if the exchange has no such open order."""
        await self.market(symbol)
        for params in self._lookup_params(symbol, client_order_id):
            try:
                await self._throttle()
                await self.exchange.cancel_order(None, symbol, params)
            except ccxt_async.OrderNotFound:
                continue
            except ccxt_async.BaseError as exc:
                raise await self._fail(exc, "cancel_order") from exc
            return await self.fetch_order_by_client_id(symbol, client_order_id)
        return None

    async def fetch_equity(self, currency: str) -> Decimal:
        """Account equity in ``currency`` (quote currency, e.g. USDT).

        Linear: the margin balance the exchange reports (wallet + unrealized PnL). Spot:
        the total (free + in orders) of ``currency`` plus every other asset that has a
        ``<asset>/<currency>`` market, valued at its last price (one extra request, only
        when such assets are held); assets without such a market count 0.
        """
        balances = await self._fetch_balances()
        equity = balances.get(currency, Decimal(0))
        if self.spec.market_type != "spot":
            return equity
        held = {f"{code}/{currency}": total for code, total in balances.items()
                if code != currency and total > 0 and f"{code}/{currency}" in self.exchange.markets}
        if not held:
            return equity
        prices = await self._last_prices(list(held))
        return equity + sum((total * prices[symbol] for symbol, total in held.items()
                             if symbol in prices), Decimal(0))

    async def check_account(self) -> AccountCheck:
        """Validate the key: fetch balances, and the withdrawal permission where reported
        (binance ``sapi/v1/account/apiRestrictions`` ``enableWithdrawals``).

        Raises ``CredentialsRejected`` (bad key, signature, permissions),
        ``RetryableError``, ``PermanentError``.
        """
        balances = await self._fetch_balances()
        return AccountCheck(balances, await self._withdrawals_enabled())

    async def close(self) -> None:
        """Close the client's HTTP session; the gateway is unusable afterwards."""
        await self.exchange.close()

    # -- internals -------------------------------------------------------------------

    async def _ensure_markets(self) -> None:
        if self.exchange.markets:
            return
        async with self._markets_lock:
            if not self.exchange.markets:
                try:
                    await self._throttle()
                    await self.exchange.load_markets()
                except ccxt_async.BaseError as exc:
                    raise await self._fail(exc, "load_markets") from exc

    async def _fetch_balances(self) -> dict[str, Decimal]:
        await self._ensure_markets()
        try:
            await self._throttle()
            balance = await self.exchange.fetch_balance()
        except ccxt_async.BaseError as exc:
            raise await self._fail(exc, "fetch_balance") from exc
        return {code: Decimal(str(total)) for code, total in (balance.get("total") or {}).items()
                if total is not None}

    async def _last_prices(self, symbols: list[str]) -> dict[str, Decimal]:
        try:
            await self._throttle()
            if self.exchange.has.get("fetchLastPrices"):
                raw = await self.exchange.fetch_last_prices(symbols)
                values = {s: p.get("price") for s, p in raw.items()}
            else:
                tickers = await self.exchange.fetch_tickers(symbols)
                values = {s: t.get("last") for s, t in tickers.items()}
        except ccxt_async.BaseError as exc:
            raise await self._fail(exc, "last prices") from exc
        return {s: Decimal(str(v)) for s, v in values.items() if v is not None and s in symbols}

    async def _withdrawals_enabled(self) -> bool | None:
        if self.spec.exchange_id != "binance" or self.spec.testnet:
            return None
        try:
            await self._throttle()
            restrictions = await self.exchange.sapi_get_account_apirestrictions()
        except ccxt_async.BaseError as exc:
            raise await self._fail(exc, "apiRestrictions") from exc
        value = restrictions.get("enableWithdrawals")
        return None if value is None else bool(value)

    def _order_shape(self, request: OrderRequest, rules: MarketRules
                     ) -> tuple[str, float | None, dict[str, Any]]:
        params: dict[str, Any] = {"clientOrderId": request.client_order_id}
        if request.reduce_only and self.spec.market_type == "linear":
            params["reduceOnly"] = True
        if request.type in ("market", "limit"):
            price = float(request.price) if request.type == "limit" and request.price else None
            if request.type == "limit" and price is None:
                raise InvalidInput("price", "a limit order needs a price")
            return request.type, price, params
        if request.type != "stop_market" or request.stop_price is None:
            raise InvalidInput("type", "order type must be market, limit or stop_market "
                                       "(with stop_price)")
        native = self.stop_order_type(request.symbol)
        if native is None:
            raise InvalidInput("type", f"{self.spec.exchange_id} {request.symbol} takes no "
                                       "native stop order: enforce the stop in the monitor")
        params["stopLossPrice" if native != "trigger" else "triggerPrice"] = float(
            request.stop_price)
        if native != "STOP_LOSS_LIMIT":
            return "market", None, params
        offset = -self._stop_limit_offset if request.side == "sell" else self._stop_limit_offset
        limit = request.price or request.stop_price * (1 + offset)
        return "limit", float(self.exchange.price_to_precision(request.symbol, limit)), params

    def _lookup_params(self, symbol: str, client_order_id: str) -> list[dict[str, Any]]:
        plain = {"clientOrderId": client_order_id}
        if self.spec.exchange_id == "binance" and self.spec.market_type == "linear":
            return [plain, {**plain, "trigger": True}]  # conditional orders live in algo
        return [plain]

    async def _throttle(self) -> None:
        if self._limiter is not None:
            await self._limiter.acquire(self._account_key)

    async def _fail(self, exc: BaseException, action: str, *, sending: bool = False
                    ) -> Exception:
        """The domain error for ccxt's ``exc``; a 429 also holds the account's bucket back."""
        where = f"{self.spec.exchange_id} {action}"
        message = _clean(exc)
        if isinstance(exc, ccxt_async.RateLimitExceeded | ccxt_async.DDoSProtection):
            retry_after = self._retry_after()
            if self._limiter is not None and retry_after:
                await self._limiter.penalize(retry_after, self._account_key)
            return RetryableError(f"{where}: rate limited: {message}", retry_after)
        if isinstance(exc, ccxt_async.OnMaintenance):
            return RetryableError(f"{where}: exchange under maintenance: {message}")
        if isinstance(exc, ccxt_async.NetworkError):
            if sending:
                return OrderStatusUnknown(f"{where}: no answer, the order may exist: {message}")
            return RetryableError(f"{where}: {message}")
        if isinstance(exc, ccxt_async.AuthenticationError | ccxt_async.PermissionDenied):
            return CredentialsRejected(f"{where}: the exchange rejected the API key: {message}")
        return PermanentError(f"{where}: {message}")

    async def _with_trade_fee(self, ack: OrderAck, raw: dict[str, Any]) -> OrderAck:
        """``ack`` with the fee of its trades if it filled on binance without one (module
        doc): one trades call. A triggered USDⓈ-M stop's trades belong to the order it
        became (``actualOrderId``). Any ccxt error keeps ``ack`` unchanged (INFO for a
        network error, WARNING otherwise; a 429 still holds the account's bucket back)."""
        if ack.fee is not None or ack.filled <= 0 or self.spec.exchange_id != "binance":
            return ack
        order_id = str((raw.get("info") or {}).get("actualOrderId") or ack.id)
        try:
            await self._throttle()
            trades = await self.exchange.fetch_my_trades(ack.symbol,
                                                         params={"orderId": order_id})
        except ccxt_async.BaseError as exc:
            error = await self._fail(exc, "fetch_my_trades")
            level = logging.INFO if isinstance(exc, ccxt_async.NetworkError) else logging.WARNING
            log.log(level, "order %s kept without its fee: %s", ack.client_order_id, error)
            return ack
        fee = trades_fee(trades, order_id)
        if fee is None:
            log.info("order %s kept without its fee: its trades report no single-currency "
                     "commission", ack.client_order_id)
            return ack
        return dataclasses.replace(ack, fee=fee[0], fee_currency=fee[1])

    def _retry_after(self) -> float | None:
        headers = self.exchange.last_response_headers or {}
        value = headers.get("Retry-After") or headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def _ack(self, raw: dict[str, Any], request: OrderRequest | None,
             client_order_id: str | None = None) -> OrderAck:
        fee = raw.get("fee") or {}
        fees = [f for f in raw.get("fees") or [] if f and f.get("cost") is not None]
        fee_cost = _decimal(fee.get("cost"))
        if fee_cost is None and fees:
            fee_cost = sum((Decimal(str(f["cost"])) for f in fees), Decimal(0))
            fee = fees[0]
        kind = str(raw.get("type") or (request.type if request else ""))
        if raw.get("triggerPrice") or raw.get("stopPrice"):
            kind = "stop_market" if kind == "market" else "stop_limit"
        return OrderAck(
            id=str(raw.get("id")),
            client_order_id=str(raw.get("clientOrderId") or client_order_id
                                or (request.client_order_id if request else "")),
            symbol=str(raw.get("symbol") or (request.symbol if request else "")),
            side=str(raw.get("side") or (request.side if request else "")),
            type=kind, status=str(raw.get("status") or "open"),
            amount=_decimal(raw.get("amount")) or (request.amount if request else Decimal(0)),
            filled=_decimal(raw.get("filled")) or Decimal(0),
            average=_decimal(raw.get("average")),
            fee=fee_cost, fee_currency=fee.get("currency"),
            timestamp=int(raw.get("timestamp") or raw.get("lastTradeTimestamp")
                          or time.time() * 1000),
        )


def trades_fee(trades: list[dict[str, Any]], order_id: str) -> tuple[Decimal, str] | None:
    """(summed fee cost, currency) of ccxt unified ``trades`` of order ``order_id``
    (others are ignored); None when none of them reports a fee or they are charged in
    more than one currency (e.g. part in BNB), which one amount cannot express."""
    fees = [trade["fee"] for trade in trades if str(trade.get("order")) == order_id
            and trade.get("fee") and trade["fee"].get("cost") is not None]
    currencies = {fee.get("currency") for fee in fees}
    if not fees or len(currencies) != 1 or None in currencies:
        return None
    return sum((Decimal(str(fee["cost"])) for fee in fees), Decimal(0)), str(currencies.pop())


def _is_duplicate(exc: BaseException) -> bool:
    """A rejection because the client order id is taken (binance spot -2010 "Duplicate
    order sent.", futures -4116; ccxt ``DuplicateOrderId`` elsewhere)."""
    text = str(exc)
    return (isinstance(exc, ccxt_async.DuplicateOrderId) or "Duplicate order sent" in text
            or "-4116" in text or "ClientOrderId is duplicated" in text)


def _is_unchanged(exc: BaseException) -> bool:
    """A leverage change refused because it is already set (bybit 110043 "leverage not
    modified"): the leverage is what was asked."""
    return "110043" in str(exc) or "not modified" in str(exc).lower()


async def save_snapshot(spec: ExchangeSpec, path: Path | None = None) -> Path:
    """Load ``spec``'s markets through ccxt (public endpoints) and save them as a snapshot.

    The file holds ``{"exchange", "market_type", "markets": [ccxt markets]}``.
    """
    exchange = make_exchange(spec, None)
    try:
        await exchange.load_markets()
        markets = sorted(exchange.markets.values(), key=lambda m: m["symbol"])
    finally:
        await exchange.close()
    path = path or snapshot_path(spec.exchange_id, spec.market_type)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"exchange": spec.exchange_id, "market_type": spec.market_type,
               "markets": markets}
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    return path
