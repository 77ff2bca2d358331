"""The one error tree of SignalHub.

    DomainError
    ├── NotFound              a named thing does not exist
    ├── NotAllowed            the caller may not do this
    ├── InvalidSignal         a signal breaks a rule; ``field`` names the input
    ├── InvalidInput          any other bad input; ``field`` names the input
    ├── RiskLimitExceeded     a copy order would break a follower's limit
    └── ExternalServiceError  a vendor call failed
        ├── RetryableError    try again later (``retry_after`` seconds, if known)
        │   └── OrderStatusUnknown    an order was sent without answer: look it up first
        └── PermanentError    do not try again (e.g. a message the platform rejects)
            ├── RecipientUnreachable  the user blocked the bot or the chat is gone
            └── CredentialsRejected   the exchange refused the API key

Adapters turn vendor exceptions into this tree; entrypoints turn it into what the
user sees (GraphQL union results, bot replies, arq ``Retry``).
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every expected failure. ``message`` is safe to show to a user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    """A provider, signal, subscription or user named by the caller does not exist."""


class NotAllowed(DomainError):
    """The caller is authenticated (or not) but may not perform the action."""


class InvalidInput(DomainError):
    """Bad input other than a signal's content; ``field`` names the offending input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.rule = message


class InvalidSignal(InvalidInput):
    """A signal breaks a validation rule; ``field`` is the input field, ``rule`` the rule."""


class RiskLimitExceeded(DomainError):
    """A copy order would break one of the follower's risk limits."""


class ExternalServiceError(DomainError):
    """A call to Telegram, Redis, an exchange or another vendor failed."""


class RetryableError(ExternalServiceError):
    """Transient failure; ``retry_after`` is the vendor's wait in seconds, if it gave one."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(ExternalServiceError):
    """Failure that retrying cannot fix (recipient blocked the bot, chat deleted)."""


class RecipientUnreachable(PermanentError):
    """The recipient blocked the bot or the chat no longer exists: stop messaging them."""


class OrderStatusUnknown(RetryableError):
    """An order was sent but no answer came (timeout, dropped connection, 5xx): it may
    exist on the exchange. Look it up by its client order id before sending it again."""


class CredentialsRejected(PermanentError):
    """The exchange refused the API key (unknown key, bad signature, missing permission)."""
