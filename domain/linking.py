"""One account across Telegram, Discord and the API, linked by one-time codes.

``issue_code(user, platform)`` gives a short code (``K7QM-2XPA``) shown in one app;
``redeem_code(code, platform, ...)`` entered in another app attaches that app's
identity (Telegram user, Discord user, or the API caller's account) to the issuing
account. Codes expire ``CODE_TTL`` (10 minutes) after issue and work once; only
their SHA-256 is stored, and issuing a new code voids the user's older unused ones.

When the redeeming identity already belongs to another account, the two accounts are
merged only if at most one of them holds anything (subscriptions of any status,
copy orders, positions, providers, exchange accounts, billing records — every table
pointing at the user but ``NOT_HOLDINGS``): the one that holds something survives and the
empty one's identities (Telegram ids, Discord id, API tokens) move to it, then the
empty account is deleted. If both hold something, linking is refused with a message
saying what is in the way (``LinkRefused``), and nothing changes. Subscriptions, copy
settings and positions therefore always follow the surviving account, whichever app
is used afterwards. An account is never given a second identity on one platform.

Guessing: 31^8 ≈ 8.5·10^11 codes, each user has at most one live code, for 10 minutes.
At 1,000 guesses a second against 1,000 live codes an attacker hits one with a
probability of about 7·10^-4 per 10 minutes; redemption attempts are not rate-limited
here (an API gateway limit per token is the place for that).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from domain.errors import InvalidInput, NotAllowed, NotFound
from domain.linking_models import LinkCode, Platform
from domain.models import ApiToken, Role, User

CODE_TTL = timedelta(minutes=10)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L
CODE_LENGTH = 8
CODE_EXAMPLE = "K7QM-2XPA"
ROLE_RANK = {Role.USER: 0, Role.PROVIDER: 1, Role.ADMIN: 2}


class LinkRefused(NotAllowed):
    """Both accounts hold subscriptions, positions or providers: they are not merged."""


@dataclass(frozen=True)
class LinkResult:
    """Outcome of ``redeem_code``.

    ``account`` is the surviving account (identities of both apps now point at it);
    ``absorbed_user_id`` is the empty account that was merged into it and deleted (None
    when there was none); ``already_linked`` is True when nothing had to change.
    """

    account: User
    platform: Platform
    absorbed_user_id: int | None = None
    already_linked: bool = False


def normalize_code(code: str) -> str:
    """Upper-case ``code`` without spaces or dashes (``k7qm 2xpa`` → ``K7QM2XPA``)."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def code_hash(code: str) -> str:
    """SHA-256 hex of the normalized code: what is stored and looked up."""
    return hashlib.sha256(normalize_code(code).encode()).hexdigest()


def format_code(raw: str) -> str:
    """``K7QM2XPA`` → ``K7QM-2XPA`` (how codes are shown)."""
    return f"{raw[:4]}-{raw[4:]}"


def _platform(platform: Platform | str) -> Platform:
    try:
        return Platform(str(platform).lower())
    except ValueError:
        raise InvalidInput("platform", "must be telegram, discord or api") from None


async def issue_code(user: User, platform: Platform | str,
                     now: datetime | None = None) -> str:
    """A new one-time link code for ``user``, issued in ``platform``.

    Returns the code as shown (``XXXX-XXXX``, 8 characters of an unambiguous alphabet),
    valid for 10 minutes from ``now`` (UTC, default the current time). Deletes the
    user's older unused codes. Raises ``InvalidInput`` for an unknown platform.
    """
    where = _platform(platform)
    now = now or datetime.now(UTC)
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    async with in_transaction():
        await LinkCode.filter(user_id=user.id, used_at=None).delete()
        await LinkCode.create(code_hash=code_hash(raw), user=user, platform=where,
                              created_at=now, expires_at=now + CODE_TTL)
    return format_code(raw)


