"""Signal validation (one test per rule, naming the field and the rule) and the hash chain."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import InvalidSignal
from domain.models import Side
from domain.signals import (
    GENESIS_HASH,
    SignalDraft,
    canonical_content,
    chain_hash,
    make_draft,
    verify_chain,
)

CREATED_AT = datetime(2025, 1, 17, 13, 0, tzinfo=UTC)


def buy(**overrides: Any) -> dict[str, Any]:
    """Arguments of a valid BUY draft (zone 102279.41–102422.45), changed by ``overrides``."""
    base: dict[str, Any] = {
        "symbol": "BTC/USDT", "side": "BUY", "entry_low": "102279.41",
        "entry_high": "102422.45", "stop_loss": "101794.14",
        "targets": ["103395.47", "104254.19", "105000"],
    }
    return base | overrides


def sell(**overrides: Any) -> dict[str, Any]:
    """Arguments of a valid SELL draft (zone 107956.31–108125), changed by ``overrides``."""
    base: dict[str, Any] = {
        "symbol": "BTC/USDT", "side": "SELL", "entry_low": "107956.31",
        "entry_high": "108125", "stop_loss": "108550",
        "targets": ["107277.28", "104957.99", "103708"],
    }
    return base | overrides


def rejected(**kwargs: Any) -> InvalidSignal:
    """The ``InvalidSignal`` that ``make_draft(**kwargs)`` raises."""
    with pytest.raises(InvalidSignal) as info:
        make_draft(**kwargs)
    return info.value


# --- validation: one rule per test -------------------------------------------------


def test_valid_buy_and_sell_drafts_pass() -> None:
    long, short = make_draft(**buy()), make_draft(**sell())

    assert long.side is Side.BUY and short.side is Side.SELL
    assert long.targets == (Decimal("103395.47"), Decimal("104254.19"), Decimal("105000"))
    assert short.stop_loss == Decimal("108550")


@pytest.mark.parametrize("stop", ["102279.41", "102300"])
def test_buy_stop_at_or_above_the_entry_is_rejected(stop: str) -> None:
    error = rejected(**buy(stop_loss=stop))

    assert error.field == "stopLoss"
    assert "for BUY the stop-loss must be below the entry" in error.rule


@pytest.mark.parametrize("stop", ["108125", "108000"])
def test_sell_stop_at_or_below_the_entry_is_rejected(stop: str) -> None:
    error = rejected(**sell(stop_loss=stop))

    assert error.field == "stopLoss"
    assert "for SELL the stop-loss must be above the entry" in error.rule


@pytest.mark.parametrize("target", ["102422.45", "102300"])
def test_buy_target_at_or_below_the_top_of_the_zone_is_rejected(target: str) -> None:
    error = rejected(**buy(targets=[target, "105000"]))

    assert error.field == "targets[0]"
    assert "for BUY every target must be above the entry" in error.rule


@pytest.mark.parametrize("target", ["107956.31", "108000"])
def test_sell_target_at_or_above_the_bottom_of_the_zone_is_rejected(target: str) -> None:
    error = rejected(**sell(targets=[target, "103708"]))

    assert error.field == "targets[0]"
    assert "for SELL every target must be below the entry" in error.rule


@pytest.mark.parametrize("targets", [
    ["103395.47", "103395.47"],  # equal
    ["104254.19", "103395.47"],  # descending
])
def test_buy_targets_not_strictly_ascending_are_rejected(targets: list[str]) -> None:
    error = rejected(**buy(targets=targets))

    assert error.field == "targets[1]"
    assert "strictly ascending" in error.rule


@pytest.mark.parametrize("targets", [
    ["104957.99", "104957.99"],  # equal
    ["103708", "104957.99"],  # ascending
])
def test_sell_targets_not_strictly_descending_are_rejected(targets: list[str]) -> None:
    error = rejected(**sell(targets=targets))

    assert error.field == "targets[1]"
    assert "strictly descending" in error.rule


PRICE_FIELDS = [("entry_low", "entryLow"), ("entry_high", "entryHigh"),
                ("stop_loss", "stopLoss")]
BAD_PRICES = [
    ("0", "must be greater than 0"),
    ("0.000", "must be greater than 0"),
    ("-101794.14", "must be greater than 0"),
    ("NaN", "must be a finite number"),
    (float("nan"), "must be a finite number"),
    ("Infinity", "must be a finite number"),
    ("-Infinity", "must be a finite number"),
    (float("inf"), "must be a finite number"),
    ("abc", "must be a number"),
    ("", "must be a number"),
    ("1,000", "must be a number"),
]


@pytest.mark.parametrize(("argument", "field", "value", "rule"), [
    (argument, field, value, rule) for argument, field in PRICE_FIELDS
    for value, rule in BAD_PRICES
    if not (argument == "entry_high" and value == "")  # "" = single entry, tested below
])
def test_bad_price_is_rejected_naming_its_field(argument: str, field: str, value: object,
                                                rule: str) -> None:
    error = rejected(**buy(**{argument: value}))

    assert error.field == field
    assert error.rule.startswith(rule)


@pytest.mark.parametrize(("value", "rule"), BAD_PRICES)
def test_bad_target_price_is_rejected_naming_its_index(value: object, rule: str) -> None:
    error = rejected(**buy(targets=["103395.47", value]))

    assert error.field == "targets[1]"
    assert error.rule.startswith(rule)


@pytest.mark.parametrize("count", [0, 11])
def test_zero_or_more_than_ten_targets_are_rejected(count: int) -> None:
    targets = [str(103000 + 100 * i) for i in range(count)]
    error = rejected(**buy(targets=targets))

    assert error.field == "targets"
    assert "1 to 10" in error.rule


@pytest.mark.parametrize("count", [1, 10])
def test_one_and_ten_targets_are_accepted(count: int) -> None:
    targets = [str(103000 + 100 * i) for i in range(count)]

    assert len(make_draft(**buy(targets=targets)).targets) == count


@pytest.mark.parametrize("leverage", [0, 126, -1])
def test_leverage_outside_1_to_125_is_rejected(leverage: int) -> None:
    error = rejected(**buy(leverage=leverage))

    assert error.field == "leverage"
    assert "between 1 and 125" in error.rule


@pytest.mark.parametrize("leverage", [1, 125, None])
def test_leverage_1_and_125_and_none_are_accepted(leverage: int | None) -> None:
    assert make_draft(**buy(leverage=leverage)).leverage == leverage


@pytest.mark.parametrize("symbol", ["BTCUSDT", "BTC-USDT", "BTC/", "/USDT", "BTC/USDT:",
                                    "BTC / USDT", "BTC/USDT/ETH"])
def test_symbol_not_in_ccxt_unified_form_is_rejected(symbol: str) -> None:
    error = rejected(**buy(symbol=symbol))

    assert error.field == "symbol"
    assert "ccxt unified symbol" in error.rule


@pytest.mark.parametrize(("symbol", "stored"), [
    ("BTC/USDT", "BTC/USDT"),
    ("btc/usdt", "BTC/USDT"),
    (" eth/usdt ", "ETH/USDT"),
    ("BTC/USDT:USDT", "BTC/USDT:USDT"),
])
def test_unified_symbols_are_accepted_upper_cased(symbol: str, stored: str) -> None:
    assert make_draft(**buy(symbol=symbol)).symbol == stored


def test_entry_high_below_entry_low_is_rejected() -> None:
    error = rejected(**buy(entry_low="102422.45", entry_high="102279.41"))

    assert error.field == "entryHigh"
    assert "greater than or equal to entryLow" in error.rule


@pytest.mark.parametrize("side", ["HOLD", "", "LONG", None])
def test_side_other_than_buy_or_sell_is_rejected(side: object) -> None:
    error = rejected(**buy(side=side))

    assert error.field == "side"
    assert "must be BUY or SELL" in error.rule


@pytest.mark.parametrize(("side", "expected"), [("buy", Side.BUY), (" Sell ", Side.SELL)])
def test_side_is_case_insensitive(side: str, expected: Side) -> None:
    arguments = buy(side=side) if expected is Side.BUY else sell(side=side)

    assert make_draft(**arguments).side is expected


def test_error_message_names_field_and_rule() -> None:
    error = rejected(**buy(stop_loss="102300"))

    assert error.message == "stopLoss: for BUY the stop-loss must be below the entry"


@pytest.mark.parametrize("entry_high", [None, ""])
def test_single_entry_price_sets_both_ends_of_the_zone(entry_high: object) -> None:
    draft = make_draft(**buy(entry_low="102422.45", entry_high=entry_high))

    assert draft.entry_low == draft.entry_high == Decimal("102422.45")


def test_entry_zone_keeps_both_ends_and_targets_are_checked_against_its_top() -> None:
    draft = make_draft(**buy())

    assert (draft.entry_low, draft.entry_high) == (Decimal("102279.41"), Decimal("102422.45"))
    # 102300 lies above the zone's bottom but not above its top: rejected for a zone,
    # accepted for a single entry at 102279.41.
    assert rejected(**buy(targets=["102300"])).field == "targets[0]"
    assert make_draft(**buy(entry_high=None, targets=["102300"])).targets == (
        Decimal("102300"),)


def test_single_sell_entry_checks_stop_against_that_price() -> None:
    draft = make_draft(**sell(entry_low="108125", entry_high=None, stop_loss="108130.08"))

    assert draft.entry_low == draft.entry_high == Decimal("108125")
    assert rejected(**sell(entry_high=None, entry_low="108125",
                           stop_loss="108125")).field == "stopLoss"


# --- hash chain --------------------------------------------------------------------


def content_of(draft: SignalDraft, seq: int = 1, slug: str = "alpha") -> str:
    return canonical_content(draft, provider_slug=slug, seq=seq, created_at=CREATED_AT)


def test_canonical_content_is_deterministic_sorted_json() -> None:
    first, second = content_of(make_draft(**buy())), content_of(make_draft(**buy()))

    assert first == second
    decoded = json.loads(first)
    assert list(decoded) == sorted(decoded)
    assert decoded["targets"] == ["103395.47", "104254.19", "105000"]
    assert decoded["created_at"] == "2025-01-17T13:00:00+00:00"
    assert decoded["seq"] == 1 and decoded["provider"] == "alpha"
    assert ", " not in first and '": ' not in first


def test_canonical_content_normalises_decimals() -> None:
    written = make_draft(**buy(entry_low="64000.50", entry_high="64000.50",
                               stop_loss="63000.0", targets=["65000.00", "6.6E+4"]))
    plain = make_draft(**buy(entry_low="64000.5", entry_high=None,
                             stop_loss="63000", targets=["65000", "66000"]))

    assert content_of(written) == content_of(plain)
    assert chain_hash(GENESIS_HASH, content_of(written)) == chain_hash(
        GENESIS_HASH, content_of(plain))
    assert json.loads(content_of(written))["entry_low"] == "64000.5"


def test_canonical_content_covers_seq_provider_and_every_price() -> None:
    base = content_of(make_draft(**buy()))

    assert content_of(make_draft(**buy()), seq=2) != base
    assert content_of(make_draft(**buy()), slug="beta") != base
    assert content_of(make_draft(**buy(stop_loss="101794.15"))) != base
    assert content_of(make_draft(**buy(targets=["103395.47", "104254.19"]))) != base


def test_chain_hash_is_sha256_of_previous_hash_and_content() -> None:
    content = content_of(make_draft(**buy()))

    expected = hashlib.sha256((GENESIS_HASH + content).encode()).hexdigest()
    assert chain_hash(GENESIS_HASH, content) == expected
    assert len(expected) == 64


def chain(n: int) -> list[tuple[str, str, str]]:
    """``n`` correctly linked ``(prev_hash, content, content_hash)`` links, seq 1..n."""
    links: list[tuple[str, str, str]] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        content = content_of(make_draft(**buy(note=f"signal {seq}")), seq=seq)
        links.append((prev, content, chain_hash(prev, content)))
        prev = links[-1][2]
    return links


def test_chain_hash_links_each_signal_to_its_predecessor() -> None:
    links = chain(3)

    assert links[0][0] == GENESIS_HASH
    assert links[1][0] == links[0][2] and links[2][0] == links[1][2]
    assert verify_chain(links) is None
    assert verify_chain([]) is None


def test_verify_chain_finds_an_edited_middle_link() -> None:
    links = chain(4)
    prev, content, digest = links[2]
    links[2] = (prev, content.replace("101794.14", "101000"), digest)

    assert verify_chain(links) == 2


def test_verify_chain_finds_a_rehashed_middle_link_at_its_successor() -> None:
    links = chain(4)
    prev, content, _ = links[1]
    edited = content.replace("101794.14", "101000")
    links[1] = (prev, edited, chain_hash(prev, edited))  # forger recomputes this hash

    assert verify_chain(links) == 2  # ...but the next link still points at the old one


def test_verify_chain_finds_a_reordered_chain() -> None:
    links = chain(4)
    links[1], links[2] = links[2], links[1]

    assert verify_chain(links) == 1


def test_verify_chain_requires_the_genesis_hash_first() -> None:
    assert verify_chain(chain(3)[1:]) == 0
