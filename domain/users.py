"""Users and API tokens. Tokens are shown once and stored as SHA-256 hashes."""

from __future__ import annotations

import hashlib
import secrets

from domain.errors import InvalidInput
from domain.models import ApiToken, PaperAccount, Role, User

TOKEN_PREFIX = "shk_"


def hash_token(token: str) -> str:
    """SHA-256 hex digest under which a token is stored and looked up."""
    return hashlib.sha256(token.encode()).hexdigest()


async def create_user(name: str, role: Role | str = Role.USER,
                      telegram_user_id: int | None = None) -> User:
    """Create a user with a paper account (10,000 USDT). Raises ``InvalidInput`` on name/role."""
    name = name.strip()
    if not 1 <= len(name) <= 64:
        raise InvalidInput("name", "must be 1 to 64 characters")
    try:
        role = Role(role)
    except ValueError:
        raise InvalidInput("role", "must be user, provider or admin") from None
    user = await User.create(name=name, role=role, telegram_user_id=telegram_user_id,
                             telegram_chat_id=telegram_user_id)
    await PaperAccount.create(user=user)
    return user


async def issue_token(user: User) -> str:
    """Create a new API token for ``user``; returns the plain token (the only time it exists)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    await ApiToken.create(user=user, token_hash=hash_token(token))
    return token


async def authenticate(token: str | None) -> User | None:
    """The user owning ``token`` (with or without a ``Bearer `` prefix), or None."""
    if not token:
        return None
    token = token.removeprefix("Bearer ").strip()
    row = await ApiToken.get_or_none(token_hash=hash_token(token)).select_related("user")
    return row.user if row else None


async def telegram_user(telegram_user_id: int, chat_id: int, name: str) -> User:
    """Find or create the user of a Telegram account; marks the chat reachable again."""
    user = await User.get_or_none(telegram_user_id=telegram_user_id)
    if user is None:
        return await create_user(name[:64] or f"tg{telegram_user_id}",
                                 telegram_user_id=telegram_user_id)
    if user.telegram_chat_id != chat_id or not user.telegram_reachable:
        user.telegram_chat_id, user.telegram_reachable = chat_id, True
        await user.save(update_fields=["telegram_chat_id", "telegram_reachable"])
    return user