async def redeem_code(code: str, platform: Platform | str, *,
                      platform_user_id: int | None = None, chat_id: int | None = None,
                      user: User | None = None, now: datetime | None = None) -> LinkResult:
    """Link the identity that entered ``code`` in ``platform`` to the code's account.

    The identity is ``platform_user_id`` (Telegram user id, with its private ``chat_id``,
    or Discord user id) or, for ``api``, the caller's account ``user``. Merging rules are
    in the module docstring. Marks the code used in the same transaction.

    Raises ``InvalidInput`` (field ``code``) for a malformed, unknown, expired or used
    code, or a missing identity; ``LinkRefused`` when both accounts hold data or the
    account already has another identity on ``platform``. Nothing changes on error.
    """
    where = _platform(platform)
    _check_identity(where, platform_user_id, user)
    now = now or datetime.now(UTC)
    if len(normalize_code(code)) != CODE_LENGTH:
        raise InvalidInput("code", f"a link code has 8 letters and digits, like {CODE_EXAMPLE}")
    async with in_transaction():
        row = await LinkCode.filter(code_hash=code_hash(code)).select_for_update().first()
        _check_code(row, now)
        assert row is not None
        issuer = await User.get(id=row.user_id)  # type: ignore[attr-defined]
        holder = user if where is Platform.API else await _holder(where, platform_user_id)
        result = await _link(issuer, holder, where, platform_user_id, chat_id)
        row.used_at = now
        await row.save(update_fields=["used_at"])
    return result


def _check_identity(where: Platform, platform_user_id: int | None, user: User | None) -> None:
    if where is Platform.API and user is None:
        raise InvalidInput("code", "sign in with your API token to link the API")
    if where is not Platform.API and platform_user_id is None:
        raise InvalidInput("platformUserId", f"the {where.value} user id is required")


def _check_code(row: LinkCode | None, now: datetime) -> None:
    if row is None:
        raise InvalidInput("code", "no such link code; check it, or run /link again for a "
                                   "new one")
    if row.used_at is not None:
        raise InvalidInput("code", "this link code was already used; run /link again for a "
                                   "new one")
    if row.expires_at <= now:
        raise InvalidInput("code", "this link code expired (codes last 10 minutes); run /link "
                                   "again for a new one")


async def _holder(where: Platform, platform_user_id: int | None) -> User | None:
    if where is Platform.TELEGRAM:
        return await User.get_or_none(telegram_user_id=platform_user_id)
    return await User.get_or_none(discord_user_id=platform_user_id)


async def _link(issuer: User, holder: User | None, where: Platform,
                platform_user_id: int | None, chat_id: int | None) -> LinkResult:
    if holder is not None and holder.id == issuer.id:
        return LinkResult(issuer, where, already_linked=True)
    if holder is None:
        _refuse_second_identity(issuer, where, platform_user_id)
        _set_identity(issuer, where, platform_user_id, chat_id)
        await issuer.save()
        return LinkResult(issuer, where)
    survivor, absorbed = await _survivor(issuer, holder)
    await _merge(survivor, absorbed)
    return LinkResult(survivor, where, absorbed_user_id=absorbed.id)


def _refuse_second_identity(account: User, where: Platform, platform_user_id: int | None
                            ) -> None:
    current = (account.telegram_user_id if where is Platform.TELEGRAM
               else account.discord_user_id if where is Platform.DISCORD else None)
    if current is not None and current != platform_user_id:
        app = "Telegram" if where is Platform.TELEGRAM else "Discord"
        raise LinkRefused(f"this account is already linked to another {app} account; "
                          f"use that {app} account")


def _set_identity(account: User, where: Platform, platform_user_id: int | None,
                  chat_id: int | None) -> None:
    if where is Platform.TELEGRAM:
        account.telegram_user_id = platform_user_id
        account.telegram_chat_id = chat_id if chat_id is not None else platform_user_id
        account.telegram_reachable = True
    elif where is Platform.DISCORD:
        account.discord_user_id = platform_user_id


