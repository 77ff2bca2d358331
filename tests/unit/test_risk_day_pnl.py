"""The day-PnL rule of the daily loss limit (domain.daily_loss.day_pnl_of) and the reason
lines of a copy order (domain.copy_reports). Pure, no I/O.

Prices are real Binance BTC/USDT 1h closes of 2025-01-17 (UTC): 101659.8 (01:00) is
the entry, 101481.29 (04:00) the mark.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from domain.copy_reports import decision_lines, outcome_lines, skip_reason, with_outcome
from domain.daily_loss import HeldPosition, day_pnl_of
from domain.models import Side

D = Decimal
NOW = datetime(2025, 1, 17, 14, 30, tzinfo=UTC)
TODAY_1AM = datetime(2025, 1, 17, 1, 0, tzinfo=UTC)
YESTERDAY = datetime(2025, 1, 16, 20, 0, tzinfo=UTC)
ENTRY, MARK = D("101659.8"), D("101481.29")


def held(realized: str, *, open_: bool = True, opened: datetime = TODAY_1AM,
         closed: datetime | None = None, amount: str = "0.01") -> HeldPosition:
    return HeldPosition("BTC/USDT", Side.BUY, ENTRY, D(amount), D(realized), open_, opened,
                        closed)


def mark(symbol: str) -> Decimal | None:
    return MARK if symbol == "BTC/USDT" else None


def test_realized_counts_closed_today_and_open_positions_opened_today() -> None:
    positions = [
        held("-1.02"),  # opened today: its entry fee
        held("-3.10", opened=YESTERDAY),  # opened yesterday: counted when it closes
        held("-25.40", open_=False, opened=YESTERDAY, closed=TODAY_1AM, amount="0"),
        held("-90", open_=False, opened=YESTERDAY, closed=YESTERDAY, amount="0"),
    ]

    day = day_pnl_of(positions, NOW, D("9880"), mark)

    assert day.day == NOW.date() and day.realized == D("-26.42")
    # Two open positions of 0.01 BTC marked at 101481.29: (101481.29 − 101659.8) × 0.02
    assert day.unrealized == (MARK - ENTRY) * D("0.02") == D("-3.5702")
    assert day.start_equity == D("9880") + D("26.42")


def test_a_symbol_without_a_price_counts_zero_unrealized() -> None:
    day = day_pnl_of([held("0")], NOW, D("10000"), lambda symbol: None)

    assert (day.realized, day.unrealized, day.start_equity) == (0, 0, D("10000"))


def test_after_midnight_yesterdays_positions_are_not_realized_today() -> None:
    day = day_pnl_of([held("-1.02"), held("-25.40", open_=False, closed=TODAY_1AM)],
                     datetime(2025, 1, 18, 0, 0, tzinfo=UTC), D("9973.58"), mark)

    assert day.realized == 0 and day.unrealized == (MARK - ENTRY) * D("0.01")


def test_outcome_replaces_the_execution_line_and_keeps_the_decision() -> None:
    decided = ("resized: max position 10% of equity caps notional at 1,000.00 USDT (asked "
               "2,000.00 USDT); placed: market BUY 0.00983 BTC/USDT at ~101,710.63")
    placed = with_outcome(decided, "placed on binance (limit)")
    filled = with_outcome(placed, "filled on binance")

    assert filled == f"{decided}; filled on binance"
    assert decision_lines(filled) == decided.split("; ")
    assert outcome_lines(filled) == ["filled on binance"]


def test_an_exchange_message_cannot_split_into_fake_lines() -> None:
    failed = with_outcome("placed: market BUY 0.00983 BTC/USDT at ~101,710.63",
                          "insufficient balance; code -2010")

    assert outcome_lines(failed) == ["insufficient balance, code -2010"]


def test_every_skip_reason_starts_with_skipped() -> None:
    assert skip_reason("copy trading was switched off") == (
        "skipped: copy trading was switched off")
    assert skip_reason("skipped: max open positions reached (5 of 5)") == (
        "skipped: max open positions reached (5 of 5)")
