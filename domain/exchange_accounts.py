"""Exchange accounts: connect (validated against the exchange), live opt-in, disconnect.

The domain never sees a plaintext secret: the entrypoint seals the credentials where
they arrive (``SealedCredentials``) and the ``AccountValidator`` port (adapter:
``signalhub.exchange_accounts``) opens them only to ask the exchange for the balance.
One ACTIVE account per user in this release; a user disconnects before connecting
another. Every account starts in paper mode; live needs ``confirm_live`` with the
exact phrase ``LIVE_CONFIRMATION``.

Errors: ``InvalidInput`` (bad field; a key the exchange rejects -> field ``apiKey``),
``NotAllowed`` (second active account, account not the caller's, disabled account),
``NotFound`` (no such account), ``RetryableError``/``PermanentError`` (exchange
unreachable or failing). On any error nothing is stored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

from tortoise.transactions import in_transaction

from domain.errors import CredentialsRejected, InvalidInput, NotAllowed, NotFound
from domain.exchange_models import AccountStatus, ExchangeAccount, MarketType, TradingMode
from domain.models import User

LIVE_CONFIRMATION = "I understand live orders use real money"
EXCHANGE_ID_RE = re.compile(r"^[a-z][a-z0-9]{1,31}$")
BASE_URL_RE = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+(:\d+)?/?$")
LABEL_RE = re.compile(r"^[\w .\-]{1,32}$")
WITHDRAWAL_WARNING = ("this API key can withdraw funds. SignalHub never needs that: create a "
                      "key with withdrawals disabled (trading and reading only).")


@dataclass(frozen=True)
class SealedCredentials:
    """AES-256-GCM ciphertext of an API key/secret/passphrase, with its nonce and key id."""

    ciphertext: bytes
    nonce: bytes
    key_id: str


@dataclass(frozen=True)
class AccountDraft:
    """What the user asked to connect. ``key_hint``: last 4 characters of the API key."""

    exchange_id: str
    market_type: str
    key_hint: str
    testnet: bool = False
    api_base_url: str | None = None
    label: str = "main"


@dataclass(frozen=True)
class AccountValidation:
    """The exchange's answer: balances (currency -> total) and the withdrawal permission
    (None where the exchange does not report it)."""

    balances: dict[str, Decimal]
    withdrawals_enabled: bool | None


class AccountValidator(Protocol):
    """Opens ``sealed`` (sealed for ``user_id``) and fetches the account's balance.

    Raises ``InvalidInput`` (unknown exchange id), ``CredentialsRejected``,
    ``RetryableError`` or ``PermanentError``. Never stores anything.
    """

    async def __call__(self, draft: AccountDraft, sealed: SealedCredentials,
                       user_id: int) -> AccountValidation: ...


@dataclass
class Connected:
    """A stored account, what validation saw, and warnings to show the user."""

    account: ExchangeAccount
    validation: AccountValidation
    warnings: list[str] = field(default_factory=list)


def check_draft(draft: AccountDraft) -> AccountDraft:
    """``draft`` normalised; ``InvalidInput`` naming the first bad field."""
    exchange_id = draft.exchange_id.strip().lower()
    if not EXCHANGE_ID_RE.match(exchange_id):
        raise InvalidInput("exchange", "must be a ccxt exchange id like binance, bybit or okx")
    if draft.market_type not in {m.value for m in MarketType}:
        raise InvalidInput("marketType", "must be spot or linear (USDT-margined perpetual)")
    base_url = (draft.api_base_url or "").strip() or None
    if base_url is not None and not BASE_URL_RE.match(base_url):
        raise InvalidInput("apiBaseUrl", "must be an http(s) URL of a host, like "
                                         "https://api.binance.com")
    label = draft.label.strip()
    if not LABEL_RE.match(label):
        raise InvalidInput("label", "must be 1 to 32 letters, digits, spaces, dots or dashes")
    return AccountDraft(exchange_id, draft.market_type, draft.key_hint, draft.testnet,
                        base_url.rstrip("/") if base_url else None, label)


def check_key_parts(api_key: str, secret: str, password: str | None = None) -> None:
    """Shape checks before anything is sealed; ``InvalidInput`` naming the field.

    The values are never echoed back in a message.
    """
    for name, value in (("apiKey", api_key), ("secret", secret)):
        if not 8 <= len(value.strip()) <= 512 or any(c.isspace() for c in value.strip()):
            raise InvalidInput(name, "must be 8 to 512 characters without spaces, as the "
                                     "exchange shows it")
    if password is not None and len(password) > 128:
        raise InvalidInput("password", "must be at most 128 characters")


async def active_account(user_id: int) -> ExchangeAccount | None:
    """The user's ACTIVE exchange account, or None (then copy trading uses paper)."""
    return await ExchangeAccount.get_or_none(user_id=user_id, status=AccountStatus.ACTIVE)


