"""The "new message" notification of chat, written through the notifications app."""

from __future__ import annotations

from collections.abc import Sequence

from notifications.models import NotificationKind
from notifications.services import NotificationSpec, create_notifications

from .models import Conversation, ConversationKind, Message

PREVIEW_CHARS = 200


def notify_new_message(
    *, conversation: Conversation, message: Message, recipient_ids: Sequence[int]
) -> None:
    """Call inside the send transaction, before the message's own kept event: the
    notifications service locks user rows, then event streams, and so must we.

    Publishes `notification.created` (kept) to each recipient on commit. The dedupe key
    names the message that opened the notice, so a retried send cannot double it.
    """
    if conversation.kind == ConversationKind.SUPPORT:
        title = f"New support message from {message.sender.username}"
    else:
        title = f"New message from {message.sender.username}"
    payload = {
        "conversation_id": conversation.pk,
        "message_id": message.pk,
        "seq": message.seq,
        "kind": conversation.kind,
    }
    create_notifications(
        [
            NotificationSpec(
                recipient_id=uid,
                kind=NotificationKind.CHAT_MESSAGE,
                title=title[:200],
                body=message.body.strip()[:PREVIEW_CHARS],
                payload=payload,
            )
            for uid in recipient_ids
        ],
        dedupe_key=f"chat:{conversation.pk}:{message.seq}",
    )
