"""Pure checks of exchange-account input (no I/O): each bad field named, nothing echoed."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInput
from domain.exchange_accounts import AccountDraft, check_draft, check_key_parts


def draft(**changes: object) -> AccountDraft:
    values: dict[str, object] = {"exchange_id": "binance", "market_type": "spot",
                                 "key_hint": "abcd"}
    values.update(changes)
    return AccountDraft(**values)  # type: ignore[arg-type]


def test_a_good_draft_is_normalised() -> None:
    checked = check_draft(draft(exchange_id=" Bybit ", api_base_url=" https://api.bybit.eu/ ",
                                label=" swing desk "))

    assert (checked.exchange_id, checked.api_base_url, checked.label) == (
        "bybit", "https://api.bybit.eu", "swing desk")
    assert check_draft(draft(api_base_url="  ")).api_base_url is None
    assert check_draft(draft(api_base_url="http://127.0.0.1:8080")).api_base_url == (
        "http://127.0.0.1:8080")


@pytest.mark.parametrize(("changes", "field"), [
    ({"exchange_id": "bin ance"}, "exchange"),
    ({"exchange_id": "1x"}, "exchange"),
    ({"market_type": "margin"}, "marketType"),
    ({"market_type": "inverse"}, "marketType"),
    ({"api_base_url": "api.binance.com"}, "apiBaseUrl"),
    ({"api_base_url": "https://api.binance.com/api/v3?x=1"}, "apiBaseUrl"),
    ({"label": ""}, "label"),
    ({"label": "x" * 33}, "label"),
    ({"label": "semi;colon"}, "label"),
])
def test_each_bad_field_is_named(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_draft(draft(**changes))
    assert caught.value.field == field


@pytest.mark.parametrize(("api_key", "secret", "password", "field"), [
    ("short", "s" * 40, None, "apiKey"),
    ("k" * 40, "with space inside", None, "secret"),
    ("k" * 40, "s" * 513, None, "secret"),
    ("k" * 40, "s" * 40, "p" * 129, "password"),
])
def test_key_parts_shapes_are_checked_without_echoing_them(
        api_key: str, secret: str, password: str | None, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_key_parts(api_key, secret, password)
    assert caught.value.field == field
    assert secret not in caught.value.message and api_key not in caught.value.message
    check_key_parts("k" * 40, "s" * 40, "p" * 16)
