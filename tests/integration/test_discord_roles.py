"""A server role that follows a paid subscription: /roles through the bot, the cron job.

The bot runs against the fake Discord REST API (role routes included); subscriptions
change state in the real database; ``sync_discord_roles`` runs as the worker runs it.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain import users
from domain.discord_models import DiscordRole, DiscordRoleGrant
from domain.models import Role, Subscription, SubscriptionStatus, User
from domain.providers import create_provider
from integrations.ratelimit import RedisRateLimiter
from tests.support.discord import (
    ALICE,
    BOB,
    GUILD,
    MANAGE_GUILD,
    discord_bot,
    ephemeral,
    opt,
    payload,
    role_object,
    run,
)
from workers.context import WorkerDeps
from workers.discord_jobs import close_discord
from workers.discord_roles import sync_discord_roles

ROLE = 930000000000000001
FAN, STRANGER = 930000000000000101, 930000000000000102


@pytest.fixture
async def bot(clean_db, settings, namespace):  # noqa: ANN001
    async with discord_bot(settings) as (client, api):
        # Test speed: the same shared Redis limiter, with room for the few role changes.
        client.services.extras["discord_limiter"] = RedisRateLimiter(
            client.services.redis, f"{namespace}:ratelimit:discord:", global_rate=500,
            per_chat_rate=500)
        yield client, api
        await close_discord(WorkerDeps(client.services, None, None))


async def _paid_world() -> tuple[User, User, User]:
    """A priced provider owned by ALICE's account, a linked member fan and a linked
    user who is not in the server; both with ACTIVE (paid) subscriptions."""
    owner = await users.create_user("role-owner", Role.PROVIDER)
    owner.discord_user_id = ALICE
    await owner.save()
    provider = await create_provider(owner, "role-desk", "Role Desk", monthly_price="25.00")
    fans = []
    for discord_id in (FAN, STRANGER):
        fan = await users.create_user(f"fan {discord_id}")
        fan.discord_user_id = discord_id
        await fan.save()
        await Subscription.create(user=fan, provider=provider, status=SubscriptionStatus.ACTIVE,
                                  monthly_price=Decimal("25.00"))
        fans.append(fan)
    return owner, fans[0], fans[1]


def _set(user_id: int = ALICE) -> dict:
    return payload("roles", [{"type": 1, "name": "set", "options": [
        opt("provider", "role-desk"), opt("role", str(ROLE), 8)]}],
        permissions=MANAGE_GUILD, user_id=user_id,
        resolved={"roles": {str(ROLE): role_object(ROLE)}})


async def _sync(client) -> dict[str, int]:  # noqa: ANN001
    return await sync_discord_roles({"deps": WorkerDeps(client.services, None, None)})


async def test_role_follows_the_subscription(bot) -> None:  # noqa: ANN001
    client, api = bot
    _, fan, _ = await _paid_world()
    api.add_guild(GUILD, roles=[ROLE], members=[ALICE, FAN])

    refused = await run(client, api, _set(user_id=BOB))
    assert ephemeral(refused) and "only the owner of role-desk" in refused["data"]["content"]
    done = await run(client, api, _set())
    assert ephemeral(done) and f"<@&{ROLE}> within a minute" in done["data"]["content"]

    assert await _sync(client) == {"added": 1, "removed": 0, "not_member": 1}
    assert api.roles_of(GUILD, FAN) == {ROLE}
    assert await _sync(client) == {"added": 0, "removed": 0, "not_member": 1}  # steady

    await Subscription.filter(user=fan).update(status=SubscriptionStatus.EXPIRED)
    assert await _sync(client) == {"added": 0, "removed": 1, "not_member": 1}
    assert api.roles_of(GUILD, FAN) == set()
    assert not await DiscordRoleGrant.exists()
    removals = api.calls_to("remove_role")
    assert len(removals) == 1 and removals[0].path.endswith(f"/members/{FAN}/roles/{ROLE}")


async def test_roles_remove_takes_the_role_back(bot) -> None:  # noqa: ANN001
    client, api = bot
    await _paid_world()
    api.add_guild(GUILD, roles=[ROLE], members=[ALICE, FAN])
    await run(client, api, _set())
    await _sync(client)
    listed = await run(client, api, payload("roles", [{"type": 1, "name": "list"}],
                                            permissions=MANAGE_GUILD))
    assert f"<@&{ROLE}> · **Role Desk** (`role-desk`)" in listed["data"]["content"]

    removed = await run(client, api, payload("roles", [
        {"type": 1, "name": "remove", "options": [opt("provider", "role-desk")]}],
        permissions=MANAGE_GUILD))
    assert "taking it back" in removed["data"]["content"]
    assert await _sync(client) == {"added": 0, "removed": 1, "not_member": 0}
    assert api.roles_of(GUILD, FAN) == set()
    assert await _sync(client) == {}  # nothing left to do


async def test_deleted_role_disables_the_mapping_and_tells_the_owner(bot) -> None:  # noqa: ANN001
    client, api = bot
    await _paid_world()
    api.add_guild(GUILD, roles=[], members=[ALICE, FAN])  # the role was deleted
    await run(client, api, _set())
    counts = await _sync(client)
    assert counts["disabled"] == 1
    mapping = await DiscordRole.get(guild_id=GUILD)
    assert not mapping.enabled and "Unknown Role" in mapping.disabled_reason
    [dm] = api.dms_to(ALICE)
    assert f"stopped giving role <@&{ROLE}> to Role Desk" in dm["content"]
    assert await _sync(client) == {}  # a disabled mapping is not retried

    no_perm = await run(client, api, payload("roles", [{"type": 1, "name": "list"}]))
    assert "Manage Server" in no_perm["data"]["content"]
