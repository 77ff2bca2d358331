"""Settings: defaults, and one line naming the variable for each bad value."""

from __future__ import annotations

import pytest

from signalhub.settings import Settings, SettingsError, ensure_secret_key, load_settings, require


@pytest.mark.parametrize(("name", "value"), [
    ("DATABASE_URL", "mysql://x"),
    ("REDIS_URL", "http://localhost"),
    ("SIGNALHUB_SECRET_KEY", "abc"),
    ("TELEGRAM_BOT_TOKEN", "not-a-token"),
    ("TELEGRAM_API_BASE", "ftp://x"),
    ("SIGNALHUB_PORT", "eighty"),
    ("PRICE_SOURCE", "csv:/tmp"),
    ("REPLAY_SPEED", "0"),
])
def test_bad_setting_fails_with_one_line_naming_it(monkeypatch, name: str, value: str) -> None:  # noqa: ANN001
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"setting {name}:") and "\n" not in message


def test_defaults_are_the_embedded_ones(monkeypatch) -> None:  # noqa: ANN001
    for name in ("DATABASE_URL", "REDIS_URL", "PRICE_SOURCE", "SIGNALHUB_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url.startswith("sqlite://./var/")
    assert settings.redis_url is None
    assert settings.price_source.startswith("replay:")


def test_secret_key_is_generated_once_into_var(tmp_path) -> None:  # noqa: ANN001
    settings = Settings(var_dir=tmp_path, signalhub_secret_key=None)
    key = ensure_secret_key(settings)
    assert len(key) == 64 and int(key, 16) >= 0
    assert ensure_secret_key(Settings(var_dir=tmp_path, signalhub_secret_key=None)) == key
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600


def test_require_names_the_missing_setting() -> None:
    with pytest.raises(SettingsError, match="setting TELEGRAM_BOT_TOKEN: is required"):
        require(Settings(telegram_bot_token=None), "TELEGRAM_BOT_TOKEN")
