"""Linking codes on real PostgreSQL: expiry (clock argument), single use, wrong codes,
identities already linked, and the merge-or-refuse rule for accounts that hold data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.errors import InvalidInput
from domain.linking import (
    CODE_TTL,
    LinkRefused,
    code_hash,
    issue_code,
    linked_platforms,
    normalize_code,
    redeem_code,
)
from domain.linking_models import LinkCode, Platform
from domain.models import ApiToken, Role, Subscription, User
from domain.providers import create_provider
from domain.subscriptions import set_copy_trading, subscribe
from domain.users import authenticate, create_user, issue_token, telegram_user

pytestmark = pytest.mark.usefixtures("clean_db")
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
TG, DC = 7001, 880011223344556677


async def provider(slug: str = "rsi-demo") -> None:
    owner = await create_user("Desk", role=Role.PROVIDER)
    await create_provider(owner, slug, "RSI Demo", monthly_price="0")


async def test_code_links_a_new_discord_identity_to_the_telegram_account() -> None:
    account = await telegram_user(TG, TG, "Ada")
    code = await issue_code(account, "telegram", now=NOW)

    result = await redeem_code(code.lower().replace("-", " "), "discord",
                               platform_user_id=DC, now=NOW + timedelta(minutes=9))

    assert result.account.id == account.id and not result.already_linked
    assert result.absorbed_user_id is None
    reloaded = await User.get(id=account.id)
    assert (reloaded.telegram_user_id, reloaded.discord_user_id) == (TG, DC)
    assert await linked_platforms(reloaded) == [Platform.TELEGRAM, Platform.DISCORD,
                                                Platform.API]
    stored = await LinkCode.get(user_id=account.id)
    assert stored.code_hash == code_hash(code) and normalize_code(code) not in stored.code_hash
    assert stored.used_at == NOW + timedelta(minutes=9)


async def test_code_shape_is_eight_unambiguous_characters() -> None:
    account = await create_user("Ada")
    code = await issue_code(account, Platform.API, now=NOW)

    assert len(code) == 9 and code[4] == "-"
    assert not set(normalize_code(code)) & set("01OIL")


async def test_expired_code_is_refused_and_changes_nothing() -> None:
    account = await telegram_user(TG, TG, "Ada")
    code = await issue_code(account, "telegram", now=NOW)

    with pytest.raises(InvalidInput) as raised:
        await redeem_code(code, "discord", platform_user_id=DC, now=NOW + CODE_TTL)

    assert raised.value.field == "code" and "expired" in raised.value.rule
    assert (await User.get(id=account.id)).discord_user_id is None
    assert (await LinkCode.get(user_id=account.id)).used_at is None


async def test_code_works_once() -> None:
    account = await telegram_user(TG, TG, "Ada")
    code = await issue_code(account, "telegram", now=NOW)
    await redeem_code(code, "discord", platform_user_id=DC, now=NOW)

    with pytest.raises(InvalidInput) as raised:
        await redeem_code(code, "discord", platform_user_id=DC + 1, now=NOW)

    assert "already used" in raised.value.rule
    assert not await User.exists(discord_user_id=DC + 1)


@pytest.mark.parametrize(("code", "words"), [
    ("ABCD-EFGH", "no such link code"),
    ("ABC", "8 letters and digits"),
    ("", "8 letters and digits"),
])
async def test_wrong_codes_say_what_is_wrong(code: str, words: str) -> None:
    account = await telegram_user(TG, TG, "Ada")
    await issue_code(account, "telegram", now=NOW)

    with pytest.raises(InvalidInput) as raised:
        await redeem_code(code, "discord", platform_user_id=DC, now=NOW)

    assert words in raised.value.rule


async def test_a_new_code_voids_the_older_unused_one() -> None:
    account = await telegram_user(TG, TG, "Ada")
    first = await issue_code(account, "telegram", now=NOW)
    await issue_code(account, "telegram", now=NOW)

    with pytest.raises(InvalidInput):
        await redeem_code(first, "discord", platform_user_id=DC, now=NOW)


async def test_identity_already_on_the_account_is_reported_as_linked() -> None:
    account = await telegram_user(TG, TG, "Ada")
    code = await issue_code(account, "telegram", now=NOW)

    result = await redeem_code(code, "telegram", platform_user_id=TG, chat_id=TG, now=NOW)

    assert result.already_linked and result.account.id == account.id


async def test_a_second_identity_on_one_platform_is_refused() -> None:
    account = await telegram_user(TG, TG, "Ada")
    code = await issue_code(account, "telegram", now=NOW)

    with pytest.raises(LinkRefused) as raised:
        await redeem_code(code, "telegram", platform_user_id=TG + 1, chat_id=TG + 1, now=NOW)

    assert "already linked to another Telegram account" in raised.value.message
    assert (await LinkCode.get(user_id=account.id)).used_at is None


async def test_empty_discord_account_is_absorbed_by_the_telegram_account_with_data() -> None:
    await provider()
    account = await telegram_user(TG, TG, "Ada")
    await subscribe(account, "rsi-demo")
    await set_copy_trading(account, "rsi-demo", True)
    discord_only = await create_user("ada#discord")
    discord_only.discord_user_id = DC
    await discord_only.save()
    token = await issue_token(discord_only)
    code = await issue_code(account, "telegram", now=NOW)

    result = await redeem_code(code, "discord", platform_user_id=DC, now=NOW)

    assert result.account.id == account.id and result.absorbed_user_id == discord_only.id
    assert not await User.exists(id=discord_only.id)
    assert (await User.get(discord_user_id=DC)).id == account.id
    owner = await authenticate(token)
    assert owner is not None and owner.id == account.id  # API tokens follow the account
    sub = await Subscription.get(user_id=account.id).prefetch_related("copy_settings")
    assert sub.copy_settings.enabled


async def test_the_account_with_data_survives_whichever_app_made_the_code() -> None:
    await provider()
    empty_telegram = await telegram_user(TG, TG, "Ada")
    discord_account = await create_user("ada")
    discord_account.discord_user_id = DC
    await discord_account.save()
    await subscribe(discord_account, "rsi-demo")
    code = await issue_code(empty_telegram, "telegram", now=NOW)

    result = await redeem_code(code, "discord", platform_user_id=DC, now=NOW)

    assert result.account.id == discord_account.id
    assert result.absorbed_user_id == empty_telegram.id
    survivor = await User.get(id=discord_account.id)
    assert (survivor.telegram_user_id, survivor.telegram_chat_id) == (TG, TG)
    assert (await telegram_user(TG, TG, "Ada")).id == discord_account.id


async def test_two_accounts_with_data_are_not_merged() -> None:
    await provider()
    telegram_account = await telegram_user(TG, TG, "Ada")
    await subscribe(telegram_account, "rsi-demo")
    discord_account = await create_user("ada")
    discord_account.discord_user_id = DC
    await discord_account.save()
    await subscribe(discord_account, "rsi-demo")
    code = await issue_code(telegram_account, "telegram", now=NOW)

    with pytest.raises(LinkRefused) as raised:
        await redeem_code(code, "discord", platform_user_id=DC, now=NOW)

    assert "1 subscription" in raised.value.message and "not merged" in raised.value.message
    assert (await User.get(id=telegram_account.id)).discord_user_id is None
    assert (await User.get(id=discord_account.id)).discord_user_id == DC
    assert (await LinkCode.get(user_id=telegram_account.id)).used_at is None


async def test_api_caller_links_into_the_telegram_account() -> None:
    telegram_account = await telegram_user(TG, TG, "Ada")
    api_account = await create_user("ada-api")
    token = await issue_token(api_account)
    code = await issue_code(telegram_account, "telegram", now=NOW)

    result = await redeem_code(code, "api", user=api_account, now=NOW)

    assert result.account.id == telegram_account.id
    assert await ApiToken.filter(user_id=telegram_account.id).count() == 1
    owner = await authenticate(token)
    assert owner is not None and owner.id == telegram_account.id


async def test_redeem_needs_the_identity() -> None:
    account = await telegram_user(TG, TG, "Ada")
    code = await issue_code(account, "telegram", now=NOW)

    with pytest.raises(InvalidInput):
        await redeem_code(code, "discord", now=NOW)
    with pytest.raises(InvalidInput):
        await redeem_code(code, "api", now=NOW)
    with pytest.raises(InvalidInput):
        await redeem_code(code, "signal", platform_user_id=1, now=NOW)


async def test_a_provider_owner_counts_as_holding_data() -> None:
    await provider()
    owner = await User.get(name="Desk")
    fan = await telegram_user(TG, TG, "Ada")
    await subscribe(fan, "rsi-demo")
    code = await issue_code(owner, "api", now=NOW)

    with pytest.raises(LinkRefused) as raised:
        await redeem_code(code, "telegram", platform_user_id=TG, chat_id=TG, now=NOW)

    assert "1 provider" in raised.value.message and "1 subscription" in raised.value.message
    assert (await User.get(id=owner.id)).telegram_user_id is None
