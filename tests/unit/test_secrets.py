"""AES-256-GCM sealing of exchange credentials: round trip, key ids, failures, rotation."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest

from domain.exchange_accounts import SealedCredentials
from integrations.secrets import ExchangeCredentials, SecretBox, SecretError, key_id

KEY = "11" * 32
NEW_KEY = "22" * 32
CREDS = ExchangeCredentials("AbCdEfGh0123456789apikey", "s3cr3t-SECRET-value-xyz", "pass-phrase")


def test_round_trip_under_the_current_key_with_its_id() -> None:
    box = SecretBox(KEY)
    sealed = box.encrypt(CREDS, user_id=7)

    assert sealed.key_id == hashlib.sha256(bytes.fromhex(KEY)).hexdigest()[:8] == key_id(
        bytes.fromhex(KEY))
    assert len(sealed.nonce) == 12 and CREDS.secret.encode() not in sealed.ciphertext
    assert CREDS.api_key.encode() not in sealed.ciphertext
    assert box.decrypt(sealed, user_id=7) == CREDS


def test_each_seal_uses_a_fresh_nonce() -> None:
    box = SecretBox(KEY)
    first, second = box.encrypt(CREDS, 7), box.encrypt(CREDS, 7)
    assert first.nonce != second.nonce and first.ciphertext != second.ciphertext


def test_a_wrong_key_fails_naming_the_key_id() -> None:
    sealed = SecretBox(KEY).encrypt(CREDS, 7)
    with pytest.raises(SecretError, match=f"no secret key with id {sealed.key_id}"):
        SecretBox(NEW_KEY).decrypt(sealed, 7)


def test_a_missing_or_malformed_key_fails_clearly() -> None:
    with pytest.raises(SecretError, match="SIGNALHUB_SECRET_KEY is not set"):
        SecretBox(None)
    with pytest.raises(SecretError, match="64 hex characters"):
        SecretBox("abc")
    with pytest.raises(SecretError, match="SIGNALHUB_OLD_SECRET_KEYS"):
        SecretBox(KEY, ["zz" * 32])


def test_tampered_ciphertext_and_a_row_of_another_user_fail_authentication() -> None:
    box = SecretBox(KEY)
    sealed = box.encrypt(CREDS, 7)
    flipped = bytes([sealed.ciphertext[0] ^ 1]) + sealed.ciphertext[1:]

    with pytest.raises(SecretError, match=f"under key {sealed.key_id} failed authentication"):
        box.decrypt(replace(sealed, ciphertext=flipped), 7)
    with pytest.raises(SecretError, match="copied from another account"):
        box.decrypt(sealed, 8)
    with pytest.raises(SecretError):
        box.decrypt(SealedCredentials(sealed.ciphertext, b"\0" * 12, sealed.key_id), 7)


def test_rotation_reseals_old_rows_under_the_new_key_and_skips_current_ones() -> None:
    old_sealed = SecretBox(KEY).encrypt(CREDS, 7)
    rotated_box = SecretBox(NEW_KEY, [KEY])

    assert rotated_box.decrypt(old_sealed, 7) == CREDS
    resealed = rotated_box.reseal(old_sealed, 7)
    assert resealed is not None and resealed.key_id == key_id(bytes.fromhex(NEW_KEY))
    assert SecretBox(NEW_KEY).decrypt(resealed, 7) == CREDS
    assert rotated_box.reseal(resealed, 7) is None
    assert rotated_box.key_ids == [key_id(bytes.fromhex(NEW_KEY)), key_id(bytes.fromhex(KEY))]


def test_credentials_never_show_in_repr_str_or_errors() -> None:
    text = f"{CREDS!r} {CREDS} {[CREDS]}"
    assert CREDS.api_key not in text and CREDS.secret not in text
    assert CREDS.password not in text and "…ikey" in text
    sealed = SecretBox(KEY).encrypt(CREDS, 7)
    with pytest.raises(SecretError) as caught:
        SecretBox(KEY).decrypt(sealed, 9)
    assert CREDS.secret not in str(caught.value) and CREDS.api_key not in str(caught.value)
