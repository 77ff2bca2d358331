"""Lifecycle posts about a signal already published: target hit, stop hit, cancel, close.

``find_update`` reads the raw post (emoji such as ✅ count) and is pure. "Closed at
stoploss" and "stopped out" are STOP_HIT; "All targets achieved" is TARGET_HIT with
``target`` None. "SL moved to entry" / "Move stop to breakeven" / "SL moved to 99950"
are STOP_MOVED with ``price`` None (to the entry) or the new stop; they are checked
first, since "TP1 ✅ move SL to entry" is above all a stop move.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum


class UpdateKind(StrEnum):
    TARGET_HIT = "TARGET_HIT"
    STOP_HIT = "STOP_HIT"
    CANCELLED = "CANCELLED"
    CLOSED = "CLOSED"
    STOP_MOVED = "STOP_MOVED"


@dataclass(frozen=True)
class ParsedUpdate:
    """An update post. ``target`` is the 1-based target number for TARGET_HIT, or None
    when the post says all targets were reached; ``symbol`` is None when not written;
    ``price`` is the new stop of STOP_MOVED (quote currency), None for "to entry"."""

    kind: UpdateKind
    target: int | None = None
    symbol: str | None = None
    price: Decimal | None = None


_DONE = r"(?:\u2705|\u2714|\u2611|hit|reached|achieved|done|smashed|booked|filled|touched)"
_STOP = r"(?:stop[\s-]*loss|stoploss|stop|sl)"
_TARGET_N = re.compile(
    rf"(?:take[\s-]*profit\s*)?(?:target|tp)\s*#?\s*(\d{{1,2}})\b[^\n]{{0,30}}?{_DONE}"
    rf"|{_DONE}\s*(?:take[\s-]*profit\s*)?(?:target|tp)\s*#?\s*(\d{{1,2}})\b",
    re.IGNORECASE,
)
_ALL_TARGETS = re.compile(rf"\ball\s*(?:take[\s-]*profit\s*)?(?:targets|tps)\s*{_DONE}", re.I)
_STOP_HIT = re.compile(
    rf"\b{_STOP}\s*(?:was\s*|got\s*|has\s*been\s*)?(?:hit|reached|triggered|touched|taken)"
    rf"|\bstopped\s*out\b|\bclosed\s*(?:at|by|on|with|in)\s*(?:the\s*)?{_STOP}\b"
    rf"|\bhit\s*(?:the\s*|our\s*)?{_STOP}\b",
    re.IGNORECASE,
)
_CANCELLED = re.compile(
    r"\b(?:cancel(?:l?ed|lation)?|invalidated|void|do\s*not\s*enter|don'?t\s*enter)\b", re.I
)
_CLOSED = re.compile(
    r"\b(?:clos(?:e|ed|ing)\s*(?:now|all|it|the\s*trade|the\s*position|manually|in\s*profit"
    r"|at\s*(?:entry|breakeven|market|profit))|(?:trade|position|signal)\s*(?:is\s*)?closed"
    r"|exit\s*now|book\s*(?:all\s*)?profits?)\b",
    re.IGNORECASE,
)

_WHERE = r"(?P<where>break[\s-]*even|b/?e|entry(?:\s*price)?|cost|(?P<price>\d[\d,]*(?:\.\d+)?))"
_STOP_MOVED = re.compile(
    r"(?:\b(?:move[sd]?|moving|shift(?:ed)?|set|adjust(?:ed)?|trail(?:ed)?|raise[sd]?"
    rf"|lower(?:ed)?)\s+(?:the\s+|our\s+|your\s+)?{_STOP}\s+(?:to|at)"
    rf"|\b{_STOP}\s*(?:is\s+|has\s+been\s+|was\s+|now\s+)?(?:moved|shifted|adjusted"
    r"|trailed|raised|lowered|updated)\s+(?:to|at)"
    rf"|\b{_STOP}\s*(?:->|=>|\u2192|\u27a1\ufe0f?))\s*{_WHERE}(?![\w.])",
    re.IGNORECASE,
)

_BARE_CLOSED = re.compile(r"\bclosed\b", re.IGNORECASE)  # only with a symbol: "#ETH closed"


def find_update(text: str, symbol: str | None) -> ParsedUpdate | None:
    """The update ``text`` announces, checked in order target, stop, cancel, close.

    A bare "closed" counts only when the post names a ``symbol``.
    """
    moved = _STOP_MOVED.search(text)
    if moved is not None:
        return ParsedUpdate(UpdateKind.STOP_MOVED, None, symbol, _stop_price(moved, symbol))
    match = _TARGET_N.search(text)
    if match is not None:
        number = int(match.group(1) or match.group(2))
        return ParsedUpdate(UpdateKind.TARGET_HIT, number, symbol)
    if _ALL_TARGETS.search(text):
        return ParsedUpdate(UpdateKind.TARGET_HIT, None, symbol)
    for kind, pattern in (
        (UpdateKind.STOP_HIT, _STOP_HIT),
        (UpdateKind.CANCELLED, _CANCELLED),
        (UpdateKind.CLOSED, _CLOSED),
    ):
        if pattern.search(text):
            return ParsedUpdate(kind, None, symbol)
    if symbol is not None and _BARE_CLOSED.search(text):
        return ParsedUpdate(UpdateKind.CLOSED, None, symbol)
    return None


def _stop_price(match: re.Match[str], symbol: str | None) -> Decimal | None:
    """The new stop of a STOP_MOVED match; whole satoshis on a BTC pair are scaled."""
    raw = match.group("price")
    if raw is None:
        return None
    try:
        price = Decimal(raw.replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern only yields numbers
        return None
    whole = price == price.to_integral_value()
    if symbol is not None and symbol.split("/")[1].split(":")[0] == "BTC" and whole:
        return price * Decimal("1e-8")
    return price
