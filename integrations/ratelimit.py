"""Telegram send rate limiter shared by every process through Redis.

Both limits are GCRA buckets without burst (each message takes the next free slot,
slots ``1 / rate`` seconds apart), kept as one "theoretical arrival time" (TAT,
Unix seconds by the Redis server's clock) per key:

    {prefix}global          the bot: ``global_rate`` messages/s (Telegram: ~30)
    {prefix}chat:{chat_id}  one chat: ``per_chat_rate`` messages/s (Telegram: 1) for
                            private chats, ``group_rate`` (20/min) for groups (id < 0)

One Lua script reserves a slot in both buckets atomically, so any number of
processes share the limits. Reservations asked for in the same event-loop turn (a
shard's concurrent orders) go to Redis together in one script call (at most
``MAX_BATCH``), which books them one after the other exactly as that many single calls
at that instant would: every request still takes its own slot of both buckets.
A message goes at ``s = max(now, next global slot, next chat slot)``; its chat's
bucket then opens at ``s + 1/chat_rate``. The global slot taken is the next one in
line even when the chat's slot is later, so one busy chat never holds every other
chat back (the price: while chats wait on their own bucket the bot-wide rate can
briefly exceed ``global_rate`` by the number of such chats).
Keys expire once their slots are in the past.
Optional bursts (``global_burst``/``chat_burst`` extra slots, default 0 = as above) let
that many requests go at once before the spacing applies: GCRA with a tolerance of
``burst / rate`` seconds (the exchange limiter uses it: exchanges count weight per
minute, not per 1/rate slot).
Source: GCRA, ATM Forum Traffic Management 4.0; Telegram Bot FAQ "My bot is hitting limits".
"""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

MAX_BATCH = 256  # reservations per script call

# Reserves one slot per ARGV pair, in order, as that many single reservations at one
# instant would: KEYS[1] the global bucket, KEYS[2..] one chat bucket per request (a chat
# may repeat); ARGV[1], ARGV[2] the global step and tolerance, then per request its
# chat's step and tolerance. Returns the seconds each request waits.
_RESERVE_MANY = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local global_step = tonumber(ARGV[1])
local global_tolerance = tonumber(ARGV[2])
local global_tat = math.max(tonumber(redis.call('GET', KEYS[1]) or 0), now)
local chat_tats = {}
local touched = {}
local waits = {}
for i = 2, #KEYS do
  local key = KEYS[i]
  local chat_step = tonumber(ARGV[2 * i - 1])
  local chat_tolerance = tonumber(ARGV[2 * i])
  local chat_tat = chat_tats[key]
  if chat_tat == nil then
    chat_tat = math.max(tonumber(redis.call('GET', key) or 0), now)
    touched[#touched + 1] = key
  end
  local send_at = math.max(global_tat - global_tolerance, chat_tat - chat_tolerance, now)
  global_tat = global_tat + global_step
  chat_tats[key] = math.max(chat_tat, send_at) + chat_step
  waits[i - 1] = string.format('%.6f', send_at - now)
end
redis.call('SET', KEYS[1], string.format('%.6f', global_tat),
           'PX', math.ceil((global_tat - now) * 1000) + 1000)
for _, key in ipairs(touched) do
  local tat = chat_tats[key]
  redis.call('SET', key, string.format('%.6f', tat), 'PX', math.ceil((tat - now) * 1000) + 1000)
end
return waits
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
        self._reserve_many = redis.register_script(_RESERVE_MANY)
        self._penalize = redis.register_script(_PENALIZE)
        self._waiting: list[tuple[int, asyncio.Future[float]]] = []
        self._flushes: set[asyncio.Task[None]] = set()

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

        The slot is booked whether or not the caller then sends. Calls made in the same
        event-loop turn share one round trip (module doc); a Redis error reaches each.
        """
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting.append((chat_id, future))
        if len(self._waiting) == 1:  # the first of this turn: flush after the others
            task = asyncio.create_task(self._flush())
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)
        return await future

    async def _flush(self) -> None:
        batch, self._waiting = self._waiting, []
        for start in range(0, len(batch), MAX_BATCH):
            part = batch[start:start + MAX_BATCH]
            try:
                waits = await self._reserve_many(*self._script_input([c for c, _ in part]))
            except BaseException as exc:
                for _, future in part:
                    if not future.done():
                        future.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            for (_, future), wait in zip(part, waits, strict=True):
                if not future.done():
                    future.set_result(float(wait))

    def _script_input(self, chat_ids: list[int]) -> tuple[list[str], list[float]]:
        keys = [self.global_key]
        args = [1 / self.global_rate, self.global_burst / self.global_rate]
        for chat_id in chat_ids:
            chat_rate = self.chat_rate(chat_id)
            keys.append(self.chat_key(chat_id))
            args += [1 / chat_rate, self.chat_burst / chat_rate]
        return keys, args

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
