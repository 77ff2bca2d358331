"""Settings from the environment (pydantic-settings).

Every process reads the same variables; a missing or malformed one stops the
process at start with one line naming it (``SettingsError``).
"""

from __future__ import annotations

import re
import secrets
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKAGE_DATA = Path(__file__).parent / "data"
HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class SettingsError(SystemExit):
    """A setting is missing or malformed; the message is one line naming it."""


class Settings(BaseSettings):
    """SignalHub's settings; each field is read from the upper-case variable of its name."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False)

    database_url: str = "sqlite://./var/signalhub.sqlite3"
    redis_url: str | None = None
    signalhub_secret_key: str | None = None
    signalhub_old_secret_keys: str = ""
    """Earlier SIGNALHUB_SECRET_KEY values (comma-separated, 64 hex each) that can still
    decrypt exchange credentials until ``signalhub keys rotate`` re-encrypts them."""
    exchange_markets_offline: bool = False
    """Use only the shipped markets snapshots (signalhub/data/markets), never load_markets."""
    exchange_timeout_ms: int = 10_000
    """ccxt request timeout per exchange call, milliseconds (100-120000)."""
    exchange_account_rate: float = 10.0
    """Exchange requests per second per account, shared by every worker (Redis)."""
    exchange_rate: float = 100.0
    """Exchange requests per second per exchange id across all accounts (Redis)."""
    telegram_bot_token: str | None = None
    telegram_api_base: str | None = None
    discord_bot_token: str | None = None
    discord_application_id: int | None = None
    discord_api_base: str | None = None
    discord_read_channels: bool = False
    signalhub_host: str = "127.0.0.1"
    signalhub_port: int = 8000
    price_source: str = f"replay:{PACKAGE_DATA}"
    replay_speed: float = 7200.0
    signalhub_namespace: str = "signalhub"
    var_dir: Path = Path("./var")
    # Billing (Stripe). Without STRIPE_SECRET_KEY priced providers cannot be subscribed to.
    stripe_secret_key: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_connect_webhook_secret: str | None = None
    stripe_api_base: str | None = None
    platform_fee_pct: Decimal = Decimal("30")
    public_base_url: str = "http://127.0.0.1:8000"
    grace_period_days: float = 3.0

    @field_validator("stripe_api_base", "public_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value and not re.match(r"^https?://", value):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value else None

    @field_validator("platform_fee_pct")
    @classmethod
    def _fee_pct(cls, value: Decimal) -> Decimal:
        if not Decimal(0) <= value < Decimal(100):
            raise ValueError("must be a percent from 0 to below 100 (30 = 30%)")
        return value

    @field_validator("grace_period_days")
    @classmethod
    def _grace(cls, value: float) -> float:
        if not 0 <= value <= 60:
            raise ValueError("must be 0 to 60 days")
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not re.match(r"^(sqlite|postgres|postgresql|asyncpg)://", value):
            raise ValueError("must start with sqlite://, postgres:// or asyncpg://")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value and not re.match(r"^(redis|rediss|unix)://", value):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None

    @field_validator("signalhub_secret_key")
    @classmethod
    def _secret_key(cls, value: str | None) -> str | None:
        if value and not HEX64.match(value):
            raise ValueError("must be 32 bytes written as 64 hex characters")
        return value or None

    @field_validator("signalhub_old_secret_keys")
    @classmethod
    def _old_secret_keys(cls, value: str) -> str:
        keys = [k.strip() for k in value.split(",") if k.strip()]
        if any(not HEX64.match(k) for k in keys):
            raise ValueError("must be comma-separated keys of 64 hex characters each")
        return ",".join(keys)

    @field_validator("exchange_timeout_ms")
    @classmethod
    def _exchange_timeout(cls, value: int) -> int:
        if not 100 <= value <= 120_000:
            raise ValueError("must be 100 to 120000 milliseconds")
        return value

    @field_validator("exchange_account_rate", "exchange_rate")
    @classmethod
    def _exchange_rates(cls, value: float) -> float:
        if not 0 < value <= 10_000:
            raise ValueError("must be a positive number of requests per second (at most 10000)")
        return value

    @field_validator("discord_api_base")
    @classmethod
    def _discord_api_base(cls, value: str | None) -> str | None:
        if value and not re.match(r"^https?://", value):
            raise ValueError("must be an http(s) URL such as https://discord.com/api/v10")
        return value.rstrip("/") if value else None

    @field_validator("telegram_api_base")
    @classmethod
    def _api_base(cls, value: str | None) -> str | None:
        if value and not re.match(r"^https?://", value):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/") if value else None

    @field_validator("telegram_bot_token")
    @classmethod
    def _bot_token(cls, value: str | None) -> str | None:
        if value and not re.match(r"^\d+:[A-Za-z0-9_-]{20,}$", value):
            raise ValueError("must look like 123456:ABC-DEF... (from @BotFather)")
        return value or None

    @field_validator("price_source")
    @classmethod
    def _price_source(cls, value: str) -> str:
        if not re.match(r"^(replay|ccxt):.+", value):
            raise ValueError("must be replay:<folder of candle CSVs> or ccxt:<exchange id>")
        return value

    @field_validator("replay_speed")
    @classmethod
    def _speed(cls, value: float) -> float:
        if value <= 0:
            raise ValueError("must be a positive speed factor (1 = real time)")
        return value


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise ``SettingsError`` naming the bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "settings"
        message = str(error["msg"]).removeprefix("Value error, ")
        raise SettingsError(f"setting {name}: {message}") from None


def ensure_secret_key(settings: Settings) -> str:
    """The secret key, generating one into ``var_dir/secret_key`` when unset (demo, run)."""
    if settings.signalhub_secret_key:
        return settings.signalhub_secret_key
    path = settings.var_dir / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    key = path.read_text().strip()
    if not HEX64.match(key):
        raise SettingsError(f"setting SIGNALHUB_SECRET_KEY: {path} is not 64 hex characters")
    settings.signalhub_secret_key = key
    return key


def require(settings: Settings, name: str) -> str:
    """The value of a setting the current command needs; ``SettingsError`` if it is unset."""
    value = getattr(settings, name.lower())
    if not value:
        raise SettingsError(f"setting {name.upper()}: is required for this command")
    return str(value)
