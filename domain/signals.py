"""Pure rules of a signal: validation of a draft and the per-provider hash chain.

A draft is valid when (BUY) ``stop_loss < entry_low <= entry_high < every target``
with targets strictly ascending, or the mirror for SELL (``stop_loss > entry_high``,
targets strictly descending below ``entry_low``); prices are positive and finite;
leverage, if given, is 1–125; there are 1–10 targets; the symbol is in ccxt's
unified form (``BASE/QUOTE`` or ``BASE/QUOTE:SETTLE``, at most 48 characters); prices
have at most 12 decimal places and 18 integer digits (they are stored as NUMERIC(30, 12)
and hashed as given, so a price the column would round is refused, not altered).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation

from domain.errors import InvalidSignal
from domain.models import Side

GENESIS_HASH = "0" * 64
MAX_TARGETS = 10
MAX_LEVERAGE = 125
SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,20}/[A-Z0-9]{1,20}(:[A-Z0-9]{1,20})?$")
MAX_SYMBOL_LENGTH = 48  # signals.symbol is VARCHAR(48)
MAX_DECIMALS = 12  # prices are NUMERIC(30, 12)
MAX_INTEGER_DIGITS = 18


@dataclass(frozen=True)
class SignalDraft:
    """A signal as a provider submits it, before validation. Prices in quote currency."""

    symbol: str
    side: Side
    entry_low: Decimal
    entry_high: Decimal
    stop_loss: Decimal
    targets: tuple[Decimal, ...]
    leverage: int | None = None
    note: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def parse_price(field_name: str, value: object) -> Decimal:
    """Return ``value`` as a positive finite Decimal or raise ``InvalidSignal(field_name)``."""
    try:
        price = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidSignal(field_name, f"must be a number, got {value!r}") from None
    if not price.is_finite():
        raise InvalidSignal(field_name, "must be a finite number")
    if price <= 0:
        raise InvalidSignal(field_name, "must be greater than 0")
    exponent = int(price.as_tuple().exponent)
    if -exponent > MAX_DECIMALS and price != price.quantize(Decimal(1).scaleb(-MAX_DECIMALS)):
        raise InvalidSignal(field_name, f"must have at most {MAX_DECIMALS} decimal places")
    if price.adjusted() >= MAX_INTEGER_DIGITS:
        raise InvalidSignal(field_name, f"must be below 10^{MAX_INTEGER_DIGITS}")
    return price


def make_draft(
    *,
    symbol: str,
    side: str,
    entry_low: object,
    entry_high: object | None,
    stop_loss: object,
    targets: Sequence[object],
    leverage: int | None = None,
    note: str = "",
) -> SignalDraft:
    """Build and validate a draft from loose input (strings or numbers).

    ``entry_high`` of None means a single entry price. Raises ``InvalidSignal`` naming
    the first field that breaks a rule; returns the validated draft.
    """
    side_value = str(side).strip().upper()
    if side_value not in (Side.BUY, Side.SELL):
        raise InvalidSignal("side", f"must be BUY or SELL, got {side!r}")
    low = parse_price("entryLow", entry_low)
    high = low if entry_high in (None, "") else parse_price("entryHigh", entry_high)
    draft = SignalDraft(
        symbol=str(symbol).strip().upper(),
        side=Side(side_value),
        entry_low=low,
        entry_high=high,
        stop_loss=parse_price("stopLoss", stop_loss),
        targets=tuple(parse_price(f"targets[{i}]", t) for i, t in enumerate(targets)),
        leverage=leverage,
        note=note.strip(),
    )
    validate_draft(draft)
    return draft


def validate_draft(draft: SignalDraft) -> None:
    """Raise ``InvalidSignal`` for the first broken rule of ``draft`` (see module doc)."""
    if len(draft.symbol) > MAX_SYMBOL_LENGTH or not SYMBOL_RE.match(draft.symbol):
        raise InvalidSignal(
            "symbol", f"must be a ccxt unified symbol like BTC/USDT, got {draft.symbol!r}"
        )
    if draft.entry_high < draft.entry_low:
        raise InvalidSignal("entryHigh", "must be greater than or equal to entryLow")
    if not 1 <= len(draft.targets) <= MAX_TARGETS:
        raise InvalidSignal("targets", f"give 1 to {MAX_TARGETS} take-profit targets")
    if draft.leverage is not None and not 1 <= draft.leverage <= MAX_LEVERAGE:
        raise InvalidSignal("leverage", f"must be between 1 and {MAX_LEVERAGE}")
    if len(draft.note) > 1000:
        raise InvalidSignal("note", "must be at most 1000 characters")
    if draft.side is Side.BUY:
        _validate_long(draft)
    else:
        _validate_short(draft)


def _validate_long(draft: SignalDraft) -> None:
    if not draft.stop_loss < draft.entry_low:
        raise InvalidSignal("stopLoss", "for BUY the stop-loss must be below the entry")
    for i, target in enumerate(draft.targets):
        if not target > draft.entry_high:
            raise InvalidSignal(f"targets[{i}]", "for BUY every target must be above the entry")
        if i and not target > draft.targets[i - 1]:
            raise InvalidSignal(f"targets[{i}]", "for BUY targets must be strictly ascending")


def _validate_short(draft: SignalDraft) -> None:
    if not draft.stop_loss > draft.entry_high:
        raise InvalidSignal("stopLoss", "for SELL the stop-loss must be above the entry")
    for i, target in enumerate(draft.targets):
        if not target < draft.entry_low:
            raise InvalidSignal(f"targets[{i}]", "for SELL every target must be below the entry")
        if i and not target < draft.targets[i - 1]:
            raise InvalidSignal(f"targets[{i}]", "for SELL targets must be strictly descending")


def canonical_content(
    draft: SignalDraft, *, provider_slug: str, seq: int, created_at: datetime
) -> str:
    """The canonical JSON text a signal's hash covers (sorted keys, decimals as strings)."""
    content = {
        "provider": provider_slug,
        "seq": seq,
        "symbol": draft.symbol,
        "side": draft.side.value,
        "entry_low": _dec(draft.entry_low),
        "entry_high": _dec(draft.entry_high),
        "stop_loss": _dec(draft.stop_loss),
        "targets": [_dec(t) for t in draft.targets],
        "leverage": draft.leverage,
        "note": draft.note,
        "created_at": created_at.isoformat(),
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, content: str) -> str:
    """``sha256(prev_hash || content)`` as 64 hex chars: links a signal to its predecessor."""
    return hashlib.sha256((prev_hash + content).encode()).hexdigest()


def _dec(value: Decimal) -> str:
    """Decimal as plain text without exponent or trailing zeros (``64000.50`` → ``64000.5``)."""
    text = format(value.normalize(), "f")
    return text


def verify_chain(links: Sequence[tuple[str, str, str]]) -> int | None:
    """Check ``(prev_hash, content, content_hash)`` links in sequence order.

    Returns None when the chain is intact, else the index of the first broken link.
    """
    expected_prev = GENESIS_HASH
    for i, (prev_hash, content, content_hash) in enumerate(links):
        if prev_hash != expected_prev or chain_hash(prev_hash, content) != content_hash:
            return i
        expected_prev = content_hash
    return None
