"""Parser gaps closed this round: market entries, stops in percent, perpetual symbols,
per-target shares and "SL moved" updates. Prices are real candle values (see
``parsing_corpus`` for their sources)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from domain.errors import InvalidSignal
from domain.models import Side
from domain.parsing import ParsedSignal, ParsedUpdate, UpdateKind, parse_message, to_draft
from domain.parsing_text import as_perpetual
from signalhub.parse_cmd import parse_to_json
from tests.unit.parsing_corpus import STOP_MOVES

# ETH_USDT 2024-10-25 16:00 C 2531.63, L 2511.65; 22:00 L 2463.2
ETH_SHORT_PERCENT = "#ETH/USDT SHORT\nEntry: 2531.63\nTargets: 2511.65, 2463.2\nStop: 5%"
# BTC_USDT 2025-01-17 00:00 H 100434.96; 2025-01-16 22:00 L 99377
BTC_MARKET = "#BTC/USDT LONG\nEntry: CMP\nTP: 100434.96\nSL: 99377"


@pytest.mark.parametrize(("text", "price"), STOP_MOVES)
def test_stop_moves_are_updates_with_the_new_stop(text: str, price: str | None) -> None:
    parsed = parse_message(text)
    assert isinstance(parsed, ParsedUpdate)
    assert parsed.kind is UpdateKind.STOP_MOVED
    assert parsed.price == (None if price is None else Decimal(price))


def test_a_full_signal_mentioning_a_later_stop_move_stays_a_signal() -> None:
    # BTC_USDT 2025-12-16 08:00 O 86021.51, H 86380; 2025-12-15 18:00 L 85146.64
    parsed = parse_message("#BTC/USDT LONG\nEntry 86021.51\nTP 86380\nSL 85146.64\n"
                           "Move SL to entry after TP1")
    assert isinstance(parsed, ParsedSignal) and parsed.stop_loss == Decimal("85146.64")


def test_stop_in_percent_is_read_and_computed_from_the_entry() -> None:
    parsed = parse_message(ETH_SHORT_PERCENT)
    assert isinstance(parsed, ParsedSignal)
    assert parsed.stop_loss is None and parsed.stop_percent == Decimal("5")
    assert parsed.unread == ()
    draft = to_draft(parsed)
    assert draft.side is Side.SELL
    assert draft.stop_loss == Decimal("2658.21")  # 2531.63 × 1.05, at the entry's 2 decimals


def test_stop_percent_out_of_range_is_refused() -> None:
    parsed = parse_message(ETH_SHORT_PERCENT.replace("5%", "0%"))
    assert isinstance(parsed, ParsedSignal)
    with pytest.raises(InvalidSignal) as raised:
        to_draft(parsed)
    assert raised.value.field == "stopLoss"


def test_market_entry_takes_the_given_market_price() -> None:
    parsed = parse_message(BTC_MARKET)
    assert isinstance(parsed, ParsedSignal) and parsed.market_entry
    # BTC_USDT 2025-01-17 00:00 C 100120.58
    draft = to_draft(parsed, market_price=Decimal("100120.58"))
    assert (draft.entry_low, draft.entry_high) == (Decimal("100120.58"), Decimal("100120.58"))


@pytest.mark.parametrize("text", [
    "BTC/USDT LONG\nBuy at market\nTP 100434.96\nSL 99377",
    "$BTC long market price\nTP 100434.96\nSL 99377",
])
def test_other_ways_to_say_market(text: str) -> None:
    parsed = parse_message(text)
    assert isinstance(parsed, ParsedSignal) and parsed.market_entry and parsed.entry == ()


def test_a_price_given_as_cmp_is_the_entry() -> None:
    # BTC_USDT 2025-01-17 00:00 C 100120.58, H 100434.96; 2025-01-16 22:00 L 99377
    parsed = parse_message("BTC LONG\nCMP: 100120.58\nTP 100434.96\nSL 99377")
    assert isinstance(parsed, ParsedSignal)
    assert parsed.entry == (Decimal("100120.58"),) and not parsed.market_entry


@pytest.mark.parametrize(("symbol", "text", "expected"), [
    ("BTC/USDT", "BTCUSDT.P long", "BTC/USDT:USDT"),
    ("BTC/USDT", "BTCUSDTPERP", "BTC/USDT:USDT"),
    ("ETH/USDC", "perpetual futures", "ETH/USDC:USDC"),
    ("BTC/USD", "inverse futures", "BTC/USD:BTC"),
    ("ADA/BTC", "futures", "ADA/BTC"),
    ("BTC/USDT", "spot", "BTC/USDT"),
    ("BTC/USDT:USDT", "perp", "BTC/USDT:USDT"),
])
def test_perpetual_symbols_in_ccxt_form(symbol: str, text: str, expected: str) -> None:
    assert as_perpetual(symbol, text) == expected


def test_per_target_shares_are_kept_where_written() -> None:
    # BTC_USDT 2025-09-24 00:00 L 111816.86, C 112230.72; 06:00 H 112779.37;
    # 12:00 H 113097.99; 2025-09-23 20:00 L 111458.73
    parsed = parse_message("BTC/USDT LONG\nEntry 112230.72\nTP1 112779.37 (70%)\n"
                           "TP2 113097.99\nSL 111458.73")
    assert isinstance(parsed, ParsedSignal)
    assert parsed.targets == (Decimal("112779.37"), Decimal("113097.99"))
    assert parsed.target_percents == (Decimal("70"), None)


def test_parse_json_shows_the_new_fields_only_when_present() -> None:
    market = json.loads(parse_to_json(BTC_MARKET))
    percent = json.loads(parse_to_json(ETH_SHORT_PERCENT))
    moved = json.loads(parse_to_json("SL moved to 99950.77"))

    assert market["market_entry"] is True and market["entry"] == []
    assert percent["stop_percent"] == "5" and "market_entry" not in percent
    assert moved == {"update": "STOP_MOVED", "target": None, "symbol": None,
                     "price": "99950.77"}
