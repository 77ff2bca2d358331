"""Sizing of copy orders without market rules (paper, 1e-8 steps), every skip reason,
and the limits' boundaries. decide_copy's guards and market rules: test_risk_decide.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from domain.errors import InvalidInput
from domain.models import Side
from domain.sizing import (
    AccountState,
    CopyDecision,
    CopyLimits,
    FillModel,
    SignalTerms,
    decide_copy,
    validate_limits,
)

D = Decimal
NOW = datetime(2025, 1, 20, 12, tzinfo=UTC)
HALF = CopyLimits(scale_factor=D("0.5"), max_position_pct=D("10"), max_open_positions=5)
# BUY: stop 101794.14 < market 102422.45 < target 103395.47 (BTC/USDT 2025-01-17, 1h);
# the entry is the market close itself (the signal was published at it).
LONG: dict[str, Any] = {"side": Side.BUY, "stop_loss": D("101794.14"),
                        "first_target": D("103395.47"), "entry": D("102422.45")}
# SELL: stop 108550 > market 108125 > target 107277.28 (BTC/USDT 2025-01-20, 1h).
SHORT: dict[str, Any] = {"side": Side.SELL, "stop_loss": D("108550"),
                         "first_target": D("107277.28"), "entry": D("108125")}


def decide(levels: dict[str, Any], market: str | None, *, equity: str = "10000",
           open_positions: int = 0, limits: CopyLimits = HALF,
           fill_model: FillModel = FillModel()) -> CopyDecision:
    """``decide_copy`` for ``levels`` at ``market`` (None: no price known), no market rules."""
    signal = SignalTerms("BTC/USDT", levels["side"], levels["entry"], levels["entry"],
                         levels["stop_loss"], levels["first_target"])
    return decide_copy(signal, AccountState(D(equity), open_positions), limits,
                       market_price=None if market is None else D(market), now=NOW,
                       fill_model=fill_model)


# --- sizing ------------------------------------------------------------------------


def test_buy_is_sized_from_equity_pct_and_scale_with_slippage_up() -> None:
    # Notional 10000 × 10 / 100 × 0.5 = 500 USDT. Price 102422.45 × 1.0005 = 102473.661225.
    # Amount 500 / 102473.661225 = 0.0048793..., rounded down to 1e-8: 0.00487930
    # (0.00487931 would cost 500.00076). Notional 0.00487930 × 102473.661225 =
    # 499.999735215... rounded down to 1e-8 (never above the cap): 499.99973521;
    # fee 0.1% of it = 0.49999973521, half-even to 1e-8: 0.49999974.
    decision = decide(LONG, "102422.45")

    assert decision.placed and decision.reasons == (
        "placed: market BUY 0.0048793 BTC/USDT at ~102,473.661225, notional 500.00 USDT, "
        "1x",)
    assert decision.price == D("102473.661225")
    assert decision.amount == D("0.00487930")
    assert decision.notional == D("499.99973521")
    assert decision.fee == D("0.49999974")


def test_sell_slippage_lowers_the_fill_price() -> None:
    # 108125 × (1 - 0.0005) = 108070.9375; 500 / 108070.9375 = 0.0046265...: 0.00462659.
    decision = decide(SHORT, "108125")

    assert decision.placed
    assert decision.price == D("108070.9375") < D("108125")
    assert decision.amount == D("0.00462659")
    assert decision.notional == D("499.99991872")
    assert decision.fee == D("0.49999992")


@pytest.mark.parametrize("levels", [LONG, SHORT], ids=["buy", "sell"])
def test_amount_is_rounded_down_to_1e8_and_never_exceeds_the_notional(
        levels: dict[str, Any]) -> None:
    market = "102422.45" if levels is LONG else "108125"
    decision = decide(levels, market)

    assert decision.amount == decision.amount.quantize(D("1e-8"))
    assert decision.amount * decision.price <= D(500)
    assert (decision.amount + D("1e-8")) * decision.price > D(500)


@pytest.mark.parametrize(("scale", "pct", "target"), [
    ("1", "20", 2000), ("1", "100", 10000), ("0.1", "1", 10), ("0.5", "40", 2000),
])
def test_notional_scales_with_pct_and_scale_factor(scale: str, pct: str, target: int) -> None:
    limits = CopyLimits(scale_factor=D(scale), max_position_pct=D(pct))
    decision = decide(LONG, "102422.45", limits=limits)

    assert D(target) - decision.price * D("1e-8") < decision.notional <= D(target)


def test_scale_above_1_is_capped_at_the_max_position() -> None:
    decision = decide(LONG, "102422.45", limits=CopyLimits(scale_factor=D("2.0")))

    assert decision.notional <= D(1000)
    assert decision.reasons[0] == ("resized: max position 10% of equity caps notional at "
                                   "1,000.00 USDT (asked 2,000.00 USDT)")


def test_without_slippage_the_fill_is_the_market_price() -> None:
    decision = decide(LONG, "102422.45", fill_model=FillModel(slippage_rate=D(0)))

    assert decision.price == D("102422.45")


def test_fee_is_the_fee_rate_of_the_notional_rounded_to_1e8() -> None:
    decision = decide(LONG, "102422.45", fill_model=FillModel(fee_rate=D("0.002")))

    assert decision.fee == D("0.99999947")  # 499.99973521 × 0.002 = 0.99999947042


# --- skip reasons ------------------------------------------------------------------


def test_no_market_price_skips() -> None:
    decision = decide(LONG, None)

    assert not decision.placed
    assert decision.reason == "skipped: no market price is known for BTC/USDT yet"
    assert decision.amount == decision.notional == decision.fee == 0


def test_max_open_positions_reached_skips() -> None:
    decision = decide(LONG, "102422.45", open_positions=5)

    assert not decision.placed
    assert decision.reason == "skipped: max open positions reached (5 of 5)"


def test_one_slot_left_still_places() -> None:
    assert decide(LONG, "102422.45", open_positions=4).placed


@pytest.mark.parametrize("equity", ["0", "-12.5"])
def test_no_equity_skips(equity: str) -> None:
    decision = decide(LONG, "102422.45", equity=equity)

    assert not decision.placed
    assert decision.reason == "skipped: the account has no equity left"


def test_amount_rounding_to_zero_skips() -> None:
    decision = decide(LONG, "102422.45", equity="0.00001")

    assert not decision.placed
    assert decision.amount == 0
    assert decision.reason.startswith("skipped: position of 0.00 USDT is below one amount "
                                      "step (0.00000001) of BTC/USDT")


@pytest.mark.parametrize(("levels", "market"), [
    (LONG, "101794.14"), (LONG, "101000"), (SHORT, "108550"), (SHORT, "109000"),
], ids=["buy-at-stop", "buy-below-stop", "sell-at-stop", "sell-above-stop"])
def test_market_at_or_past_the_stop_skips(levels: dict[str, Any], market: str) -> None:
    decision = decide(levels, market)

    assert not decision.placed
    assert decision.reason.startswith(f"skipped: market price {D(market):,} is already past "
                                      "the stop-loss")


@pytest.mark.parametrize(("levels", "market"), [
    (LONG, "103395.47"), (LONG, "104000"), (SHORT, "107277.28"), (SHORT, "107000"),
], ids=["buy-at-target", "buy-above-target", "sell-at-target", "sell-below-target"])
def test_market_at_or_past_the_first_target_skips(levels: dict[str, Any], market: str) -> None:
    decision = decide(levels, market, limits=CopyLimits(slippage_guard_pct=D(20)))

    assert not decision.placed
    assert "already reached target 1" in decision.reason


@pytest.mark.parametrize(("levels", "market"), [
    (LONG, "101794.15"), (LONG, "102422.46"), (SHORT, "108549.99"), (SHORT, "107277.29"),
])
def test_market_just_inside_stop_and_target_places(levels: dict[str, Any], market: str) -> None:
    assert decide(levels, market, limits=CopyLimits(slippage_guard_pct=D(20))).placed


# --- limits ------------------------------------------------------------------------


@pytest.mark.parametrize("scale", ["0.1", "2.0", "1"])
def test_scale_factor_bounds_are_inclusive(scale: str) -> None:
    validate_limits(CopyLimits(scale_factor=D(scale)))


@pytest.mark.parametrize("scale", ["0.09", "2.01", "0", "-1"])
def test_scale_factor_outside_bounds_is_rejected(scale: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_limits(CopyLimits(scale_factor=D(scale)))

    assert info.value.field == "scaleFactor"
    assert "between 0.1 and 2.0" in info.value.rule


@pytest.mark.parametrize("pct", ["100", "0.01", "10"])
def test_position_pct_up_to_100_is_accepted(pct: str) -> None:
    validate_limits(CopyLimits(max_position_pct=D(pct)))


@pytest.mark.parametrize("pct", ["0", "100.01", "-5"])
def test_position_pct_zero_or_above_100_is_rejected(pct: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_limits(CopyLimits(max_position_pct=D(pct)))

    assert info.value.field == "maxPositionPct"
    assert "at most 100" in info.value.rule


@pytest.mark.parametrize("count", [1, 100])
def test_max_open_positions_1_and_100_are_accepted(count: int) -> None:
    validate_limits(CopyLimits(max_open_positions=count))


@pytest.mark.parametrize("count", [0, 101])
def test_max_open_positions_0_and_101_are_rejected(count: int) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_limits(CopyLimits(max_open_positions=count))

    assert info.value.field == "maxOpenPositions"
    assert "between 1 and 100" in info.value.rule
