"""Discord channel alerts: which provider's signals are posted in which server channel.

A server admin runs ``/alerts add <provider>`` in a channel; from then on every signal
of that provider is posted there and its message edited as the signal moves. The
caller's rights come from the interaction itself: Discord sends the member's resolved
permission bits in the channel (``member.permissions``), and Manage Server (or
Administrator) is required to add, list or remove alerts.

A paid provider's signals may be posted in a server channel only by its owner (or a
SignalHub admin) with a linked Discord account: otherwise one subscription would hand
paid signals to a whole server. Free providers may be added by any server admin.

An alert whose channel was deleted or whose permission the bot lost is disabled with
the reason (``disable_alert``); the worker then tells the admin who created it.
"""

from __future__ import annotations

from decimal import Decimal

from tortoise.exceptions import IntegrityError

from domain.discord_models import DiscordAlert, DiscordAlertMessage
from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.models import Provider, Role, User
from domain.providers import get_provider

ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
MAX_ALERTS_PER_GUILD = 50


def can_manage_server(permissions: int) -> bool:
    """True if Discord permission bits ``permissions`` include Manage Server or Administrator."""
    return bool(permissions & (MANAGE_GUILD | ADMINISTRATOR))


def require_manage_server(guild_id: int | None, permissions: int) -> int:
    """The guild id, if the caller is in a server and may manage it.

    Raises ``InvalidInput`` outside a server (a DM), ``NotAllowed`` without Manage Server.
    """
    if guild_id is None:
        raise InvalidInput("channel", "alerts live in server channels: run /alerts in a "
                                      "channel of your server, not in a direct message")
    if not can_manage_server(permissions):
        raise NotAllowed("only members with the Manage Server permission can manage alerts")
    return guild_id


async def add_alert(provider_slug: str, *, guild_id: int | None, channel_id: int,
                    discord_user_id: int, permissions: int) -> tuple[DiscordAlert, bool]:
    """Post ``provider_slug``'s signals in ``channel_id``; returns (alert, newly enabled).

    Idempotent: an enabled alert is returned unchanged (False); a disabled one is
    enabled again with the caller as its admin. Raises ``InvalidInput`` outside a
    server or past ``MAX_ALERTS_PER_GUILD``, ``NotAllowed`` without Manage Server or for
    a paid provider the caller does not own, ``NotFound`` for an unknown provider.
    """
    guild = require_manage_server(guild_id, permissions)
    provider = await get_provider(provider_slug)
    await _check_may_post(provider, discord_user_id)
    alert = await DiscordAlert.get_or_none(channel_id=channel_id, provider=provider)
    if alert is not None and alert.enabled:
        alert.provider = provider
        return alert, False
    if alert is None:
        if await DiscordAlert.filter(guild_id=guild, enabled=True).count() >= \
                MAX_ALERTS_PER_GUILD:
            raise InvalidInput("provider", f"a server can have at most {MAX_ALERTS_PER_GUILD} "
                                           "alerts; remove one with /alerts remove first")
        alert = await DiscordAlert.create(guild_id=guild, channel_id=channel_id,
                                          provider=provider, created_by=discord_user_id)
    else:
        alert.enabled, alert.disabled_reason = True, ""
        alert.guild_id, alert.created_by = guild, discord_user_id
        await alert.save()
    alert.provider = provider
    return alert, True


async def _check_may_post(provider: Provider, discord_user_id: int) -> None:
    if Decimal(provider.monthly_price) == 0:
        return
    user = await User.get_or_none(discord_user_id=discord_user_id)
    if user is not None and (user.id == provider.owner_id  # type: ignore[attr-defined]
                             or user.role is Role.ADMIN):
        return
    raise NotAllowed(f"{provider.slug} is a paid provider: only its owner can post its "
                     "signals in a server channel (owners: link your Discord with /link)")


async def remove_alert(provider_slug: str, *, guild_id: int | None, channel_id: int,
                       permissions: int) -> DiscordAlert:
    """Stop posting ``provider_slug`` in ``channel_id`` (the alert row is deleted).

    Raises ``InvalidInput`` outside a server, ``NotAllowed`` without Manage Server,
    ``NotFound`` for an unknown provider or when this channel has no such alert.
    """
    require_manage_server(guild_id, permissions)
    provider = await get_provider(provider_slug)
    alert = await DiscordAlert.get_or_none(channel_id=channel_id, provider=provider)
    if alert is None:
        raise NotFound(f"this channel has no alert for {provider.slug!r}; see /alerts list")
    await alert.delete()
    alert.provider = provider
    return alert


async def list_alerts(guild_id: int | None, permissions: int) -> list[DiscordAlert]:
    """Every alert of the server (enabled or not), provider loaded, by channel then slug.

    Raises ``InvalidInput`` outside a server, ``NotAllowed`` without Manage Server.
    """
    guild = require_manage_server(guild_id, permissions)
    return await DiscordAlert.filter(guild_id=guild).select_related("provider").order_by(
        "channel_id", "provider__slug")


async def alert_targets(provider_id: int) -> list[DiscordAlert]:
    """The enabled alerts of a provider (where its signals are posted), oldest first."""
    return await DiscordAlert.filter(provider_id=provider_id, enabled=True).order_by("id")


async def posted_message(alert_id: int, signal_id: int) -> int | None:
    """The Discord message id showing ``signal_id`` in the alert's channel, if posted."""
    row = await DiscordAlertMessage.get_or_none(alert_id=alert_id, signal_id=signal_id)
    return None if row is None else row.message_id


async def posted_messages(signal_id: int, alert_ids: list[int]) -> dict[int, int]:
    """Alert id → Discord message id of ``signal_id`` for the alerts that posted it."""
    rows = await DiscordAlertMessage.filter(signal_id=signal_id, alert_id__in=alert_ids
                                            ).values_list("alert_id", "message_id")
    return {int(a): int(m) for a, m in rows}


async def record_message(alert_id: int, signal_id: int, message_id: int) -> None:
    """Remember that ``message_id`` shows ``signal_id`` in the alert's channel (upsert)."""
    try:
        await DiscordAlertMessage.create(alert_id=alert_id, signal_id=signal_id,
                                         message_id=message_id)
    except IntegrityError:  # a repost replaces the message
        await DiscordAlertMessage.filter(alert_id=alert_id, signal_id=signal_id).update(
            message_id=message_id)


async def disable_alert(alert_id: int, reason: str) -> DiscordAlert | None:
    """Disable an enabled alert with ``reason``; returns it, or None if it was not enabled.

    The conditional update makes exactly one caller see the alert go off, so the admin
    is told once even when several jobs hit the same dead channel.
    """
    changed = await DiscordAlert.filter(id=alert_id, enabled=True).update(
        enabled=False, disabled_reason=reason[:500])
    if not changed:
        return None
    return await DiscordAlert.get(id=alert_id).select_related("provider")


def disabled_notice(alert: DiscordAlert) -> str:
    """The DM to the admin who created ``alert`` (provider loaded) when it was disabled."""
    return (f"⚠️ I stopped posting {alert.provider.name} ({alert.provider.slug}) signals in "
            f"channel <#{alert.channel_id}>: {alert.disabled_reason}. Check that the "
            "channel exists and that I may view it, send messages and embed links there, "
            f"then run /alerts add {alert.provider.slug} in it again.")
