"""Where an account trades (``ExchangeSpec``) and ccxt markets kept outside ccxt: the
snapshots shipped in ``signalhub/data/markets/`` and the Redis cache (daily refresh).

No ccxt import here (``integrations.exchange_ccxt`` is its one home); markets are
ccxt's unified market dicts as JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from domain.ports import MarketRules

SNAPSHOT_DIR = Path(__file__).resolve().parents[1] / "signalhub" / "data" / "markets"
MARKETS_TTL_S = 86_400
# ccxt's precision modes (ccxt.base.decimal_to_precision; a unit test compares them).
DECIMAL_PLACES, TICK_SIZE = 2, 4


@dataclass(frozen=True)
class ExchangeSpec:
    """Where an account trades: ccxt id, ``spot`` or ``linear``, testnet, base-URL override.

    ``api_base_url`` (``http(s)://host[:port]``) replaces the scheme and host of every
    ``exchange.urls['api']`` entry, keeping each path (regional endpoints, proxies, a
    local test server).
    """

    exchange_id: str
    market_type: str = "spot"
    testnet: bool = False
    api_base_url: str | None = None

    @property
    def markets_key(self) -> str:
        """Key under which markets are shared: id, type, testnet and base URL."""
        net = "testnet" if self.testnet else "main"
        return f"{self.exchange_id}:{self.market_type}:{net}:{self.api_base_url or '-'}"


def snapshot_path(exchange_id: str, market_type: str) -> Path:
    """``signalhub/data/markets/<exchange id>-<market type>.json``."""
    return SNAPSHOT_DIR / f"{exchange_id}-{market_type}.json"


def load_snapshot(exchange_id: str, market_type: str) -> list[dict[str, Any]] | None:
    """Saved ccxt markets of ``exchange_id``/``market_type``, or None if none shipped."""
    path = snapshot_path(exchange_id, market_type)
    if not path.exists():
        return None
    return list(json.loads(path.read_text())["markets"])


class MarketsCache:
    """ccxt markets in Redis under ``{prefix}{markets_key}``, refreshed daily (TTL)."""

    def __init__(self, redis: Redis, prefix: str, ttl_s: int = MARKETS_TTL_S) -> None:
        self.redis, self.prefix, self.ttl_s = redis, prefix, ttl_s

    async def get(self, key: str) -> list[dict[str, Any]] | None:
        """Cached markets, or None when absent or expired."""
        raw = await self.redis.get(self.prefix + key)
        return None if raw is None else list(json.loads(raw))

    async def put(self, key: str, markets: list[dict[str, Any]]) -> None:
        """Store ``markets`` for ``ttl_s`` seconds."""
        await self.redis.set(self.prefix + key, json.dumps(markets), ex=self.ttl_s)


def rules_of(market: dict[str, Any], precision_mode: int = TICK_SIZE) -> MarketRules:
    """``MarketRules`` from a ccxt unified market. ``precision_mode`` is the exchange's
    ``precisionMode``: TICK_SIZE precisions are steps, DECIMAL_PLACES ones are digit
    counts (a step of 10**-digits). Snapshots are written in TICK_SIZE mode (ccxt 4's
    mode for binance)."""
    precision = market.get("precision") or {}
    limits = market.get("limits") or {}
    return MarketRules(
        symbol=market["symbol"],
        amount_step=_step(precision.get("amount"), precision_mode),
        price_step=_step(precision.get("price"), precision_mode),
        min_amount=_decimal((limits.get("amount") or {}).get("min")),
        min_notional=_decimal((limits.get("cost") or {}).get("min")),
        contract_size=_decimal(market.get("contractSize")) or Decimal(1),
        linear=bool(market.get("linear")),
    )


def _step(value: Any, precision_mode: int) -> Decimal | None:
    if value is None:
        return None
    if precision_mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(value))
    return Decimal(str(value))


def _decimal(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


class SnapshotMarkets:
    """Rules of one exchange's markets from its shipped snapshots (spot and linear), by
    ccxt symbol: the paper exchange's lookup (``domain.paper_exchange.MarketLookup``).

    Read from disk on the first call (no ccxt import: a paper order never waits for
    it); a symbol or exchange without a snapshot gives None.
    """

    def __init__(self, exchange_id: str) -> None:
        self.exchange_id = exchange_id
        self._rules: dict[str, MarketRules] | None = None

    def __call__(self, symbol: str) -> MarketRules | None:
        """The rules of ``symbol``, or None."""
        if self._rules is None:
            self._rules = self._load()
        return self._rules.get(symbol)

    def _load(self) -> dict[str, MarketRules]:
        rules = {}
        for market_type in ("spot", "linear"):
            for market in load_snapshot(self.exchange_id, market_type) or ():
                rules[market["symbol"]] = rules_of(market)
        return rules


def price_exchange(price_source: str) -> str:
    """The exchange whose markets a ``PRICE_SOURCE`` quotes: ``ccxt:<id>[:…]`` names it;
    the shipped replay candles are Binance's."""
    kind, _, rest = price_source.partition(":")
    return rest.split(":", 1)[0] if kind == "ccxt" and rest else "binance"
