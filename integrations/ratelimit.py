"""Telegram send rate limiter shared by every process through Redis.

Both limits are GCRA buckets without burst (each message takes the next free slot,
slots ``1 / rate`` seconds apart), kept as one "theoretical arrival time" (TAT,
Unix seconds by the Redis server's clock) per key:

    {prefix}global          the bot: ``global_rate`` messages/s (Telegram: ~30)
    {prefix}chat:{chat_id}  one chat: ``per_chat_rate`` messages/s (Telegram: 1) for
                            private chats, ``group_rate`` (20/min) for groups (id < 0)

One Lua script reserves a slot in both buckets atomically, so any number of
processes share the limits. A message goes at ``s = max(now, next global slot,
next chat slot)``; its chat's bucket then opens at ``s + 1/chat_rate``. The global
slot taken is the next one in line even when the chat's slot is later, so one busy
chat never holds every other chat back (the price: while chats wait on their own
bucket the bot-wide rate can briefly exceed ``global_rate`` by the number of such
chats). Keys expire once their slots are in the past.
Optional bursts (``global_burst``/``chat_burst`` extra slots, default 0 = as above) let
that many requests go at once before the spacing applies: GCRA with a tolerance of
``burst / rate`` seconds (the exchange limiter uses it: exchanges count weight per
minute, not per 1/rate slot).
Source: GCRA, ATM Forum Traffic Management 4.0; Telegram Bot FAQ "My bot is hitting limits".
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

_RESERVE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local global_step = tonumber(ARGV[1])
local chat_step = tonumber(ARGV[2])
local global_tolerance = tonumber(ARGV[3] or 0)
local chat_tolerance = tonumber(ARGV[4] or 0)
local global_tat = math.max(tonumber(redis.call('GET', KEYS[1]) or 0), now)
local chat_tat = math.max(tonumber(redis.call('GET', KEYS[2]) or 0), now)
local send_at = math.max(global_tat - global_tolerance, chat_tat - chat_tolerance, now)
local global_next = global_tat + global_step
local chat_next = math.max(chat_tat, send_at) + chat_step
redis.call('SET', KEYS[1], string.format('%.6f', global_next),
           'PX', math.ceil((global_next - now) * 1000) + 1000)
redis.call('SET', KEYS[2], string.format('%.6f', chat_next),
           'PX', math.ceil((chat_next - now) * 1000) + 1000)
return string.format('%.6f', send_at - now)
"""

_PENALIZE = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local until_at = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if tat < until_at then
  redis.call('SET', KEYS[1], string.format('%.6f', until_at),
             'PX', math.ceil(tonumber(ARGV[1]) * 1000) + 1000)
end
return string.format('%.6f', math.max(tat, until_at) - now)
"""


class RedisRateLimiter:
    """``domain.ports.RateLimiter`` for Telegram (and exchanges), shared across processes
    via Redis.

    Rates are messages per second; bursts are extra slots usable at once. Instances
    with the same ``prefix`` on the same Redis share their buckets. Redis errors
    (``redis.exceptions.RedisError``) propagate unchanged.
    """

    def __init__(self, redis: Redis, prefix: str, global_rate: float = 30.0,
                 per_chat_rate: float = 1.0, group_rate: float = 20 / 60, *,
                 global_burst: int = 0, chat_burst: int = 0) -> None:
        if min(global_rate, per_chat_rate, group_rate) <= 0:
            raise ValueError("rates must be positive messages/s")
        if min(global_burst, chat_burst) < 0:
            raise ValueError("bursts must be >= 0 extra slots")
        self.prefix = prefix
        self.global_rate = global_rate
        self.per_chat_rate = per_chat_rate
        self.group_rate = group_rate
        self.global_burst = global_burst
        self.chat_burst = chat_burst
        self._reserve = redis.register_script(_RESERVE)
        self._penalize = redis.register_script(_PENALIZE)

    @property
    def global_key(self) -> str:
        """Redis key of the bot-wide bucket."""
        return f"{self.prefix}global"

    def chat_key(self, chat_id: int) -> str:
        """Redis key of one chat's bucket."""
        return f"{self.prefix}chat:{chat_id}"

    def chat_rate(self, chat_id: int) -> float:
        """Messages/s allowed to ``chat_id``: groups and channels (id < 0) get ``group_rate``."""
        return self.group_rate if chat_id < 0 else self.per_chat_rate

    async def reserve(self, chat_id: int) -> float:
        """Take the next slot for one message to ``chat_id``; returns seconds to wait (>= 0).

        The slot is booked whether or not the caller then sends; one round trip.
        """
        keys = [self.global_key, self.chat_key(chat_id)]
        chat_rate = self.chat_rate(chat_id)
        args = [1 / self.global_rate, 1 / chat_rate, self.global_burst / self.global_rate,
                self.chat_burst / chat_rate]
        return float(await self._reserve(keys=keys, args=args))

    async def acquire(self, chat_id: int) -> None:
        """Reserve a slot for ``chat_id`` and sleep until it comes (seconds, may be 0)."""
        wait = await self.reserve(chat_id)
        if wait > 0:
            await asyncio.sleep(wait)

    async def penalize(self, seconds: float, chat_id: int | None = None) -> float:
        """Hold back every send for ``seconds`` (e.g. Telegram's 429 ``retry_after``).

        Pushes the bot-wide bucket (or, with ``chat_id``, only that chat's) so that no
        slot is handed out earlier than ``seconds`` from now in any process; never
        brings a bucket forward. Returns the seconds until that bucket opens.
        """
        key = self.global_key if chat_id is None else self.chat_key(chat_id)
        return float(await self._penalize(keys=[key], args=[seconds]))
