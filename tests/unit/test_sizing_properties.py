"""Properties of decide_copy under random limits, accounts, prices and market rules.

Prices are drawn from the real BTC/USDT 1h closes of signalhub/data (the generator picks
an entry and a market price among them); limits, equity and market rules are drawn from
their allowed ranges. Bounded runs: 200 examples each, no deadline.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.models import Side
from domain.ports import MarketRules
from domain.risk import DayPnl, SlippageAction
from domain.sizing import AccountState, CopyLimits, FillModel, SignalTerms, decide_copy

DATA = Path(__file__).resolve().parents[2] / "signalhub" / "data" / "BTC_USDT-1h.csv"
with DATA.open() as handle:
    CLOSES = sorted({Decimal(row["close"]) for row in csv.DictReader(handle)})[::40]
NOW = datetime(2025, 1, 17, 14, 30, tzinfo=UTC)
RUNS = settings(max_examples=200, deadline=None)

pcts = st.decimals(min_value=Decimal("0.1"), max_value=Decimal(100), places=3)
scales = st.decimals(min_value=Decimal("0.1"), max_value=Decimal("2.0"), places=3)
equities = st.decimals(min_value=Decimal(1), max_value=Decimal(10_000_000), places=2)
steps = st.sampled_from([Decimal("0.00001"), Decimal("0.001"), Decimal("0.1"), Decimal(1)])
contract_sizes = st.sampled_from([Decimal(1), Decimal("0.001"), Decimal("0.01")])


@st.composite
def limits(draw: st.DrawFn) -> CopyLimits:
    return CopyLimits(
        scale_factor=draw(scales), max_position_pct=draw(pcts),
        max_open_positions=draw(st.integers(1, 100)), max_daily_loss_pct=draw(pcts),
        slippage_guard_pct=draw(st.decimals(min_value=0, max_value=20, places=2)),
        slippage_action=draw(st.sampled_from(SlippageAction)),
        leverage_cap=draw(st.integers(1, 125)))


@st.composite
def markets(draw: st.DrawFn) -> MarketRules:
    step = draw(steps)
    return MarketRules("BTC/USDT:USDT", step, Decimal("0.01"),
                       draw(st.sampled_from([None, step, step * 10])),
                       draw(st.sampled_from([None, Decimal(5), Decimal(100)])),
                       draw(contract_sizes), linear=draw(st.booleans()))


@st.composite
def signals(draw: st.DrawFn) -> tuple[SignalTerms, Decimal]:
    """A signal around a real entry close and a real market close near it."""
    i = draw(st.integers(2, len(CLOSES) - 3))
    entry, market = CLOSES[i], CLOSES[i + draw(st.integers(-2, 2))]
    side = draw(st.sampled_from(Side))
    stop, target = (CLOSES[i - 2] * Decimal("0.98"), CLOSES[i + 2] * Decimal("1.02"))
    if side is Side.SELL:
        stop, target = CLOSES[i + 2] * Decimal("1.02"), CLOSES[i - 2] * Decimal("0.98")
    return SignalTerms("BTC/USDT:USDT", side, entry, entry, stop, target,
                       leverage=draw(st.sampled_from([None, 1, 5, 20, 125]))), market


@st.composite
def days(draw: st.DrawFn) -> DayPnl:
    start = draw(equities)
    realized = draw(st.decimals(min_value=-start, max_value=start, places=2))
    unrealized = draw(st.decimals(min_value=-start, max_value=start, places=2))
    return DayPnl(date(2025, 1, 17), realized, unrealized, start)


def run(signal: SignalTerms, price: Decimal, limit: CopyLimits, market: MarketRules,
        equity: Decimal, day: DayPnl | None = None, open_positions: int = 0):  # type: ignore[no-untyped-def]
    return decide_copy(signal, AccountState(equity, open_positions, day), limit,
                       market_price=price, now=NOW, market=market, fill_model=FillModel())


@RUNS
@given(signals(), limits(), markets(), equities)
def test_margin_never_exceeds_the_max_position(sig: tuple[SignalTerms, Decimal],
                                               limit: CopyLimits, market: MarketRules,
                                               equity: Decimal) -> None:
    decision = run(*sig, limit, market, equity)
    if decision.placed:
        exposure = decision.amount * market.contract_size * decision.price
        assert exposure / decision.leverage <= equity * limit.max_position_pct / 100
        assert decision.leverage <= limit.leverage_cap


@RUNS
@given(signals(), limits(), markets(), equities)
def test_placed_orders_meet_the_market_minimums_and_step(sig: tuple[SignalTerms, Decimal],
                                                         limit: CopyLimits,
                                                         market: MarketRules,
                                                         equity: Decimal) -> None:
    decision = run(*sig, limit, market, equity)
    if decision.placed:
        assert decision.amount > 0
        assert decision.amount % market.amount_step == 0  # type: ignore[operator]
        assert market.min_amount is None or decision.amount >= market.min_amount
        assert market.min_notional is None or decision.notional >= market.min_notional
    else:
        assert decision.amount == 0 and decision.reasons[-1].startswith("skipped:")


@RUNS
@given(signals(), limits(), markets(), equities, days())
def test_nothing_is_placed_past_the_daily_loss_limit(sig: tuple[SignalTerms, Decimal],
                                                     limit: CopyLimits, market: MarketRules,
                                                     equity: Decimal, day: DayPnl) -> None:
    decision = run(*sig, limit, market, equity, day)
    loss = -(day.realized + day.unrealized)
    if loss >= day.start_equity * limit.max_daily_loss_pct / 100:
        assert not decision.placed


@RUNS
@given(signals(), limits(), markets(), equities, st.integers(0, 120))
def test_never_more_open_positions_than_the_limit(sig: tuple[SignalTerms, Decimal],
                                                  limit: CopyLimits, market: MarketRules,
                                                  equity: Decimal, open_now: int) -> None:
    decision = run(*sig, limit, market, equity, open_positions=open_now)
    if open_now >= limit.max_open_positions:
        assert not decision.placed


@RUNS
@given(signals(), limits(), markets(), equities, scales, scales)
def test_amount_is_monotonic_in_the_scale(sig: tuple[SignalTerms, Decimal],
                                          limit: CopyLimits, market: MarketRules,
                                          equity: Decimal, a: Decimal, b: Decimal) -> None:
    low, high = sorted((a, b))
    small = run(*sig, CopyLimits(**{**_as_dict(limit), "scale_factor": low}), market, equity)
    large = run(*sig, CopyLimits(**{**_as_dict(limit), "scale_factor": high}), market, equity)
    assert small.amount <= large.amount


def _as_dict(limit: CopyLimits) -> dict[str, object]:
    return {name: getattr(limit, name) for name in limit.__slots__}  # type: ignore[attr-defined]
