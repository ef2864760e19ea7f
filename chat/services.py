"""Chat writes: open a conversation, send a message, mark read (DESIGN.md §2, §6).

Each function checks permission for the conversation itself and publishes its kept
events after commit. "Not yours" raises `Http404` exactly like "not there".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.http import Http404
from django.utils import timezone

from accounts.models import User
from courses.models import Purchase
from courses.permissions import get_course_for_user
from realtime.publish import publish_kept_on_commit

from . import live
from .events import message_data, read_data
from .models import Conversation, ConversationKind, ConversationStatus, Message, ReadMarker
from .notices import notify_new_message
from .permissions import is_participant, participant_ids

MAX_BODY_CHARS = 4000
# A body is "stored as given", but whitespace padding may not make it unbounded.
MAX_RAW_BODY_CHARS = 2 * MAX_BODY_CHARS
MAX_CLIENT_ID_CHARS = 64


class InvalidChatInput(Exception):
    """Bad input: becomes a 400 over REST and an `error` reply over the websocket."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class SentMessage:
    message: Message
    # True when this client_id was sent before: nothing new was stored or delivered.
    is_repeat: bool


@dataclass(frozen=True, slots=True)
class ReadResult:
    conversation_id: int
    seq: int
    unread_count: int


def validate_body(body: object) -> str:
    if not isinstance(body, str):
        raise InvalidChatInput("invalid", "'body' must be a string.")
    if not 1 <= len(body.strip()) <= MAX_BODY_CHARS or len(body) > MAX_RAW_BODY_CHARS:
        raise InvalidChatInput("invalid", f"'body' must be 1 to {MAX_BODY_CHARS} characters long.")
    return body


def validate_client_id(client_id: object) -> str:
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= MAX_CLIENT_ID_CHARS:
        raise InvalidChatInput(
            "invalid", f"'client_id' must be a string of 1 to {MAX_CLIENT_ID_CHARS} characters."
        )
    return client_id


def open_conversation(
    *, actor: User, kind: str, course_id: int | None = None
) -> tuple[Conversation, bool]:
    """Gets or creates the actor's conversation; returns it and whether it is new.

    Instructor conversations need a purchase of the course; support conversations are
    for everyone but admins, who answer them.
    """
    if kind == ConversationKind.INSTRUCTOR:
        if course_id is None:
            raise InvalidChatInput("invalid", "'course_id' is required for an instructor chat.")
        course = get_course_for_user(actor, course_id)
        if course.instructor_id == actor.pk:
            raise InvalidChatInput("invalid", "You teach this course.")
        if not Purchase.objects.filter(user=actor, course=course).exists():
            raise PermissionDenied("Buy the course to talk to its instructor.")
        lookup = {"kind": kind, "owner": actor, "course": course}
        defaults = {"instructor_id": course.instructor_id}
    elif kind == ConversationKind.SUPPORT:
        if course_id is not None:
            raise InvalidChatInput("invalid", "A support chat is not about a course.")
        if actor.is_platform_admin:
            raise PermissionDenied("Admins answer support conversations; they do not open them.")
        lookup = {"kind": kind, "owner": actor}
        defaults = {}
    else:
        raise InvalidChatInput("invalid", "'kind' must be 'instructor' or 'support'.")
    existing = Conversation.objects.filter(**lookup).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            return Conversation.objects.create(**lookup, **defaults), True
    except IntegrityError:
        # Two tabs opened it at once: the other one won; its row is the answer.
        return Conversation.objects.get(**lookup), False


