"""Execute a subscription's selection once per listener group, not once per listener.

Stock strawberry runs graphql-core's execution for every listener on every event and
parses and validates the document on every subscribe. ``GroupedSchema`` overrides
``Schema.stream`` (which both websocket protocols call) for subscription operations
whose root fields are all in ``grouped_fields``:

1. parse + validation are cached per ``(query text, operation name)`` (LRU);
2. each listener still builds its own executor and *source* stream, so the
   subscription resolver (authorization, ``BusHub.listen``) runs per listener;
3. each event is executed with it as root value once per group key
   ``(query, variables, operation name, group_scope(context))`` and the result,
   with its payload already serialised as JSON, is memoised by event id
   (``EventResults``, a small LRU of futures), so every listener of the group gets
   the same ``SharedResult`` object;
4. the websocket handlers of ``graphql_api.transport`` write that JSON into the
   frame of each listener (only the operation id differs).

5. fan-out: when the websocket handler set ``DIRECT`` (its send callable and the
   listener's frame prefix) and the source stream can attach a sink to its hub
   (``integrations.redis_bus.BusStream``), the listener joins a ``FanOut`` of its
   group instead of iterating a queue: on each bus message the hub calls the group
   once, the group executes once and writes ``prefix + payload + "}"`` to every
   listener in one loop, with no task woken per listener. A send that cannot finish
   at once continues in a task of its own (later frames for that socket queue behind
   it); a send that fails drops that listener and ends its operation.

Anything in the result that depends on the listener must be part of the group key:
override ``group_scope``. Every other operation takes strawberry's own path.
The grouped path runs no schema extensions.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache, partial
from inspect import isawaitable
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    get_operation_ast,
    parse,
    specified_rules,
)
from graphql import (
    ExecutionResult as CoreResult,
)
from graphql import (
    OperationType as CoreOperationType,
)
from graphql.execution import create_source_event_stream, execute_subscription_event
from strawberry.execution import optimized_is_awaitable
from strawberry.schema.schema import StreamResult, validate_document
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.aio import aclosing

MAX_QUERY_CHARS = 20_000
MAX_BACKLOG = 1000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Direct:
    """How a websocket handler's operation task receives shared frames directly:
    ``send_text(prefix + payload_json + "}")``; ``is_open()`` false once completed."""

    send_text: Callable[[str], Coroutine[Any, Any, None]]
    prefix: str
    is_open: Callable[[], bool] = lambda: True


DIRECT: ContextVar[Direct | None] = ContextVar("graphql_direct_sink", default=None)


@dataclass
class SharedResult(ExecutionResult):
    """One event's result for a whole listener group; ``payload_json`` is the protocol
    payload (``{"data": ..., "errors": [...]}``) serialised once."""

    payload_json: str = ""


def shared_result(result: CoreResult) -> SharedResult:
    """Wrap graphql-core's result and serialise its payload once."""
    payload: dict[str, Any] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    return SharedResult(data=result.data, errors=result.errors,
                        payload_json=json.dumps(payload, separators=(",", ":"), default=str))


