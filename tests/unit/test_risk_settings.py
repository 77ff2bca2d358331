"""Pure parts of the settings surfaces: value parsers of domain.copy_settings, the /pnl
statistics of domain.portfolio, and the /risk buttons and texts of the Telegram bot."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bots.telegram.commands import (
    PNL_USAGE,
    RISK_USAGE,
    RiskRequest,
    UsageError,
    parse_days,
    parse_risk,
)
from bots.telegram.risk_texts import RiskCallback, pnl_text, risk_keyboard, risk_text, stepped
from domain.copy_settings import (
    parse_action,
    parse_bool,
    parse_decimal,
    parse_int,
    parse_ladder,
    parse_limits,
    parse_symbols,
)
from domain.errors import InvalidInput
from domain.portfolio import pnl_summary
from domain.risk import SlippageAction
from domain.sizing import CopyLimits

D = Decimal


# --- value parsers ---------------------------------------------------------------------


def test_numbers_parse_from_text_with_units() -> None:
    assert parse_decimal("maxDailyLossPct", " 5% ") == D(5)
    assert parse_decimal("scaleFactor", D("0.5")) == D("0.5")
    assert parse_int("leverageCap", "10x") == 10 and parse_int("maxOpenPositions", 3) == 3


@pytest.mark.parametrize(("parser", "value", "rule"), [
    (parse_decimal, "lots", "must be a number, got 'lots'"),
    (parse_decimal, "NaN", "must be a finite number"),
    (parse_int, "2.5", "must be a whole number, got '2.5'"),
    (parse_int, True, "must be a whole number, got True"),
    (parse_bool, "maybe", "must be on or off, got 'maybe'"),
    (parse_action, "market", "must be skip or limit, got 'market'"),
    (parse_symbols, 5, "must be a list of symbols, got 5"),
    (parse_ladder, 5, "must be a list of percents, got 5"),
])
def test_bad_values_name_the_field(parser: object, value: object, rule: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parser("someField", value)  # type: ignore[operator]

    assert info.value.field == "someField" and info.value.rule == rule


def test_lists_parse_from_text_and_clear_with_a_dash() -> None:
    assert parse_symbols("f", "btc/usdt, ETH/USDT,btc/usdt") == ("BTC/USDT", "ETH/USDT")
    assert parse_symbols("f", "-") == () and parse_symbols("f", []) == ()
    assert parse_ladder("f", "50/30/20") == (D(50), D(30), D(20))
    assert parse_ladder("f", "even") == ()
    assert parse_bool("f", "ON") is True and parse_action("f", "LIMIT") is SlippageAction.LIMIT


def test_parse_limits_applies_changes_and_keeps_the_rest() -> None:
    limits = parse_limits(CopyLimits(), {"max_daily_loss_pct": "3", "scale_factor": None,
                                         "denied_symbols": "doge/usdt"})

    assert limits == CopyLimits(max_daily_loss_pct=D(3), denied_symbols=("DOGE/USDT",))


def test_parse_limits_rejects_unknown_names_and_out_of_range_values() -> None:
    with pytest.raises(InvalidInput, match="stop_loss: is not a copy-trading limit"):
        parse_limits(CopyLimits(), {"stop_loss": "1"})
    with pytest.raises(InvalidInput, match="leverageCap: must be between 1 and 125"):
        parse_limits(CopyLimits(), {"leverage_cap": "0"})
    with pytest.raises(InvalidInput, match="maxPositionPct: at most 3 decimal places"):
        parse_limits(CopyLimits(), {"max_position_pct": "12.3456"})
    assert parse_limits(CopyLimits(), {"max_position_pct": "12.340"}).max_position_pct == D(
        "12.34")


# --- /pnl statistics ---------------------------------------------------------------------


def test_pnl_summary_win_rate_and_profit_factor() -> None:
    summary = pnl_summary([D("120"), D("-40"), D("30"), D("-20"), D("0")], 30)

    assert (summary.trades, summary.wins, summary.losses) == (5, 2, 2)
    assert summary.realized == D(90) and summary.gross_profit == D(150)
    assert summary.gross_loss == D(60)
    assert summary.win_rate == D("0.4") and summary.profit_factor == D("2.5")


def test_pnl_summary_without_trades_or_losses_has_no_ratio() -> None:
    empty, winners = pnl_summary([], 7), pnl_summary([D(5)], 7)

    assert empty.win_rate is None and empty.profit_factor is None and empty.realized == 0
    assert winners.win_rate == 1 and winners.profit_factor is None


def test_pnl_text_shows_the_figures() -> None:
    text = pnl_text(pnl_summary([D("120"), D("-40")], 30))

    assert "Realized: <code>+80.00 USDT</code> over <code>2</code> trades" in text
    assert "Win rate: <code>50.0%</code> (1 won, 1 lost)" in text
    assert "Profit factor: <code>3.00</code>" in text
    assert "No position closed" in pnl_text(pnl_summary([], 30))


# --- /risk and /pnl arguments ------------------------------------------------------------


def test_parse_risk_and_days() -> None:
    assert parse_risk("BTC-Swing max_loss=3 deny=DOGE/USDT") == RiskRequest(
        "btc-swing", (("max_daily_loss_pct", "3"), ("denied_symbols", "DOGE/USDT")))
    assert parse_days(None) == 30 and parse_days("7") == 7


@pytest.mark.parametrize("args", [None, "", "a b", "max_loss=3"])
def test_parse_risk_needs_one_slug(args: str | None) -> None:
    with pytest.raises(UsageError) as info:
        parse_risk(args)

    assert info.value.text == RISK_USAGE


@pytest.mark.parametrize("args", ["0", "3651", "-1", "ten", "1 2"])
def test_parse_days_refuses_anything_but_1_to_3650(args: str) -> None:
    with pytest.raises(UsageError) as info:
        parse_days(args)

    assert info.value.text == PNL_USAGE


# --- /risk buttons -----------------------------------------------------------------------


def test_steps_and_switches() -> None:
    limits = CopyLimits()

    assert stepped(limits, False, "sf", "+") == {"scale_factor": D("1.1")}
    assert stepped(limits, False, "mo", "-") == {"max_open_positions": 4}
    assert stepped(limits, False, "sa", "t") == {"slippage_action": "limit"}
    assert stepped(limits, False, "be", "t") == {"move_stop_to_breakeven": True}
    assert stepped(limits, True, "on", "t") == {"enabled": False}
    with pytest.raises(ValueError, match="unknown /risk button"):
        stepped(limits, True, "xx", "+")


def test_every_button_fits_telegrams_64_bytes_with_the_longest_slug() -> None:
    slug = "a" * 48
    markup = risk_keyboard(slug, CopyLimits(), True)

    data = [b.callback_data for row in markup.inline_keyboard for b in row]
    assert all(d is not None and len(d.encode()) <= 64 for d in data)
    assert RiskCallback(slug=slug, code="lc", op="+").pack() in data


def test_risk_text_escapes_and_lists_every_limit() -> None:
    limits = CopyLimits(allowed_symbols=("BTC/USDT",), exit_ladder=(D(50), D(50)),
                        slippage_action=SlippageAction.LIMIT)

    text = risk_text("x<y", limits, True)

    assert "<code>x&lt;y</code> · copy trading on (paper account)" in text
    assert "→ limit order at the entry" in text and "Exits: 50/50 %" in text
    assert "Allowed: <code>BTC/USDT</code> · denied: none" in text
