"""GraphQL part of linking: one account across Telegram, Discord and the API.

``linkCode`` issues a one-time code for the caller's account (enter it with ``/link
<code>`` in Telegram or Discord); ``redeemLinkCode`` takes a code made in Telegram or
Discord and joins the caller's API account with that account (see ``domain.linking``
for the merge-or-refuse rule). Both need the caller's API token.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import strawberry

from domain import linking
from domain.linking_models import Platform
from graphql_api.errors import CALLER_ERRORS, NotAllowed, NotFound, ValidationError, error_result
from graphql_api.types import User


@strawberry.type(description="A one-time link code: enter it with /link <code> in the "
                             "Telegram or Discord bot within 10 minutes.")
class LinkCode:
    code: str = strawberry.field(description="The code, `XXXX-XXXX` (8 letters and digits "
                                             "without 0, O, 1, I or L).")
    expires_at: datetime = strawberry.field(description="When the code stops working "
                                                        "(ISO-8601 UTC).")


@strawberry.type(description="The account after linking.")
class LinkedAccount:
    account: User = strawberry.field(description="The one account the API token, Telegram "
                                                 "and Discord now share.")
    apps: list[str] = strawberry.field(description="Apps that reach this account: telegram, "
                                                   "discord, api.")
    merged: bool = strawberry.field(description="True when an empty account was merged into "
                                                "this one (its API tokens now belong here).")
    already_linked: bool = strawberry.field(description="True when nothing had to change.")


LinkCodeResult = Annotated[
    LinkCode | NotAllowed,
    strawberry.union("LinkCodeResult", description="The new code, or why none was made.")]
RedeemLinkCodeResult = Annotated[
    LinkedAccount | ValidationError | NotAllowed | NotFound,
    strawberry.union("RedeemLinkCodeResult",
                     description="The linked account, or why nothing was linked.")]


@strawberry.type(description="Linking mutations.")
class LinkingMutation:
    @strawberry.mutation(description=(
        "A new one-time link code for the caller's account, valid 10 minutes; older unused "
        "codes of the caller stop working. Errors: NotAllowed (not signed in)."))
    async def link_code(self, info: strawberry.Info) -> LinkCodeResult:
        try:
            user = info.context.require_user()
            now = datetime.now(UTC)
            code = await linking.issue_code(user, Platform.API, now=now)
        except CALLER_ERRORS as exc:
            return error_result(exc)
        return LinkCode(code=code, expires_at=now + linking.CODE_TTL)

    @strawberry.mutation(description=(
        "Join the caller's account with the account that made `code` in Telegram or Discord. "
        "If only one of the two holds subscriptions, positions or providers, the other one is "
        "merged into it; if both do, nothing changes and NotAllowed says why. Errors: "
        "ValidationError (code: malformed, unknown, expired or used), NotAllowed (both "
        "accounts hold data, not signed in)."))
    async def redeem_link_code(
        self, info: strawberry.Info,
        code: Annotated[str, strawberry.argument(
            description="The code shown by /link, e.g. `K7QM-2XPA` (case and dash optional).")],
    ) -> RedeemLinkCodeResult:
        try:
            user = info.context.require_user()
            result = await linking.redeem_code(code, Platform.API, user=user)
        except CALLER_ERRORS as exc:
            return error_result(exc)
        apps = await linking.linked_platforms(result.account)
        return LinkedAccount(account=User.from_model(result.account),
                             apps=[a.value for a in apps],
                             merged=result.absorbed_user_id is not None,
                             already_linked=result.already_linked)
