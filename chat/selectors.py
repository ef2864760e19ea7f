"""Chat reads: conversation lists with unread counts, history pages, read markers."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, F, Prefetch, Q, QuerySet

from accounts.models import User

from .models import Conversation, ConversationKind, ConversationStatus, Message, ReadMarker
from .permissions import conversations_visible_to

MAX_PAGE = 200
DEFAULT_PAGE = 50
MAX_CONVERSATIONS = 200


def _with_unread_for(queryset: QuerySet[Conversation], user: User) -> QuerySet[Conversation]:
    """Annotates `unread_count`: the other side's messages after the user's side read.

    Admins share the staff side of support conversations, like a team inbox.
    """
    owner_unread = Q(
        owner=user, messages__is_from_staff=True, messages__seq__gt=F("owner_read_seq")
    )
    staff_unread = ~Q(owner=user) & Q(
        messages__is_from_staff=False, messages__seq__gt=F("staff_read_seq")
    )
    return queryset.annotate(unread_count=Count("messages", filter=owner_unread | staff_unread))


def _with_reads(queryset: QuerySet[Conversation]) -> QuerySet[Conversation]:
    return queryset.prefetch_related(
        Prefetch(
            "read_markers",
            queryset=ReadMarker.objects.filter(seq__gt=0)
            .select_related("user")
            .order_by("user_id"),
            to_attr="reads",
        )
    )


def conversations_for(user: User) -> list[Conversation]:
    queryset = _with_reads(_with_unread_for(conversations_visible_to(user), user))
    return list(
        queryset.select_related("owner", "instructor", "course", "answered_by").order_by(
            F("last_message_at").desc(nulls_last=True), "-id"
        )[:MAX_CONVERSATIONS]
    )


def conversation_for(user: User, conversation: Conversation) -> Conversation:
    """The same conversation with the annotations of the list."""
    return (
        _with_reads(_with_unread_for(Conversation.objects.filter(pk=conversation.pk), user))
        .select_related("owner", "instructor", "course", "answered_by")
        .get()
    )


def support_inbox(admin: User) -> list[Conversation]:
    """Open support conversations: unread first, then the most recently active."""
    queryset = _with_reads(
        _with_unread_for(
            Conversation.objects.filter(
                kind=ConversationKind.SUPPORT, status=ConversationStatus.OPEN
            ),
            admin,
        )
    )
    conversations = list(
        queryset.select_related("owner", "answered_by").order_by(
            F("last_message_at").desc(nulls_last=True), "-id"
        )[:MAX_CONVERSATIONS]
    )
    # Stable: inside each group the activity order above is kept.
    conversations.sort(key=lambda c: c.unread_count == 0)  # type: ignore[attr-defined]
    return conversations


@dataclass(frozen=True, slots=True)
class MessagePage:
    messages: list[Message]
    has_more: bool


def message_page(
    conversation: Conversation,
    *,
    before_seq: int | None = None,
    after_seq: int | None = None,
    limit: int = DEFAULT_PAGE,
) -> MessagePage:
    """Messages in ascending `seq`: the `limit` newest before `before_seq` (default: the
    newest of all), or the `limit` oldest after `after_seq` (catching up forwards)."""
    limit = max(1, min(limit, MAX_PAGE))
    messages = Message.objects.filter(conversation=conversation).select_related("sender")
    if after_seq is not None:
        rows = list(messages.filter(seq__gt=after_seq).order_by("seq")[: limit + 1])
        return MessagePage(rows[:limit], has_more=len(rows) > limit)
    if before_seq is not None:
        messages = messages.filter(seq__lt=before_seq)
    rows = list(messages.order_by("-seq")[: limit + 1])
    return MessagePage(list(reversed(rows[:limit])), has_more=len(rows) > limit)


def read_markers(conversation: Conversation) -> list[ReadMarker]:
    return list(
        ReadMarker.objects.filter(conversation=conversation, seq__gt=0)
        .select_related("user")
        .order_by("user_id")
    )
