"""Import rules (dependencies point inward, each SDK has one home) and a clean migration.

Imports are read with ``ast`` (every ``import``/``from ... import``, at module level or
inside functions), so nothing is imported to check them.
"""

from __future__ import annotations

import ast
import asyncio
import contextvars
import sqlite3
from pathlib import Path

from signalhub.db import migrate

ROOT = Path(__file__).resolve().parents[2]
NOT_SOURCE = {".venv", "var", "build", "dist", ".git", "signalhub.egg-info", "node_modules",
              "tests"}
DOMAIN_FORBIDDEN = {
    "graphql_api", "bots", "workers", "integrations", "signalhub", "strawberry", "aiogram",
    "discord", "arq", "redis", "ccxt", "stripe", "starlette", "uvicorn", "httpx", "aiohttp",
}


def source_files(folder: Path = ROOT) -> list[Path]:
    """Project ``.py`` files under ``folder``: no virtualenv, build output or tests."""
    return sorted(p for p in folder.rglob("*.py")
                  if not NOT_SOURCE.intersection(p.relative_to(ROOT).parts))


def imported_modules(path: Path) -> set[str]:
    """Absolute module names ``path`` imports (relative imports are inside its package)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def importers_of(package: str, files: list[Path]) -> list[str]:
    """Paths (relative to the repository) of ``files`` that import ``package``."""
    return [str(p.relative_to(ROOT)) for p in files
            if any(name.split(".")[0] == package for name in imported_modules(p))]


def test_domain_imports_no_framework_adapter_or_entrypoint() -> None:
    files = source_files(ROOT / "domain")
    offenders = {
        str(p.relative_to(ROOT)): sorted(
            n for n in imported_modules(p) if n.split(".")[0] in DOMAIN_FORBIDDEN)
        for p in files
    }

    assert len(files) >= 15  # every module of domain/, strategies/ included
    assert {path: names for path, names in offenders.items() if names} == {}


def test_domain_may_use_the_orm() -> None:
    assert "tortoise" in imported_modules(ROOT / "domain" / "models.py")


def test_only_the_price_source_and_the_exchange_gateway_import_ccxt() -> None:
    assert importers_of("ccxt", source_files()) == ["integrations/exchange_ccxt.py",
                                                     "integrations/prices.py"]


def test_aiogram_is_imported_only_by_integrations_and_bots() -> None:
    importers = importers_of("aiogram", source_files())

    assert "integrations/telegram.py" in importers  # the check sees real imports
    assert [p for p in importers if not p.startswith(("integrations/", "bots/"))] == []


def test_no_model_docstring_contains_a_semicolon() -> None:
    # tortoise writes class docstrings (and field descriptions) into SQLite DDL comments;
    # a ';' there split the generated migration SQL once.
    tree = ast.parse((ROOT / "domain" / "models.py").read_text())
    texts = {node.name: ast.get_docstring(node) or "" for node in ast.walk(tree)
             if isinstance(node, ast.ClassDef)}
    texts |= {f"description at line {node.lineno}": kw.value.value
              for node in ast.walk(tree) if isinstance(node, ast.Call)
              for kw in node.keywords
              if kw.arg == "description" and isinstance(kw.value, ast.Constant)}

    assert "Signal" in texts and texts["Signal"]
    assert [name for name, text in texts.items() if ";" in str(text)] == []


async def test_migrations_apply_cleanly_to_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "x.sqlite3"
    # A fresh contextvars context: tortoise keeps its current context in a contextvar,
    # so this migration cannot replace or close the database other tests are using.
    task = asyncio.get_running_loop().create_task(migrate(f"sqlite://{path}"),
                                                  context=contextvars.Context())
    await task

    with sqlite3.connect(path) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master "
                                               "WHERE type = 'table'")}
        signal_columns = {row[1] for row in db.execute("PRAGMA table_info(signals)")}
    assert {"users", "providers", "signals", "signal_states", "signal_events", "outbox",
            "subscriptions", "copy_settings", "copy_orders", "positions", "deliveries",
            "paper_accounts", "api_tokens"} <= tables
    assert {"seq", "prev_hash", "content_hash", "targets"} <= signal_columns


def test_import_parser_sees_every_import_form(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text("import redis.asyncio\nfrom arq import cron\nfrom . import sibling\n"
                     "def f():\n    import ccxt.async_support as c\n")

    assert imported_modules(probe) == {"redis.asyncio", "arq", "ccxt.async_support"}