class EventResults:
    """Memo of ``(group key, event id) -> future SharedResult``, at most ``maxsize`` entries.

    A late listener whose entry was evicted just executes again. An entry is reused
    only for the same event message (identity or equality), never for a different
    message that happens to carry the same id. ``executions`` counts real executions.
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self.executions = 0
        self._entries: OrderedDict[tuple[Any, Any], tuple[Any, asyncio.Future[SharedResult]]]
        self._entries = OrderedDict()

    async def get(self, group: Any, event_id: Any, message: Any,
                  compute: Any) -> SharedResult:
        """The memoised result, or ``compute()`` (sync value or awaitable) stored first."""
        key = (group, event_id)
        entry = self._entries.get(key)
        if entry is None or not (entry[0] is message or entry[0] == message):
            entry = (message, self._start(compute))
            self._entries[key] = entry
            self._entries.move_to_end(key)
            if len(self._entries) > self.maxsize:
                self._entries.popitem(last=False)
        future = entry[1]
        if future.done():
            return future.result()
        return await asyncio.shield(future)

    async def once(self, compute: Any) -> SharedResult:
        """``compute()`` without memoising (events that carry no id)."""
        return await self._start(compute)

    def _start(self, compute: Any) -> asyncio.Future[SharedResult]:
        self.executions += 1
        value = compute()
        if isawaitable(value):
            return asyncio.ensure_future(value)
        future: asyncio.Future[SharedResult] = asyncio.get_running_loop().create_future()
        future.set_result(value)
        return future


def group_key(query: str, variables: dict[str, Any] | None, operation_name: str | None,
              scope: Any) -> tuple[str, str, str | None, Any]:
    """Listeners with equal keys receive identical results."""
    variables_json = json.dumps(variables or {}, sort_keys=True, separators=(",", ":"),
                                default=str)
    return query, variables_json, operation_name, scope


class GroupedSchema(strawberry.Schema):
    """A ``strawberry.Schema`` whose eligible subscriptions execute once per group."""

    def __init__(self, *args: Any, grouped_fields: Iterable[str] = (),
                 cache_size: int = 256, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.grouped_fields = frozenset(grouped_fields)
        self.event_results = EventResults()
        self.fanouts: dict[Any, FanOut] = {}
        self._prepare = lru_cache(maxsize=cache_size)(self._prepare_document)

    def group_scope(self, context: Any) -> Any:
        """Part of the group key that depends on the listener; None: results are the same
        for every authorised listener (override when a grouped selection is per-user)."""
        return None

    async def stream(  # noqa: PLR0917 - strawberry's signature
        self, query: str | None, variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None, root_value: Any | None = None,
        operation_name: str | None = None, operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        document = self._grouped_document(query, operation_name, allowed_operation_types)
        if document is None:
            return await super().stream(
                query, variable_values, context_value, root_value, operation_name,
                operation_extensions, allowed_operation_types)
        assert query is not None
        key = group_key(query, variable_values, operation_name,
                        self.group_scope(context_value))
        return self._grouped_stream(document, key, variable_values, context_value,
                                    root_value, operation_name)

    def _grouped_document(self, query: str | None, operation_name: str | None,
                          allowed: Iterable[OperationType] | None) -> DocumentNode | None:
        if not self.grouped_fields or not query or len(query) > MAX_QUERY_CHARS:
            return None
        if allowed is not None and OperationType.SUBSCRIPTION not in allowed:
            return None
        return self._prepare(query, operation_name)

    def _prepare_document(self, query: str, operation_name: str | None) -> DocumentNode | None:
        """Parsed, valid document whose operation selects only grouped root fields."""
        try:
            document = parse(query)
        except GraphQLError:
            return None
        operation = get_operation_ast(document, operation_name)
        if not self._is_grouped(operation):
            return None
        if validate_document(self._schema, document, tuple(specified_rules)):
            return None
        return document

    def _is_grouped(self, operation: OperationDefinitionNode | None) -> bool:
        if operation is None or operation.operation is not CoreOperationType.SUBSCRIPTION:
            return False
        selections = operation.selection_set.selections
        return all(isinstance(node, FieldNode) and not node.directives
                   and node.name.value in self.grouped_fields for node in selections)

    async def _grouped_stream(
        self, document: DocumentNode, key: Any, variables: dict[str, Any] | None,
        context: Any, root_value: Any, operation_name: str | None,
    ) -> AsyncGenerator[ExecutionResult, None]:
        executor = self.execution_context_class.build(
            self._schema, document, root_value, context, variables, operation_name,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
            operation_extensions=None)
        if isinstance(executor, list):
            yield self._pre_execution_error(executor)
            return
        source = create_source_event_stream(executor)
        if isawaitable(source):
            source = await source
        if isinstance(source, CoreResult):
            yield self._pre_execution_error(source.errors or [])
            return
        direct = DIRECT.get()
        if direct is not None and _can_attach(source):
            await self._fan_out(source, key, executor, direct)
            return
        async with aclosing(source):
            async for event in source:
                yield await self._result_for(executor, key, event)

    async def _fan_out(self, source: Any, key: Any, executor: Any, direct: Direct) -> None:
        """Join the group's ``FanOut`` until the operation ends or the listener is dropped."""
        fanout_key = (key, tuple(source.topics), id(source.hub))
        fanout = self.fanouts.get(fanout_key)
        if fanout is None:
            fanout = FanOut(self, fanout_key, source, executor)
            self.fanouts[fanout_key] = fanout
        listener = fanout.add(direct)
        try:
            await listener.done
        finally:
            fanout.remove(listener)

    async def _result_for(self, executor: Any, key: Any, event: Any) -> SharedResult:
        event_id, message = _event_identity(event)
        compute = partial(self._execute_event, executor, event)
        if event_id is None:
            return await self.event_results.once(compute)
        return await self.event_results.get(key, event_id, message, compute)

    def _execute_event(self, executor: Any, event: Any
                       ) -> SharedResult | Awaitable[SharedResult]:
        try:
            result = execute_subscription_event(executor.build_per_event_executor(event))
        except Exception as exc:  # noqa: BLE001 - reported to the listeners as an error
            result = CoreResult(None, [GraphQLError(str(exc), original_error=exc)])
        if isawaitable(result):
            return self._finish_async(result)
        return self._finish(result)

    async def _finish_async(self, pending: Awaitable[CoreResult]) -> SharedResult:
        try:
            result = await pending
        except Exception as exc:  # noqa: BLE001 - reported to the listeners as an error
            result = CoreResult(None, [GraphQLError(str(exc), original_error=exc)])
        return self._finish(result)

    def _finish(self, result: CoreResult) -> SharedResult:
        if result.errors:
            self._process_errors(list(result.errors), None)
        return shared_result(result)

    def _pre_execution_error(self, errors: list[GraphQLError]) -> PreExecutionError:
        self._process_errors(errors, None)
        return PreExecutionError(data=None, errors=errors)


