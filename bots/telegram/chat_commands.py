"""Argument parsing of /link, /close, /movesl, /cancel, /quiet and /addchannel: pure.

Bad arguments raise ``bots.telegram.commands.UsageError`` whose text says exactly
what to type instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from bots.telegram.commands import UsageError
from domain.chat_publishing import BREAK_EVEN_WORDS

EXAMPLE_ID = 12
EXAMPLE_PRICE = "99950.77"  # BTC/USDT 1h low of 2025-01-17 00:00 (Binance)
MODES = ("auto", "confirm")


def signal_id_and_note(command: str, args: str | None) -> tuple[int, str]:
    """``/close 12 taking profit`` → (12, "taking profit"); ``UsageError`` without an id."""
    words = (args or "").split(maxsplit=1)
    example = f"/{command} {EXAMPLE_ID}"
    if not words:
        raise UsageError(f"/{command} needs the signal id, e.g. {example} (the id is in the "
                         "message you got when it was published)")
    number = words[0].lstrip("#")
    if not number.isdigit():
        raise UsageError(f"the signal id is a whole number, e.g. {example}")
    return int(number), words[1].strip() if len(words) > 1 else ""


def movesl_arguments(args: str | None) -> tuple[int, str]:
    """``/movesl 12 99950.77`` → (12, "99950.77"); also ``entry``/``be``/``breakeven``
    (``domain.chat_publishing.BREAK_EVEN_WORDS``). ``UsageError`` otherwise."""
    usage = (f"/movesl needs the signal id and the new stop-loss, e.g. /movesl {EXAMPLE_ID} "
             f"{EXAMPLE_PRICE} (or /movesl {EXAMPLE_ID} entry for break-even)")
    words = (args or "").split()
    if len(words) != 2 or not words[0].lstrip("#").isdigit():
        raise UsageError(usage)
    price = words[1].replace(",", "")
    if price.lower() not in BREAK_EVEN_WORDS:
        try:
            Decimal(price)
        except InvalidOperation:
            raise UsageError(usage) from None
    return int(words[0].lstrip("#")), price


@dataclass(frozen=True)
class QuietRequest:
    """``/quiet 22:00 07:00 Europe/Berlin`` (zone optional) or ``/quiet off`` (``off``)."""

    off: bool
    start: str = ""
    end: str = ""
    zone: str | None = None


QUIET_USAGE = ("/quiet needs a start and an end time, and optionally your time zone, e.g. "
               "/quiet 22:00 07:00 Europe/Berlin — or /quiet off")


def quiet_arguments(args: str | None) -> QuietRequest:
    """Parse /quiet's arguments (``22:00 07:00`` or ``22:00-07:00``, then an optional
    zone); ``UsageError`` with the usage otherwise."""
    words = (args or "").split()
    if len(words) == 1 and words[0].lower() == "off":
        return QuietRequest(off=True)
    if words and "-" in words[0]:
        words = [*words[0].split("-", 1), *words[1:]]
    if len(words) not in (2, 3) or not all(words[:2]):
        raise UsageError(QUIET_USAGE)
    return QuietRequest(False, words[0], words[1], words[2] if len(words) == 3 else None)


@dataclass(frozen=True)
class AddChannelRequest:
    """``/addchannel <channel id or @name> [slug] [auto|confirm]``."""

    chat: int | str
    slug: str | None
    mode: str


ADD_USAGE = ("/addchannel needs your channel's id or @username, then optionally the "
             "provider slug and auto or confirm, e.g. /addchannel @my_signals rsi-demo "
             "confirm. Easier: add me to the channel as an admin and I will ask you.")


def addchannel_arguments(args: str | None) -> AddChannelRequest:
    """Parse /addchannel's arguments; ``UsageError`` otherwise."""
    words = (args or "").split()
    if not 1 <= len(words) <= 3:
        raise UsageError(ADD_USAGE)
    chat: int | str = words[0]
    if words[0].lstrip("-").isdigit():
        chat = int(words[0])
    elif not words[0].startswith("@"):
        raise UsageError(ADD_USAGE)
    mode = next((w.lower() for w in words[1:] if w.lower() in MODES), "confirm")
    slugs = [w.lower() for w in words[1:] if w.lower() not in MODES]
    if len(slugs) > 1:
        raise UsageError(ADD_USAGE)
    return AddChannelRequest(chat, slugs[0] if slugs else None, mode)
