"""Event envelopes: the JSON text a client receives (DESIGN.md §6).

An event's data is encoded to JSON once, where it is published; consumers forward the
resulting text unchanged, so a fan-out to N sockets costs no JSON work per socket.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from django.core.serializers.json import DjangoJSONEncoder

# Events kept for `resume`: each carries a per-user `seq`.
KEPT_EVENT_TYPES: Final = frozenset(
    {
        "notification.created",
        "notification.read",
        "video.progress",
        "chat.message",
        "chat.read",
        "course.purchased",
    }
)
# Ephemeral events: no `seq`, never replayed.
EPHEMERAL_EVENT_TYPES: Final = frozenset(
    {
        "sound.play",
        "chat.typing",
        "presence.changed",
        "course.viewers",
        "course.review.created",
        "course.comment.created",
        "pong",
    }
)

# The channel-layer message type every consumer handles (``rt_event``).
LAYER_EVENT: Final = "rt.event"
LAYER_REVOKE: Final = "rt.revoke"

_encoder = DjangoJSONEncoder(separators=(",", ":"), ensure_ascii=False)


def encode_data(data: Mapping[str, Any]) -> str:
    """JSON text of an event's data; UUIDs, datetimes and Decimals become strings."""
    return _encoder.encode(data)


def timestamp() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def kept_event_text(event_type: str, seq: int, ts: str, data_json: str) -> str:
    if event_type not in KEPT_EVENT_TYPES:
        raise ValueError(f"{event_type!r} is not a kept event type")
    return f'{{"type":{json.dumps(event_type)},"seq":{int(seq)},"ts":"{ts}","data":{data_json}}}'


def ephemeral_event_text(event_type: str, ts: str, data_json: str) -> str:
    if event_type not in EPHEMERAL_EVENT_TYPES:
        raise ValueError(f"{event_type!r} is not an ephemeral event type")
    return f'{{"type":{json.dumps(event_type)},"ts":"{ts}","data":{data_json}}}'


def reply_text(payload: Mapping[str, Any]) -> str:
    """Replies to one command (`ack`, `error`, `session.ready`) go to one socket only."""
    return _encoder.encode(payload)
