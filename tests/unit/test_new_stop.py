"""``/movesl``'s stop argument, read the same way by both bots (``new_stop_of``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.chat_publishing import new_stop_of
from domain.errors import InvalidInput
from domain.models import Side, Signal

# Entry zone = the low and high of the BTC/USDT 1h candle opening 1726272000000
# (signalhub/data/BTC_USDT-1h.csv: L 60372.77, H 60610.45); unsaved rows, no I/O.
LOW, HIGH = Decimal("60372.77"), Decimal("60610.45")
LONG = Signal(side=Side.BUY, entry_low=LOW, entry_high=HIGH)
SHORT = Signal(side=Side.SELL, entry_low=LOW, entry_high=HIGH)


@pytest.mark.parametrize("word", ["entry", "be", "breakeven", " BE ", "Entry"])
def test_break_even_words_name_the_entry_edge_nearer_the_stop(word: str) -> None:
    assert new_stop_of(LONG, word) == LOW
    assert new_stop_of(SHORT, word) == HIGH


def test_a_price_is_read_with_thousands_commas() -> None:
    assert new_stop_of(LONG, "60,414.39") == Decimal("60414.39")  # that candle's close


@pytest.mark.parametrize("argument", ["lower", "", "break even", "NaN", "inf"])
def test_anything_else_says_what_to_type(argument: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        new_stop_of(LONG, argument)
    assert raised.value.field == "price"
    assert "or entry, be or breakeven" in raised.value.rule
