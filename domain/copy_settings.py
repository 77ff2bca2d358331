"""A follower's copy-trading switch and risk limits per provider: read, validate, update.

Values arrive as typed numbers (GraphQL) or text (bot commands); each is parsed and
checked (``domain.sizing.validate_limits``) before anything is written, so a bad value
raises ``InvalidInput`` naming its GraphQL field and changes nothing. Units: percents
are percent (10 = 10%), leverage is a multiple (10 = 10x), symbols ccxt unified.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields as dataclass_fields
from dataclasses import replace
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.models import CopySettings, Subscription, User
from domain.risk import SlippageAction, canonical_symbols, validate_exit_ladder
from domain.sizing import CopyLimits, validate_limits
from domain.subscriptions import active_subscription

PLACES = Decimal("0.001")  # decimals of the stored percent and scale columns
# CopyLimits field -> GraphQL field name (bot options map to the same fields)
FIELD_NAMES = {
    "scale_factor": "scaleFactor", "max_position_pct": "maxPositionPct",
    "max_open_positions": "maxOpenPositions", "max_daily_loss_pct": "maxDailyLossPct",
    "slippage_guard_pct": "slippageGuardPct", "slippage_action": "slippageAction",
    "leverage_cap": "leverageCap", "allowed_symbols": "allowedSymbols",
    "denied_symbols": "deniedSymbols", "exit_ladder": "exitLadder",
    "move_stop_to_breakeven": "moveStopToBreakeven",
}


def copy_limits(settings: CopySettings) -> CopyLimits:
    """The ``CopyLimits`` value of a stored settings row, or of any object with its fields
    as attributes (the copy engine reads them as values; what ``decide_copy`` takes)."""
    return CopyLimits(
        scale_factor=Decimal(settings.scale_factor),
        max_position_pct=Decimal(settings.max_position_pct),
        max_open_positions=settings.max_open_positions,
        max_daily_loss_pct=Decimal(settings.max_daily_loss_pct),
        slippage_guard_pct=Decimal(settings.slippage_guard_pct),
        slippage_action=SlippageAction(settings.slippage_action),
        leverage_cap=settings.leverage_cap,
        allowed_symbols=tuple(settings.allowed_symbols or ()),
        denied_symbols=tuple(settings.denied_symbols or ()),
        exit_ladder=tuple(Decimal(str(p)) for p in settings.exit_ladder or ()),
        move_stop_to_breakeven=settings.move_stop_to_breakeven,
    )


def parse_limits(current: CopyLimits, changes: dict[str, Any]) -> CopyLimits:
    """``current`` with ``changes`` (CopyLimits field -> value; None keeps it) applied and
    validated. Values may be text. Raises ``InvalidInput`` naming the first bad field."""
    parsed: dict[str, Any] = {}
    known = {f.name for f in dataclass_fields(CopyLimits)}
    for name, value in changes.items():
        if name not in known:
            raise InvalidInput(name, "is not a copy-trading limit")
        if value is not None:
            parsed[name] = _PARSERS[name](FIELD_NAMES[name], value)
            _check_places(FIELD_NAMES[name], parsed[name])
    limits = replace(current, **parsed)
    validate_limits(limits)
    return limits


def _check_places(field: str, value: object) -> None:
    """Stored as NUMERIC(6, 3): more decimals would be rounded silently, so refuse them."""
    if isinstance(value, Decimal) and value.is_finite() and value != value.quantize(
            PLACES, rounding=ROUND_DOWN):
        raise InvalidInput(field, "at most 3 decimal places")


async def get_copy_settings(user: User, provider_slug: str) -> CopySettings:
    """``user``'s copy settings for a provider they are subscribed to (row created with
    defaults if missing). Raises ``NotAllowed`` without an entitled subscription,
    ``NotFound`` for an unknown provider."""
    sub = await _subscription(user, provider_slug)
    settings, _ = await CopySettings.get_or_create(subscription=sub)
    settings.subscription = sub
    return settings


async def set_copy_trading(user: User, provider_slug: str, enabled: bool | None,
                           scale_factor: object = None, max_position_pct: object = None,
                           max_open_positions: object = None, **limits: object
                           ) -> CopySettings:
    """Switch copy trading for one subscription on or off (None: keep) and set limits.

    ``limits`` are further ``CopyLimits`` fields by name (max_daily_loss_pct,
    slippage_guard_pct, slippage_action, leverage_cap, allowed_symbols, denied_symbols,
    exit_ladder, move_stop_to_breakeven); omitted or None values keep their current
    values. Writes the copy_settings row only when every value is valid. Raises
    ``NotAllowed`` without an entitled subscription, ``NotFound`` for an unknown
    provider, ``InvalidInput`` (field named as in GraphQL) for a bad value.
    """
    settings = await get_copy_settings(user, provider_slug)
    changes = {"scale_factor": scale_factor, "max_position_pct": max_position_pct,
               "max_open_positions": max_open_positions, **limits}
    new = parse_limits(copy_limits(settings), changes)
    if enabled is not None:
        settings.enabled = enabled
    _store(settings, new)
    await settings.save()
    return settings


def _store(settings: CopySettings, limits: CopyLimits) -> None:
    settings.scale_factor = limits.scale_factor
    settings.max_position_pct = limits.max_position_pct
    settings.max_open_positions = limits.max_open_positions
    settings.max_daily_loss_pct = limits.max_daily_loss_pct
    settings.slippage_guard_pct = limits.slippage_guard_pct
    settings.slippage_action = limits.slippage_action.value
    settings.leverage_cap = limits.leverage_cap
    settings.allowed_symbols = list(limits.allowed_symbols)
    settings.denied_symbols = list(limits.denied_symbols)
    settings.exit_ladder = [str(p) for p in limits.exit_ladder]
    settings.move_stop_to_breakeven = limits.move_stop_to_breakeven


async def _subscription(user: User, provider_slug: str) -> Subscription:
    try:
        return await active_subscription(user, provider_slug)
    except NotFound as exc:
        if "not subscribed" not in exc.message:
            raise
        raise NotAllowed(f"{exc.message}; subscribe first") from None


# --- parsers: (field name for errors, raw value) -> typed value -------------------------


def parse_decimal(field: str, value: object) -> Decimal:
    """A finite decimal from a number or text (``"0.5"``, ``"10%"``)."""
    text = str(value).strip().removesuffix("%") if isinstance(value, str) else str(value)
    try:
        number = Decimal(text)
    except (InvalidOperation, ValueError):
        raise InvalidInput(field, f"must be a number, got {value!r}") from None
    if not number.is_finite():
        raise InvalidInput(field, "must be a finite number")
    return number


def parse_int(field: str, value: object) -> int:
    """A whole number from an int or text (``"5"``, ``"10x"`` for leverage)."""
    if isinstance(value, bool):
        raise InvalidInput(field, f"must be a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip().lower().removesuffix("x")
    if not text.lstrip("-").isdigit():
        raise InvalidInput(field, f"must be a whole number, got {value!r}")
    return int(text)


def parse_bool(field: str, value: object) -> bool:
    """A bool from a bool or text (on/off, yes/no, true/false, 1/0)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"on", "yes", "true", "1"}:
        return True
    if text in {"off", "no", "false", "0"}:
        return False
    raise InvalidInput(field, f"must be on or off, got {value!r}")


