"""The ``signalhub`` command: migrate, api, worker, bot telegram|discord, run, demo, parse,
users create, keys rotate."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence

from signalhub.settings import Settings, SettingsError, load_settings, require


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the console script; exits non-zero with one line on a bad setting."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings()
        asyncio.run(args.func(settings, args))
    except SettingsError as exc:
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="signalhub", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    sub = parser.add_subparsers(required=True, metavar="command")
    sub.add_parser("migrate", help="apply database migrations").set_defaults(func=cmd_migrate)
    sub.add_parser("api", help="GraphQL API server").set_defaults(func=cmd_api)
    sub.add_parser("worker", help="arq worker and position monitor").set_defaults(
        func=cmd_worker)
    bot = sub.add_parser("bot", help="chat bots").add_subparsers(required=True, metavar="bot")
    bot.add_parser("telegram", help="Telegram bot (polling)").set_defaults(func=cmd_telegram)
    bot.add_parser("discord", help="Discord bot (gateway, slash commands)").set_defaults(
        func=cmd_discord)
    sub.add_parser("run", help="api + worker + Telegram bot in one process").set_defaults(
        func=cmd_run)
    demo = sub.add_parser("demo", help="run + RSI strategy replaying real candles")
    demo.add_argument("--duration", type=float, default=None,
                      help="stop after this many seconds (default: until Ctrl-C)")
    demo.set_defaults(func=cmd_demo)
    sub.add_parser("parse", help="parse one signal message from stdin, print JSON").set_defaults(
        func=cmd_parse)
    users = sub.add_parser("users", help="manage users").add_subparsers(required=True,
                                                                      metavar="action")
    create = users.add_parser("create", help="create a user and print a new API token once")
    create.add_argument("name")
    create.add_argument("--role", choices=["user", "provider", "admin"], default="user")
    create.set_defaults(func=cmd_users_create)
    keys = sub.add_parser("keys", help="secret keys").add_subparsers(required=True,
                                                                    metavar="action")
    keys.add_parser("rotate", help="re-encrypt every exchange credential under "
                                   "SIGNALHUB_SECRET_KEY").set_defaults(func=cmd_keys_rotate)
    return parser


async def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    """Apply every migration to ``DATABASE_URL``."""
    from signalhub.db import migrate

    await migrate(settings.database_url)
    print(f"migrated {_safe_url(settings.database_url)}")


async def cmd_api(settings: Settings, args: argparse.Namespace) -> None:
    """Serve the GraphQL API with uvicorn on SIGNALHUB_HOST:SIGNALHUB_PORT."""
    import uvicorn

    from graphql_api.app import create_app

    config = uvicorn.Config(create_app(settings), host=settings.signalhub_host,
                            port=settings.signalhub_port, ws_per_message_deflate=False,
                            log_level="warning")
    await uvicorn.Server(config).serve()


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    """Run the arq worker (jobs, cron sweep) and the position monitor."""
    from signalhub.bootstrap import bootstrap, shutdown
    from workers.settings import make_worker

    services = await bootstrap(settings)
    worker = make_worker(services)
    try:
        await worker.main()
    finally:
        await worker.close()
        await shutdown(services)


async def cmd_telegram(settings: Settings, args: argparse.Namespace) -> None:
    """Run the Telegram bot in polling mode (needs TELEGRAM_BOT_TOKEN)."""
    from bots.telegram.app import run_polling
    from signalhub.bootstrap import bootstrap, shutdown

    require(settings, "TELEGRAM_BOT_TOKEN")
    services = await bootstrap(settings)
    try:
        await run_polling(settings, services)
    finally:
        await shutdown(services)


async def cmd_discord(settings: Settings, args: argparse.Namespace) -> None:
    """Run the Discord bot: slash commands over the gateway (needs DISCORD_BOT_TOKEN)."""
    from bots.discord.app import run_bot
    from signalhub.bootstrap import bootstrap, shutdown

    require(settings, "DISCORD_BOT_TOKEN")
    services = await bootstrap(settings)
    try:
        await run_bot(settings, services)
    finally:
        await shutdown(services)


async def cmd_run(settings: Settings, args: argparse.Namespace) -> None:
    """api + worker (+ Telegram bot when a token is set) in one process."""
    from signalhub.allinone import run_all

    await run_all(settings)


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    """``run`` plus the RSI strategy on replayed real candles, with live lines."""
    from signalhub.demo import run_demo

    await run_demo(settings, duration=args.duration)


async def cmd_parse(settings: Settings, args: argparse.Namespace) -> None:
    """Read one message from stdin and print its parse as JSON (``null``: not a signal)."""
    from signalhub.parse_cmd import parse_to_json

    print(parse_to_json(sys.stdin.read()))


async def cmd_keys_rotate(settings: Settings, args: argparse.Namespace) -> None:
    """Re-encrypt every exchange account's credentials under SIGNALHUB_SECRET_KEY.

    Old keys come from SIGNALHUB_OLD_SECRET_KEYS. Prints the counts; exits 1 when a row
    could not be decrypted (it is left unchanged; fix the keys and run it again).
    """
    from integrations.secrets import SecretBox, SecretError, rotate_all
    from signalhub.db import close_db, init_db

    try:
        box = SecretBox.from_settings(require(settings, "SIGNALHUB_SECRET_KEY"),
                                      settings.signalhub_old_secret_keys)
    except SecretError as exc:
        raise SettingsError(f"setting SIGNALHUB_SECRET_KEY: {exc}") from None
    await init_db(settings.database_url)
    try:
        report = await rotate_all(box)
    finally:
        await close_db()
    print(f"key {box.current_key_id}: {report.rotated} re-encrypted, {report.current} "
          f"already current, {report.empty} without credentials, {len(report.failed)} failed")
    for account_id, reason in report.failed:
        print(f"  exchange account #{account_id}: {reason}", file=sys.stderr)
    if report.failed:
        raise SystemExit(1)


async def cmd_users_create(settings: Settings, args: argparse.Namespace) -> None:
    """Create a user and print its API token (shown once, stored only as a hash)."""
    from domain.users import create_user, issue_token
    from signalhub.db import close_db, init_db

    await init_db(settings.database_url)
    try:
        user = await create_user(args.name, args.role)
        token = await issue_token(user)
    finally:
        await close_db()
    print(f"user #{user.id} {user.name} ({user.role.value}) created")
    print(f"API token (shown once, keep it): {token}")


def _safe_url(url: str) -> str:
    """``url`` without a password."""
    if "@" not in url:
        return url
    scheme, rest = url.split("://", 1)
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
