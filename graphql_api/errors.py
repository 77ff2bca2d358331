"""The domain's error tree as GraphQL shows it.

Mutations return expected failures as members of their result union::

    DomainError
    ├── InvalidInput, InvalidSignal  -> ValidationError {field message}
    ├── NotAllowed, RiskLimitExceeded -> NotAllowed {message}
    └── NotFound                      -> NotFound {message}

Queries and subscriptions raise them as GraphQL errors whose ``extensions.code`` is
``VALIDATION``, ``NOT_ALLOWED`` or ``NOT_FOUND`` (these are not logged as failures).
A caller without a valid token gets NotAllowed with ``SIGN_IN``. ``ExternalServiceError``
is not the caller's mistake: it propagates as an ordinary (logged) GraphQL error.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import strawberry
from graphql import GraphQLError

from domain import errors as domain_errors
from domain.models import User

SIGN_IN = ("sign in: send your API token as `Authorization: Bearer <token>` (HTTP header, "
           "or the `Authorization` key of the websocket connection_init payload)")
EXPECTED_CODES = frozenset({"VALIDATION", "NOT_ALLOWED", "NOT_FOUND"})
CALLER_ERRORS = (domain_errors.InvalidInput, domain_errors.NotAllowed, domain_errors.NotFound,
                 domain_errors.RiskLimitExceeded)


@strawberry.interface(description="An expected failure the caller can act on.")
class UserError:
    message: str = strawberry.field(description="What went wrong and how to fix it.")


@strawberry.type(description="An input broke a rule; nothing was changed.")
class ValidationError(UserError):
    field: str = strawberry.field(
        description="Input field at fault, as named in the schema (`targets[2]` for the "
                    "third target).")


@strawberry.type(description="The caller may not do this (or is not signed in); nothing "
                             "was changed.")
class NotAllowed(UserError):
    pass


@strawberry.type(description="A provider, signal or subscription named in the input does "
                             "not exist; nothing was changed.")
class NotFound(UserError):
    pass


def error_result(exc: domain_errors.DomainError) -> ValidationError | NotAllowed | NotFound:
    """The union member for ``exc``; re-raises errors that are not the caller's to fix."""
    if isinstance(exc, domain_errors.InvalidInput):
        return ValidationError(field=exc.field, message=exc.rule)
    if isinstance(exc, domain_errors.NotAllowed | domain_errors.RiskLimitExceeded):
        return NotAllowed(message=exc.message)
    if isinstance(exc, domain_errors.NotFound):
        return NotFound(message=exc.message)
    raise exc


def api_error(exc: domain_errors.DomainError) -> GraphQLError:
    """``exc`` as a GraphQL error for queries and subscriptions (``extensions.code``)."""
    if isinstance(exc, domain_errors.InvalidInput):
        return GraphQLError(exc.message, original_error=exc,
                            extensions={"code": "VALIDATION", "field": exc.field})
    code = "NOT_FOUND" if isinstance(exc, domain_errors.NotFound) else "NOT_ALLOWED"
    return GraphQLError(exc.message, original_error=exc, extensions={"code": code})


@contextmanager
def raising_api_errors() -> Iterator[None]:
    """Turn the caller's domain errors raised inside the block into ``api_error``s."""
    try:
        yield
    except CALLER_ERRORS as exc:
        raise api_error(exc) from exc


def require_user(user: User | None) -> User:
    """``user``, or raise ``domain.errors.NotAllowed`` asking the caller to sign in."""
    if user is None:
        raise domain_errors.NotAllowed(SIGN_IN)
    return user


def is_expected(error: GraphQLError) -> bool:
    """True for errors raised by ``api_error`` (a caller's mistake, not a failure)."""
    return (error.extensions or {}).get("code") in EXPECTED_CODES
