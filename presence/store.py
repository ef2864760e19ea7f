"""Presence state in Redis: keys, Lua scripts and clients. No channel-layer calls here.

Everything here has a deadline, so a server process killed with SIGKILL leaves nothing
behind for longer than ``PRESENCE_TTL_S`` (plus one sweep interval for the events):

- ``conns``      ZSET ``"<user_id>|<channel_name>"`` → deadline (every live socket)
- ``u:<uid>``    ZSET ``channel_name`` → deadline (one user's sockets: "still online?")
- ``online``     SET of user ids announced online (the last broadcast state)
- ``seen``       ZSET user id → last seen (unix time), written when a user goes offline
- ``c:<cid>``    ZSET ``"<user_id>|<channel_name>"`` → deadline (sockets on a course page)
- ``courses``    SET of course ids that have viewer entries (what the sweeper visits)
- ``cv:<cid>``   last ``course.viewers`` count broadcast; ``ct:<cid>`` the throttle lock
- ``w:<cid>``    ZSET ``"<user_id>|<channel_name>"`` → time of the last `lesson.watch`
- ``wd:<cid>``   HASH same member → JSON ``{"lesson_id", "position", "playing"}``
- ``watched``    SET of course ids that have watch entries
- ``sweep``      a short lock so that one process sweeps per interval

Counts are distinct users among unexpired entries, never sockets. Readers filter by
deadline, so an entry past its deadline is never counted even before a sweep removes it.
Multi-key scripts build key names inside Lua: fine on one Redis, not on Redis Cluster.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio as aredis
from django.conf import settings

MEMBER_SEPARATOR = "|"


def prefix() -> str:
    return str(settings.PRESENCE_KEY_PREFIX)


def key(*parts: object) -> str:
    return prefix() + ":".join(str(part) for part in parts)


def member(user_id: int, channel_name: str) -> str:
    return f"{int(user_id)}{MEMBER_SEPARATOR}{channel_name}"


def user_of_member(value: str) -> int:
    return int(value.split(MEMBER_SEPARATOR, 1)[0])


# KEYS: conns, u:<uid>, online. ARGV: member, channel, uid, deadline.
# Returns 1 when the user was not announced online before (a transition).
CONNECT = """
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return redis.call('SADD', KEYS[3], ARGV[3])
"""

# KEYS: conns, u:<uid>, online, seen. ARGV: member, channel, uid, now.
# Returns 1 when that was the user's last live socket (a transition to offline).
DISCONNECT = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[4])
if redis.call('ZCARD', KEYS[2]) == 0 and redis.call('SREM', KEYS[3], ARGV[3]) == 1 then
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[3])
  return 1
end
return 0
"""

# KEYS: conns, online, seen. ARGV: key prefix, now, ttl, limit.
# Removes expired sockets; returns {uid, last_seen, ...} for users that went offline.
# A crashed socket's last sign of life is its last heartbeat: deadline - ttl.
SWEEP = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'WITHSCORES',
                           'LIMIT', 0, tonumber(ARGV[4]))
local out = {}
for i = 1, #expired, 2 do
  local m = expired[i]
  local sep = string.find(m, '|', 1, true)
  local uid = string.sub(m, 1, sep - 1)
  local ukey = ARGV[1] .. 'u:' .. uid
  redis.call('ZREM', KEYS[1], m)
  redis.call('ZREM', ukey, string.sub(m, sep + 1))
  redis.call('ZREMRANGEBYSCORE', ukey, '-inf', ARGV[2])
  if redis.call('ZCARD', ukey) == 0 and redis.call('SREM', KEYS[2], uid) == 1 then
    local seen = tonumber(expired[i + 1]) - tonumber(ARGV[3])
    redis.call('ZADD', KEYS[3], seen, uid)
    table.insert(out, uid)
    table.insert(out, string.format('%.3f', seen))
  end
