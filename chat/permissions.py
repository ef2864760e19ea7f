"""Who may see and act in a conversation. Fetchers 404 for "not yours" as for "not there"."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import Role, User

from .models import Conversation, ConversationKind


def is_participant(user: User, conversation: Conversation) -> bool:
    """The owner, the instructor of an instructor conversation, every admin in support."""
    if conversation.owner_id == user.pk:
        return True
    if conversation.kind == ConversationKind.SUPPORT:
        return user.is_platform_admin
    return conversation.instructor_id == user.pk


def is_staff_side(user: User, conversation: Conversation) -> bool:
    return is_participant(user, conversation) and conversation.owner_id != user.pk


def conversations_visible_to(user: User) -> QuerySet[Conversation]:
    query = Q(owner=user) | Q(kind=ConversationKind.INSTRUCTOR, instructor=user)
    if user.is_platform_admin:
        query |= Q(kind=ConversationKind.SUPPORT)
    return Conversation.objects.filter(query)


def get_conversation_for_user(user: User, conversation_id: int) -> Conversation:
    conversation = Conversation.objects.filter(pk=conversation_id).first()
    if conversation is None or not is_participant(user, conversation):
        raise Http404("No such conversation.")
    return conversation


def participant_ids(conversation: Conversation) -> list[int]:
    """Everyone who hears about the conversation: its owner and its staff side."""
    if conversation.kind == ConversationKind.SUPPORT:
        admins = User.objects.filter(
            Q(role=Role.ADMIN) | Q(is_superuser=True), is_active=True
        ).values_list("pk", flat=True)
        return sorted({conversation.owner_id, *admins})
    assert conversation.instructor_id is not None
    return sorted({conversation.owner_id, conversation.instructor_id})
