"""Bulk row writes of the copy engine, cheaper than tortoise's per-row models.

``save_rows`` (UPDATE of some fields) and ``insert_rows`` (INSERT of plain values) are
one pipelined ``executemany`` each on PostgreSQL and fall back to tortoise's bulk calls
elsewhere (SQLite); ``attach_related`` loads a shard's signals and users with one query
per model. Measured in ``benchmarks/README.md`` (Copy execution latency).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tortoise import connections
from tortoise.models import Model

from domain.models import CopyOrder, Signal, User


async def save_rows(rows: Sequence[Model], fields: list[str]) -> None:
    """UPDATE ``fields`` of many rows of one model: one pipelined ``executemany`` on
    PostgreSQL (tortoise's ``bulk_update`` builds a CASE per field and cost ~100 ms of
    CPU per 100 rows here), ``bulk_update`` elsewhere (SQLite)."""
    if not rows:
        return
    model = type(rows[0])
    meta = model._meta
    conn = connections.get(meta.default_connection or "default")
    if conn.capabilities.dialect != "postgres":
        await model.bulk_update(list(rows), fields=fields)
        return
    columns = [meta.fields_db_projection[f] for f in fields]
    assignments = ", ".join(f'"{c}" = ${i}' for i, c in enumerate(columns, 1))
    pk = meta.db_pk_column
    sql = (f'UPDATE "{meta.db_table}" SET {assignments} '
           f'WHERE "{pk}" = ${len(columns) + 1}')
    values = [[meta.fields_map[f].to_db_value(getattr(row, f), row) for f in fields]
              + [row.pk] for row in rows]
    await conn.execute_many(sql, values)


async def insert_rows(model: type[Model], rows: Sequence[dict[str, Any]], *,
                      ignore_conflicts: bool = False) -> None:
    """INSERT rows of one model given as {field: value} (the fields' defaults, and now
    for auto_now fields, fill the rest): one pipelined ``executemany`` on PostgreSQL
    (building a tortoise model cost ~90 µs of CPU per row here), ``bulk_create``
    elsewhere. Values are validated and converted by the model's fields; a missing
    required field raises ``KeyError``. ``ignore_conflicts``: rows hitting a unique
    constraint are left out (``ON CONFLICT DO NOTHING``), else the conflict raises."""
    if not rows:
        return
    meta = model._meta
    conn = connections.get(meta.default_connection or "default")
    if conn.capabilities.dialect != "postgres":
        await model.bulk_create([model(**row) for row in rows],
                                ignore_conflicts=ignore_conflicts)
        return
    names = [n for n in meta.fields_db_projection if not meta.fields_map[n].generated]
    fields = [meta.fields_map[n] for n in names]
    now = datetime.now(UTC)
    defaults = {f.model_field_name: now for f in fields
                if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)}
    values = [[f.to_db_value(row[n] if n in row else _default(f, defaults, n), model)
               for n, f in zip(names, fields, strict=True)] for row in rows]
    columns = ", ".join(f'"{meta.fields_db_projection[n]}"' for n in names)
    params = ", ".join(f"${i}" for i in range(1, len(names) + 1))
    conflict = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    await conn.execute_many(f'INSERT INTO "{meta.db_table}" ({columns}) VALUES ({params})'
                            f"{conflict}", values)


def _default(field: Any, defaults: dict[str, Any], name: str) -> Any:
    if name in defaults:
        return defaults[name]
    if field.default is None and not field.null:
        raise KeyError(f"{field.model._meta.db_table}.{name} needs a value")
    return field.default() if callable(field.default) else field.default


async def attach_related(orders: list[CopyOrder]) -> list[CopyOrder]:
    """Load each order's signal and user with one query per model (a shard's orders
    share one signal: ``select_related`` would build it once per row)."""
    if not orders:
        return orders
    signals = {s.id: s for s in await Signal.filter(
        id__in={o.signal_id for o in orders})}  # type: ignore[attr-defined]
    users = {u.id: u for u in await User.filter(
        id__in={o.user_id for o in orders})}  # type: ignore[attr-defined]
    for order in orders:
        order.signal = signals[order.signal_id]  # type: ignore[attr-defined]
        order.user = users[order.user_id]  # type: ignore[attr-defined]
    return orders