async def connect_account(user: User, draft: AccountDraft, sealed: SealedCredentials,
                          validate: AccountValidator) -> Connected:
    """Validate the key with the exchange, then store the account in paper mode.

    Writes one ``exchange_accounts`` row only after the exchange answered; warns when the
    key can withdraw. Raises ``InvalidInput`` (fields, rejected key -> ``apiKey``),
    ``NotAllowed`` (the user already has an active account), ``RetryableError`` /
    ``PermanentError`` (exchange trouble).
    """
    draft = check_draft(draft)
    current = await active_account(user.id)
    if current is not None:
        raise NotAllowed(f"you already have an active {current.exchange_id} account "
                         f"(#{current.id}): disconnect it before connecting another")
    try:
        validation = await validate(draft, sealed, user.id)
    except CredentialsRejected as exc:
        raise InvalidInput("apiKey", f"the exchange rejected this API key ({exc.message})") \
            from None
    async with in_transaction():
        # The user row lock serialises two connects of one user (double submit): the
        # second sees the first's account and stores nothing (PostgreSQL; SQLite has one
        # writer anyway).
        await User.select_for_update().get(id=user.id)
        if await active_account(user.id) is not None:
            raise NotAllowed("an exchange account was connected meanwhile: disconnect it "
                             "before connecting another")
        account = await ExchangeAccount.create(
            user=user, exchange_id=draft.exchange_id,
            market_type=MarketType(draft.market_type), testnet=draft.testnet,
            api_base_url=draft.api_base_url, label=draft.label,
            api_key_hint=draft.key_hint[-4:], credentials_ciphertext=sealed.ciphertext,
            credentials_nonce=sealed.nonce, credentials_key_id=sealed.key_id,
            withdrawal_enabled=validation.withdrawals_enabled, validated_at=_now())
    warnings = [WITHDRAWAL_WARNING] if validation.withdrawals_enabled else []
    return Connected(account, validation, warnings)


async def owned_account(user: User, account_id: int) -> ExchangeAccount:
    """The caller's account ``account_id``; ``NotFound`` otherwise (others' ids included)."""
    account = await ExchangeAccount.get_or_none(id=account_id, user_id=user.id)
    if account is None:
        raise NotFound(f"you have no exchange account #{account_id}")
    return account


async def confirm_live(user: User, account_id: int, confirmation: str) -> ExchangeAccount:
    """Switch an ACTIVE account to live trading; ``confirmation`` must be exactly
    ``LIVE_CONFIRMATION`` (surrounding spaces ignored). Idempotent.

    Raises ``InvalidInput`` (field ``confirm``), ``NotFound``, ``NotAllowed`` (disabled).
    """
    if confirmation.strip() != LIVE_CONFIRMATION:
        raise InvalidInput("confirm", f"type exactly: {LIVE_CONFIRMATION}")
    account = await owned_account(user, account_id)
    if account.status != AccountStatus.ACTIVE:
        raise NotAllowed(f"exchange account #{account_id} is disconnected")
    if account.mode != TradingMode.LIVE:
        account.mode, account.live_confirmed_at = TradingMode.LIVE, _now()
        await account.save(update_fields=["mode", "live_confirmed_at", "updated_at"])
    return account


async def switch_to_paper(user: User, account_id: int) -> ExchangeAccount:
    """Back to paper trading (clears the live confirmation). Idempotent; ``NotFound``."""
    account = await owned_account(user, account_id)
    if account.mode != TradingMode.PAPER or account.live_confirmed_at is not None:
        account.mode, account.live_confirmed_at = TradingMode.PAPER, None
        await account.save(update_fields=["mode", "live_confirmed_at", "updated_at"])
    return account


async def disconnect_account(user: User, account_id: int) -> ExchangeAccount:
    """Disable the account, back to paper, and erase its sealed credentials. Idempotent.

    Open positions and resting orders on the exchange are left as they are (SignalHub
    no longer holds a key to touch them). Raises ``NotFound``.
    """
    account = await owned_account(user, account_id)
    if account.status != AccountStatus.DISABLED:
        account.status, account.status_reason = AccountStatus.DISABLED, "disconnected by the user"
        account.mode, account.live_confirmed_at = TradingMode.PAPER, None
        account.credentials_ciphertext, account.credentials_nonce = b"", b""
        account.credentials_key_id = ""
        await account.save()
    return account


async def list_accounts(user: User) -> list[ExchangeAccount]:
    """The user's accounts, active first, newest first within each status."""
    rows = await ExchangeAccount.filter(user_id=user.id).order_by("-created_at", "-id")
    return sorted(rows, key=lambda a: a.status != AccountStatus.ACTIVE)


def _now() -> datetime:
    return datetime.now(UTC)
