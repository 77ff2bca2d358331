"""Pure sizing of a copy order under a follower's limits: ``decide_copy``.

The contract the execution engine calls (no I/O; every money value in the account's
quote currency, percentages in percent, 10 = 10%)::

    decide_copy(signal: SignalTerms, account: AccountState, limits: CopyLimits, *,
                market_price: Decimal | None, now: datetime,
                market: MarketRules | None = None,
                fill_model: FillModel = FillModel()) -> CopyDecision

It returns a ``CopyDecision``: ``action`` place or skip, ``order_type`` market or limit,
``amount`` (market units: base currency, contracts where ``market.contract_size`` != 1,
a multiple of ``market.amount_step``), ``price`` (expected fill: market ± the paper
slippage, or the limit price), ``limit_price``, ``notional`` (amount × contract size ×
price), ``fee`` (estimated at ``fill_model.fee_rate``), ``leverage``, and ``reasons``:
human-readable lines starting ``skipped:``, ``resized:`` or ``placed:`` that answer "why
was this signal (not) copied?". ``reason`` is the lines joined with "; ".

Checks, in order (the first failing one skips): allow/deny symbol lists, max open
positions, equity above 0, daily loss limit (``domain.risk.daily_loss_block``, latched
until 00:00 UTC once reached), a known market price, market already past the stop-loss
or target 1, slippage guard (skip, or a limit order at the entry), then sizing:

    margin   = equity × (signal.size_pct or max_position_pct) / 100 × scale_factor,
               capped at equity × max_position_pct / 100 (the max position)
    notional = margin × leverage (spot: 1x; derivatives: the signal's, capped)
    amount   = notional / (price × contract_size), rounded DOWN to amount_step

and an amount of zero, under ``market.min_amount`` or a notional under
``market.min_notional`` is skipped with that reason instead of being sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from enum import StrEnum

from domain.errors import InvalidInput
from domain.models import Side
from domain.ports import MarketRules
from domain.risk import (
    MAX_LEVERAGE,
    MAX_SYMBOL_LIST,
    DayPnl,
    SlippageAction,
    canonical_symbols,
    daily_loss_block,
    is_derivative,
    leverage_used,
    money_text,
    number_text,
    pct_text,
    quote_currency,
    slippage_check,
    slippage_reason,
    symbol_block,
    validate_exit_ladder,
)

AMOUNT_QUANTUM = Decimal("1e-8")
MONEY_QUANTUM = Decimal("1e-8")
MIN_SCALE, MAX_SCALE = Decimal("0.1"), Decimal("2.0")
MAX_SLIPPAGE_GUARD_PCT = Decimal("20")


class Action(StrEnum):
    PLACE = "place"
    SKIP = "skip"


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"


@dataclass(frozen=True, slots=True)
class CopyLimits:
    """A follower's limits for one provider (percent units: 10 = 10%).

    ``scale_factor`` 0.1–2.0; ``max_position_pct`` margin of one position, percent of
    equity (0, 100]; ``max_open_positions`` 1–100; ``max_daily_loss_pct`` (0, 100] of the
    equity at 00:00 UTC; ``slippage_guard_pct`` [0, 20] adverse move past the entry;
    ``slippage_action`` skip or limit-at-entry; ``leverage_cap`` 1–125x;
    ``allowed_symbols``/``denied_symbols`` ccxt unified symbols (empty allow list: all);
    ``exit_ladder`` percents per take-profit target summing to 100 (empty: even split);
    ``move_stop_to_breakeven`` after target 1.
    """

    scale_factor: Decimal = Decimal("1")
    max_position_pct: Decimal = Decimal("10")
    max_open_positions: int = 5
    max_daily_loss_pct: Decimal = Decimal("5")
    slippage_guard_pct: Decimal = Decimal("0.5")
    slippage_action: SlippageAction = SlippageAction.SKIP
    leverage_cap: int = 10
    allowed_symbols: tuple[str, ...] = ()
    denied_symbols: tuple[str, ...] = ()
    exit_ladder: tuple[Decimal, ...] = ()
    move_stop_to_breakeven: bool = False


@dataclass(frozen=True, slots=True)
class FillModel:
    """Costs a paper fill assumes; both are fractions (0.001 = 0.1%)."""

    fee_rate: Decimal = Decimal("0.001")
    slippage_rate: Decimal = Decimal("0.0005")


@dataclass(frozen=True, slots=True)
class SignalTerms:
    """What a signal asks for, as sizing needs it. Prices in quote currency.

    ``leverage`` None means none given (1x); ``size_pct`` is the provider's suggested
    margin in percent of the follower's equity (None: the follower's max position).
    """

    symbol: str
    side: Side
    entry_low: Decimal
    entry_high: Decimal
    stop_loss: Decimal
    first_target: Decimal
    leverage: int | None = None
    size_pct: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AccountState:
    """The follower's account now: ``equity`` (quote currency), OPEN positions,
    today's PnL for the daily loss limit (None: nothing booked today, no unrealized PnL)
    and the UTC day the limit was last reached (the latch, see
    ``domain.risk.daily_loss_block``; None: never).
    """

    equity: Decimal
    open_positions: int
    day: DayPnl | None = None
    loss_limit_hit_on: date | None = None


@dataclass(frozen=True, slots=True)
class CopyDecision:
    """Outcome of sizing (see the module docstring for every field's unit)."""

    placed: bool
    reason: str
    amount: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)
    fee: Decimal = Decimal(0)
    order_type: OrderType = OrderType.MARKET
    leverage: int = 1
    reasons: tuple[str, ...] = ()

    @property
    def action(self) -> Action:
        """PLACE when an order is to be sent, else SKIP."""
        return Action.PLACE if self.placed else Action.SKIP

    @property
    def limit_price(self) -> Decimal | None:
        """Price of a limit order (quote currency); None for a market order or a skip."""
        return self.price if self.placed and self.order_type is OrderType.LIMIT else None

    @classmethod
    def skip(cls, reason: str, notes: tuple[str, ...] = ()) -> CopyDecision:
        """A skip; ``reason`` should start with ``skipped:``. ``notes`` come before it."""
        reasons = (*notes, reason)
        return cls(False, "; ".join(reasons), reasons=reasons)


