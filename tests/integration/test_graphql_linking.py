"""GraphQL linkCode / redeemLinkCode over real HTTP (uvicorn on loopback), PostgreSQL, Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from domain.linking import issue_code, redeem_code
from domain.linking_models import LinkCode
from domain.models import User
from domain.users import telegram_user
from graphql_api.app import build_app
from signalhub.bootstrap import Services, shutdown
from signalhub.settings import Settings
from tests.integration.test_graphql_api import Api, start_services, user_with_token
from tests.support.servers import serve

LINK_CODE = """mutation { linkCode { __typename ... on LinkCode { code expiresAt }
  ... on NotAllowed { message } } }"""
REDEEM = """mutation($code: String!) { redeemLinkCode(code: $code) { __typename
  ... on LinkedAccount { account { id name } apps merged alreadyLinked }
  ... on ValidationError { field message } ... on NotAllowed { message }
  ... on NotFound { message } } }"""


@pytest.fixture
async def services(clean_db: str, redis: Any, settings: Settings) -> AsyncIterator[Services]:
    services = await start_services(settings)
    yield services
    await shutdown(services, close_database=False)


@pytest.fixture
async def api(services: Services) -> AsyncIterator[Api]:
    app = build_app(services)
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield Api(url, client, app)


async def test_link_code_from_the_api_links_telegram(api: Api) -> None:
    user, token = await user_with_token("ada")

    result = (await api.data(LINK_CODE, token=token))["linkCode"]

    assert result["__typename"] == "LinkCode" and len(result["code"]) == 9
    linked = await redeem_code(result["code"], "telegram", platform_user_id=7001, chat_id=7001)
    assert linked.account.id == user.id
    assert (await User.get(id=user.id)).telegram_user_id == 7001


async def test_redeem_a_telegram_code_joins_the_api_account(api: Api) -> None:
    telegram_account = await telegram_user(7001, 7001, "Ada")
    _, token = await user_with_token("ada-api")
    code = await issue_code(telegram_account, "telegram")

    result = (await api.data(REDEEM, {"code": code}, token=token))["redeemLinkCode"]

    assert result == {"__typename": "LinkedAccount",
                      "account": {"id": telegram_account.id, "name": "Ada"},
                      "apps": ["telegram", "api"], "merged": True, "alreadyLinked": False}
    me = await api.data("{ me { id } }", token=token)
    assert me["me"]["id"] == telegram_account.id  # the token follows the account


async def test_link_mutations_errors(api: Api) -> None:
    _, token = await user_with_token("ada")

    anonymous = (await api.data(LINK_CODE))["linkCode"]
    wrong = (await api.data(REDEEM, {"code": "ABCD-EFGH"}, token=token))["redeemLinkCode"]
    short = (await api.data(REDEEM, {"code": "AB"}, token=token))["redeemLinkCode"]

    assert anonymous["__typename"] == "NotAllowed" and "sign in" in anonymous["message"]
    assert wrong == {"__typename": "ValidationError", "field": "code",
                     "message": "no such link code; check it, or run /link again for a new one"}
    assert short["__typename"] == "ValidationError" and "8 letters" in short["message"]
    assert not await LinkCode.exists()