def _can_attach(source: Any) -> bool:
    hub = getattr(source, "hub", None)
    return (callable(getattr(hub, "attach", None)) and hasattr(source, "topics")
            and callable(getattr(source, "wrap", None)))


class Listener:
    """One websocket operation of a ``FanOut``."""

    __slots__ = ("backlog", "direct", "done", "task")

    def __init__(self, direct: Direct) -> None:
        self.direct = direct
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.backlog: list[str] | None = None  # frames waiting behind an unfinished send
        self.task: asyncio.Task[None] | None = None


class FanOut:
    """The listeners of one group on one hub: a hub sink that executes each message
    once and sends the frame to every listener in one loop."""

    def __init__(self, schema: GroupedSchema, key: Any, source: Any, executor: Any) -> None:
        self.schema, self.key, self.executor = schema, key, executor
        self.hub, self.topics, self.wrap = source.hub, list(source.topics), source.wrap
        self.listeners: dict[int, Listener] = {}
        self._tail: asyncio.Future[None] | None = None
        self.hub.attach(self.topics, self)

    def __len__(self) -> int:
        return len(self.listeners)

    def add(self, direct: Direct) -> Listener:
        listener = Listener(direct)
        self.listeners[id(listener)] = listener
        return listener

    def remove(self, listener: Listener) -> None:
        self.listeners.pop(id(listener), None)
        task = listener.task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
        if not listener.done.done():
            listener.done.set_result(None)
        if not self.listeners and self.schema.fanouts.get(self.key) is self:
            del self.schema.fanouts[self.key]
            self.hub.detach(self.topics, self)

    def __call__(self, topic: str, raw: str, message: dict[str, Any]) -> None:
        if not self.listeners:
            return
        event = self.wrap(message)
        self.schema.event_results.executions += 1
        result = self.schema._execute_event(self.executor, event)  # noqa: SLF001
        if self._tail is not None and self._tail.done():
            self._tail = None
        if isawaitable(result) or self._tail is not None:
            self._tail = asyncio.ensure_future(self._send_later(self._tail, result))
        else:
            self.send(result.payload_json)  # type: ignore[union-attr]

    async def _send_later(self, previous: asyncio.Future[None] | None,
                          result: SharedResult | Awaitable[SharedResult]) -> None:
        if previous is not None:
            await asyncio.wait((previous,))
        if isawaitable(result):
            result = await result
        self.send(result.payload_json)

    def send(self, payload_json: str) -> None:
        """Write one shared payload to every listener (the hot loop)."""
        tail = payload_json + "}"
        for listener in list(self.listeners.values()):
            direct = listener.direct
            frame = direct.prefix + tail
            if listener.backlog is not None:
                if len(listener.backlog) >= MAX_BACKLOG:
                    del listener.backlog[0]
                listener.backlog.append(frame)
                continue
            if not direct.is_open():
                continue
            try:
                sending = direct.send_text(frame)
                try:
                    waiting_on = sending.send(None)
                except StopIteration:
                    continue
            except Exception:  # noqa: BLE001 - a closed socket just leaves
                self.drop(listener)
                continue
            listener.backlog = []
            listener.task = asyncio.ensure_future(self._finish(listener, sending, waiting_on))

    async def _finish(self, listener: Listener, sending: Coroutine[Any, Any, None],
                      waiting_on: Any) -> None:
        """Drive a send that could not finish at once, then the frames queued behind it."""
        try:
            await _drive(sending, waiting_on)
            while listener.backlog:
                frame = listener.backlog.pop(0)
                if listener.direct.is_open():
                    await listener.direct.send_text(frame)
            listener.backlog = None
        except asyncio.CancelledError:
            sending.close()
            raise
        except Exception:  # noqa: BLE001 - a closed or failing socket just leaves
            self.drop(listener)

    def drop(self, listener: Listener) -> None:
        log.debug("dropping a websocket listener whose send failed")
        self.remove(listener)


async def _drive(coroutine: Coroutine[Any, Any, None], waiting_on: Any) -> None:
    """Finish a coroutine already stepped once (it is suspended on ``waiting_on``), as
    a task would, without wrapping it in one up front."""
    while True:
        if waiting_on is None:
            await asyncio.sleep(0)
        else:
            waiting_on._asyncio_future_blocking = False  # noqa: SLF001 - task protocol
            await asyncio.wait((waiting_on,))
        try:
            waiting_on = coroutine.send(None)
        except StopIteration:
            return


def _event_identity(event: Any) -> tuple[Any, Any]:
    """``(event id, message)`` of a root value that offers ``event_key()``, else (None, None)."""
    event_key = getattr(event, "event_key", None)
    return event_key() if callable(event_key) else (None, None)
