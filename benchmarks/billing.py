"""Billing costs on this machine: entitlement at fan-out and at send time, webhook intake.

Creates a throw-away PostgreSQL database, a provider with N subscribers in mixed
billing states (60 % ACTIVE, 10 % TRIALING, 10 % PAST_DUE in grace, 10 % PAST_DUE past
grace, 5 % CANCELLED at period end, 5 % EXPIRED), and prints:

- the fan-out subscriber query with the entitlement rule vs the old ``status=ACTIVE``;
- the send-time check ``is_entitled_to_event`` per delivery;
- webhook intake per event: signature check (``stripe.Webhook.construct_event``) and
  storing the event once (``record_event``), and a redelivery of a stored id.

Usage: ``.venv/bin/python benchmarks/billing.py [subscribers]`` (default 2000).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import stripe

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from domain.billing_events import record_event  # noqa: E402
from domain.models import Provider, SignalEvent, Subscription, User  # noqa: E402
from domain.models import SubscriptionStatus as S  # noqa: E402
from domain.publishing import publish_signal  # noqa: E402
from domain.signals import make_draft  # noqa: E402
from domain.subscriptions import entitled_q, is_entitled_to_event  # noqa: E402
from integrations.stripe_billing import verify_event  # noqa: E402
from signalhub.db import close_db, init_db, migrate  # noqa: E402

PG = "postgres://postgres@127.0.0.1:5432"
SECRET = "whsec_bench"
MIX = [(S.ACTIVE, 60), (S.TRIALING, 10), (S.PAST_DUE, 10), ("LAPSED", 10),
       (S.CANCELLED, 5), (S.EXPIRED, 5)]


class Quiet:
    async def enqueue(self, *args: object, **kwargs: object) -> bool:
        return True

    async def publish(self, *args: object, **kwargs: object) -> None:
        return None


def ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1000:.2f} ms, p95 " \
           f"{sorted(samples)[int(len(samples) * 0.95)] * 1000:.2f} ms"


async def populate(count: int) -> tuple[Provider, list[int], int]:
    now = datetime.now(UTC)
    owner = await User.create(name="bench owner", role="provider")
    provider = await Provider.create(owner=owner, slug="bench", name="Bench", monthly_price=3)
    users = await User.bulk_create([User(name=f"u{i}", telegram_chat_id=10_000 + i)
                                    for i in range(count)])
    users = await User.filter(name__startswith="u").order_by("id")
    rows, index = [], 0
    for status, share in MIX:
        for _ in range(count * share // 100):
            user = users[index]
            index += 1
            real = S.PAST_DUE if status == "LAPSED" else status
            grace = now + (timedelta(days=-1) if status == "LAPSED" else timedelta(days=2))
            rows.append(Subscription(user=user, provider=provider, status=real,
                                     monthly_price=3, grace_until=grace,
                                     cancel_at_period_end=real is S.CANCELLED,
                                     current_period_end=now + timedelta(days=10)))
    await Subscription.bulk_create(rows)
    draft = make_draft(symbol="BTC/USDT", side="BUY", entry_low="81549.99", entry_high=None,
                       stop_loss="75756.86", targets=["82079.57"])
    signal = await publish_signal(owner, "bench", draft, Quiet(), Quiet())  # type: ignore[arg-type]
    event = await SignalEvent.get(signal=signal)
    return provider, [u.id for u in users[:index]], event.id


async def bench(count: int) -> None:
    provider, user_ids, event_id = await populate(count)
    fields = ("user_id", "user__telegram_chat_id", "user__telegram_reachable",
              "copy_settings__enabled")
    for label, query in (
            ("fan-out query, entitlement rule", lambda: Subscription.filter(
                entitled_q(), provider_id=provider.id).values(*fields)),
            ("fan-out query, status=ACTIVE only", lambda: Subscription.filter(
                status=S.ACTIVE, provider_id=provider.id).values(*fields))):
        samples, rows = [], []
        for _ in range(30):
            start = time.perf_counter()
            rows = await query()
            samples.append(time.perf_counter() - start)
        print(f"{label}: {len(rows)} of {count} rows, {ms(samples)}")
    samples = []
    for user_id in user_ids[:500]:
        start = time.perf_counter()
        await is_entitled_to_event(user_id, event_id)
        samples.append(time.perf_counter() - start)
    print(f"send-time check is_entitled_to_event: {ms(samples)} per delivery")
    verify, store, again = [], [], []
    for i in range(300):
        body = json.dumps({"id": f"evt_bench_{i}", "object": "event", "type": "invoice.paid",
                           "created": int(time.time()), "data": {"object": {"id": f"in_{i}"}}})
        header = stripe.WebhookSignature.generate_signature_header(body, SECRET)
        start = time.perf_counter()
        event = verify_event(body.encode(), header, SECRET)
        verify.append(time.perf_counter() - start)
        start = time.perf_counter()
        await record_event(event)
        store.append(time.perf_counter() - start)
        start = time.perf_counter()
        await record_event(event)
        again.append(time.perf_counter() - start)
    print(f"webhook signature check: {ms(verify)}; store once: {ms(store)}; "
          f"redelivery of a stored id: {ms(again)}")


async def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    name = f"signalhub_bench_billing_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        await migrate(f"{PG}/{name}")
        await init_db(f"{PG}/{name}")
        await bench(count)
        await close_db()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