end
return out
"""

# KEYS: conns, online, courses. ARGV: key prefix, deadline, ttl, then (uid, channel,
# "cid,cid,...") per socket. Refreshes every local socket in one call. Returns
# {users that came back online, courses whose entries had to be re-added}: both only
# happen when a process stalled past the deadline and a sweeper removed its sockets.
HEARTBEAT = """
local back, courses_back = {}, {}
for i = 4, #ARGV, 3 do
  local uid, chan, cids = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local m = uid .. '|' .. chan
  local ukey = ARGV[1] .. 'u:' .. uid
  local added = redis.call('ZADD', KEYS[1], ARGV[2], m)
  redis.call('ZADD', ukey, ARGV[2], chan)
  redis.call('EXPIRE', ukey, ARGV[3])
  if added == 1 and redis.call('SADD', KEYS[2], uid) == 1 then
    table.insert(back, uid)
  end
  for cid in string.gmatch(cids, '[^,]+') do
    if redis.call('ZADD', ARGV[1] .. 'c:' .. cid, ARGV[2], m) == 1 then
      redis.call('SADD', KEYS[3], cid)
      table.insert(courses_back, cid)
    end
  end
end
return {back, courses_back}
"""

# KEYS: c:<cid>, courses. ARGV: member, deadline, cid.
JOIN_COURSE = """
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('SADD', KEYS[2], ARGV[3])
return 1
"""

# KEYS: c:<cid>, cv:<cid>, courses. ARGV: now, cid, seconds to keep the last count.
# Drops expired viewers, counts distinct users, records the count as the last one sent.
# Returns {count, previous count or -1}.
COUNT_VIEWERS = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
local users, n = {}, 0
for _, m in ipairs(members) do
  local uid = string.match(m, '^[^|]+')
  if not users[uid] then users[uid] = true; n = n + 1 end
end
if #members == 0 then redis.call('SREM', KEYS[3], ARGV[2]) end
local previous = redis.call('GET', KEYS[2])
redis.call('SET', KEYS[2], n, 'EX', ARGV[3])
return {n, tonumber(previous or '-1')}
"""

# KEYS: w:<cid>, wd:<cid>, watched. ARGV: oldest report kept, cid.
SWEEP_WATCHING = """
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
for _, m in ipairs(old) do
  redis.call('ZREM', KEYS[1], m)
  redis.call('HDEL', KEYS[2], m)
end
if redis.call('ZCARD', KEYS[1]) == 0 then
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], ARGV[2])
end
return #old
"""

_SCRIPTS = {
    "connect": CONNECT,
    "disconnect": DISCONNECT,
    "sweep": SWEEP,
    "heartbeat": HEARTBEAT,
    "join_course": JOIN_COURSE,
    "count_viewers": COUNT_VIEWERS,
    "sweep_watching": SWEEP_WATCHING,
}


@dataclass
class SyncStore:
    client: redis.Redis
    scripts: dict[str, Any]


@dataclass
class AsyncStore:
    client: aredis.Redis
    scripts: dict[str, Any]


_sync: SyncStore | None = None
# redis.asyncio clients are bound to the event loop that created them: one per loop
# (a web server process has one; tests have one per test).
_async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncStore] = (
    weakref.WeakKeyDictionary()
)


def sync_store() -> SyncStore:
    global _sync
    if _sync is None:
        client = redis.Redis.from_url(
            settings.REDIS_URL, decode_responses=True, socket_timeout=5, socket_connect_timeout=2
        )
        _sync = SyncStore(client, {n: client.register_script(s) for n, s in _SCRIPTS.items()})
    return _sync


def async_store() -> AsyncStore:
    loop = asyncio.get_running_loop()
    store = _async.get(loop)
    if store is None:
        client = aredis.Redis.from_url(
            settings.REDIS_URL, decode_responses=True, socket_timeout=5, socket_connect_timeout=2
        )
        store = AsyncStore(client, {n: client.register_script(s) for n, s in _SCRIPTS.items()})
        _async[loop] = store
    return store
