"""A Discord server role that follows a provider's subscription.

The provider's owner runs ``/roles set <provider> <role>`` in their server (Manage
Server permission, from the interaction). From then on the worker keeps the role on
exactly the provider's entitled subscribers who linked a Discord account
(``role_plan``: who should get it, who should lose it), recording every role it gave
(``DiscordRoleGrant``) so it only ever takes back roles it gave. Only the owner may
map a role: otherwise any server could learn which of its members pay for a provider.

``remove_role`` switches the mapping off; the worker then takes the role back from
everyone it gave it to. A deleted role or a bot that lost Manage Roles disables the
mapping with the reason (``disable_role``) and the admin is told.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from domain.alerts import require_manage_server
from domain.discord_models import DiscordRole, DiscordRoleGrant
from domain.errors import NotAllowed, NotFound
from domain.models import Provider, Role, Subscription, User
from domain.providers import get_provider
from domain.subscriptions import entitled_q

REMOVED = "removed with /roles remove"


@dataclass
class RolePlan:
    """Changes that make a mapping's role holders match its entitled subscribers.

    ``add``: (user id, Discord user id) to give the role; ``remove``: grants to take back.
    """

    role: DiscordRole
    add: list[tuple[int, int]] = field(default_factory=list)
    remove: list[DiscordRoleGrant] = field(default_factory=list)


async def set_role(provider_slug: str, *, guild_id: int | None, role_id: int,
                   discord_user_id: int, permissions: int) -> tuple[DiscordRole, bool]:
    """Give ``role_id`` to the provider's entitled subscribers in this server.

    Returns (mapping, changed). One role per (server, provider): setting another role
    replaces it (the old role is taken back by the worker). Raises ``InvalidInput``
    outside a server, ``NotAllowed`` without Manage Server or when the caller does not
    own the provider, ``NotFound`` for an unknown provider.
    """
    guild = require_manage_server(guild_id, permissions)
    provider = await get_provider(provider_slug)
    await _check_owner(provider, discord_user_id)
    mapping = await DiscordRole.get_or_none(guild_id=guild, provider=provider)
    if mapping is not None and mapping.enabled and mapping.role_id == role_id:
        mapping.provider = provider
        return mapping, False
    if mapping is None:
        mapping = await DiscordRole.create(guild_id=guild, role_id=role_id, provider=provider,
                                           created_by=discord_user_id)
    else:
        if mapping.role_id != role_id:  # grants of the old role are now unknown to us
            await DiscordRoleGrant.filter(role_id=mapping.id).delete()
        mapping.role_id, mapping.enabled, mapping.disabled_reason = role_id, True, ""
        mapping.created_by = discord_user_id
        await mapping.save()
    mapping.provider = provider
    return mapping, True


async def _check_owner(provider: Provider, discord_user_id: int) -> None:
    user = await User.get_or_none(discord_user_id=discord_user_id)
    if user is None or (user.id != provider.owner_id  # type: ignore[attr-defined]
                        and user.role is not Role.ADMIN):
        raise NotAllowed(f"only the owner of {provider.slug} can give its subscribers a role "
                         "(owners: link your Discord account with /link first)")


async def remove_role(provider_slug: str, *, guild_id: int | None,
                      permissions: int) -> DiscordRole:
    """Switch the server's role mapping of the provider off; the worker takes roles back.

    Raises ``InvalidInput`` outside a server, ``NotAllowed`` without Manage Server,
    ``NotFound`` when the server has no enabled mapping for the provider.
    """
    guild = require_manage_server(guild_id, permissions)
    provider = await get_provider(provider_slug)
    mapping = await DiscordRole.get_or_none(guild_id=guild, provider=provider, enabled=True)
    if mapping is None:
        raise NotFound(f"this server gives no role for {provider.slug!r}; see /roles list")
    mapping.enabled, mapping.disabled_reason = False, REMOVED
    await mapping.save(update_fields=["enabled", "disabled_reason", "updated_at"])
    mapping.provider = provider
    return mapping


async def list_roles(guild_id: int | None, permissions: int) -> list[DiscordRole]:
    """The server's role mappings (provider loaded). Same errors as ``remove_role``."""
    guild = require_manage_server(guild_id, permissions)
    return await DiscordRole.filter(guild_id=guild).select_related("provider").order_by(
        "provider__slug")


async def mappings_to_sync() -> list[DiscordRole]:
    """Enabled mappings, and disabled ones still holding grants to take back."""
    enabled = await DiscordRole.filter(enabled=True).order_by("id")
    draining = await DiscordRole.filter(enabled=False, grants__id__isnull=False).distinct(
        ).order_by("id")
    return enabled + [m for m in draining if m.id not in {e.id for e in enabled}]


async def role_plan(mapping: DiscordRole, now: datetime | None = None) -> RolePlan:
    """Who should get the role and whose grant should go, at ``now`` (UTC).

    Expected holders: users entitled to the provider at ``now``
    (``domain.subscriptions.entitled_q``) with a linked Discord account; none when the
    mapping is disabled. A grant whose user re-linked another Discord account goes too.
    """
    expected: dict[int, int] = {}
    if mapping.enabled:
        rows = await Subscription.filter(
            entitled_q(now), provider_id=mapping.provider_id,  # type: ignore[attr-defined]
            user__discord_user_id__isnull=False).values("user_id", "user__discord_user_id")
        expected = {r["user_id"]: r["user__discord_user_id"] for r in rows}
    grants = await DiscordRoleGrant.filter(role_id=mapping.id).order_by("id")
    held = {g.user_id: g for g in grants}  # type: ignore[attr-defined]
    plan = RolePlan(mapping)
    plan.remove = [g for uid, g in held.items()
                   if expected.get(uid) != g.discord_user_id]
    kept = {uid for uid, g in held.items() if expected.get(uid) == g.discord_user_id}
    plan.add = [(uid, did) for uid, did in expected.items() if uid not in kept]
    return plan


async def record_grant(mapping_id: int, user_id: int, discord_user_id: int) -> None:
    """Remember that the role of ``mapping_id`` was given to ``user_id`` (idempotent)."""
    await DiscordRoleGrant.get_or_create(role_id=mapping_id, user_id=user_id,
                                         defaults={"discord_user_id": discord_user_id})


async def drop_grant(grant_id: int) -> None:
    """Forget a grant (the role was taken back, or cannot be any more)."""
    await DiscordRoleGrant.filter(id=grant_id).delete()


async def disable_role(mapping_id: int, reason: str) -> DiscordRole | None:
    """Disable a broken mapping and forget its grants; returns it if this call disabled it."""
    changed = await DiscordRole.filter(id=mapping_id, enabled=True).update(
        enabled=False, disabled_reason=reason[:500])
    await DiscordRoleGrant.filter(role_id=mapping_id).delete()
    if not changed:
        return None
    return await DiscordRole.get(id=mapping_id).select_related("provider")


def role_broken_notice(mapping: DiscordRole) -> str:
    """The DM to the owner who set a mapping (provider loaded) when it broke."""
    return (f"⚠️ I stopped giving role <@&{mapping.role_id}> to {mapping.provider.name} "
            f"({mapping.provider.slug}) subscribers: {mapping.disabled_reason}. Check that "
            "the role exists and that my own role is above it with Manage Roles, then run "
            f"/roles set {mapping.provider.slug} again.")
