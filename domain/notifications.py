"""Notification preferences: which signal events a user receives, and quiet hours.

Switched-off event kinds are not delivered at all: fan-out writes no delivery row
for them (``muted_subscriber_ids``). During quiet hours messages are still delivered, but
silently (Telegram ``disable_notification``): the sender asks ``silent_now``. Quiet
hours are a local-time window ``start``–``end`` (minutes after midnight, ``end`` may
be on the next day, ``22:00``–``07:00``) in the user's IANA time zone, so they follow
daylight saving time. Personal notices (copy fills, position closes) are never
switched off, only silenced.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.errors import InvalidInput
from domain.linking_models import NotificationPreferences
from domain.models import EventKind, User

# What /settings shows, in this order: event kind -> label.
EVENT_LABELS: dict[EventKind, str] = {
    EventKind.PUBLISHED: "New signals",
    EventKind.ACTIVATED: "Entry filled",
    EventKind.TARGET_HIT: "Targets hit",
    EventKind.STOP_HIT: "Stop-loss hit",
    EventKind.STOP_MOVED: "Stop-loss moved",
    EventKind.CLOSED: "Closed by provider",
    EventKind.CANCELLED: "Cancelled",
    EventKind.EXPIRED: "Expired",
}
_CLOCK = re.compile(r"^([01]?\d|2[0-3])(?::?([0-5]\d))?$")


def parse_clock(field: str, text: str) -> int:
    """``"22:00"``/``"7"``/``"0730"`` → minutes after midnight; ``InvalidInput`` otherwise."""
    match = _CLOCK.match(text.strip())
    if match is None:
        raise InvalidInput(field, f"use a 24-hour time like 22:00, got {text!r}")
    return int(match.group(1)) * 60 + int(match.group(2) or 0)


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (``Europe/Berlin``); ``InvalidInput`` (timeZone) otherwise."""
    try:
        return ZoneInfo(name.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("timeZone", f"unknown time zone {name!r}; use an IANA name like "
                                       "Europe/Berlin, America/New_York or UTC") from None


def in_quiet_hours(start: int | None, end: int | None, zone: str, now: datetime) -> bool:
    """True when ``now`` (aware) falls in the local window [start, end) of ``zone``.

    Minutes after local midnight; a window with ``end < start`` runs past midnight;
    ``start == end`` or a missing bound means no quiet hours.
    """
    if start is None or end is None or start == end:
        return False
    local = now.astimezone(ZoneInfo(zone))
    minute = local.hour * 60 + local.minute
    return start <= minute < end if start < end else minute >= start or minute < end


def format_clock(minutes: int) -> str:
    """Minutes after midnight as ``HH:MM``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


async def preferences(user: User) -> NotificationPreferences:
    """``user``'s preferences; an unsaved default (everything on, no quiet hours) if none."""
    found = await NotificationPreferences.get_or_none(user_id=user.id)
    return found or NotificationPreferences(user_id=user.id, muted_kinds=[], time_zone="UTC")


async def toggle_kind(user: User, kind: EventKind | str) -> NotificationPreferences:
    """Switch delivery of one event kind off (if on) or on (if off); returns the result.

    Raises ``InvalidInput`` (kind) for an unknown kind.
    """
    try:
        chosen = EventKind(str(kind))
    except ValueError:
        raise InvalidInput("kind", f"unknown event kind {kind!r}") from None
    prefs = await preferences(user)
    muted = set(prefs.muted_kinds)
    muted.symmetric_difference_update({chosen.value})
    prefs.muted_kinds = [k.value for k in EVENT_LABELS if k.value in muted]
    await prefs.save()
    return prefs


async def set_quiet_hours(user: User, start: str, end: str,
                          zone: str | None = None) -> NotificationPreferences:
    """Set quiet hours ``start``–``end`` (``HH:MM`` local) and, if given, the time zone.

    Raises ``InvalidInput`` (quietStart, quietEnd, timeZone); nothing changes then.
    """
    first, last = parse_clock("quietStart", start), parse_clock("quietEnd", end)
    if first == last:
        raise InvalidInput("quietEnd", "must differ from the start")
    prefs = await preferences(user)
    if zone is not None:
        prefs.time_zone = time_zone(zone).key
    prefs.quiet_start, prefs.quiet_end = first, last
    await prefs.save()
    return prefs


async def clear_quiet_hours(user: User) -> NotificationPreferences:
    """Remove quiet hours (every message makes a sound again)."""
    prefs = await preferences(user)
    prefs.quiet_start = prefs.quiet_end = None
    await prefs.save()
    return prefs


async def muted_subscriber_ids(provider_id: int, kind: EventKind | str) -> set[int]:
    """Users subscribed to ``provider_id`` (any status) who switched ``kind`` off.

    One query joining preferences to the provider's subscriptions: it reads only the
    users who saved preferences and binds no list of ids (a fan-out to 100,000
    subscribers would pass PostgreSQL's 32,767 bind parameters).
    """
    rows = await NotificationPreferences.filter(
        user__subscriptions__provider_id=provider_id).values("user_id", "muted_kinds")
    value = str(kind.value if isinstance(kind, EventKind) else kind)
    return {row["user_id"] for row in rows if value in (row["muted_kinds"] or [])}


async def silent_now(user_id: int, now: datetime | None = None) -> bool:
    """True when ``user_id`` is in their quiet hours at ``now`` (default: the current time)."""
    prefs = await NotificationPreferences.get_or_none(user_id=user_id)
    if prefs is None:
        return False
    return in_quiet_hours(prefs.quiet_start, prefs.quiet_end, prefs.time_zone,
                          now or datetime.now(UTC))
