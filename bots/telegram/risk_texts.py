"""/risk and /pnl: their texts, the limits keyboard and its callback data (pure, no I/O).

A /risk button steps one limit up or down (or flips a switch); the new value goes
through the same validation as a typed change, so a step past a bound is refused with
the rule and changes nothing.
"""

from __future__ import annotations

from decimal import Decimal

from aiogram import html
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from domain.portfolio import PnlSummary
from domain.risk import SlippageAction
from domain.sizing import CopyLimits
from integrations.telegram_format import format_number

# Button code -> (CopyLimits field, label, step); a step of None flips the value.
STEPS: dict[str, tuple[str, str, Decimal | None]] = {
    "sf": ("scale_factor", "Scale", Decimal("0.1")),
    "mp": ("max_position_pct", "Max position %", Decimal(1)),
    "mo": ("max_open_positions", "Max open", Decimal(1)),
    "dl": ("max_daily_loss_pct", "Daily loss %", Decimal(1)),
    "sg": ("slippage_guard_pct", "Slippage %", Decimal("0.1")),
    "lc": ("leverage_cap", "Leverage cap", Decimal(1)),
}
TOGGLES = {"sa": "slippage_action", "be": "move_stop_to_breakeven", "on": "enabled"}


class RiskCallback(CallbackData, prefix="risk"):
    """Change one limit of the presser's copy settings for provider ``slug``.

    ``code`` is a key of ``STEPS`` (``op`` ``+``/``-``) or of ``TOGGLES`` (``op`` ``t``).
    """

    slug: str
    code: str
    op: str


def stepped(limits: CopyLimits, enabled: bool, code: str, op: str) -> dict[str, object]:
    """The change one button asks for: ``{field: new value}`` (not yet validated).

    Raises ``ValueError`` for a code or op no keyboard of ours sends.
    """
    if code in STEPS and op in "+-":
        field, _, step = STEPS[code]
        assert step is not None
        current = Decimal(getattr(limits, field))
        value = current + step if op == "+" else current - step
        return {field: int(value) if isinstance(getattr(limits, field), int) else value}
    if code in TOGGLES and op == "t":
        field = TOGGLES[code]
        if field == "enabled":
            return {"enabled": not enabled}
        if field == "slippage_action":
            flip = {SlippageAction.SKIP: SlippageAction.LIMIT,
                    SlippageAction.LIMIT: SlippageAction.SKIP}
            return {field: flip[limits.slippage_action].value}
        return {field: not getattr(limits, field)}
    raise ValueError(f"unknown /risk button {code!r} {op!r}")


def risk_keyboard(slug: str, limits: CopyLimits, enabled: bool) -> InlineKeyboardMarkup:
    """Rows of ``− label +`` per numeric limit, then the switches."""
    builder = InlineKeyboardBuilder()
    for code, (field, label, _) in STEPS.items():
        value = format_number(getattr(limits, field))
        builder.button(text=f"− {label}", callback_data=RiskCallback(slug=slug, code=code,
                                                                     op="-"))
        builder.button(text=value, callback_data=RiskCallback(slug=slug, code=code, op="="))
        builder.button(text=f"{label} +", callback_data=RiskCallback(slug=slug, code=code,
                                                                     op="+"))
    other = "limit" if limits.slippage_action is SlippageAction.SKIP else "skip"
    builder.button(text=f"Past the guard: {other}",
                   callback_data=RiskCallback(slug=slug, code="sa", op="t"))
    builder.button(text=f"Break-even stop: {'off' if limits.move_stop_to_breakeven else 'on'}",
                   callback_data=RiskCallback(slug=slug, code="be", op="t"))
    builder.button(text="⏸ Stop copying" if enabled else "▶️ Start copying",
                   callback_data=RiskCallback(slug=slug, code="on", op="t"))
    builder.adjust(*([3] * len(STEPS)), 2, 1)
    return builder.as_markup()


def risk_text(slug: str, limits: CopyLimits, enabled: bool) -> str:
    """Every limit of one subscription with its unit, and how to change them."""
    quoted = html.quote(slug)
    ladder = ("even split" if not limits.exit_ladder else
              "/".join(format_number(p) for p in limits.exit_ladder) + " %")
    state = "on (paper account)" if enabled else "off"
    lines = [
        f"🛡 <b>Risk limits</b> for <code>{quoted}</code> · copy trading {state}",
        f"Scale <code>{format_number(limits.scale_factor)}</code>× · max position "
        f"<code>{format_number(limits.max_position_pct)}%</code> of equity · at most "
        f"<code>{limits.max_open_positions}</code> open positions",
        f"Daily loss limit <code>{format_number(limits.max_daily_loss_pct)}%</code> (new "
        "signals pause until 00:00 UTC)",
        f"Slippage guard <code>{format_number(limits.slippage_guard_pct)}%</code> past the "
        f"entry → {_action(limits.slippage_action)}",
        f"Leverage cap <code>{limits.leverage_cap}x</code> (spot is always 1x)",
        f"Exits: {ladder} · stop to break-even after target 1: "
        f"{'on' if limits.move_stop_to_breakeven else 'off'}",
        f"Allowed: {_symbols(limits.allowed_symbols, 'every symbol')} · denied: "
        f"{_symbols(limits.denied_symbols, 'none')}",
        f"Tap a button, or type e.g. <code>/risk {quoted} max_loss=3 deny=DOGE/USDT "
        "ladder=50/30/20</code>",
    ]
    return "\n".join(lines)


def limits_summary(limits: CopyLimits) -> str:
    """One line of the limits /copy does not show itself."""
    return (f"Daily loss limit <code>{format_number(limits.max_daily_loss_pct)}%</code> · "
            f"slippage guard <code>{format_number(limits.slippage_guard_pct)}%</code> → "
            f"{_action(limits.slippage_action)} · leverage cap "
            f"<code>{limits.leverage_cap}x</code>")


def pnl_text(summary: PnlSummary, currency: str = "USDT") -> str:
    """/pnl: realized PnL, win rate and profit factor of closed positions."""
    head = f"📈 <b>PnL, last {summary.days} days</b> (closed paper positions, fees included)"
    if not summary.trades:
        return f"{head}\nNo position closed in this period. See open ones with /positions."
    win_rate = "–" if summary.win_rate is None else f"{summary.win_rate * 100:.1f}%"
    factor = ("– (no losing trade)" if summary.profit_factor is None
              else f"{summary.profit_factor:.2f}")
    sign = "+" if summary.realized > 0 else ""
    return "\n".join([
        head,
        f"Realized: <code>{sign}{summary.realized:.2f} {currency}</code> over "
        f"<code>{summary.trades}</code> trades",
        f"Win rate: <code>{win_rate}</code> ({summary.wins} won, {summary.losses} lost)",
        f"Profit factor: <code>{factor}</code> (gross profit "
        f"{summary.gross_profit:.2f} / gross loss {summary.gross_loss:.2f})",
    ])


def _action(action: SlippageAction) -> str:
    return "skip the signal" if action is SlippageAction.SKIP else "limit order at the entry"


def _symbols(symbols: tuple[str, ...], empty: str) -> str:
    return ", ".join(f"<code>{html.quote(s)}</code>" for s in symbols) if symbols else empty
