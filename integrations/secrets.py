"""Exchange credentials at rest: AES-256-GCM (``cryptography``'s AESGCM) under a key id.

One ciphertext per exchange account: the JSON ``{"apiKey", "secret", "password"}``
encrypted with a fresh 96-bit nonce under ``SIGNALHUB_SECRET_KEY`` (32 bytes, 64 hex).
Beside it the row stores the nonce and the key id, the first 8 hex of SHA-256 of the
key, so ``SIGNALHUB_OLD_SECRET_KEYS`` (comma-separated hex keys) can still decrypt rows
written before a rotation, and ``signalhub keys rotate`` re-encrypts them under the
current key. The associated data is ``signalhub:exchange-account:<user id>``: a
ciphertext copied to another user's row fails authentication.

Errors (``SecretError``, a ``ValueError``): no key configured, a key id with no key
(the message names the id), a tampered or swapped ciphertext. Messages, reprs and logs
never contain a plaintext credential: ``ExchangeCredentials.__repr__`` redacts them.

Who decrypts: only ``decrypt_credentials`` / ``SecretBox.decrypt`` — the worker's
gateway pool for an account, and the connect flow right after sealing, to validate the
key with the exchange (``signalhub.exchange_accounts``). GraphQL and the bot only seal.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from tortoise.transactions import in_transaction

from domain.exchange_accounts import SealedCredentials
from domain.exchange_models import ExchangeAccount

NONCE_BYTES = 12


class SecretError(ValueError):
    """Credentials cannot be encrypted or decrypted; the message names the key id."""


@dataclass(frozen=True)
class ExchangeCredentials:
    """An exchange API key; ``password`` is the passphrase some exchanges have (okx, bitget).

    ``repr``/``str`` show only the last 4 characters of the API key.
    """

    api_key: str
    secret: str
    password: str | None = None

    def __repr__(self) -> str:
        return f"ExchangeCredentials(api_key='…{self.key_hint}', secret=<redacted>)"

    __str__ = __repr__

    @property
    def key_hint(self) -> str:
        """The last 4 characters of the API key (what users may see)."""
        return self.api_key[-4:]


def key_id(key: bytes) -> str:
    """First 8 hex characters of SHA-256 of ``key`` (safe to store and show)."""
    return hashlib.sha256(key).hexdigest()[:8]


def _parse_key(text: str, name: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SecretError(f"{name} must be 32 bytes written as 64 hex characters")
    return key


class SecretBox:
    """Encrypts under the current key; decrypts under it or any old key, by key id."""

    def __init__(self, current_hex: str | None, old_hex: Iterable[str] = ()) -> None:
        if not current_hex:
            raise SecretError("SIGNALHUB_SECRET_KEY is not set: exchange credentials cannot "
                              "be encrypted or decrypted without it")
        self._current = _parse_key(current_hex, "SIGNALHUB_SECRET_KEY")
        self.current_key_id = key_id(self._current)
        self._keys = {self.current_key_id: self._current}
        for text in old_hex:
            if text.strip():
                old = _parse_key(text, "SIGNALHUB_OLD_SECRET_KEYS entry")
                self._keys.setdefault(key_id(old), old)

    @classmethod
    def from_settings(cls, current_hex: str | None, old_csv: str = "") -> SecretBox:
        """From the values of ``SIGNALHUB_SECRET_KEY`` and ``SIGNALHUB_OLD_SECRET_KEYS``."""
        return cls(current_hex, old_csv.split(","))

    @property
    def key_ids(self) -> list[str]:
        """Ids of every key this box can decrypt with, current first."""
        return list(self._keys)

    def encrypt(self, credentials: ExchangeCredentials, user_id: int) -> SealedCredentials:
        """Seal ``credentials`` for the account row of ``user_id`` under the current key."""
        plain = json.dumps({"apiKey": credentials.api_key, "secret": credentials.secret,
                            "password": credentials.password}).encode()
        nonce = os.urandom(NONCE_BYTES)
        ciphertext = AESGCM(self._current).encrypt(nonce, plain, associated_data(user_id))
        return SealedCredentials(ciphertext, nonce, self.current_key_id)

    def decrypt(self, sealed: SealedCredentials, user_id: int) -> ExchangeCredentials:
        """Open a ciphertext sealed for ``user_id``.

        Raises ``SecretError`` naming the key id when no configured key has that id, or
        when authentication fails (wrong key, tampered bytes, another user's row).
        """
        key = self._keys.get(sealed.key_id)
        if key is None:
            raise SecretError(f"no secret key with id {sealed.key_id} is configured (have "
                              f"{', '.join(self._keys)}): set SIGNALHUB_SECRET_KEY or add the "
                              "old key to SIGNALHUB_OLD_SECRET_KEYS")
        try:
            plain = AESGCM(key).decrypt(sealed.nonce, sealed.ciphertext,
                                        associated_data(user_id))
        except InvalidTag:
            raise SecretError(f"credentials sealed under key {sealed.key_id} failed "
                              "authentication: wrong key, altered ciphertext, or a ciphertext "
                              "copied from another account") from None
        data = json.loads(plain)
        return ExchangeCredentials(data["apiKey"], data["secret"], data.get("password"))

    def reseal(self, sealed: SealedCredentials, user_id: int) -> SealedCredentials | None:
        """``sealed`` re-encrypted under the current key, or None if it already is."""
        if sealed.key_id == self.current_key_id:
            return None
        return self.encrypt(self.decrypt(sealed, user_id), user_id)


def associated_data(user_id: int) -> bytes:
    """AES-GCM associated data binding a ciphertext to its account row's user."""
    return f"signalhub:exchange-account:{user_id}".encode()


def sealed_of(account: ExchangeAccount) -> SealedCredentials:
    """The sealed credentials stored on ``account``'s row."""
    return SealedCredentials(bytes(account.credentials_ciphertext),
                             bytes(account.credentials_nonce), account.credentials_key_id)


def decrypt_credentials(box: SecretBox, account: ExchangeAccount) -> ExchangeCredentials:
    """The plaintext credentials of an ACTIVE account: the one decryption path (workers).

    Raises ``SecretError`` (no key with the row's key id, failed authentication, or a
    disconnected account that holds no credentials any more).
    """
    if not account.credentials_ciphertext:
        raise SecretError(f"exchange account #{account.id} holds no credentials "
                          "(disconnected)")
    return box.decrypt(sealed_of(account), account.user_id)  # type: ignore[attr-defined]


@dataclass
class RotationReport:
    """Counts of one ``rotate_all`` run; ``failed`` lists (account id, reason)."""

    rotated: int = 0
    current: int = 0
    empty: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


async def rotate_all(box: SecretBox) -> RotationReport:
    """Re-encrypt every account's credentials under the current key, row by row.

    Each row is re-read under a row lock and rewritten in its own transaction, so the run
    is idempotent and can be repeated after a crash; rows already under the current key
    are left alone, rows that cannot be decrypted are reported and left unchanged.
    """
    report = RotationReport()
    for account_id in await ExchangeAccount.all().order_by("id").values_list("id", flat=True):
        async with in_transaction():
            account = await ExchangeAccount.select_for_update().get(id=account_id)
            if not account.credentials_ciphertext:
                report.empty += 1
                continue
            try:
                resealed = box.reseal(sealed_of(account), account.user_id)  # type: ignore[attr-defined]
            except SecretError as exc:
                report.failed.append((account.id, str(exc)))
                continue
            if resealed is None:
                report.current += 1
                continue
            account.credentials_ciphertext, account.credentials_nonce = (
                resealed.ciphertext, resealed.nonce)
            account.credentials_key_id = resealed.key_id
            await account.save(update_fields=["credentials_ciphertext", "credentials_nonce",
                                              "credentials_key_id", "updated_at"])
            report.rotated += 1
    return report
