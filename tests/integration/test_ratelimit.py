"""RedisRateLimiter against real Redis: slot arithmetic, sharing between processes, penalties.

No timing assertions: ``reserve`` returns the computed wait without sleeping, and the
waits are compared with the expected slot spacing (tolerance covers the few
milliseconds that pass between calls).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from redis.exceptions import RedisError

from integrations.ratelimit import MAX_BATCH, RedisRateLimiter

TOLERANCE_S = 0.05


def approx(values: list[float]) -> object:
    return pytest.approx(values, abs=TOLERANCE_S)


@pytest.fixture
async def prefix() -> AsyncIterator[str]:
    key_prefix = f"test:{uuid.uuid4().hex}:"
    yield key_prefix
    cleaner = Redis(host="127.0.0.1", port=6379)
    keys = [key async for key in cleaner.scan_iter(match=f"{key_prefix}*")]
    if keys:
        await cleaner.delete(*keys)
    await cleaner.aclose()


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis(host="127.0.0.1", port=6379)
    yield client
    await client.aclose()


@pytest.fixture
def limiter(redis: Redis, prefix: str) -> RedisRateLimiter:
    return RedisRateLimiter(redis, prefix)


async def test_one_chat_gets_one_slot_per_second(limiter: RedisRateLimiter) -> None:
    waits = [await limiter.reserve(101) for _ in range(4)]

    assert waits == approx([0.0, 1.0, 2.0, 3.0])


async def test_different_chats_are_spaced_by_the_global_rate(limiter: RedisRateLimiter) -> None:
    waits = [await limiter.reserve(chat) for chat in range(201, 207)]

    assert waits == approx([n / 30 for n in range(6)])


async def test_a_busy_chat_does_not_hold_back_other_chats(limiter: RedisRateLimiter) -> None:
    busy = [await limiter.reserve(301) for _ in range(3)]
    other = await limiter.reserve(302)

    assert busy == approx([0.0, 1.0, 2.0])
    assert other == pytest.approx(3 / 30, abs=TOLERANCE_S)


async def test_two_processes_share_the_same_buckets(redis: Redis, prefix: str) -> None:
    second_client = Redis(host="127.0.0.1", port=6379)
    first, second = RedisRateLimiter(redis, prefix), RedisRateLimiter(second_client, prefix)
    try:
        waits = [await first.reserve(401), await second.reserve(401), await first.reserve(401)]
        other_chat = await second.reserve(402)
    finally:
        await second_client.aclose()

    assert waits == approx([0.0, 1.0, 2.0])
    assert other_chat == pytest.approx(3 / 30, abs=TOLERANCE_S)


async def test_limiters_with_other_prefixes_are_independent(redis: Redis, prefix: str) -> None:
    first = RedisRateLimiter(redis, prefix + "a:")
    second = RedisRateLimiter(redis, prefix + "b:")

    assert [await first.reserve(501), await second.reserve(501)] == approx([0.0, 0.0])


async def test_groups_get_twenty_messages_per_minute(limiter: RedisRateLimiter) -> None:
    waits = [await limiter.reserve(-100123) for _ in range(3)]

    assert waits == approx([0.0, 3.0, 6.0])


async def test_custom_rates(redis: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis, prefix, global_rate=10.0, per_chat_rate=4.0)

    same_chat = [await limiter.reserve(601) for _ in range(3)]
    new_chat = await limiter.reserve(602)

    assert same_chat == approx([0.0, 0.25, 0.5])
    assert new_chat == pytest.approx(0.3, abs=TOLERANCE_S)


async def test_penalize_holds_back_every_chat(limiter: RedisRateLimiter) -> None:
    until = await limiter.penalize(5)

    assert until == pytest.approx(5.0, abs=TOLERANCE_S)
    assert [await limiter.reserve(701), await limiter.reserve(702)] == approx([5.0, 5.0 + 1 / 30])


async def test_penalize_never_brings_the_bucket_forward(limiter: RedisRateLimiter) -> None:
    await limiter.penalize(5)

    assert await limiter.penalize(1) == pytest.approx(5.0, abs=TOLERANCE_S)
    assert await limiter.reserve(801) == pytest.approx(5.0, abs=TOLERANCE_S)


async def test_penalize_one_chat_leaves_others_alone(limiter: RedisRateLimiter) -> None:
    await limiter.penalize(4, chat_id=901)

    assert await limiter.reserve(901) == pytest.approx(4.0, abs=TOLERANCE_S)
    assert await limiter.reserve(902) == pytest.approx(1 / 30, abs=TOLERANCE_S)


async def test_acquire_books_a_slot_and_keys_expire(
        limiter: RedisRateLimiter, redis: Redis, prefix: str) -> None:
    await limiter.acquire(1001)

    assert await limiter.reserve(1001) == pytest.approx(1.0, abs=TOLERANCE_S)
    for key in (limiter.global_key, limiter.chat_key(1001)):
        assert key.startswith(prefix)
        assert 0 < await redis.pttl(key) <= 3_000


def test_rates_must_be_positive(redis: Redis, prefix: str) -> None:
    with pytest.raises(ValueError, match="positive"):
        RedisRateLimiter(redis, prefix, per_chat_rate=0)


async def test_concurrent_reservations_book_each_slot_in_order(
        limiter: RedisRateLimiter) -> None:
    # One event-loop turn: one script call for all of them, booked as sequential calls.
    busy = await asyncio.gather(*(limiter.reserve(1101) for _ in range(4)))
    others = await asyncio.gather(*(limiter.reserve(chat) for chat in range(1102, 1105)))

    assert busy == approx([0.0, 1.0, 2.0, 3.0])
    assert others == approx([n / 30 for n in range(4, 7)])


async def test_a_concurrent_burst_never_exceeds_the_limits(redis: Redis, prefix: str) -> None:
    limiter = RedisRateLimiter(redis, prefix, global_rate=100, per_chat_rate=10,
                               global_burst=50, chat_burst=5)
    count = MAX_BATCH + 44  # two script calls
    waits = await asyncio.gather(*(limiter.reserve(1201 + n % 3) for n in range(count)))

    by_chat = [sorted(waits[c::3]) for c in range(3)]
    for chat_waits in by_chat:  # each account: 6 at once (1 + burst), then 10/s
        assert chat_waits[:6] == approx([0.0] * 6)
        assert chat_waits[6:] == approx([n / 10 for n in range(1, len(chat_waits) - 5)])
    assert await limiter.reserve(1299) == pytest.approx((count - 50) / 100,
                                                        abs=TOLERANCE_S)


async def test_a_redis_error_reaches_every_concurrent_caller(prefix: str) -> None:
    closed = Redis(host="127.0.0.1", port=1)  # nothing listens on port 1
    limiter = RedisRateLimiter(closed, prefix)

    results = await asyncio.gather(*(limiter.reserve(1301 + n) for n in range(3)),
                                   return_exceptions=True)

    assert all(isinstance(r, RedisError) for r in results)
    await closed.aclose()
