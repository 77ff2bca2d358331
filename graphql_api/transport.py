"""The GraphQL ASGI view: context, websocket authentication and shared frames.

Both websocket protocols are served (graphql-transport-ws and legacy graphql-ws).
When a result is a ``SharedResult`` (one execution for a listener group, see
``graphql_api.grouping``), its payload was serialised once; the handlers here only
wrap it in each listener's frame instead of encoding the result again. Each operation
task also sets ``grouping.DIRECT`` (the websocket's ``send_text`` and the frame prefix
of its operation id), so grouped bus subscriptions are written by the group's fan-out
loop directly, without passing through the operation task at all.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter, GraphQL
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.types.execution import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType
from strawberry.utils.aio import aclosing

from domain.users import authenticate
from graphql_api.context import Context, bearer_token
from graphql_api.grouping import DIRECT, Direct, SharedResult
from graphql_api.loaders import Loaders


def next_prefix(operation_id: str) -> str:
    """graphql-transport-ws ``next`` message up to its payload (then payload + ``}``)."""
    return f'{{"id":{json.dumps(operation_id)},"type":"next","payload":'


def data_prefix(operation_id: str) -> str:
    """Legacy graphql-ws ``data`` message up to its payload (then payload + ``}``)."""
    return f'{{"type":"data","id":{json.dumps(operation_id)},"payload":'


def next_frame(operation_id: str, result: SharedResult) -> str:
    """graphql-transport-ws ``next`` message around an already serialised payload."""
    return next_prefix(operation_id) + result.payload_json + "}"


def data_frame(operation_id: str, result: SharedResult) -> str:
    """Legacy graphql-ws ``data`` message around an already serialised payload."""
    return data_prefix(operation_id) + result.payload_json + "}"


class FrameWebSocketAdapter(ASGIWebSocketAdapter):
    """Strawberry's adapter plus ``send_text`` for frames encoded elsewhere."""

    async def send_text(self, text: str) -> None:
        try:
            await self.ws.send_text(text)
        except WebSocketDisconnect as exc:
            raise WebSocketDisconnected from exc


class TransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws: shared results go out as pre-encoded ``next`` frames."""

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        adapter: FrameWebSocketAdapter = self.websocket  # type: ignore[assignment]
        DIRECT.set(Direct(adapter.ws.send_text, next_prefix(operation.id),
                          lambda: not operation.completed))
        await super().run_operation(operation)

    async def _send_result_stream(self, operation: Operation[Context, None],
                                  result_source: Any) -> None:
        unshared = self._send_shared(operation, result_source)
        async with aclosing(unshared):
            await super()._send_result_stream(operation, unshared)

    async def _send_shared(self, operation: Operation[Context, None],
                           results: Any) -> AsyncGenerator[Any, None]:
        adapter: FrameWebSocketAdapter = self.websocket  # type: ignore[assignment]
        async for result in results:
            if isinstance(result, SharedResult) and not operation.completed:
                await adapter.send_text(next_frame(operation.id, result))
            else:
                yield result


class WSHandler(BaseGraphQLWSHandler[Context, None]):
    """Legacy graphql-ws: shared results go out as pre-encoded ``data`` frames."""

    async def handle_async_results(self, operation_id: str, query: str,
                                   operation_name: str | None,
                                   variables: dict[str, object] | None) -> None:
        adapter: FrameWebSocketAdapter = self.websocket  # type: ignore[assignment]
        DIRECT.set(Direct(adapter.ws.send_text, data_prefix(operation_id)))
        await super().handle_async_results(operation_id, query, operation_name, variables)

    async def send_data_message(self, execution_result: ExecutionResult,
                                operation_id: str) -> None:
        if isinstance(execution_result, SharedResult):
            adapter: FrameWebSocketAdapter = self.websocket  # type: ignore[assignment]
            await adapter.send_text(data_frame(operation_id, execution_result))
            return
        await super().send_data_message(execution_result, operation_id)


class GraphQLView(GraphQL[Context, None]):
    """``/graphql``: queries and mutations over HTTP (GraphiQL on GET from a browser),
    everything over websocket. Services come from ``app.state.services``."""

    graphql_transport_ws_handler_class = TransportWSHandler
    graphql_ws_handler_class = WSHandler
    websocket_adapter_class = FrameWebSocketAdapter  # type: ignore[assignment]

    async def get_context(self, request: Request | WebSocket,
                          response: Response | WebSocket) -> Context:
        services = request.app.state.services
        if isinstance(request, WebSocket):
            return Context(services, request, response, loaders=Loaders.create(cache=False))
        user = await authenticate(request.headers.get("authorization"))
        return Context(services, request, response, user=user)

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate the connection from ``connection_init`` (anonymous if no token)."""
        token = bearer_token(context.connection_params, context.request.headers)
        context.user = await authenticate(token)
        return UNSET