def reason_lines(reason: str) -> list[str]:
    """The reason lines of a stored ``CopyDecision.reason`` (joined with "; ")."""
    return [line for line in reason.split("; ") if line]


def money(value: Decimal) -> Decimal:
    """An amount of quote currency rounded half-even to 1e-8, as stored (NUMERIC(24, 8))."""
    return value.quantize(MONEY_QUANTUM)


def validate_limits(limits: CopyLimits) -> None:
    """Raise ``InvalidInput`` naming the (GraphQL) field when a limit is out of range."""
    _range("scaleFactor", limits.scale_factor, MIN_SCALE, MAX_SCALE,
           "must be between 0.1 and 2.0")
    if not Decimal(0) < limits.max_position_pct <= Decimal(100):
        raise InvalidInput("maxPositionPct", "must be above 0 and at most 100 (percent)")
    if not 1 <= limits.max_open_positions <= 100:
        raise InvalidInput("maxOpenPositions", "must be between 1 and 100")
    if not Decimal(0) < limits.max_daily_loss_pct <= Decimal(100):
        raise InvalidInput("maxDailyLossPct", "must be above 0 and at most 100 (percent)")
    _range("slippageGuardPct", limits.slippage_guard_pct, Decimal(0), MAX_SLIPPAGE_GUARD_PCT,
           "must be between 0 and 20 (percent)")
    if not 1 <= limits.leverage_cap <= MAX_LEVERAGE:
        raise InvalidInput("leverageCap", f"must be between 1 and {MAX_LEVERAGE} (x)")
    for field, symbols in (("allowedSymbols", limits.allowed_symbols),
                           ("deniedSymbols", limits.denied_symbols)):
        _symbols(field, symbols)
    validate_exit_ladder(limits.exit_ladder)


def _range(field: str, value: Decimal, low: Decimal, high: Decimal, rule: str) -> None:
    if not value.is_finite() or not low <= value <= high:
        raise InvalidInput(field, rule)


def _symbols(field: str, symbols: tuple[str, ...]) -> None:
    if len(symbols) > MAX_SYMBOL_LIST:
        raise InvalidInput(field, f"at most {MAX_SYMBOL_LIST} symbols")
    for symbol in canonical_symbols(symbols):
        base, slash, rest = symbol.partition("/")
        if not slash or not base or not rest.partition(":")[0] or len(symbol) > 48 \
                or any(c.isspace() for c in symbol):
            raise InvalidInput(field, f"{symbol!r} is not a ccxt unified symbol "
                                      "(BTC/USDT, or BTC/USDT:USDT for a perpetual)")


def decide_copy(signal: SignalTerms, account: AccountState, limits: CopyLimits, *,
                market_price: Decimal | None, now: datetime,
                market: MarketRules | None = None,
                fill_model: FillModel = FillModel()) -> CopyDecision:
    """Decide whether and how a follower copies ``signal`` (see the module docstring).

    ``now`` is timezone-aware (the daily loss counter's day). Pure; never raises for a
    skip: every outcome is a ``CopyDecision`` whose ``reasons`` explain it.
    """
    block = _guard(signal, account, limits, market_price, now)
    if block is not None or market_price is None:
        return CopyDecision.skip(block or "skipped: no market price is known yet")
    notes: list[str] = []
    order_type, price = _entry_price(signal, limits, market_price, market, fill_model, notes)
    if order_type is None:
        return CopyDecision.skip(notes[-1], tuple(notes[:-1]))
    leverage, lev_note = leverage_used(signal.leverage, limits.leverage_cap,
                                       _derivative(signal.symbol, market))
    notes += [lev_note] if lev_note else []
    return _size(signal, account, limits, market, fill_model, order_type, price, leverage,
                 notes)


