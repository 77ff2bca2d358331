"""Free-text signal parser: reads a channel post into a signal, an update, or nothing.

``parse_message(text)`` is pure and deterministic (regular expressions only, no I/O) and
returns one of:

- ``ParsedSignal`` — symbol (ccxt unified, ``$BTC`` → ``BTC/USDT``), side, entry (one
  price or ``(low, high)``), targets, stop-loss, leverage, a confidence in 0..1 and the
  names of the fields it could not read (``unread``). A missing stop-loss is never
  guessed: it stays None and ``"stop_loss"`` is listed in ``unread``.
- ``ParsedUpdate`` — a lifecycle post about an existing signal (see ``parsing_updates``).
- None — the post is not a signal (fewer than two of entry / targets / stop found).

How the text is read: labels (``Entry``, ``Buy zone``, ``TP1``, ``Targets``, ``SL``,
``Stop Targets``…) cut the message into segments and the numbers of each segment
belong to that field; the side comes from ``LONG``/``SHORT``/``BUY``/``SELL`` or else
from where the targets and stop lie around the entry. Prices written as whole numbers
on a BTC-quoted pair are satoshis (``Buy 1200-1250`` on ADA/BTC → 0.00001200).
``to_draft`` turns a complete parse into a validated ``SignalDraft``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from domain.errors import InvalidSignal
from domain.models import Side
from domain.parsing_text import find_leverage, find_symbol, normalize, numbers_in
from domain.parsing_updates import ParsedUpdate, UpdateKind, find_update
from domain.signals import SignalDraft, make_draft

__all__ = [
    "ParsedSignal",
    "ParsedUpdate",
    "UpdateKind",
    "parse_message",
    "to_draft",
]

SATOSHI_QUOTES = frozenset({"BTC"})

# Label alternatives, longest first; the group name is the field the segment feeds.
# A list index after a label: "TP 1:", "Entry 2)", "Target 1 126.61".
_IDX = r"(?:[ \t]*\d{1,2}(?=[ \t]*(?:[:)=]|[.\-](?!\d)))|[ \t]+\d(?=[ \t]+\d))"
_LABELS = re.compile(
    r"(?<![A-Za-z])(?:"
    r"(?P<stop>stop[ \t-]*loss(?:es)?|stop[ \t-]*targets?|stoploss|stop|s/?l|invalidation)"
    r"|(?P<target>take[ \t-]*profit(?:s|[ \t]*targets?)?|profit[ \t]*targets?"
    rf"|sell[ \t]*targets?|targets?{_IDX}?|tp(?:\d{{1,2}}|{_IDX})?|t\d{{1,2}})"
    r"|(?P<entry>entry[ \t]*(?:zone|price|targets?|points?|range|area)|entries"
    rf"|entry{_IDX}?|enter[ \t]*(?:above|below|at|around|between)?|(?:buy|sell|long|short)"
    r"[ \t]*(?:zone|between|around|at|range|price|area|entry|from)?"
    r"|(?:accumulation[ \t]*)?zone|open(?:ing)?[ \t]*price)"
    r"|(?P<other>leverage|lev|cmp|current[ \t]*price|price[ \t]*now|market[ \t]*price|risk\w*"
    r"|r:r|rr|margin|capital|amount|exchange|time[ \t]*frame|tf|volume|period|signal[ \t]*type)"
    r")(?![A-Za-z])",
    re.IGNORECASE,
)
# A line opening with an unknown "Word words:" label ends the previous segment.
_OTHER_LINE = re.compile(r"(?m)^[ \t]*[A-Za-z][A-Za-z ]{1,25}:")
_SIDE_WORD = re.compile(r"(?<![A-Za-z])(long|short|buy|sell)(?![A-Za-z])", re.IGNORECASE)
_SIDE_BY_WORD = {"long": Side.BUY, "buy": Side.BUY, "short": Side.SELL, "sell": Side.SELL}


@dataclass(frozen=True)
class ParsedSignal:
    """A signal read from free text. Prices are Decimals in the quote currency.

    ``entry`` holds one price or ``(low, high)``; ``unread`` names the fields
    (``symbol``, ``side``, ``entry``, ``targets``, ``stop_loss``) that were not found.
    ``confidence`` starts at 1, loses 0.25 per unread field, 0.1 when the side was only
    inferred from the prices and 0.4 when the written side contradicts the prices.
    """

    symbol: str | None
    side: Side | None
    entry: tuple[Decimal, ...]
    targets: tuple[Decimal, ...]
    stop_loss: Decimal | None
    leverage: int | None
    confidence: float
    unread: tuple[str, ...]


@dataclass(frozen=True)
class _Fields:
    entry: list[Decimal]
    targets: list[Decimal]
    stop: list[Decimal]


def parse_message(text: str) -> ParsedSignal | ParsedUpdate | None:
    """Read one post. Deterministic; never raises on any string input.

    An update phrase wins over prices unless the post has entry, targets and stop all
    three (a full signal may carry a decorative "TP1 ✅"); otherwise a post is a signal
    when at least two of entry / targets / stop were read, else None.
    """
    clean = normalize(text)
    symbol = find_symbol(clean)
    fields = _read_fields(clean)
    found = sum(bool(f) for f in (fields.entry, fields.targets, fields.stop))
    update = find_update(text, symbol)
    if update is not None and found < 3:
        return update
    if found < 2:
        return None
    return _build_signal(clean, symbol, fields)


def to_draft(parsed: ParsedSignal, *, note: str = "") -> SignalDraft:
    """Validate a parse as a draft via ``make_draft``.

    Raises ``InvalidSignal`` naming the first field that is missing (symbol, side,
    entryLow, stopLoss, targets) or that breaks a rule of ``domain.signals``.
    """
    if parsed.symbol is None:
        raise InvalidSignal("symbol", "could not read the symbol")
    if parsed.side is None:
        raise InvalidSignal("side", "could not read the side")
    if not parsed.entry:
        raise InvalidSignal("entryLow", "could not read the entry")
    if parsed.stop_loss is None:
        raise InvalidSignal("stopLoss", "could not read the stop-loss; it is never guessed")
    return make_draft(
        symbol=parsed.symbol,
        side=parsed.side.value,
        entry_low=parsed.entry[0],
        entry_high=parsed.entry[-1] if len(parsed.entry) > 1 else None,
        stop_loss=parsed.stop_loss,
        targets=parsed.targets,
        leverage=parsed.leverage,
        note=note,
    )


def _read_fields(clean: str) -> _Fields:
    """Split ``clean`` at labels and collect each segment's numbers under its field."""
    fields = _Fields(entry=[], targets=[], stop=[])
    for kind, label, body in _segments(clean):
        if kind == "other":
            continue
        values = numbers_in(body)
        if kind == "entry" and label.lower().startswith("sell") and _is_sell_after_buy(clean):
            kind = "target"
        {"entry": fields.entry, "target": fields.targets, "stop": fields.stop}[kind].extend(
            values
        )
    return fields


