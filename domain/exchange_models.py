"""Tortoise models of the exchange feature (registered in signalhub.db.MODEL_MODULES)."""

from __future__ import annotations

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model


class MarketType(StrEnum):
    SPOT = "spot"
    LINEAR = "linear"


class TradingMode(StrEnum):
    PAPER = "paper"
    LIVE = "live"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class ExchangeAccount(Model):
    """A follower's exchange account. Credentials are stored only as AES-256-GCM ciphertext.

    ``credentials_ciphertext`` seals the JSON of apiKey, secret and password under the key
    whose id is ``credentials_key_id`` (first 8 hex of SHA-256 of the key), with
    ``credentials_nonce``, bound to ``user_id`` by the associated data. A disconnected
    account keeps no ciphertext. ``mode`` is paper until the user confirms live trading
    (``live_confirmed_at``). ``withdrawal_enabled`` is what the exchange reported at
    connect time (null where it reports nothing).
    """

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation = fields.ForeignKeyField(
        "models.User", related_name="exchange_accounts", on_delete=fields.CASCADE
    )
    exchange_id = fields.CharField(max_length=32)
    market_type = fields.CharEnumField(MarketType, max_length=8, default=MarketType.SPOT)
    testnet = fields.BooleanField(default=False)
    api_base_url = fields.CharField(max_length=255, null=True)
    label = fields.CharField(max_length=32, default="main")
    mode = fields.CharEnumField(TradingMode, max_length=8, default=TradingMode.PAPER)
    live_confirmed_at = fields.DatetimeField(null=True)
    api_key_hint = fields.CharField(max_length=8, default="")
    credentials_ciphertext = fields.BinaryField()
    credentials_nonce = fields.BinaryField()
    credentials_key_id = fields.CharField(max_length=8, db_index=True)
    withdrawal_enabled = fields.BooleanField(null=True)
    status = fields.CharEnumField(AccountStatus, max_length=16, default=AccountStatus.ACTIVE)
    status_reason = fields.TextField(default="")
    validated_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "exchange_accounts"

    def __repr__(self) -> str:
        return (f"ExchangeAccount(id={self.id}, user_id={getattr(self, 'user_id', None)}, "
                f"{self.exchange_id} {self.market_type}, {self.mode}, {self.status})")
