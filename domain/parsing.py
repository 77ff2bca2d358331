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
from dataclasses import dataclass, field
from decimal import Decimal

from domain.errors import InvalidSignal
from domain.models import Side
from domain.parsing_text import (
    as_perpetual,
    find_leverage,
    find_symbol,
    normalize,
    numbers_in,
    split_percents,
)
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
    ``market_entry`` is True for an entry "at market"/``CMP`` without a price (the
    entry is then empty, not unread: ``to_draft`` takes the market price);
    ``stop_percent`` is a stop written as a distance from the entry in percent
    (``SL: 5%``; the stop then stays None); ``target_percents`` holds, per target, the
    share of the position written next to it (``TP1 64500 (50%)``) or None — empty when
    no target carries one.
    """

    symbol: str | None
    side: Side | None
    entry: tuple[Decimal, ...]
    targets: tuple[Decimal, ...]
    stop_loss: Decimal | None
    leverage: int | None
    confidence: float
    unread: tuple[str, ...]
    market_entry: bool = False
    stop_percent: Decimal | None = None
    target_percents: tuple[Decimal | None, ...] = ()


@dataclass
class _Fields:
    entry: list[Decimal]
    targets: list[Decimal]
    stop: list[Decimal]
    target_percents: list[Decimal | None] = field(default_factory=list)
    market: list[Decimal] = field(default_factory=list)
    market_named: bool = False


def parse_message(text: str) -> ParsedSignal | ParsedUpdate | None:
    """Read one post. Deterministic; never raises on any string input.

    An update phrase wins over prices unless the post has entry, targets and stop all
    three (a full signal may carry a decorative "TP1 ✅"); otherwise a post is a signal
    when at least two of entry / targets / stop were read, else None.
    """
    clean = normalize(text)
    symbol = find_symbol(clean)
    if symbol is not None:
        symbol = as_perpetual(symbol, clean)
    fields = _read_fields(clean)
    found = sum(bool(f) for f in (fields.entry, fields.targets, fields.stop))
    update = find_update(text, symbol)
    if update is not None and found < 3:
        return update
    stop_percent = _stop_percent(text) if not fields.stop else None
    found += stop_percent is not None and not fields.stop
    found += _market_entry(fields) and not fields.entry
    if found < 2:
        return None
    return _build_signal(clean, symbol, fields, stop_percent)


def to_draft(parsed: ParsedSignal, *, note: str = "",
             market_price: Decimal | None = None) -> SignalDraft:
    """Validate a parse as a draft via ``make_draft``.

    A market entry takes ``market_price`` (the last price, quote currency); a stop given
    in percent is computed from the entry (BUY: below ``entry_low``, SELL: above
    ``entry_high``, rounded to the entry's decimals). Raises ``InvalidSignal`` naming the
    first field that is missing (symbol, side, entryLow, stopLoss, targets) or that
    breaks a rule of ``domain.signals``.
    """
    if parsed.symbol is None:
        raise InvalidSignal("symbol", "could not read the symbol")
    if parsed.side is None:
        raise InvalidSignal("side", "could not read the side")
    entry = parsed.entry
    if not entry and parsed.market_entry and market_price is not None:
        entry = (Decimal(market_price),)
    if not entry:
        why = ("the entry is at market and no market price is known" if parsed.market_entry
               else "could not read the entry")
        raise InvalidSignal("entryLow", why)
    stop = parsed.stop_loss
    if stop is None and parsed.stop_percent is not None:
        stop = stop_from_percent(parsed.side, entry, parsed.stop_percent)
    if stop is None:
        raise InvalidSignal("stopLoss", "could not read the stop-loss; it is never guessed")
    return make_draft(
        symbol=parsed.symbol,
        side=parsed.side.value,
        entry_low=entry[0],
        entry_high=entry[-1] if len(entry) > 1 else None,
        stop_loss=stop,
        targets=parsed.targets,
        leverage=parsed.leverage,
        note=note,
    )


def stop_from_percent(side: Side, entry: tuple[Decimal, ...], percent: Decimal) -> Decimal:
    """The stop ``percent`` % beyond the entry, with the entry's number of decimals.

    BUY: ``entry_low × (1 − p/100)``; SELL: ``entry_high × (1 + p/100)``. Raises
    ``InvalidSignal`` (stopLoss) for a percentage outside (0, 100).
    """
    if not Decimal(0) < percent < Decimal(100):
        raise InvalidSignal("stopLoss", "a stop in percent must be between 0 and 100")
    base = entry[0] if side is Side.BUY else entry[-1]
    factor = 1 - percent / 100 if side is Side.BUY else 1 + percent / 100
    places = Decimal(1).scaleb(min(0, int(base.as_tuple().exponent)))
    return (base * factor).quantize(places)


_STOP_PERCENT = re.compile(
    r"(?im)(?<![A-Za-z])(?:stop[ \t-]*loss|stoploss|stop|s/?l)[ \t]*[:=\-]?[ \t]*"
    r"-?[ \t]*(\d{1,2}(?:\.\d+)?)[ \t]*%"
)
_MARKET = re.compile(
    r"(?<![A-Za-z])(?:cmp|current[ \t]*(?:market[ \t]*)?price|market[ \t]*price|price[ \t]*now"
    r"|at[ \t]*market|market)(?![A-Za-z])",
    re.IGNORECASE,
)


def _stop_percent(text: str) -> Decimal | None:
    """``SL: 5%`` / ``Stop -3.5%`` (read from the raw post: ``normalize`` hides percents)."""
    match = _STOP_PERCENT.search(text)
    return Decimal(match.group(1)) if match else None


def _market_entry(fields: _Fields) -> bool:
    return fields.market_named and not fields.market


def _read_fields(clean: str) -> _Fields:
    """Split ``clean`` at labels and collect each segment's numbers under its field.

    Numbers after a ``CMP``/``current price`` label are kept apart (``market``): they
    become the entry when no entry price is written. A percentage right after a target
    is that target's share.
    """
    fields = _Fields(entry=[], targets=[], stop=[])
    for kind, label, body in _segments(clean):
        if kind == "other":
            if _MARKET.fullmatch(label.strip()):
                fields.market_named = True
                fields.market.extend(numbers_in(body))
            continue
        if kind == "entry" and _MARKET.search(body.split("\n")[0]) and not numbers_in(body):
            fields.market_named = True
        if kind == "entry" and label.lower().startswith("sell") and _is_sell_after_buy(clean):
            kind = "target"
        if kind == "target":
            _read_targets(body, fields)
            continue
        {"entry": fields.entry, "stop": fields.stop}[kind].extend(numbers_in(body))
    if not fields.entry and fields.market:
        fields.entry.extend(fields.market[:1])
    return fields


def _read_targets(body: str, fields: _Fields) -> None:
    for chunk, percent in split_percents(body):
        values = numbers_in(chunk)
        fields.targets.extend(values)
        fields.target_percents.extend([None] * len(values))
        if percent is not None and values:
            fields.target_percents[-1] = percent


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


def _build_signal(clean: str, symbol: str | None, fields: _Fields,
                  stop_percent: Decimal | None = None) -> ParsedSignal:
    scale = _satoshi_scale(symbol, fields)
    entry = _entry_of([p * scale for p in fields.entry])
    targets = tuple(p * scale for p in fields.targets)
    stop = fields.stop[0] * scale if fields.stop else None
    written = _written_side(clean)
    inferred = _infer_side(entry, targets, stop)
    side = written or inferred
    market = _market_entry(fields) and not entry
    unread = _unread(symbol, side, entry or market, targets, stop or stop_percent)
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
        market_entry=market,
        stop_percent=stop_percent,
        target_percents=(tuple(fields.target_percents)
                         if any(p is not None for p in fields.target_percents) else ()),
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
    entry: object,
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
