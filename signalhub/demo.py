"""``signalhub demo``: ``run`` plus the built-in RSI strategy on replayed real candles.

Sets up provider ``rsi-demo`` and three subscribers (alice, bob, carol; carol copies
with paper trading), then prints a live line for every published signal, outcome,
GraphQL delivery (a real websocket client subscribed as alice), Telegram delivery and
paper fill/close.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine
from decimal import Decimal
from typing import Any

from domain.market import Candle
from domain.models import Provider, Role, User
from domain.providers import create_provider
from domain.publishing import publish_signal
from domain.signals import SignalDraft
from domain.strategies.rsi import RsiParams
from domain.strategies.runner import run_strategy
from domain.subscriptions import set_copy_trading, subscribe
from domain.users import create_user, issue_token
from integrations.prices import parse_price_source
from signalhub.allinone import run_all
from signalhub.bootstrap import Services
from signalhub.settings import Settings

PROVIDER = "rsi-demo"
SUBSCRIPTION = """subscription Demo($slugs: [String!]!) {
  signalEvents(providerSlugs: $slugs) { kind price targetIndex signal { id symbol side } }
}"""


async def setup_demo() -> tuple[User, str]:
    """Create (once) the provider ``rsi-demo`` and alice, bob, carol; returns alice's token."""
    owner = await User.get_or_none(name="rsi-demo-bot")
    if owner is None:
        owner = await create_user("rsi-demo-bot", Role.PROVIDER)
    if not await Provider.exists(slug=PROVIDER):
        await create_provider(owner, PROVIDER, "RSI demo (built-in strategy)",
                              "TA-Lib RSI(14) crossing 30/70, stop 1.5 ATR, targets 1/2/3 ATR",
                              "0")
    for name in ("alice", "bob", "carol"):
        user = await User.get_or_none(name=name) or await create_user(name)
        await subscribe(user, PROVIDER)
        if name == "carol":
            await set_copy_trading(user, PROVIDER, True)
    alice = await User.get(name="alice")
    return owner, await issue_token(alice)


async def run_demo(settings: Settings, duration: float | None = None) -> None:
    """Run everything in one process until Ctrl-C (or ``duration`` seconds)."""
    prices = parse_price_source(settings.price_source, speed=settings.replay_speed)
    state: dict[str, Any] = {}

    async def on_ready(services: Services) -> None:
        owner, token = await setup_demo()
        state.update(owner=owner, token=token)
        _banner(settings, token)

    def extra(services: Services) -> list[Coroutine[Any, Any, Any]]:
        return [_strategy(services, state["owner"]), _live_lines(services),
                _graphql_listener(settings, state["token"])]

    await run_all(settings, prices=prices, extra=extra, duration=duration, on_ready=on_ready)


async def _strategy(services: Services, owner: User) -> None:
    assert services.prices is not None

    async def publish(draft: SignalDraft, candle: Candle) -> None:
        await publish_signal(owner, PROVIDER, draft, services.queue, services.bus,
                             market_ts=candle.close_ts)

    await run_strategy(services.prices, publish, RsiParams())  # type: ignore[arg-type]


async def _live_lines(services: Services) -> None:
    await services.hub.start()
    async with services.hub.listen(["activity", f"signals:{PROVIDER}"]) as queue:
        while True:
            topic, _, message = await queue.get()
            if topic == "activity":
                print(f"  [{message['kind']:>8}] {message['text']}", flush=True)
            elif message["kind"] == "PUBLISHED":
                s = message["signal"]
                targets = ", ".join(_num(t) for t in s["targets"])
                print(f"\n[signal] #{s['id']} {s['side']} {s['symbol']} entry "
                      f"{_num(s['entryLow'])} stop {_num(s['stopLoss'])} targets {targets}",
                      flush=True)


def _num(text: str) -> str:
    """A decimal string without trailing zeros (``143.580000`` → ``143.58``)."""
    return format(Decimal(text).normalize(), "f")


async def _graphql_listener(settings: Settings, token: str) -> None:
    import websockets

    url = f"ws://{settings.signalhub_host}:{settings.signalhub_port}/graphql"
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init",
                                  "payload": {"Authorization": f"Bearer {token}"}}))
        await ws.recv()
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {
            "query": SUBSCRIPTION, "variables": {"slugs": [PROVIDER]}}}))
        async for raw in ws:
            _print_graphql(json.loads(raw))


def _print_graphql(message: dict[str, Any]) -> None:
    if message.get("type") == "next":
        event = message["payload"]["data"]["signalEvents"]
        s = event["signal"]
        print(f"  [ graphql] alice received {event['kind']} of #{s['id']} {s['symbol']} "
              f"over the websocket", flush=True)
    elif message.get("type") == "error":
        print(f"  [ graphql] subscription error: {message.get('payload')}", flush=True)


def _banner(settings: Settings, token: str) -> None:
    base = f"http://{settings.signalhub_host}:{settings.signalhub_port}"
    print(f"""
SignalHub demo — RSI strategy replaying real Binance candles ({settings.price_source})
  GraphQL (GraphiQL in a browser): {base}/graphql
  alice's API token (Authorization: Bearer ...): {token}
  subscribers: alice, bob, carol (carol copies with a 10,000 USDT paper account)
  Telegram: {"bot running — send /start to it" if settings.telegram_bot_token else
             "set TELEGRAM_BOT_TOKEN to talk to the bot"}
Press Ctrl-C to stop.
""", flush=True)