def _guard(signal: SignalTerms, account: AccountState, limits: CopyLimits,
           market_price: Decimal | None, now: datetime) -> str | None:
    block = symbol_block(signal.symbol, limits.allowed_symbols, limits.denied_symbols)
    if block:
        return block
    if account.open_positions >= limits.max_open_positions:
        return (f"skipped: max open positions reached ({account.open_positions} of "
                f"{limits.max_open_positions})")
    if account.equity <= 0:
        return "skipped: the account has no equity left"
    day = account.day or DayPnl(now.date(), Decimal(0), Decimal(0), account.equity)
    block = daily_loss_block(day, limits.max_daily_loss_pct, now,
                             quote_currency(signal.symbol), account.loss_limit_hit_on)
    if block or market_price is None:
        return block or f"skipped: no market price is known for {signal.symbol} yet"
    return _levels_block(signal, market_price)


def _levels_block(signal: SignalTerms, price: Decimal) -> str | None:
    long = signal.side is Side.BUY
    if (price <= signal.stop_loss) if long else (price >= signal.stop_loss):
        return (f"skipped: market price {number_text(price)} is already past the stop-loss "
                f"{number_text(signal.stop_loss)}")
    if (price >= signal.first_target) if long else (price <= signal.first_target):
        return (f"skipped: market price {number_text(price)} already reached target 1 "
                f"({number_text(signal.first_target)})")
    return None


def _entry_price(signal: SignalTerms, limits: CopyLimits, market_price: Decimal,
                 market: MarketRules | None, fill_model: FillModel,
                 notes: list[str]) -> tuple[OrderType | None, Decimal]:
    """Market order at the slipped price, a limit at the entry, or (None, 0) to skip."""
    check = slippage_check(signal.side, signal.entry_low, signal.entry_high, market_price,
                           limits.slippage_guard_pct)
    if check.exceeded:
        notes.append(slippage_reason(check, market_price, limits.slippage_guard_pct,
                                     limits.slippage_action))
        if limits.slippage_action is SlippageAction.SKIP:
            return None, Decimal(0)
        return OrderType.LIMIT, _price_to_step(check.entry, signal.side, market)
    slip = fill_model.slippage_rate if signal.side is Side.BUY else -fill_model.slippage_rate
    return OrderType.MARKET, market_price * (1 + slip)


def _price_to_step(price: Decimal, side: Side, market: MarketRules | None) -> Decimal:
    """A limit price on the market's tick: down for a buy, up for a sell (never worse)."""
    step = market.price_step if market else None
    if not step:
        return price
    rounding = ROUND_DOWN if side is Side.BUY else ROUND_UP
    return (price / step).to_integral_value(rounding) * step


def _derivative(symbol: str, market: MarketRules | None) -> bool:
    return market.linear if market is not None else is_derivative(symbol)


def _size(signal: SignalTerms, account: AccountState, limits: CopyLimits,
          market: MarketRules | None, fill_model: FillModel, order_type: OrderType,
          price: Decimal, leverage: int, notes: list[str]) -> CopyDecision:
    quote = quote_currency(signal.symbol)
    cap = account.equity * limits.max_position_pct / 100
    base_pct = signal.size_pct if signal.size_pct is not None else limits.max_position_pct
    margin = account.equity * base_pct / 100 * limits.scale_factor
    if margin > cap:
        notes.append(f"resized: max position {pct_text(limits.max_position_pct)}% of equity "
                     f"caps {'notional' if leverage == 1 else 'margin'} at "
                     f"{money_text(cap)} {quote} (asked {money_text(margin)} {quote})")
        margin = cap
    contract = market.contract_size if market is not None else Decimal(1)
    step = (market.amount_step if market is not None else None) or AMOUNT_QUANTUM
    amount = (margin * leverage / (price * contract) / step).to_integral_value(
        ROUND_DOWN) * step
    notional = (amount * contract * price).quantize(MONEY_QUANTUM, rounding=ROUND_DOWN)
    minimum = _minimum_block(signal.symbol, amount, notional, margin * leverage, price,
                             step, quote, market)
    if minimum:
        return CopyDecision.skip(minimum, tuple(notes))
    fee = money(notional * fill_model.fee_rate)
    notes.append(f"placed: {order_type.value} {signal.side.value} {number_text(amount)} "
                 f"{signal.symbol} at {'~' if order_type is OrderType.MARKET else ''}"
                 f"{number_text(price)}, notional {money_text(notional)} {quote}, "
                 f"{leverage}x")
    return CopyDecision(True, "; ".join(notes), amount, price, notional, fee, order_type,
                        leverage, tuple(notes))


def _minimum_block(symbol: str, amount: Decimal, notional: Decimal, wanted: Decimal,
                   price: Decimal, step: Decimal, quote: str,
                   market: MarketRules | None) -> str | None:
    if amount <= 0:
        return (f"skipped: position of {money_text(wanted)} {quote} is below one amount "
                f"step ({number_text(step)}) of {symbol} at {number_text(price)}")
    if market is not None and market.min_amount is not None and amount < market.min_amount:
        return (f"skipped: amount {number_text(amount)} is under the market minimum "
                f"{number_text(market.min_amount)} of {symbol}")
    if market is not None and market.min_notional is not None \
            and notional < market.min_notional:
        return (f"skipped: notional {money_text(notional)} {quote} is under the market "
                f"minimum {number_text(market.min_notional)} {quote} of {symbol}")
    return None
