"""Wiring of exchange accounts: the secret box, the gateway pool and the connect validator.

``exchange_services(services)`` builds them on first use from the settings and keeps
them in ``services.extras`` (one pool of ccxt clients per process); every process that
opened them closes them with ``close_exchange_services(services)`` (worker
``on_shutdown``, API lifespan end). Entrypoints seal credentials with ``.box`` where
they arrive; only ``.validate`` (connect) and ``.gateway_for`` (workers) decrypt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from domain.exchange_accounts import AccountDraft, AccountValidation, SealedCredentials
from domain.exchange_models import ExchangeAccount
from integrations.secrets import SecretBox, decrypt_credentials
from signalhub.settings import Settings

if TYPE_CHECKING:  # importing ccxt costs ~1.3 s: only where a pool is built
    from integrations.exchange_ccxt import CcxtGateway
    from integrations.exchange_pool import GatewayPool

EXTRA = "exchange_services"


@dataclass
class ExchangeServices:
    """The secret box and the process's ``GatewayPool``."""

    box: SecretBox
    pool: GatewayPool

    async def validate(self, draft: AccountDraft, sealed: SealedCredentials,
                       user_id: int) -> AccountValidation:
        """``domain.exchange_accounts.AccountValidator``: open ``sealed`` and fetch the
        balance and withdrawal permission with a throw-away client (nothing cached)."""
        from integrations.exchange_markets import ExchangeSpec

        credentials = self.box.decrypt(sealed, user_id)
        spec = ExchangeSpec(draft.exchange_id, draft.market_type, draft.testnet,
                            draft.api_base_url)
        gateway = await self.pool.build(spec, credentials)
        try:
            check = await gateway.check_account()
        finally:
            await gateway.close()
        return AccountValidation(check.balances, check.withdrawals_enabled)

    async def gateway_for(self, account: ExchangeAccount) -> CcxtGateway:
        """The pool's gateway of an ACTIVE live account (decrypts its credentials).

        Raises ``integrations.secrets.SecretError`` (missing key, tampered row, no
        credentials) and the gateway's errors while loading markets.
        """
        from integrations.exchange_markets import ExchangeSpec

        spec = ExchangeSpec(account.exchange_id, account.market_type.value, account.testnet,
                            account.api_base_url)
        return await self.pool.gateway(account.id, spec, decrypt_credentials(self.box, account))


def build_exchange_services(settings: Settings, redis: Any) -> ExchangeServices:
    """New services from the settings (``SecretError`` without SIGNALHUB_SECRET_KEY)."""
    from integrations.exchange_pool import GatewayPool

    box = SecretBox.from_settings(settings.signalhub_secret_key,
                                  settings.signalhub_old_secret_keys)
    pool = GatewayPool(redis, settings.signalhub_namespace,
                       offline=settings.exchange_markets_offline,
                       timeout_ms=settings.exchange_timeout_ms,
                       account_rate=settings.exchange_account_rate,
                       exchange_rate=settings.exchange_rate)
    return ExchangeServices(box, pool)


def exchange_services(services: Any) -> ExchangeServices:
    """The process's ``ExchangeServices`` (created once, kept in ``services.extras``)."""
    if EXTRA not in services.extras:
        services.extras[EXTRA] = build_exchange_services(services.settings, services.redis)
    return services.extras[EXTRA]  # type: ignore[no-any-return]


async def close_exchange_services(services: Any) -> None:
    """Close every ccxt client the process opened, if any."""
    opened = services.extras.pop(EXTRA, None)
    if opened is not None:
        await opened.pool.close()
