"""Cron job ``sync_discord_roles``: keep each provider's server role on its entitled subscribers.

Every minute, for every role mapping (``domain.discord_roles``): give the role to
entitled subscribers with a linked Discord account who lack it, take it back from
those whose subscription ended (or whose mapping was removed), recording each
change. A member who left the server is skipped. A deleted role or server, or a
bot without Manage Roles, disables the mapping and DMs the owner who set it. A
transient failure stops this mapping's run; the next minute continues from the
recorded grants, so nothing is done twice. Role changes go through the shared
Discord limiter (keyed by the server id).
"""

from __future__ import annotations

import logging
from typing import Any

from domain import discord_roles
from domain.discord_models import DiscordRole
from domain.errors import PermanentError, RecipientUnreachable, RetryableError
from integrations.discord_rest import DiscordRest, MemberGone
from workers.context import WorkerDeps, activity, deps
from workers.discord_jobs import discord_limiter, discord_rest

log = logging.getLogger(__name__)
REASON = "SignalHub: paid subscription"


async def sync_discord_roles(ctx: dict[str, Any]) -> dict[str, int]:
    """Apply every mapping's ``role_plan``; returns counts (added, removed, disabled...)."""
    d = deps(ctx)
    mappings = await discord_roles.mappings_to_sync()
    if not mappings:
        return {}
    rest = await discord_rest(d)
    if rest is None:
        return {"skipped": len(mappings)}
    counts: dict[str, int] = {}
    for mapping in mappings:
        for outcome, n in (await _sync_one(d, rest, mapping)).items():
            counts[outcome] = counts.get(outcome, 0) + n
    return counts


async def _sync_one(d: WorkerDeps, rest: DiscordRest, mapping: DiscordRole) -> dict[str, int]:
    plan = await discord_roles.role_plan(mapping)
    done = {"added": 0, "removed": 0, "not_member": 0}
    guild, role = mapping.guild_id, mapping.role_id
    try:
        for user_id, discord_id in plan.add:
            await discord_limiter(d).acquire(guild)
            try:
                await rest.add_role(guild, discord_id, role, REASON)
            except MemberGone:
                done["not_member"] += 1
                continue
            await discord_roles.record_grant(mapping.id, user_id, discord_id)
            done["added"] += 1
        for grant in plan.remove:
            await discord_limiter(d).acquire(guild)
            try:
                await rest.remove_role(guild, grant.discord_user_id, role, REASON)
            except MemberGone:
                pass
            await discord_roles.drop_grant(grant.id)
            done["removed"] += 1
    except RecipientUnreachable as exc:
        await _disable_and_tell(d, rest, mapping, exc.message)
        done["disabled"] = 1
    except (RetryableError, PermanentError) as exc:
        log.warning("discord role mapping %s: %s (next run continues)", mapping.id, exc.message)
        done["failed"] = 1
    return done


async def _disable_and_tell(d: WorkerDeps, rest: DiscordRest, mapping: DiscordRole,
                            reason: str) -> None:
    broken = await discord_roles.disable_role(mapping.id, reason)
    if broken is None:
        return  # it was being removed anyway; its grants are forgotten
    await activity(d, "discord", f"Discord role mapping #{broken.id} disabled: {reason}",
                   roleMappingId=broken.id)
    try:
        await rest.send_dm(broken.created_by, content=discord_roles.role_broken_notice(broken))
    except (PermanentError, RetryableError) as exc:
        log.warning("could not tell the owner of role mapping %s: %s", broken.id, exc.message)
