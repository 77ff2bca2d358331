"""Per-request context: the Services, the authenticated user and the DataLoaders.

HTTP requests authenticate from the ``Authorization: Bearer <token>`` header when the
context is built. A websocket context is built at the handshake and lives as long as
the connection; it authenticates when ``connection_init`` arrives (its payload's
``Authorization`` value, else the handshake's header) — see ``GraphQLView.on_ws_connect``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from domain.models import User
from graphql_api.errors import require_user
from graphql_api.loaders import Loaders

if TYPE_CHECKING:
    from signalhub.bootstrap import Services


@dataclass
class Context:
    """What every resolver gets as ``info.context``."""

    services: Services
    request: Request | WebSocket
    response: Response | WebSocket | None = None
    user: User | None = None
    connection_params: dict[str, Any] | None = None
    loaders: Loaders = field(default_factory=Loaders.create)

    def require_user(self) -> User:
        """The signed-in user; raises ``domain.errors.NotAllowed`` (sign in) otherwise."""
        return require_user(self.user)


def bearer_token(params: dict[str, Any] | None, headers: Any) -> str | None:
    """The token of a websocket ``connection_init`` payload, else of the headers."""
    for key in ("Authorization", "authorization"):
        value = (params or {}).get(key)
        if isinstance(value, str) and value:
            return value
    value = headers.get("authorization") if headers is not None else None
    return str(value) if value else None
