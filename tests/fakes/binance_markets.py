"""Binance ``exchangeInfo`` symbol entries served by the fake exchange.

Shapes and filter values are Binance's own: BTC and ETH (spot and USDⓈ-M perpetual)
are copied from the ``info`` of ccxt's static market file
(``ccxt/ccxt: ts/src/test/static/markets/binance.json``, a capture of the live
``/api/v3/exchangeInfo`` and ``/fapi/v1/exchangeInfo``); SOL uses Binance's published
filters for SOLUSDT (spot: tick 0.01, step 0.001, notional 5; perpetual: tick 0.0100,
step 1, min notional 5). Nothing here is a price a test trades at.
"""

from __future__ import annotations

from typing import Any

SPOT_ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"]
FUTURES_ORDER_TYPES = ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                       "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"]

# (base, tickSize, minPrice, maxPrice, stepSize, minQty, maxQty, market maxQty)
_SPOT = [
    ("BTC", "0.01000000", "0.01000000", "1000000.00000000", "0.00001000", "0.00001000",
     "9000.00000000", "128.52621715"),
    ("ETH", "0.01000000", "0.01000000", "1000000.00000000", "0.00010000", "0.00010000",
     "9000.00000000", "3277.54882761"),
    ("SOL", "0.01000000", "0.01000000", "10000.00000000", "0.00100000", "0.00100000",
     "90000.00000000", "34400.00000000"),
]
# (base, tickSize, minPrice, maxPrice, stepSize, minQty, maxQty, market maxQty,
#  pricePrecision, quantityPrecision)
_FUTURES = [
    ("BTC", "0.10", "556.80", "4529764", "0.001", "0.001", "1000", "120", "2", "3"),
    ("ETH", "0.01", "39.86", "306177", "0.001", "0.001", "10000", "2000", "2", "3"),
    ("SOL", "0.0100", "0.4200", "6857", "1", "1", "1000000", "5000", "4", "0"),
]
MIN_NOTIONAL = "5"


def spot_symbol(base: str, tick: str, min_price: str, max_price: str, step: str,
                min_qty: str, max_qty: str, market_max: str) -> dict[str, Any]:
    """One ``/api/v3/exchangeInfo`` ``symbols[]`` entry (quote USDT)."""
    return {
        "symbol": f"{base}USDT", "status": "TRADING", "baseAsset": base,
        "baseAssetPrecision": 8, "quoteAsset": "USDT", "quotePrecision": 8,
        "quoteAssetPrecision": 8, "baseCommissionPrecision": 8, "quoteCommissionPrecision": 8,
        "orderTypes": SPOT_ORDER_TYPES, "icebergAllowed": True, "ocoAllowed": True,
        "otoAllowed": True, "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": True,
        "cancelReplaceAllowed": True, "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": min_price, "maxPrice": max_price,
             "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": max_qty,
             "stepSize": step},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {"filterType": "MARKET_LOT_SIZE", "minQty": "0.00000000", "maxQty": market_max,
             "stepSize": "0.00000000"},
            {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10,
             "maxTrailingAboveDelta": 2000, "minTrailingBelowDelta": 10,
             "maxTrailingBelowDelta": 2000},
            {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": "5",
             "bidMultiplierDown": "0.2", "askMultiplierUp": "5", "askMultiplierDown": "0.2",
             "avgPriceMins": 5},
            {"filterType": "NOTIONAL", "minNotional": "5.00000000", "applyMinToMarket": True,
             "maxNotional": "9000000.00000000", "applyMaxToMarket": False, "avgPriceMins": 5},
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ],
        "permissions": [], "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def futures_symbol(base: str, tick: str, min_price: str, max_price: str, step: str,
                   min_qty: str, max_qty: str, market_max: str, price_precision: str,
                   quantity_precision: str) -> dict[str, Any]:
    """One ``/fapi/v1/exchangeInfo`` ``symbols[]`` entry (USDT-margined perpetual)."""
    return {
        "symbol": f"{base}USDT", "pair": f"{base}USDT", "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
        "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
        "baseAsset": base, "quoteAsset": "USDT", "marginAsset": "USDT",
        "pricePrecision": int(price_precision), "quantityPrecision": int(quantity_precision),
        "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
        "underlyingSubType": ["Layer-1"], "settlePlan": 0, "triggerProtect": "0.0500",
        "liquidationFee": "0.012500", "marketTakeBound": "0.05", "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": min_price, "maxPrice": max_price,
             "tickSize": tick},
            {"filterType": "LOT_SIZE", "minQty": min_qty, "maxQty": max_qty, "stepSize": step},
            {"filterType": "MARKET_LOT_SIZE", "minQty": min_qty, "maxQty": market_max,
             "stepSize": step},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": MIN_NOTIONAL},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500", "multiplierDown": "0.9500",
             "multiplierDecimal": "4"},
        ],
        "orderTypes": FUTURES_ORDER_TYPES,
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }


SPOT_SYMBOLS = [spot_symbol(*row) for row in _SPOT]
FUTURES_SYMBOLS = [futures_symbol(*row) for row in _FUTURES]


def spot_exchange_info(server_time: int) -> dict[str, Any]:
    """``GET /api/v3/exchangeInfo`` body."""
    return {
        "timezone": "UTC", "serverTime": server_time,
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000},
        ],
        "exchangeFilters": [], "symbols": SPOT_SYMBOLS,
    }


def futures_exchange_info(server_time: int) -> dict[str, Any]:
    """``GET /fapi/v1/exchangeInfo`` body."""
    return {
        "timezone": "UTC", "serverTime": server_time, "futuresType": "U_MARGINED",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1,
             "limit": 2400},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": FUTURES_SYMBOLS,
    }


def filters_of(symbol: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A symbol's filters keyed by ``filterType``."""
    return {f["filterType"]: f for f in symbol["filters"]}
