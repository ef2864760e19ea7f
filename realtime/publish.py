"""The only module that sends to the channel layer (STYLE.md).

Domain services call these after their writes:

- ``publish_kept_on_commit``: a kept event (has `seq`, replayable) for some users, logged
  in the current transaction and sent only after it commits. A rollback sends nothing.
- ``publish_on_commit``: an ephemeral event to a group, sent after commit.
- ``publish_rollback_unsafe`` / ``apublish_rollback_unsafe``: an ephemeral event sent
  *now*, whatever happens to the surrounding transaction. Only for state that lives
  outside the database (typing, presence, viewer counts).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from elearning.transactions import after_commit

from .envelope import LAYER_EVENT, LAYER_REVOKE, encode_data, ephemeral_event_text, timestamp
from .groups import user_group
from .streams import StampedEvent, keep_each_event, keep_events

logger = logging.getLogger(__name__)


def publish_kept_on_commit(
    user_ids: Iterable[int], event_type: str, data: Mapping[str, Any]
) -> list[StampedEvent]:
    """Logs a kept event for each user now; sends each to `user.<id>` after commit."""
    stamped = keep_events(user_ids, event_type, encode_data(data))
    if stamped:
        after_commit(f"send {event_type}", _send_stamped, stamped)
    return stamped


def publish_kept_each_on_commit(
    event_type: str, data_by_user: Mapping[int, Mapping[str, Any]]
) -> list[StampedEvent]:
    """Like `publish_kept_on_commit`, with each user's own data (their unread count, …).

    One batch of writes and one send after commit, however many users.
    """
    stamped = keep_each_event(
        event_type, {user_id: encode_data(data) for user_id, data in data_by_user.items()}
    )
    if stamped:
        after_commit(f"send {event_type}", _send_stamped, stamped)
    return stamped


def publish_on_commit(group: str, event_type: str, data: Mapping[str, Any]) -> None:
    """Sends an ephemeral event to `group` after the current transaction commits."""
    text = ephemeral_event_text(event_type, timestamp(), encode_data(data))
    after_commit(f"send {event_type} to {group}", _send_text, group, text)


def publish_rollback_unsafe(group: str, event_type: str, data: Mapping[str, Any]) -> None:
    """Sends an ephemeral event now, even if the caller's transaction later rolls back."""
    _send_text(group, ephemeral_event_text(event_type, timestamp(), encode_data(data)))


async def apublish_rollback_unsafe(group: str, event_type: str, data: Mapping[str, Any]) -> None:
    """Async form of `publish_rollback_unsafe`, for consumers and other async code."""
    text = ephemeral_event_text(event_type, timestamp(), encode_data(data))
    await _layer().group_send(group, {"type": LAYER_EVENT, "text": text})


def resend_kept(user_id: int, seq: int, text: str) -> None:
    """Sends an already logged event again, e.g. when an admin pushes it to open sockets."""
    _send_stamped([StampedEvent(user_id, seq, text)])


def revoke_sessions_on_commit(user_id: int, session_key: str | None) -> None:
    """Asks every socket of the user that rides on `session_key` to close with 4401."""
    message = {"type": LAYER_REVOKE, "session_key": session_key}
    after_commit(
        f"revoke sessions of user {user_id}",
        async_to_sync(_layer().group_send),
        user_group(user_id),
        message,
    )


def _send_stamped(events: list[StampedEvent]) -> None:
    async_to_sync(_asend_stamped)(events)


async def _asend_stamped(events: list[StampedEvent]) -> None:
    layer = _layer()
    for event in events:
        await layer.group_send(
            user_group(event.user_id), {"type": LAYER_EVENT, "text": event.text, "seq": event.seq}
        )


def _send_text(group: str, text: str) -> None:
    async_to_sync(_layer().group_send)(group, {"type": LAYER_EVENT, "text": text})


def _layer() -> Any:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("No channel layer is configured (CHANNEL_LAYERS).")
    return layer
