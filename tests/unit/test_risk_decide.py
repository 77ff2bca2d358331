"""decide_copy: every guard's reason, sizing to the market's precision, minimums, caps.

Prices: real Binance BTC/USDT 1h candles of 2025-01-17 (UTC), as in test_risk.py: entry
101659.8 (01:00 close), stop 100780.54 (02:00 low), target 1 103395.47; market 101481.29
(04:00 close) is inside the guard, 102422.45 (later close) 0.75% past the entry.
Market rules are Binance's exchangeInfo filters for BTCUSDT: spot tick 0.01, step
0.00001, minQty 0.00001, minNotional 5 USDT; USDⓈ-M perpetual tick 0.10, step 0.001,
minQty 0.001, minNotional 100 USDT.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from domain.models import Side
from domain.ports import MarketRules
from domain.risk import DayPnl, SlippageAction
from domain.sizing import (
    AccountState,
    Action,
    CopyDecision,
    CopyLimits,
    FillModel,
    OrderType,
    SignalTerms,
    decide_copy,
)

D = Decimal
NOW = datetime(2025, 1, 17, 14, 30, tzinfo=UTC)
SPOT = MarketRules("BTC/USDT", D("0.00001"), D("0.01"), D("0.00001"), D("5"))
PERP = MarketRules("BTC/USDT:USDT", D("0.001"), D("0.1"), D("0.001"), D("100"), linear=True)
LONG = SignalTerms("BTC/USDT", Side.BUY, D("101659.8"), D("101659.8"), D("100780.54"),
                   D("103395.47"))
INSIDE, PAST = D("101481.29"), D("102422.45")
NO_SLIP = FillModel(slippage_rate=D(0))


def decide(signal: SignalTerms = LONG, *, price: Decimal | None = INSIDE,
           equity: str = "10000", open_positions: int = 0, limits: CopyLimits = CopyLimits(),
           market: MarketRules | None = SPOT, day: DayPnl | None = None,
           fill: FillModel = NO_SLIP) -> CopyDecision:
    return decide_copy(signal, AccountState(D(equity), open_positions, day), limits,
                       market_price=price, now=NOW, market=market, fill_model=fill)


def test_default_limits_place_10pct_of_equity_at_market_on_the_step() -> None:
    # 1,000 USDT / 101481.29 = 0.0098539... -> 0.00985 (step 0.00001); notional 999.590...
    decision = decide()

    assert decision.action is Action.PLACE and decision.order_type is OrderType.MARKET
    assert decision.amount == D("0.00985") and decision.price == INSIDE
    assert decision.notional == D("999.59070650")  # 0.00985 × 101481.29
    assert decision.fee == D("0.99959071") and decision.leverage == 1
    assert decision.limit_price is None
    assert decision.reasons == ("placed: market BUY 0.00985 BTC/USDT at ~101,481.29, "
                                "notional 999.59 USDT, 1x",)


def test_scale_below_1_shrinks_and_above_1_is_capped_by_the_max_position() -> None:
    half = decide(limits=CopyLimits(scale_factor=D("0.5")))
    double = decide(limits=CopyLimits(scale_factor=D("2")))

    assert half.amount == D("0.00492")
    assert double.amount == D("0.00985")
    assert double.reasons[0] == ("resized: max position 10% of equity caps notional at "
                                 "1,000.00 USDT (asked 2,000.00 USDT)")


def test_a_provider_size_below_the_max_lets_scale_above_1_grow_it() -> None:
    signal = SignalTerms(**{**_fields(LONG), "size_pct": D("4")})

    assert decide(signal, limits=CopyLimits(scale_factor=D("2"))).amount == D("0.00788")


def test_paper_slippage_moves_the_market_fill_against_the_follower() -> None:
    decision = decide(fill=FillModel())

    assert decision.price == D("101532.030645")  # 101481.29 × 1.0005


def test_past_the_guard_with_skip_is_skipped_with_the_move() -> None:
    decision = decide(price=PAST)

    assert decision.action is Action.SKIP and decision.amount == 0
    assert decision.reason == ("skipped: price 102,422.45 is 0.75% past the entry 101,659.8 "
                               "(slippage guard 0.5%)")


def test_past_the_guard_with_limit_places_a_limit_at_the_entry() -> None:
    decision = decide(price=PAST, limits=CopyLimits(slippage_action=SlippageAction.LIMIT),
                      fill=FillModel())

    assert decision.placed and decision.order_type is OrderType.LIMIT
    assert decision.limit_price == decision.price == D("101659.8")  # no slippage on a limit
    assert decision.amount == D("0.00983")  # 1,000 / 101659.8 = 0.0098367...
    assert decision.reasons[0].startswith("resized: limit order at the entry 101,659.8")


def test_a_wider_guard_lets_the_same_move_through_at_market() -> None:
    decision = decide(price=PAST, limits=CopyLimits(slippage_guard_pct=D("1")))

    assert decision.placed and decision.order_type is OrderType.MARKET


def test_symbol_lists_skip_before_anything_else() -> None:
    denied = decide(limits=CopyLimits(denied_symbols=("btc/usdt",)), price=None)
    not_allowed = decide(limits=CopyLimits(allowed_symbols=("ETH/USDT",)))

    assert denied.reason == "skipped: BTC/USDT is on your deny list"
    assert not_allowed.reason == "skipped: BTC/USDT is not on your allow list (ETH/USDT)"


def test_max_open_positions_and_empty_equity_skip() -> None:
    assert decide(open_positions=5).reason == "skipped: max open positions reached (5 of 5)"
    assert decide(open_positions=4).placed
    assert decide(equity="0").reason == "skipped: the account has no equity left"


def test_daily_loss_limit_skips_with_the_amount_and_resume_time() -> None:
    day = DayPnl(date(2025, 1, 17), D("-512.30"), D(0), D("10000"))

    decision = decide(day=day, equity="9487.70")

    assert decision.reason == ("skipped: daily loss limit 5% reached (−512.30 USDT today), "
                               "new signals resume at 00:00 UTC on 2025-01-18")


def test_a_latched_daily_loss_limit_skips_though_the_loss_recovered() -> None:
    recovered = DayPnl(date(2025, 1, 17), D("-100"), D("150"), D("10000"))
    base = decide(day=recovered, equity="9900")
    latched = decide_copy(LONG, AccountState(D("9900"), 0, recovered,
                                             loss_limit_hit_on=date(2025, 1, 17)),
                          CopyLimits(), market_price=INSIDE, now=NOW, market=SPOT,
                          fill_model=NO_SLIP)

    assert base.placed
    assert latched.reason == ("skipped: daily loss limit 5% was reached earlier today, new "
                              "signals resume at 00:00 UTC on 2025-01-18")


def test_no_price_and_levels_already_passed_skip() -> None:
    assert decide(price=None).reason == "skipped: no market price is known for BTC/USDT yet"
    assert decide(price=D("100780.54")).reason == (
        "skipped: market price 100,780.54 is already past the stop-loss 100,780.54")
    high = decide(price=D("103395.47"), limits=CopyLimits(slippage_guard_pct=D(20)))
    assert high.reason == "skipped: market price 103,395.47 already reached target 1 (103,395.47)"


def test_under_the_markets_minimum_notional_is_skipped_not_sent() -> None:
    # 0.4% of 1,000 USDT = 4 USDT < Binance's 5 USDT minimum notional.
    decision = decide(equity="1000", limits=CopyLimits(max_position_pct=D("0.4")))

    assert not decision.placed
    assert decision.reason == ("skipped: notional 3.04 USDT is under the market minimum 5 "
                               "USDT of BTC/USDT")


def test_under_the_markets_minimum_amount_is_skipped() -> None:
    rules = MarketRules("BTC/USDT", D("0.00001"), D("0.01"), D("0.001"), None)

    decision = decide(market=rules)  # 0.00985 BTC >= 0.001
    small = decide(market=rules, equity="500")  # 50 USDT buys 0.00049 BTC < 0.001

    assert decision.placed
    assert small.reason == "skipped: amount 0.00049 is under the market minimum 0.001 of BTC/USDT"


def test_an_amount_that_rounds_to_zero_is_skipped() -> None:
    # 1% of 0.0001 USDT = 0.000001 USDT buys 9.9e-12 BTC: under one 1e-8 step.
    tiny = decide(equity="0.0001", limits=CopyLimits(max_position_pct=D("1")), market=None)
    assert tiny.reason == ("skipped: position of 0.00 USDT is below one amount step "
                           "(0.00000001) of BTC/USDT at 101,481.29")


def test_perpetual_uses_capped_leverage_on_contracts_and_the_tick() -> None:
    signal = SignalTerms("BTC/USDT:USDT", Side.BUY, D("101659.8"), D("101659.8"),
                         D("100780.54"), D("103395.47"), leverage=20)

    decision = decide(signal, market=PERP, limits=CopyLimits(leverage_cap=3))

    # margin 1,000 USDT × 3x = 3,000 USDT / 101481.29 = 0.02956... -> 0.029 (step 0.001)
    assert decision.leverage == 3 and decision.amount == D("0.029")
    assert decision.reasons[0] == "resized: leverage capped at 3x (signal asks 20x)"


def test_contract_size_turns_base_units_into_contracts() -> None:
    # A 0.001-BTC contract: 0.00985 BTC is 9 contracts (rounded down).
    rules = MarketRules("BTC/USDT:USDT", D(1), D("0.1"), D(1), None, D("0.001"), linear=True)
    signal = SignalTerms(**{**_fields(LONG), "symbol": "BTC/USDT:USDT"})

    decision = decide(signal, market=rules)

    assert decision.amount == D(9)
    assert decision.notional == D("913.33161000")  # 9 × 0.001 × 101481.29


def test_limit_price_is_rounded_to_the_tick_never_worse_for_the_follower() -> None:
    signal = SignalTerms("BTC/USDT:USDT", Side.SELL, D("102148.13"), D("102422.45"),
                         D("103395.47"), D("100780.54"))

    decision = decide(signal, price=D("101481.29"), market=PERP,
                      limits=CopyLimits(slippage_action=SlippageAction.LIMIT))

    assert decision.order_type is OrderType.LIMIT
    assert decision.limit_price == D("102148.2")  # a sell rounds up to the 0.1 tick


def _fields(signal: SignalTerms) -> dict[str, object]:
    return {name: getattr(signal, name) for name in signal.__slots__}  # type: ignore[attr-defined]
