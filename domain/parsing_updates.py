"""Lifecycle posts about a signal already published: target hit, stop hit, cancel, close.

``find_update`` reads the raw post (emoji such as ✅ count) and is pure. "Closed at
stoploss" and "stopped out" are STOP_HIT; "All targets achieved" is TARGET_HIT with
``target`` None. Moving the stop ("SL moved to entry") is not an update kind here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class UpdateKind(StrEnum):
    TARGET_HIT = "TARGET_HIT"
    STOP_HIT = "STOP_HIT"
    CANCELLED = "CANCELLED"
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class ParsedUpdate:
    """An update post. ``target`` is the 1-based target number for TARGET_HIT, or None
    when the post says all targets were reached; ``symbol`` is None when not written."""

    kind: UpdateKind
    target: int | None = None
    symbol: str | None = None


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

_BARE_CLOSED = re.compile(r"\bclosed\b", re.IGNORECASE)  # only with a symbol: "#ETH closed"


def find_update(text: str, symbol: str | None) -> ParsedUpdate | None:
    """The update ``text`` announces, checked in order target, stop, cancel, close.

    A bare "closed" counts only when the post names a ``symbol``.
    """
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
