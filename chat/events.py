"""Typed payloads of chat events (DESIGN.md §6) and the REST shapes built from the same rows.

- `chat.message` (kept, to every participant's `user.<id>`): `MessageData`.
- `chat.read` (kept, to every participant): `ReadData`.
- `chat.typing` (ephemeral, to `chat.<conversation_id>`): `TypingData`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from accounts.models import User

from .models import Conversation, Message


class UserData(TypedDict):
    id: int
    username: str


class MessageData(TypedDict):
    id: int
    conversation_id: int
    seq: int  # per conversation; the envelope's `seq` is the recipient's own
    sender: UserData
    is_from_staff: bool
    body: str
    client_id: str
    created_at: datetime


class ReadData(TypedDict):
    conversation_id: int
    user: UserData
    seq: int


class TypingData(TypedDict):
    conversation_id: int
    user: UserData
    is_typing: bool


def user_data(user: User) -> UserData:
    return {"id": user.pk, "username": user.username}


def message_data(message: Message) -> MessageData:
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "seq": message.seq,
        "sender": user_data(message.sender),
        "is_from_staff": message.is_from_staff,
        "body": message.body,
        "client_id": message.client_id,
        "created_at": message.created_at,
    }


def read_data(conversation_id: int, user: User, seq: int) -> ReadData:
    return {"conversation_id": conversation_id, "user": user_data(user), "seq": seq}


def typing_data(conversation_id: int, user: User, *, is_typing: bool) -> TypingData:
    return {"conversation_id": conversation_id, "user": user_data(user), "is_typing": is_typing}


class ReadMarkerData(TypedDict):
    user: UserData
    seq: int


class ConversationData(TypedDict):
    """REST shape of a conversation (list, create, inbox)."""

    id: int
    kind: str
    status: str
    course: CourseRef | None
    owner: UserData
    instructor: UserData | None
    answered_by: UserData | None
    last_seq: int
    unread_count: int
    reads: list[ReadMarkerData]
    created_at: datetime
    last_message_at: datetime | None


class CourseRef(TypedDict):
    id: int
    title: str


def conversation_data(conversation: Conversation) -> ConversationData:
    """Needs the `unread_count` annotation and the `reads` prefetch of chat.selectors."""
    course = conversation.course
    return {
        "id": conversation.pk,
        "kind": conversation.kind,
        "status": conversation.status,
        "course": None if course is None else {"id": course.pk, "title": course.title},
        "owner": user_data(conversation.owner),
        "instructor": (
            None if conversation.instructor is None else user_data(conversation.instructor)
        ),
        "answered_by": (
            None if conversation.answered_by is None else user_data(conversation.answered_by)
        ),
        "last_seq": conversation.last_seq,
        "unread_count": conversation.unread_count,  # type: ignore[attr-defined]
        "reads": [
            {"user": user_data(marker.user), "seq": marker.seq}
            for marker in conversation.reads  # type: ignore[attr-defined]
        ],
        "created_at": conversation.created_at,
        "last_message_at": conversation.last_message_at,
    }