def _segments(clean: str) -> list[tuple[str, str, str]]:
    """``(field, label, text)``: each label's text runs to the next label or blank line."""
    marks = [(m.start(), m.end(), m.lastgroup or "other") for m in _LABELS.finditer(clean)]
    marks += [(m.start(), m.start(), "other") for m in _OTHER_LINE.finditer(clean)]
    marks += [(m.start(), m.start(), "other") for m in re.finditer(r"\n\s*\n", clean)]
    marks.sort()
    out = []
    for i, (start, end, kind) in enumerate(marks):
        stop = marks[i + 1][0] if i + 1 < len(marks) else len(clean)
        out.append((kind, clean[start:end], clean[end : max(end, stop)]))
    return out


def _is_sell_after_buy(clean: str) -> bool:
    """Spot posts write ``Buy: 1200 Sell: 1300 1400``: the sell list is the targets."""
    words = [m.group(1).lower() for m in _SIDE_WORD.finditer(clean)]
    return "buy" in words and "sell" in words and words.index("buy") < words.index("sell")


def _build_signal(clean: str, symbol: str | None, fields: _Fields) -> ParsedSignal:
    scale = _satoshi_scale(symbol, fields)
    entry = _entry_of([p * scale for p in fields.entry])
    targets = tuple(p * scale for p in fields.targets)
    stop = fields.stop[0] * scale if fields.stop else None
    written = _written_side(clean)
    inferred = _infer_side(entry, targets, stop)
    side = written or inferred
    unread = _unread(symbol, side, entry, targets, stop)
    confidence = 1.0 - 0.25 * len(unread)
    if written is None:
        confidence -= 0.1
    elif inferred is not None and inferred is not written:
        confidence -= 0.4
    return ParsedSignal(
        symbol=symbol,
        side=side,
        entry=entry,
        targets=targets,
        stop_loss=stop,
        leverage=find_leverage(clean),
        confidence=round(max(0.0, min(1.0, confidence)), 2),
        unread=unread,
    )


def _satoshi_scale(symbol: str | None, fields: _Fields) -> Decimal:
    """1e-8 when every price on a BTC-quoted pair is a whole number of satoshis."""
    if symbol is None or symbol.split("/")[1] not in SATOSHI_QUOTES:
        return Decimal(1)
    prices = fields.entry + fields.targets + fields.stop
    whole = all(p >= 1 and p == p.to_integral_value() for p in prices)
    return Decimal("1e-8") if whole else Decimal(1)


def _entry_of(prices: list[Decimal]) -> tuple[Decimal, ...]:
    """One price, or ``(low, high)`` for a zone or several entries."""
    if not prices:
        return ()
    low, high = min(prices), max(prices)
    return (low,) if low == high else (low, high)


def _written_side(clean: str) -> Side | None:
    """The side named by the first LONG/SHORT, else the first BUY/SELL."""
    words = [m.group(1).lower() for m in _SIDE_WORD.finditer(clean)]
    for word in words:
        if word in ("long", "short"):
            return _SIDE_BY_WORD[word]
    return _SIDE_BY_WORD[words[0]] if words else None


def _infer_side(
    entry: tuple[Decimal, ...], targets: tuple[Decimal, ...], stop: Decimal | None
) -> Side | None:
    """BUY when targets lie above (or the stop below) the entry; SELL for the mirror."""
    pairs = []
    if entry and targets:
        pairs.append((targets[0], entry[-1] if targets[0] > entry[-1] else entry[0]))
    if entry and stop is not None:
        pairs.append((entry[0] if stop < entry[0] else entry[-1], stop))
    if targets and stop is not None:
        pairs.append((targets[0], stop))
    for high, low in pairs:
        if high != low:
            return Side.BUY if high > low else Side.SELL
    return None


def _unread(
    symbol: str | None,
    side: Side | None,
    entry: tuple[Decimal, ...],
    targets: tuple[Decimal, ...],
    stop: Decimal | None,
) -> tuple[str, ...]:
    found = {
        "symbol": symbol is not None,
        "side": side is not None,
        "entry": bool(entry),
        "targets": bool(targets),
        "stop_loss": stop is not None,
    }
    return tuple(name for name, ok in found.items() if not ok)
