"""Risk guards of domain.risk: symbol lists, daily loss, slippage, leverage, exit ladders.

Prices are real Binance BTC/USDT 1h candles of 2025-01-17 (UTC): the 01:00 close
101659.8 is the entry; the 02:00 high 102148.13 and the close 102422.45 later that day
are the market prices after it; the 04:00 close 101481.29 is below the entry.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from domain.errors import InvalidInput
from domain.models import Side
from domain.risk import (
    DayPnl,
    SlippageAction,
    canonical_symbol,
    daily_loss_block,
    daily_loss_reached,
    exit_amounts,
    ladder_percents,
    leverage_used,
    money_text,
    next_midnight,
    quote_currency,
    slippage_check,
    slippage_reason,
    symbol_block,
    validate_exit_ladder,
)

D = Decimal
ENTRY = D("101659.8")
NOW = datetime(2025, 1, 17, 14, 30, tzinfo=UTC)
TODAY = date(2025, 1, 17)


# --- symbols -------------------------------------------------------------------------


def test_symbols_compare_case_insensitively_in_canonical_form() -> None:
    assert canonical_symbol(" btc/usdt:usdt ") == "BTC/USDT:USDT"
    assert symbol_block("btc/usdt", ["BTC/USDT"], []) is None
    assert symbol_block("BTC/USDT", [], [" btc/usdt"]) == "skipped: BTC/USDT is on your deny list"


def test_symbol_outside_a_non_empty_allow_list_is_skipped_and_the_list_shown() -> None:
    assert symbol_block("SOL/USDT", ["eth/usdt", "BTC/USDT"], []) == (
        "skipped: SOL/USDT is not on your allow list (ETH/USDT, BTC/USDT)")


def test_deny_list_wins_over_allow_list_and_empty_lists_allow_everything() -> None:
    assert symbol_block("ETH/USDT", ["ETH/USDT"], ["ETH/USDT"]) == (
        "skipped: ETH/USDT is on your deny list")
    assert symbol_block("ETH/USDT", [], []) is None


def test_quote_currency_of_spot_and_perpetual_symbols() -> None:
    assert quote_currency("BTC/USDT") == "USDT"
    assert quote_currency("ETH/BTC") == "BTC"
    assert quote_currency("BTC/USDC:USDC") == "USDC"


# --- daily loss ----------------------------------------------------------------------


def day(realized: str, unrealized: str = "0", start: str = "10000",
        on: date = TODAY) -> DayPnl:
    return DayPnl(on, D(realized), D(unrealized), D(start))


def test_loss_under_the_limit_lets_signals_through() -> None:
    assert daily_loss_block(day("-499.99"), D(5), NOW) is None


def test_realized_loss_at_the_limit_skips_until_midnight() -> None:
    reason = daily_loss_block(day("-512.30"), D(5), NOW)

    assert reason == ("skipped: daily loss limit 5% reached (−512.30 USDT today), "
                      "new signals resume at 00:00 UTC on 2025-01-18")


def test_exactly_at_the_limit_counts_as_reached() -> None:
    assert daily_loss_block(day("-500"), D(5), NOW) is not None


def test_unrealized_loss_counts_with_realized() -> None:
    reason = daily_loss_block(day("-300", "-250"), D(5), NOW)

    assert reason is not None and "(−550.00 USDT today)" in reason
    assert reason.endswith("new signals resume at 00:00 UTC on 2025-01-18")


def test_unrealized_profit_offsets_a_realized_loss() -> None:
    assert daily_loss_block(day("-600", "150"), D(5), NOW) is None


def test_yesterdays_realized_loss_does_not_count_after_midnight() -> None:
    midnight = datetime(2025, 1, 18, 0, 0, tzinfo=UTC)

    assert daily_loss_block(day("-900"), D(5), midnight) is None
    assert daily_loss_block(day("-900"), D(5), midnight.replace(day=17, hour=23,
                                                                minute=59)) is not None


def test_day_is_taken_in_utc_whatever_the_clock_zone() -> None:
    from datetime import timedelta, timezone
    tokyo = datetime(2025, 1, 18, 8, 0, tzinfo=timezone(timedelta(hours=9)))  # 23:00 UTC

    assert daily_loss_block(day("-900"), D(5), tokyo) is not None
    assert next_midnight(tokyo) == datetime(2025, 1, 18, tzinfo=UTC)


def test_once_reached_the_limit_holds_until_midnight_after_a_recovery() -> None:
    recovered = day("-100", "150")

    assert daily_loss_reached(day("-300", "-250"), D(5), NOW)
    assert not daily_loss_reached(recovered, D(5), NOW)
    assert daily_loss_block(recovered, D(5), NOW, hit_on=TODAY) == (
        "skipped: daily loss limit 5% was reached earlier today, new signals resume at "
        "00:00 UTC on 2025-01-18")
    assert daily_loss_block(recovered, D(5), NOW.replace(hour=23, minute=59, second=59),
                            hit_on=TODAY) is not None
    assert daily_loss_block(recovered, D(5), datetime(2025, 1, 18, tzinfo=UTC),
                            hit_on=TODAY) is None
    assert daily_loss_block(recovered, D(5), NOW, hit_on=date(2025, 1, 16)) is None


def test_the_latch_day_is_the_utc_day() -> None:
    from datetime import timedelta, timezone
    tokyo_morning = datetime(2025, 1, 18, 8, 0, tzinfo=timezone(timedelta(hours=9)))

    # 08:00 in Tokyo on the 18th is 23:00 UTC on the 17th: yesterday's latch (UTC) holds.
    assert daily_loss_block(day("0"), D(5), tokyo_morning, hit_on=TODAY) is not None


def test_profit_never_blocks_and_a_higher_limit_allows_more_loss() -> None:
    assert daily_loss_block(day("800"), D(5), NOW) is None
    assert daily_loss_block(day("-512.30"), D(10), NOW) is None


def test_money_text_uses_a_real_minus_and_thousands() -> None:
    assert money_text(D("-12345.678")) == "−12,345.68"
    assert money_text(D("1000")) == "1,000.00"


# --- slippage ------------------------------------------------------------------------


def test_buy_above_the_entry_by_more_than_the_guard_exceeds() -> None:
    check = slippage_check(Side.BUY, ENTRY, ENTRY, D("102422.45"), D("0.5"))

    assert check.exceeded and check.entry == ENTRY
    assert round(check.moved_pct, 4) == D("0.7502")  # (102422.45 / 101659.8 - 1) × 100


def test_buy_within_the_guard_or_below_the_entry_passes() -> None:
    within = slippage_check(Side.BUY, ENTRY, ENTRY, D("102148.13"), D("0.5"))
    below = slippage_check(Side.BUY, ENTRY, ENTRY, D("101481.29"), D("0.5"))

    assert not within.exceeded and D("0.48") < within.moved_pct < D("0.5")
    assert not below.exceeded and below.moved_pct == 0


def test_sell_below_the_entry_zone_low_exceeds() -> None:
    # SELL zone 102148.13–102422.45; the market fell to 101481.29 (0.65% below the low).
    check = slippage_check(Side.SELL, D("102148.13"), D("102422.45"), D("101481.29"), D("0.5"))

    assert check.exceeded and check.entry == D("102148.13")


def test_a_zero_guard_trips_on_any_adverse_move() -> None:
    assert slippage_check(Side.BUY, ENTRY, ENTRY, D("101659.81"), D(0)).exceeded
    assert not slippage_check(Side.BUY, ENTRY, ENTRY, ENTRY, D(0)).exceeded


def test_slippage_reasons_name_price_entry_move_and_guard() -> None:
    check = slippage_check(Side.BUY, ENTRY, ENTRY, D("102422.45"), D("0.5"))

    assert slippage_reason(check, D("102422.45"), D("0.5"), SlippageAction.SKIP) == (
        "skipped: price 102,422.45 is 0.75% past the entry 101,659.8 (slippage guard 0.5%)")
    assert slippage_reason(check, D("102422.45"), D("0.5"), SlippageAction.LIMIT).startswith(
        "resized: limit order at the entry 101,659.8: price 102,422.45")


# --- leverage ------------------------------------------------------------------------


def test_leverage_above_the_cap_is_capped_with_a_reason() -> None:
    assert leverage_used(20, 5, derivative=True) == (
        5, "resized: leverage capped at 5x (signal asks 20x)")


def test_leverage_at_or_under_the_cap_is_the_signals() -> None:
    assert leverage_used(5, 5, derivative=True) == (5, None)
    assert leverage_used(None, 5, derivative=True) == (1, None)


def test_spot_always_trades_at_1x() -> None:
    assert leverage_used(10, 20, derivative=False) == (
        1, "resized: spot market, signal leverage 10x not applied")
    assert leverage_used(None, 20, derivative=False) == (1, None)


# --- exit ladder ---------------------------------------------------------------------


def test_ladder_validation_accepts_percents_summing_to_100() -> None:
    assert validate_exit_ladder(["50", 30, D(20)]) == (D(50), D(30), D(20))
    assert validate_exit_ladder([]) == ()


@pytest.mark.parametrize(("ladder", "rule"), [
    ([50, 30], "must sum to 100 (percent), got 80"),
    ([50, 60, -10], "every step must be a percent above 0"),
    ([100, 0], "every step must be a percent above 0"),
    ([10] * 11, "has 11 steps; at most 10"),
    (["half"], "must be numbers"),
])
def test_bad_ladders_are_rejected_naming_the_field(ladder: list[object], rule: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_exit_ladder(ladder)

    assert info.value.field == "exitLadder" and rule in info.value.rule


def test_even_split_and_ladders_fitted_to_the_targets() -> None:
    assert ladder_percents((), 4) == [D(25)] * 4
    assert ladder_percents((D(50), D(30), D(20)), 2) == [D(50), D(50)]
    assert ladder_percents((D(50), D(50)), 3) == [D(50), D(50), D(0)]
    assert sum(ladder_percents((), 3)) == 100


def test_exit_amounts_are_on_the_step_and_sum_to_the_position() -> None:
    legs = exit_amounts(D("0.00977"), (D(50), D(30), D(20)), 3, D("0.00001"))

    assert legs == [D("0.00488"), D("0.00293"), D("0.00196")]
    assert sum(legs) == D("0.00977")
