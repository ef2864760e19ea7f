"""Which users are reading a conversation live: joined `chat.<id>` on some open socket.

Kept in Redis, not in the socket, because the sender's process must know about sockets on
every other server process. One sorted set per conversation; members are
``<user_id>:<channel_name>`` scored by when they stop counting. Sockets can die without a
disconnect (a killed process), so every entry expires by itself unless refreshed by
activity on that socket (join, send, typing, read); a clean disconnect removes it at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import cache

import redis
from django.conf import settings

# A socket that is silent this long stops counting as "reading live". Clients re-send
# `chat.join` (idempotent) about every minute while a conversation stays on screen.
LIVE_TTL_S = 120


@cache
def _client() -> redis.Redis:
    # One pool per process; redis-py's sync client is thread-safe, so every
    # database_sync_to_async thread shares it.
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)


def _key(conversation_id: int) -> str:
    return f"elearning:chat:live:{int(conversation_id)}"


def _member(user_id: int, channel_name: str) -> str:
    return f"{int(user_id)}:{channel_name}"


def mark_live(conversation_id: int, user_id: int, channel_name: str) -> None:
    now = time.time()
    key = _key(conversation_id)
    pipe = _client().pipeline(transaction=False)
    pipe.zadd(key, {_member(user_id, channel_name): now + LIVE_TTL_S})
    pipe.zremrangebyscore(key, "-inf", now)
    pipe.expire(key, LIVE_TTL_S)
    pipe.execute()


def mark_gone(conversation_ids: Iterable[int], user_id: int, channel_name: str) -> None:
    member = _member(user_id, channel_name)
    pipe = _client().pipeline(transaction=False)
    for conversation_id in conversation_ids:
        pipe.zrem(_key(conversation_id), member)
    pipe.execute()


def live_user_ids(conversation_id: int) -> set[int]:
    members: list[bytes] = _client().zrangebyscore(  # type: ignore[assignment]
        _key(conversation_id), time.time(), "+inf"
    )
    return {int(member.split(b":", 1)[0]) for member in members}
