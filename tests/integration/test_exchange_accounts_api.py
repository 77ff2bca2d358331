"""Exchange accounts over GraphQL (uvicorn on loopback) with the key checked by ccxt
against the fake Binance; PostgreSQL and Redis for real.

Each failure path checks that nothing was stored; the secrets test greps every log
record (DEBUG, all loggers) and every GraphQL response for the plaintext key and secret.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from domain.exchange_accounts import LIVE_CONFIRMATION
from domain.exchange_models import AccountStatus, ExchangeAccount, TradingMode
from domain.ports import OrderRequest
from graphql_api.app import build_app
from integrations.secrets import SecretBox, decrypt_credentials, key_id, rotate_all
from signalhub.bootstrap import Services, shutdown
from signalhub.exchange_accounts import close_exchange_services, exchange_services
from signalhub.settings import Settings
from tests.conftest import REDIS_URL
from tests.fakes.binance_api import FakeBinance
from tests.integration.test_graphql_api import Api, start_services, user_with_token
from tests.support import exchange as exchange_support
from tests.support.exchange import API_KEY, SECRET
from tests.support.servers import serve

fake_binance = exchange_support.fake_binance

ACCOUNT_FIELDS = """id exchange marketType testnet apiBaseUrl label mode liveConfirmedAt
                    apiKeyHint withdrawalEnabled status statusReason validatedAt createdAt"""
CONNECT = f"""mutation($input: ConnectExchangeInput!) {{ connectExchange(input: $input) {{
  __typename ... on ExchangeConnected {{ account {{ {ACCOUNT_FIELDS} }}
      balances {{ currency total }} warnings }}
  ... on ValidationError {{ field message }} ... on NotAllowed {{ message }}
  ... on NotFound {{ message }} ... on ExchangeUnavailable {{ message retryable }} }} }}"""
ACCOUNT_RESULT = f"""__typename ... on ExchangeAccount {{ {ACCOUNT_FIELDS} }}
  ... on ValidationError {{ field message }} ... on NotAllowed {{ message }}
  ... on NotFound {{ message }}"""
CONFIRM = f"""mutation($id: Int!, $confirm: String!) {{
  confirmLiveTrading(accountId: $id, confirm: $confirm) {{ {ACCOUNT_RESULT} }} }}"""
PAPER = f"""mutation($id: Int!) {{ switchToPaperTrading(accountId: $id) {{ {ACCOUNT_RESULT} }} }}"""
DISCONNECT = f"""mutation($id: Int!) {{
  disconnectExchange(accountId: $id) {{ {ACCOUNT_RESULT} }} }}"""
MINE = f"query {{ myExchangeAccounts {{ {ACCOUNT_FIELDS} }} }}"


@pytest.fixture(scope="module")
async def services(db: str, namespace: str,
                   tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Services]:
    """One API "process" for the module (booting one costs ~2 s); tables emptied per test."""
    settings = Settings(database_url=db, redis_url=REDIS_URL, signalhub_namespace=namespace,
                        var_dir=tmp_path_factory.mktemp("exchange-api"),
                        signalhub_secret_key="ab" * 32)
    services = await start_services(settings)
    yield services
    await close_exchange_services(services)
    await shutdown(services, close_database=False)


@pytest.fixture(scope="module")
async def api(services: Services) -> AsyncIterator[Api]:
    app = build_app(services)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield Api(url, client, app)


@pytest.fixture(autouse=True)
async def _empty_tables(clean_db: str) -> None:
    """Every test starts without users or accounts."""


def connect_input(fake: FakeBinance, **overrides: Any) -> dict[str, Any]:
    values = {"exchange": "binance", "apiKey": API_KEY, "secret": SECRET,
              "marketType": "spot", "apiBaseUrl": fake.base_url}
    return {**values, **overrides}


async def connect(api: Api, token: str, fake: FakeBinance, **overrides: Any) -> dict[str, Any]:
    data = await api.data(CONNECT, {"input": connect_input(fake, **overrides)}, token)
    return data["connectExchange"]


async def test_connect_checks_the_key_and_stores_it_encrypted_in_paper_mode(
        api: Api, fake_binance: FakeBinance, settings: Settings) -> None:
    user, token = await user_with_token("Ada")

    result = await connect(api, token, fake_binance)

    assert result["__typename"] == "ExchangeConnected"
    account = result["account"]
    assert (account["exchange"], account["marketType"], account["mode"], account["status"]) == (
        "binance", "spot", "paper", "active")
    assert account["apiKeyHint"] == API_KEY[-4:] and account["withdrawalEnabled"] is False
    assert account["liveConfirmedAt"] is None and account["validatedAt"] is not None
    assert result["balances"] == [{"currency": "USDT", "total": "10000"}]
    assert result["warnings"] == []
    row = await ExchangeAccount.get(user_id=user.id)
    assert API_KEY.encode() not in row.credentials_ciphertext
    assert SECRET.encode() not in row.credentials_ciphertext
    assert row.credentials_key_id == key_id(bytes.fromhex(settings.signalhub_secret_key or ""))
    box = SecretBox(settings.signalhub_secret_key)
    assert decrypt_credentials(box, row).secret == SECRET
    assert fake_binance.requests[("GET", "/api/v3/account")] == 1


async def test_a_key_that_can_withdraw_is_stored_with_a_warning(
        api: Api, fake_binance: FakeBinance) -> None:
    fake_binance.accounts[API_KEY].enable_withdrawals = True
    _, token = await user_with_token("Ada")

    result = await connect(api, token, fake_binance)

    assert result["account"]["withdrawalEnabled"] is True
    assert len(result["warnings"]) == 1 and "can withdraw funds" in result["warnings"][0]


@pytest.mark.parametrize(("overrides", "field"), [
    ({"secret": "W" * 64}, "apiKey"),
    ({"apiKey": "Q" * 64}, "apiKey"),
    ({"apiKey": "has space in it"}, "apiKey"),
    ({"exchange": "binanse"}, "exchange"),
    ({"marketType": "margin"}, "marketType"),
    ({"apiBaseUrl": "ftp://example.com"}, "apiBaseUrl"),
    ({"label": ""}, "label"),
])
async def test_bad_input_or_a_rejected_key_stores_nothing(
        api: Api, fake_binance: FakeBinance, overrides: dict[str, str], field: str) -> None:
    _, token = await user_with_token("Ada")

    result = await connect(api, token, fake_binance, **overrides)

    assert result["__typename"] == "ValidationError" and result["field"] == field
    assert await ExchangeAccount.all().count() == 0
    for value in (SECRET, API_KEY, overrides.get("secret", SECRET)):
        assert value not in result["message"]


async def test_an_exchange_under_maintenance_stores_nothing(
        api: Api, fake_binance: FakeBinance) -> None:
    _, token = await user_with_token("Ada")
    fake_binance.fail_next("maintenance", n=3, endpoint="any")

    result = await connect(api, token, fake_binance)

    assert result["__typename"] == "ExchangeUnavailable" and result["retryable"] is True
    assert "maintenance" in result["message"]
    assert await ExchangeAccount.all().count() == 0


async def test_one_active_account_per_user_and_reconnect_after_disconnect(
        api: Api, fake_binance: FakeBinance) -> None:
    user, token = await user_with_token("Ada")
    first = (await connect(api, token, fake_binance))["account"]

    second = await connect(api, token, fake_binance, marketType="linear")
    assert second["__typename"] == "NotAllowed" and "disconnect it" in second["message"]

    gone = (await api.data(DISCONNECT, {"id": first["id"]}, token))["disconnectExchange"]
    assert (gone["status"], gone["mode"], gone["statusReason"]) == (
        "disabled", "paper", "disconnected by the user")
    row = await ExchangeAccount.get(id=first["id"])
    assert row.credentials_ciphertext == b"" and row.credentials_key_id == ""

    again = await connect(api, token, fake_binance, marketType="linear")
    assert again["__typename"] == "ExchangeConnected"
    listed = (await api.data(MINE, token=token))["myExchangeAccounts"]
    assert [(a["marketType"], a["status"]) for a in listed] == [
        ("linear", "active"), ("spot", "disabled")]
    assert await ExchangeAccount.filter(user_id=user.id).count() == 2


async def test_live_needs_the_exact_confirmation_and_can_go_back_to_paper(
        api: Api, fake_binance: FakeBinance) -> None:
    _, token = await user_with_token("Ada")
    _, other_token = await user_with_token("Bob")
    account_id = (await connect(api, token, fake_binance))["account"]["id"]

    wrong = (await api.data(CONFIRM, {"id": account_id, "confirm": "yes"}, token))
    assert wrong["confirmLiveTrading"]["field"] == "confirm"
    assert LIVE_CONFIRMATION in wrong["confirmLiveTrading"]["message"]
    assert (await ExchangeAccount.get(id=account_id)).mode == TradingMode.PAPER
    theirs = await api.data(CONFIRM, {"id": account_id, "confirm": LIVE_CONFIRMATION},
                            other_token)
    assert theirs["confirmLiveTrading"]["__typename"] == "NotFound"

    live = (await api.data(CONFIRM, {"id": account_id, "confirm": LIVE_CONFIRMATION},
                           token))["confirmLiveTrading"]
    assert live["mode"] == "live" and live["liveConfirmedAt"] is not None
    paper = (await api.data(PAPER, {"id": account_id}, token))["switchToPaperTrading"]
    assert paper["mode"] == "paper" and paper["liveConfirmedAt"] is None

    await api.data(DISCONNECT, {"id": account_id}, token)
    refused = await api.data(CONFIRM, {"id": account_id, "confirm": LIVE_CONFIRMATION}, token)
    assert refused["confirmLiveTrading"]["__typename"] == "NotAllowed"


async def test_signed_out_callers_are_refused(api: Api, fake_binance: FakeBinance) -> None:
    result = (await api.data(CONNECT, {"input": connect_input(fake_binance)}))["connectExchange"]
    assert result["__typename"] == "NotAllowed"
    body = await api.post(MINE)
    assert body["errors"][0]["extensions"]["code"] == "NOT_ALLOWED"
    assert await ExchangeAccount.all().count() == 0


async def test_no_log_record_or_response_ever_holds_the_key_or_secret(
        api: Api, fake_binance: FakeBinance, services: Services,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    _, token = await user_with_token("Ada")
    responses = [await api.post(CONNECT, {"input": connect_input(fake_binance)}, token)]
    account = await ExchangeAccount.get(status=AccountStatus.ACTIVE)
    gateway = await exchange_services(services).gateway_for(account)
    await gateway.create_order(OrderRequest("BTC/USDT", "buy", "market", Decimal("0.001"),
                                            "sh-logs-1-entry"))
    fake_binance.fail_next("rate_limit")
    with pytest.raises(Exception) as caught:
        await gateway.create_order(OrderRequest("BTC/USDT", "buy", "market",
                                                Decimal("0.001"), "sh-logs-2-entry"))
    responses.append(await api.post(MINE, token=token))
    responses.append(await api.post(CONNECT, {"input": connect_input(
        fake_binance, secret="Z" * 64)}, token))

    logged = "\n".join(f"{r.getMessage()} {r.args} {r.exc_text or ''}" for r in caplog.records)
    texts = [logged, repr(responses), str(caught.value), repr(gateway), repr(account),
             repr(caught.value.args)]
    assert len(caplog.records) > 0
    for secret_value in (API_KEY, SECRET, "Z" * 64):
        assert all(secret_value not in text for text in texts), secret_value


async def test_rotation_reencrypts_every_row_once(
        api: Api, fake_binance: FakeBinance, settings: Settings) -> None:
    _, token = await user_with_token("Ada")
    _, token2 = await user_with_token("Bob")
    await connect(api, token, fake_binance)
    gone = (await connect(api, token2, fake_binance))["account"]["id"]
    await api.data(DISCONNECT, {"id": gone}, token2)
    new_key = "cd" * 32
    box = SecretBox(new_key, [settings.signalhub_secret_key or ""])

    report = await rotate_all(box)
    again = await rotate_all(box)

    assert (report.rotated, report.current, report.empty, report.failed) == (1, 0, 1, [])
    assert (again.rotated, again.current) == (0, 1)
    row = await ExchangeAccount.get(status=AccountStatus.ACTIVE)
    assert row.credentials_key_id == key_id(bytes.fromhex(new_key))
    assert decrypt_credentials(SecretBox(new_key), row).api_key == API_KEY


async def test_keys_rotate_command_reports_counts_and_fails_on_an_unknown_key(
        api: Api, fake_binance: FakeBinance, settings: Settings, database_url: str) -> None:
    _, token = await user_with_token("Ada")
    await connect(api, token, fake_binance)
    env = {**os.environ, "DATABASE_URL": database_url, "SIGNALHUB_SECRET_KEY": "ef" * 32,
           "SIGNALHUB_OLD_SECRET_KEYS": settings.signalhub_secret_key or ""}

    ok = await _run_cli(["keys", "rotate"], env)
    env["SIGNALHUB_SECRET_KEY"], env["SIGNALHUB_OLD_SECRET_KEYS"] = "01" * 32, ""
    failed = await _run_cli(["keys", "rotate"], env)

    assert ok[0] == 0 and "1 re-encrypted, 0 already current" in ok[1]
    assert failed[0] == 1 and "1 failed" in failed[1]
    assert f"no secret key with id {key_id(bytes.fromhex('ef' * 32))}" in failed[2]


async def _run_cli(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from signalhub.cli import main; main()", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await process.communicate()
    return process.returncode or 0, out.decode(), err.decode()


async def test_two_connects_at_once_store_one_account(
        api: Api, fake_binance: FakeBinance) -> None:
    user, token = await user_with_token("Ada")

    results = await asyncio.gather(connect(api, token, fake_binance),
                                   connect(api, token, fake_binance, marketType="linear"))

    assert sorted(r["__typename"] for r in results) == ["ExchangeConnected", "NotAllowed"]
    assert await ExchangeAccount.filter(user_id=user.id).count() == 1
