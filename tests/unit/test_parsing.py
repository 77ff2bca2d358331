"""Free-text signal parser: accuracy by field over the corpus, updates, non-signals."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from domain.errors import InvalidSignal
from domain.models import Side
from domain.parsing import ParsedSignal, ParsedUpdate, UpdateKind, parse_message, to_draft
from signalhub.parse_cmd import parse_to_json
from tests.unit.parsing_corpus import CASES, NOT_SIGNALS, UPDATES, Case

FIELDS = ("symbol", "side", "entry", "targets", "stop", "leverage")
THRESHOLD = 0.95  # every field reaches 1.00 on the corpus today


def expected(case: Case) -> dict[str, object]:
    return {
        "symbol": case.symbol,
        "side": case.side,
        "entry": tuple(Decimal(p) for p in case.entry),
        "targets": tuple(Decimal(p) for p in case.targets),
        "stop": None if case.stop is None else Decimal(case.stop),
        "leverage": case.leverage,
    }


def got(parsed: ParsedSignal | ParsedUpdate | None) -> dict[str, object]:
    if not isinstance(parsed, ParsedSignal):
        return {}
    return {
        "symbol": parsed.symbol,
        "side": parsed.side.value if parsed.side else None,
        "entry": parsed.entry,
        "targets": parsed.targets,
        "stop": parsed.stop_loss,
        "leverage": parsed.leverage,
    }


def test_corpus_has_at_least_40_signals() -> None:
    assert len(CASES) >= 40


def test_accuracy_by_field_meets_threshold() -> None:
    hits = dict.fromkeys(FIELDS, 0)
    for case in CASES:
        want, have = expected(case), got(parse_message(case.text))
        for name in FIELDS:
            hits[name] += name in have and have[name] == want[name]
    accuracy = {name: hits[name] / len(CASES) for name in FIELDS}
    report = ", ".join(f"{name} {value:.2f}" for name, value in accuracy.items())
    print(f"\nparser accuracy over {len(CASES)} messages: {report}")  # noqa: T201
    assert all(value >= THRESHOLD for value in accuracy.values()), report


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.text.splitlines()[0][:30])
def test_corpus_case_parses_exactly(case: Case) -> None:
    assert got(parse_message(case.text)) == expected(case)


COMPLETE = [c for c in CASES if c.stop is not None and c.entry]


@pytest.mark.parametrize("case", COMPLETE, ids=lambda c: c.text.splitlines()[0][:30])
def test_complete_parses_become_valid_drafts(case: Case) -> None:
    parsed = parse_message(case.text)
    assert isinstance(parsed, ParsedSignal)
    draft = to_draft(parsed)
    assert draft.symbol == case.symbol
    assert draft.side is Side(case.side)


def test_missing_stop_is_never_guessed() -> None:
    parsed = parse_message("#ETHUSDT LONG\nEntry: 3313.68\nTarget: 3376")
    assert isinstance(parsed, ParsedSignal)
    assert parsed.stop_loss is None
    assert parsed.unread == ("stop_loss",)
    assert parsed.confidence < 1
    with pytest.raises(InvalidSignal) as raised:
        to_draft(parsed)
    assert raised.value.field == "stopLoss"


def test_market_entry_without_a_price_is_not_invented() -> None:
    parsed = parse_message("#BTC/USDT LONG\nEntry: CMP\nTP: 100434.96\nSL: 99377")
    assert isinstance(parsed, ParsedSignal)
    assert parsed.entry == () and parsed.market_entry and parsed.unread == ()
    with pytest.raises(InvalidSignal) as raised:
        to_draft(parsed)
    assert raised.value.field == "entryLow"
    assert "market" in raised.value.rule


def test_invalid_geometry_is_refused_by_to_draft() -> None:
    # BTC_USDT 2025-01-17 00:00 C 100120.58, H 100434.96; 2025-01-16 22:00 L 99377
    parsed = parse_message("BTC/USDT SHORT\nEntry 100120.58\nTP 100434.96\nSL 99377")
    assert isinstance(parsed, ParsedSignal)
    assert parsed.side is Side.SELL
    assert parsed.confidence < 1  # the prices say BUY
    with pytest.raises(InvalidSignal):
        to_draft(parsed)


def test_side_inferred_from_prices_lowers_confidence() -> None:
    parsed = parse_message("ETH/USDT entry 1592.71 target 1556.53 stop 1689")
    assert isinstance(parsed, ParsedSignal)
    assert parsed.side is Side.SELL
    assert 0 < parsed.confidence < 1


def test_satoshi_prices_are_scaled_on_btc_pairs_only() -> None:
    sats = parse_message("#ADA/BTC\nBuy 5267-5292\nSell 5293 - 5399\nStop 5200")
    usdt = parse_message("#SOL/USDT\nEntry: 126\nTargets: 126.61 - 129.8\nStop Loss: 123.63")
    assert isinstance(sats, ParsedSignal) and isinstance(usdt, ParsedSignal)
    assert sats.entry == (Decimal("0.00005267"), Decimal("0.00005292"))
    assert usdt.entry == (Decimal("126"),)


@pytest.mark.parametrize(("text", "kind", "target"), UPDATES)
def test_lifecycle_posts_are_updates(text: str, kind: str, target: int | None) -> None:
    parsed = parse_message(text)
    assert isinstance(parsed, ParsedUpdate)
    assert parsed.kind is UpdateKind(kind)
    assert parsed.target == target


@pytest.mark.parametrize("text", NOT_SIGNALS)
def test_posts_that_are_not_signals_give_none(text: str) -> None:
    assert parse_message(text) is None


@pytest.mark.parametrize("text", ["\x00", "🚀" * 500, "TP TP TP SL SL", "1) 2) 3)", "$ / # %"])
def test_odd_input_never_raises(text: str) -> None:
    parse_message(text)


def test_parsing_is_deterministic() -> None:
    assert [parse_message(c.text) for c in CASES] == [parse_message(c.text) for c in CASES]


def test_parse_to_json_signal_shape() -> None:
    text = "#ADA/BTC\nBuy 5267-5292\nSell 5293 - 5399\nStop 5200"
    assert json.loads(parse_to_json(text)) == {
        "symbol": "ADA/BTC",
        "side": "BUY",
        "entry": ["0.00005267", "0.00005292"],
        "targets": ["0.00005293", "0.00005399"],
        "stop_loss": "0.00005200",
        "leverage": None,
        "confidence": 1.0,
        "unread": [],
    }


def test_parse_to_json_missing_stop_and_non_signal() -> None:
    body = json.loads(parse_to_json("#ETHUSDT LONG\nEntry: 3313.68\nTarget: 3376"))
    assert body["stop_loss"] is None and body["unread"] == ["stop_loss"]
    assert parse_to_json("Good morning traders") == "null"


def test_parse_to_json_update() -> None:
    body = json.loads(parse_to_json("#BTC/USDT Take-Profit target 2 ✅"))
    assert body == {"update": "TARGET_HIT", "target": 2, "symbol": "BTC/USDT"}
