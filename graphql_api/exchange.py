"""GraphQL of exchange accounts: ``myExchangeAccounts``, ``connectExchange``,
``confirmLiveTrading``, ``switchToPaperTrading``, ``disconnectExchange``.

Credentials are sealed (AES-256-GCM) in ``connect_exchange`` as soon as the input
arrives; nothing here decrypts, and no field returns a secret: an account shows only
the last 4 characters of its API key. Failures are union members: ``ValidationError``
(bad field; a key the exchange rejects -> field ``apiKey``), ``NotAllowed``,
``NotFound``, and ``ExchangeUnavailable`` (the exchange could not be reached or
answered with an error). On any of them nothing is stored.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import strawberry

from domain import exchange_accounts
from domain.errors import ExternalServiceError, RetryableError
from domain.exchange_accounts import LIVE_CONFIRMATION, AccountDraft
from domain.exchange_models import ExchangeAccount as AccountRow
from graphql_api.errors import (
    CALLER_ERRORS,
    NotAllowed,
    NotFound,
    UserError,
    ValidationError,
    raising_api_errors,
)
from graphql_api.errors import error_result as _error_result
from integrations.secrets import ExchangeCredentials, SecretError
from signalhub.exchange_accounts import exchange_services


@strawberry.type(description="The exchange could not be reached or answered with an error; "
                             "nothing was stored. Try again later.")
class ExchangeUnavailable(UserError):
    retryable: bool = strawberry.field(
        description="True when the failure is transient (timeout, rate limit, maintenance).")


@strawberry.type(description="A balance the exchange reported when the key was checked.")
class ExchangeBalance:
    currency: str = strawberry.field(description="Currency code, e.g. USDT.")
    total: Decimal = strawberry.field(description="Total (free + in orders), in that currency.")


@strawberry.type(description="A connected exchange account. Secrets are never returned.")
class ExchangeAccount:
    id: int = strawberry.field(description="Account id.")
    exchange: str = strawberry.field(description="ccxt exchange id, e.g. binance.")
    market_type: str = strawberry.field(description="spot, or linear (USDT-margined "
                                                    "perpetuals).")
    testnet: bool = strawberry.field(description="True for the exchange's testnet.")
    api_base_url: str | None = strawberry.field(description="API base-URL override, if any.")
    label: str = strawberry.field(description="The user's name for the account.")
    mode: str = strawberry.field(description="paper (default: orders are simulated) or live "
                                             "(real orders, after confirmLiveTrading).")
    live_confirmed_at: datetime | None = strawberry.field(
        description="When live trading was confirmed; null in paper mode.")
    api_key_hint: str = strawberry.field(description="Last 4 characters of the API key.")
    withdrawal_enabled: bool | None = strawberry.field(
        description="Whether the key can withdraw, as the exchange reported; null if it "
                    "does not say.")
    status: str = strawberry.field(description="active or disabled.")
    status_reason: str = strawberry.field(description="Why it is disabled (empty if active).")
    validated_at: datetime | None = strawberry.field(
        description="When the key was last checked with the exchange.")
    created_at: datetime = strawberry.field(description="When it was connected.")

    @classmethod
    def from_model(cls, row: AccountRow) -> ExchangeAccount:
        """The API view of an account row (no credential field exists on it)."""
        return cls(id=row.id, exchange=row.exchange_id, market_type=row.market_type.value,
                   testnet=row.testnet, api_base_url=row.api_base_url, label=row.label,
                   mode=row.mode.value, live_confirmed_at=row.live_confirmed_at,
                   api_key_hint=row.api_key_hint, withdrawal_enabled=row.withdrawal_enabled,
                   status=row.status.value, status_reason=row.status_reason,
                   validated_at=row.validated_at, created_at=row.created_at)


@strawberry.type(description="A newly connected account (paper mode), its balances and "
                             "warnings.")
class ExchangeConnected:
    account: ExchangeAccount = strawberry.field(description="The stored account.")
    balances: list[ExchangeBalance] = strawberry.field(
        description="Non-zero balances the exchange reported.")
    warnings: list[str] = strawberry.field(
        description="Things to fix, e.g. a key that can withdraw funds.")


@strawberry.input(description="An exchange API key to connect. Stored encrypted; never "
                              "shown again.")
class ConnectExchangeInput:
    exchange: str = strawberry.field(description="ccxt exchange id: binance, bybit, okx, "
                                                 "bitget, mexc, ...")
    api_key: str = strawberry.field(description="API key (trading + reading; withdrawals "
                                                "should be disabled).")
    secret: str = strawberry.field(description="API secret.")
    password: str | None = strawberry.field(
        default=None, description="Passphrase, for exchanges that have one (okx, bitget).")
    market_type: str = strawberry.field(default="spot", description="spot or linear.")
    testnet: bool = strawberry.field(default=False, description="Use the exchange's testnet.")
    api_base_url: str | None = strawberry.field(
        default=None, description="Override of the API host (regional endpoint, proxy), "
                                  "e.g. https://api.binance.us.")
    label: str = strawberry.field(default="main", description="Your name for it, 1–32 "
                                                              "characters.")


def _union(name: str, description: str) -> object:
    return strawberry.union(name, description=description)


ConnectExchangeResult = Annotated[
    ExchangeConnected | ValidationError | NotAllowed | NotFound | ExchangeUnavailable,
    _union("ConnectExchangeResult", "The connected account, or why nothing was stored.")]
ExchangeAccountResult = Annotated[
    ExchangeAccount | ValidationError | NotAllowed | NotFound,
    _union("ExchangeAccountResult", "The account after the change, or why it failed.")]
AccountIdArg = Annotated[int, strawberry.argument(description="Id of your exchange account.")]


def error_result(exc: Exception) -> ValidationError | NotAllowed | NotFound | ExchangeUnavailable:
    """The union member for a caller error or an exchange failure."""
    if isinstance(exc, ExternalServiceError):
        return ExchangeUnavailable(message=exc.message,
                                   retryable=isinstance(exc, RetryableError))
    return _error_result(exc)  # type: ignore[arg-type]


@strawberry.type(description="Read operations.")
class ExchangeQuery:
    @strawberry.field(description="The caller's exchange accounts, active first, newest "
                                  "first. Errors: NOT_ALLOWED (not signed in).")
    async def my_exchange_accounts(self, info: strawberry.Info) -> list[ExchangeAccount]:
        with raising_api_errors():
            user = info.context.require_user()
        return [ExchangeAccount.from_model(a) for a in await exchange_accounts.list_accounts(user)]


@strawberry.type(description="Write operations; each returns its result or a typed error.")
class ExchangeMutation:
    @strawberry.mutation(description=(
        "Connect an exchange account in paper mode. The key is encrypted on arrival, checked "
        "with the exchange (balance fetch) and stored only if the exchange accepts it. "
        "Errors: ValidationError (exchange, marketType, apiBaseUrl, label, apiKey/secret "
        "shape; apiKey when the exchange rejects the key), NotAllowed (an active account "
        "exists: disconnect it first; not signed in), ExchangeUnavailable."))
    async def connect_exchange(
        self, info: strawberry.Info,
        input: Annotated[ConnectExchangeInput, strawberry.argument(
            description="The exchange and key to connect.")],
    ) -> ConnectExchangeResult:
        try:
            user = info.context.require_user()
            exchange_accounts.check_key_parts(input.api_key, input.secret, input.password)
            wiring = exchange_services(info.context.services)
            credentials = ExchangeCredentials(input.api_key.strip(), input.secret.strip(),
                                              input.password or None)
            sealed = wiring.box.encrypt(credentials, user.id)
            draft = AccountDraft(input.exchange, input.market_type, credentials.key_hint,
                                 input.testnet, input.api_base_url, input.label)
            connected = await exchange_accounts.connect_account(user, draft, sealed,
                                                                wiring.validate)
        except (*CALLER_ERRORS, ExternalServiceError) as exc:
            return error_result(exc)
        except SecretError as exc:
            return ExchangeUnavailable(message=f"credentials cannot be stored: {exc}",
                                       retryable=False)
        balances = [ExchangeBalance(currency=c, total=t)
                    for c, t in sorted(connected.validation.balances.items()) if t]
        return ExchangeConnected(account=ExchangeAccount.from_model(connected.account),
                                 balances=balances, warnings=connected.warnings)

    @strawberry.mutation(description=(
        "Switch an active account to LIVE trading: copy orders then go to the exchange "
        f"with real money. `confirm` must be exactly \"{LIVE_CONFIRMATION}\". Idempotent. "
        "Errors: ValidationError (confirm), NotFound (account), NotAllowed (disconnected, "
        "not signed in)."))
    async def confirm_live_trading(
        self, info: strawberry.Info, account_id: AccountIdArg,
        confirm: Annotated[str, strawberry.argument(
            description=f"Type exactly: {LIVE_CONFIRMATION}")],
    ) -> ExchangeAccountResult:
        try:
            user = info.context.require_user()
            row = await exchange_accounts.confirm_live(user, account_id, confirm)
        except CALLER_ERRORS as exc:
            return _error_result(exc)
        return ExchangeAccount.from_model(row)

    @strawberry.mutation(description=(
        "Back to paper trading (simulated orders) for an account. Idempotent. Errors: "
        "NotFound (account), NotAllowed (not signed in)."))
    async def switch_to_paper_trading(self, info: strawberry.Info, account_id: AccountIdArg
                                      ) -> ExchangeAccountResult:
        try:
            user = info.context.require_user()
            row = await exchange_accounts.switch_to_paper(user, account_id)
        except CALLER_ERRORS as exc:
            return _error_result(exc)
        return ExchangeAccount.from_model(row)

    @strawberry.mutation(description=(
        "Disconnect an account: it is disabled, set back to paper and its encrypted key is "
        "erased. Open positions and orders on the exchange are left untouched. Idempotent. "
        "Errors: NotFound (account), NotAllowed (not signed in)."))
    async def disconnect_exchange(self, info: strawberry.Info, account_id: AccountIdArg
                                  ) -> ExchangeAccountResult:
        try:
            user = info.context.require_user()
            row = await exchange_accounts.disconnect_account(user, account_id)
        except CALLER_ERRORS as exc:
            return _error_result(exc)
        services = info.context.services
        await exchange_services(services).pool.forget(account_id)
        return ExchangeAccount.from_model(row)