# Reverse relations of User that are not "data" for the merge rule: moved (tokens),
# recreated or dropped with the empty account (codes, preferences, paper wallet,
# drafts), or derived from subscriptions (deliveries, role grants).
NOT_HOLDINGS = frozenset({"tokens", "link_codes", "notification_preferences", "paper_account",
                          "pending_posts", "deliveries", "discord_role_grants"})
WORDS = {"subscriptions": "subscription", "positions": "position", "copy_orders": "copy order",
         "providers": "provider", "exchange_accounts": "exchange account",
         "billing_customer": "billing record", "payments": "payment",
         "channel_sources": "signal channel"}


async def holdings(user: User) -> list[str]:
    """What ``user``'s account holds, as phrases ("2 subscriptions"); empty if nothing.

    Every table pointing at the user counts (subscriptions of any status, copy orders,
    positions, providers, exchange accounts, billing records…, including those of
    features added later) except ``NOT_HOLDINGS``. One COUNT per table.
    """
    meta = User._meta
    found = []
    for name in sorted(meta.backward_fk_fields | meta.backward_o2o_fields):
        if name in NOT_HOLDINGS:
            continue
        field = meta.fields_map[name]
        count = await field.related_model.filter(  # type: ignore[attr-defined]
            **{field.relation_field: user.id}).count()  # type: ignore[attr-defined]
        if count:
            word = WORDS.get(name, name.replace("_", " ").rstrip("s"))
            found.append(f"{count} {word}{'s' if count != 1 else ''}")
    return found


async def _survivor(issuer: User, holder: User) -> tuple[User, User]:
    """(survivor, absorbed): the account holding data survives; refuse if both do."""
    issuer_has, holder_has = await holdings(issuer), await holdings(holder)
    if issuer_has and holder_has:
        raise LinkRefused(
            "both accounts already have their own data (this one: "
            f"{', '.join(holder_has)}; the one that made the code: {', '.join(issuer_has)}). "
            "Accounts with data are not merged: unsubscribe and close positions in one of "
            "them first, or keep using them separately")
    return (holder, issuer) if holder_has else (issuer, holder)


async def _merge(survivor: User, absorbed: User) -> None:
    """Move ``absorbed``'s identities and API tokens to ``survivor``; delete ``absorbed``."""
    for where, value in ((Platform.TELEGRAM, absorbed.telegram_user_id),
                         (Platform.DISCORD, absorbed.discord_user_id)):
        if value is not None:
            _refuse_second_identity(survivor, where, value)
    moved = {"telegram_user_id": absorbed.telegram_user_id,
             "telegram_chat_id": absorbed.telegram_chat_id,
             "telegram_reachable": absorbed.telegram_reachable,
             "discord_user_id": absorbed.discord_user_id}
    await User.filter(id=absorbed.id).update(telegram_user_id=None, discord_user_id=None)
    if moved["telegram_user_id"] is not None:
        survivor.telegram_user_id = moved["telegram_user_id"]
        survivor.telegram_chat_id = moved["telegram_chat_id"]
        survivor.telegram_reachable = bool(moved["telegram_reachable"])
    if moved["discord_user_id"] is not None:
        survivor.discord_user_id = moved["discord_user_id"]
    if ROLE_RANK[absorbed.role] > ROLE_RANK[survivor.role]:
        survivor.role = absorbed.role
    await survivor.save()
    await ApiToken.filter(user_id=absorbed.id).update(user_id=survivor.id)
    await User.filter(id=absorbed.id).delete()


async def linked_platforms(user: User) -> list[Platform]:
    """The apps ``user``'s account is reachable from (API always: tokens can be issued)."""
    apps = [Platform.API]
    if user.telegram_user_id is not None:
        apps.insert(0, Platform.TELEGRAM)
    if user.discord_user_id is not None:
        apps.insert(-1, Platform.DISCORD)
    return apps


async def user_for_identity(platform: Platform | str, platform_user_id: int) -> User:
    """The account of a Telegram or Discord user id; raises ``NotFound``."""
    where = _platform(platform)
    found = await _holder(where, platform_user_id)
    if found is None:
        raise NotFound(f"no account for this {where.value} user yet")
    return found
