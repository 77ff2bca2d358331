"""SignalHub accounts of Discord users: found by their Discord user id, or created.

A Discord user who runs a bot command gets an account of their own (with a paper
account) on first use; ``/link`` later joins it with their Telegram or API account
(``domain.linking``).
"""

from __future__ import annotations

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from domain.models import User
from domain.users import create_user


async def discord_account(discord_user_id: int, name: str) -> User:
    """The account of Discord user ``discord_user_id`` (a snowflake), created if new.

    ``name`` (the Discord display name, cut to 64 characters) names a new account.
    Two first commands at once create one account: the loser of the race rolls back
    and reads the winner's.
    """
    user = await User.get_or_none(discord_user_id=discord_user_id)
    if user is not None:
        return user
    try:
        async with in_transaction():
            user = await create_user(name.strip()[:64] or f"discord{discord_user_id}")
            user.discord_user_id = discord_user_id
            await user.save(update_fields=["discord_user_id"])
    except IntegrityError:
        return await User.get(discord_user_id=discord_user_id)
    return user