def parse_action(field: str, value: object) -> SlippageAction:
    """``skip`` or ``limit`` (case-insensitive)."""
    try:
        return SlippageAction(str(value).strip().lower())
    except ValueError:
        raise InvalidInput(field, f"must be skip or limit, got {value!r}") from None


def parse_symbols(field: str, value: object) -> tuple[str, ...]:
    """Symbols from a list or comma-separated text; ``-``/``none``/empty clears the list."""
    items: Sequence[object]
    if isinstance(value, str):
        items = [] if value.strip().lower() in {"-", "none", ""} else value.split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise InvalidInput(field, f"must be a list of symbols, got {value!r}")
    return canonical_symbols(str(s) for s in items)


def parse_ladder(field: str, value: object) -> tuple[Decimal, ...]:
    """Percents per target from a list or text (``50/30/20``, ``50,30,20``; ``even``
    clears it). Validated by ``domain.risk.validate_exit_ladder``."""
    items: Sequence[object]
    if isinstance(value, str):
        text = value.strip().lower()
        items = [] if text in {"even", "-", "none", ""} else \
            text.replace("/", ",").split(",")
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise InvalidInput(field, f"must be a list of percents, got {value!r}")
    return validate_exit_ladder([parse_decimal(field, p) for p in items])


_PARSERS: dict[str, Any] = {
    "scale_factor": parse_decimal, "max_position_pct": parse_decimal,
    "max_open_positions": parse_int, "max_daily_loss_pct": parse_decimal,
    "slippage_guard_pct": parse_decimal, "slippage_action": parse_action,
    "leverage_cap": parse_int, "allowed_symbols": parse_symbols,
    "denied_symbols": parse_symbols, "exit_ladder": parse_ladder,
    "move_stop_to_breakeven": parse_bool,
}