def send_message(
    *, actor: User, conversation_id: int, body: str, client_id: str | None = None
) -> SentMessage:
    """Stores a message with the conversation's next `seq`; a repeated client_id is a no-op.

    Publishes `chat.message` (kept) to every participant on commit, and a "new message"
    notification to each recipient who is not reading the conversation live and has no
    unread notice for it yet.
    """
    body = validate_body(body)
    client_id = uuid.uuid4().hex if client_id is None else validate_client_id(client_id)
    with transaction.atomic():
        # The row lock serialises senders in one conversation (PostgreSQL; SQLite
        # serialises all writers anyway), so seq is gap-free and matches commit order.
        conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        if conversation is None or not is_participant(actor, conversation):
            raise Http404("No such conversation.")
        original = (
            Message.objects.select_related("sender")
            .filter(conversation=conversation, sender=actor, client_id=client_id)
            .first()
        )
        if original is not None:
            return SentMessage(original, is_repeat=True)
        is_from_staff = conversation.owner_id != actor.pk
        conversation.last_seq += 1
        message = Message.objects.create(
            conversation=conversation,
            seq=conversation.last_seq,
            sender=actor,
            is_from_staff=is_from_staff,
            body=body,
            client_id=client_id,
        )
        conversation.last_message_at = message.created_at
        fields = ["last_seq", "last_message_at"]
        if conversation.kind == ConversationKind.SUPPORT:
            if is_from_staff:
                conversation.answered_by = actor
                fields.append("answered_by")
            elif conversation.status != ConversationStatus.OPEN:
                conversation.status = ConversationStatus.OPEN
                fields.append("status")
        # Writing a message means having read everything before it; no chat.read event
        # is sent for that, clients infer it from the message itself.
        _advance_marker(conversation, actor, message.seq)
        if is_from_staff:
            conversation.staff_read_seq = message.seq
            fields.append("staff_read_seq")
        else:
            conversation.owner_read_seq = message.seq
            fields.append("owner_read_seq")
        conversation.save(update_fields=fields)
        recipients = participant_ids(conversation)
        # Notify first: the notifications service locks user rows before event streams,
        # and taking them in the other order here could deadlock on PostgreSQL.
        _notify_absent(conversation, message, [uid for uid in recipients if uid != actor.pk])
        publish_kept_on_commit(recipients, "chat.message", message_data(message))
    return SentMessage(message, is_repeat=False)


def mark_read(*, actor: User, conversation_id: int, seq: int) -> ReadResult:
    """Moves the actor's read marker forward to `seq` (capped at the last message).

    Publishes `chat.read` (kept) to every participant when the marker moved. Clears the
    actor's pending "new message" notice, so the next message notifies again.
    """
    with transaction.atomic():
        conversation = Conversation.objects.select_for_update().filter(pk=conversation_id).first()
        if conversation is None or not is_participant(actor, conversation):
            raise Http404("No such conversation.")
        seq = min(seq, conversation.last_seq)
        marker, _ = ReadMarker.objects.get_or_create(conversation=conversation, user=actor)
        moved = seq > marker.seq
        if moved or marker.is_notified:
            marker.seq = max(marker.seq, seq)
            marker.is_notified = False
            marker.save(update_fields=["seq", "is_notified", "updated_at"])
        if conversation.owner_id == actor.pk:
            side_field = "owner_read_seq"
            counts_staff = True
        else:
            side_field = "staff_read_seq"
            counts_staff = False
        if seq > getattr(conversation, side_field):
            setattr(conversation, side_field, seq)
            conversation.save(update_fields=[side_field])
        if moved:
            publish_kept_on_commit(
                participant_ids(conversation),
                "chat.read",
                read_data(conversation.pk, actor, seq),
            )
        unread = Message.objects.filter(
            conversation=conversation,
            is_from_staff=counts_staff,
            seq__gt=getattr(conversation, side_field),
        ).count()
    return ReadResult(conversation.pk, marker.seq, unread)


def join_conversation(*, actor: User, conversation_id: int, channel_name: str) -> Conversation:
    """Checks that the actor may read the conversation and records the socket as live."""
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None or not is_participant(actor, conversation):
        raise Http404("No such conversation.")
    live.mark_live(conversation.pk, actor.pk, channel_name)
    return conversation


def check_participant(*, actor: User, conversation_id: int) -> None:
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None or not is_participant(actor, conversation):
        raise Http404("No such conversation.")


def _advance_marker(conversation: Conversation, user: User, seq: int) -> None:
    # One UPDATE on the hot path (every send); the row is created on a user's first send.
    moved = ReadMarker.objects.filter(conversation=conversation, user=user).update(
        seq=Greatest(F("seq"), Value(seq)), is_notified=False, updated_at=timezone.now()
    )
    if not moved:
        ReadMarker.objects.create(conversation=conversation, user=user, seq=seq)


def _notify_absent(conversation: Conversation, message: Message, recipient_ids: list[int]) -> None:
    """One notice per conversation per recipient until they read; none while live."""
    if not recipient_ids:
        return
    reading = live.live_user_ids(conversation.pk)
    absent = [uid for uid in recipient_ids if uid not in reading]
    if not absent:
        return
    ReadMarker.objects.bulk_create(
        [ReadMarker(conversation=conversation, user_id=uid) for uid in absent],
        ignore_conflicts=True,
    )
    to_notify = list(
        ReadMarker.objects.filter(
            conversation=conversation, user_id__in=absent, is_notified=False
        ).values_list("user_id", flat=True)
    )
    if not to_notify:
        return
    ReadMarker.objects.filter(conversation=conversation, user_id__in=to_notify).update(
        is_notified=True, updated_at=timezone.now()
    )
    notify_new_message(conversation=conversation, message=message, recipient_ids=to_notify)
