"""Chat services against the database: permissions, ordering, idempotency, read state."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.models import User
from chat import live, selectors
from chat.models import Conversation, Message, ReadMarker
from chat.services import (
    InvalidChatInput,
    mark_read,
    open_conversation,
    send_message,
)
from courses.models import Course, Purchase
from notifications.models import Notification
from realtime.models import KeptEvent

pytestmark = pytest.mark.django_db


def kept(user: User, event_type: str) -> list[dict]:
    rows = KeptEvent.objects.filter(user=user, event_type=event_type).order_by("seq")
    return [json.loads(row.text) for row in rows]


def chat_notices(user: User) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, kind="chat_message").order_by("id"))


# --- opening -------------------------------------------------------------------------


def test_student_who_bought_opens_instructor_chat_once(
    student: User, instructor: User, course: Course, bought: Purchase
) -> None:
    first, created = open_conversation(actor=student, kind="instructor", course_id=course.pk)
    again, created_again = open_conversation(actor=student, kind="instructor", course_id=course.pk)
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert (first.owner_id, first.instructor_id, first.course_id) == (
        student.pk,
        instructor.pk,
        course.pk,
    )
    assert Conversation.objects.count() == 1


def test_student_without_purchase_cannot_open_instructor_chat(
    student: User, course: Course
) -> None:
    with pytest.raises(PermissionDenied):
        open_conversation(actor=student, kind="instructor", course_id=course.pk)
    assert not Conversation.objects.exists()


def test_unknown_or_unpublished_course_is_not_found(
    student: User, instructor: User, course: Course
) -> None:
    draft = Course.objects.create(title="Draft", slug="draft", instructor=instructor)
    Purchase.objects.create(user=student, course=draft)
    for course_id in (draft.pk, 999_999):
        with pytest.raises(Http404):
            open_conversation(actor=student, kind="instructor", course_id=course_id)
    assert not Conversation.objects.exists()


def test_instructor_cannot_open_chat_with_self(instructor: User, course: Course) -> None:
    with pytest.raises(InvalidChatInput):
        open_conversation(actor=instructor, kind="instructor", course_id=course.pk)


def test_bad_kind_and_missing_course_are_invalid(student: User) -> None:
    with pytest.raises(InvalidChatInput):
        open_conversation(actor=student, kind="gossip")
    with pytest.raises(InvalidChatInput):
        open_conversation(actor=student, kind="instructor")
    with pytest.raises(InvalidChatInput):
        open_conversation(actor=student, kind="support", course_id=1)
    assert not Conversation.objects.exists()


def test_any_user_opens_one_support_chat_but_admins_do_not(
    student: User, instructor: User, admin_user: User
) -> None:
    mine, created = open_conversation(actor=student, kind="support")
    again, created_again = open_conversation(actor=student, kind="support")
    theirs, _ = open_conversation(actor=instructor, kind="support")
    assert (created, created_again, again.pk) == (True, False, mine.pk)
    assert theirs.pk != mine.pk
    with pytest.raises(PermissionDenied):
        open_conversation(actor=admin_user, kind="support")
    assert Conversation.objects.count() == 2


# --- sending -----------------------------------------------------------------------


def test_messages_get_increasing_seq_and_reach_both_sides(
    student: User, instructor: User, outsider: User, instructor_chat: Conversation
) -> None:
    a = send_message(actor=student, conversation_id=instructor_chat.pk, body="hi", client_id="a")
    b = send_message(actor=instructor, conversation_id=instructor_chat.pk, body="yo", client_id="a")
    c = send_message(actor=student, conversation_id=instructor_chat.pk, body="q", client_id="b")
    assert [m.message.seq for m in (a, b, c)] == [1, 2, 3]
    assert [m.message.is_from_staff for m in (a, b, c)] == [False, True, False]
    for user in (student, instructor):
        events = kept(user, "chat.message")
        assert [(e["data"]["seq"], e["data"]["body"]) for e in events] == [
            (1, "hi"),
            (2, "yo"),
            (3, "q"),
        ]
        assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert kept(outsider, "chat.message") == []
    instructor_chat.refresh_from_db()
    assert instructor_chat.last_seq == 3


def test_repeated_client_id_stores_and_delivers_one_message(
    student: User, instructor: User, instructor_chat: Conversation
) -> None:
    first = send_message(
        actor=student, conversation_id=instructor_chat.pk, body="once", client_id="c-1"
    )
    repeat = send_message(
        actor=student, conversation_id=instructor_chat.pk, body="twice?", client_id="c-1"
    )
    assert (first.is_repeat, repeat.is_repeat) == (False, True)
    assert repeat.message.pk == first.message.pk
    assert repeat.message.body == "once"
    assert Message.objects.count() == 1
    assert len(kept(instructor, "chat.message")) == 1
    assert len(kept(student, "chat.message")) == 1
    # Another sender may use the same client_id: the key is (conversation, sender, id).
    other = send_message(
        actor=instructor, conversation_id=instructor_chat.pk, body="mine", client_id="c-1"
    )
    assert (other.is_repeat, other.message.seq) == (False, 2)


@pytest.mark.parametrize("body", ["", "   \n\t ", "x" * 4001, 5])
def test_bad_bodies_are_refused_and_store_nothing(
    student: User, instructor_chat: Conversation, body: object
) -> None:
    with pytest.raises(InvalidChatInput):
        send_message(
            actor=student,
            conversation_id=instructor_chat.pk,
            body=body,  # type: ignore[arg-type]
            client_id="x",
        )
    assert not Message.objects.exists()
    assert not KeptEvent.objects.exists()


def test_body_is_stored_as_given(student: User, instructor_chat: Conversation) -> None:
    body = "  <b>bold</b> & " + "y" * 3984 + "  \n"
    sent = send_message(actor=student, conversation_id=instructor_chat.pk, body=body)
    assert Message.objects.get().body == body
    assert len(sent.message.client_id) == 32  # generated when REST omits it


def test_outsiders_and_admins_cannot_send_to_an_instructor_chat(
    outsider: User, admin_user: User, student2: User, instructor_chat: Conversation
) -> None:
    for actor in (outsider, admin_user, student2):
        with pytest.raises(Http404):
            send_message(actor=actor, conversation_id=instructor_chat.pk, body="hi")
    with pytest.raises(Http404):
        send_message(actor=outsider, conversation_id=999_999, body="hi")
    assert not Message.objects.exists()
    assert not KeptEvent.objects.exists()


def test_every_admin_sees_support_and_the_answering_admin_is_recorded(
    student: User, admin_user: User, admin2: User, outsider: User, support_chat: Conversation
) -> None:
    send_message(actor=student, conversation_id=support_chat.pk, body="help")
    send_message(actor=admin2, conversation_id=support_chat.pk, body="on it")
    support_chat.refresh_from_db()
    assert support_chat.answered_by_id == admin2.pk
    for user in (student, admin_user, admin2):
        assert [e["data"]["body"] for e in kept(user, "chat.message")] == ["help", "on it"]
    assert kept(outsider, "chat.message") == []
    with pytest.raises(Http404):
        send_message(actor=outsider, conversation_id=support_chat.pk, body="me too")


# --- reading -----------------------------------------------------------------------


def test_mark_read_moves_forward_only_and_tells_every_participant(
    student: User, instructor: User, outsider: User, instructor_chat: Conversation
) -> None:
    for n in range(3):
        send_message(actor=instructor, conversation_id=instructor_chat.pk, body=f"m{n}")
    result = mark_read(actor=student, conversation_id=instructor_chat.pk, seq=2)
    assert (result.seq, result.unread_count) == (2, 1)
    backwards = mark_read(actor=student, conversation_id=instructor_chat.pk, seq=1)
    assert (backwards.seq, backwards.unread_count) == (2, 1)
    beyond = mark_read(actor=student, conversation_id=instructor_chat.pk, seq=99)
    assert (beyond.seq, beyond.unread_count) == (3, 0)
    for user in (student, instructor):
        reads = [e["data"] for e in kept(user, "chat.read")]
        assert reads == [
            {
                "conversation_id": instructor_chat.pk,
                "user": {"id": student.pk, "username": "student"},
                "seq": 2,
            },
            {
                "conversation_id": instructor_chat.pk,
                "user": {"id": student.pk, "username": "student"},
                "seq": 3,
            },
        ]
    assert kept(outsider, "chat.read") == []
    with pytest.raises(Http404):
        mark_read(actor=outsider, conversation_id=instructor_chat.pk, seq=3)


def test_conversation_list_counts_the_other_sides_unread_messages(
    student: User, instructor: User, outsider: User, instructor_chat: Conversation
) -> None:
    send_message(actor=student, conversation_id=instructor_chat.pk, body="q1")
    send_message(actor=student, conversation_id=instructor_chat.pk, body="q2")
    [mine] = selectors.conversations_for(student)
    [theirs] = selectors.conversations_for(instructor)
    assert (mine.unread_count, theirs.unread_count) == (0, 2)  # type: ignore[attr-defined]
    send_message(actor=instructor, conversation_id=instructor_chat.pk, body="a")
    [mine] = selectors.conversations_for(student)
    [theirs] = selectors.conversations_for(instructor)
    # Answering reads what came before it.
    assert (mine.unread_count, theirs.unread_count) == (1, 0)  # type: ignore[attr-defined]
    assert selectors.conversations_for(outsider) == []


def test_history_pages_backwards_and_forwards(student: User, instructor_chat: Conversation) -> None:
    for n in range(1, 8):
        send_message(actor=student, conversation_id=instructor_chat.pk, body=f"m{n}")
    newest = selectors.message_page(instructor_chat, limit=3)
    assert ([m.seq for m in newest.messages], newest.has_more) == ([5, 6, 7], True)
    older = selectors.message_page(instructor_chat, before_seq=5, limit=3)
    assert ([m.seq for m in older.messages], older.has_more) == ([2, 3, 4], True)
    oldest = selectors.message_page(instructor_chat, before_seq=2, limit=3)
    assert ([m.seq for m in oldest.messages], oldest.has_more) == ([1], False)
    missed = selectors.message_page(instructor_chat, after_seq=4, limit=10)
    assert ([m.seq for m in missed.messages], missed.has_more) == ([5, 6, 7], False)


# --- notifications -------------------------------------------------------------------


def test_absent_recipient_gets_one_notice_per_conversation_until_read(
    student: User, instructor: User, instructor_chat: Conversation
) -> None:
    send_message(actor=student, conversation_id=instructor_chat.pk, body="first")
    send_message(actor=student, conversation_id=instructor_chat.pk, body="second")
    [notice] = chat_notices(instructor)
    assert notice.payload == {
        "conversation_id": instructor_chat.pk,
        "message_id": Message.objects.get(seq=1).pk,
        "seq": 1,
        "kind": "instructor",
    }
    assert notice.body == "first"
    assert chat_notices(student) == []  # never for one's own message
    mark_read(actor=instructor, conversation_id=instructor_chat.pk, seq=2)
    send_message(actor=student, conversation_id=instructor_chat.pk, body="third")
    assert [n.payload["seq"] for n in chat_notices(instructor)] == [1, 3]
    assert ReadMarker.objects.get(user=instructor).is_notified is True


def test_recipient_reading_live_gets_no_notice(
    student: User, instructor: User, instructor_chat: Conversation
) -> None:
    live.mark_live(instructor_chat.pk, instructor.pk, "some-socket")
    send_message(actor=student, conversation_id=instructor_chat.pk, body="hello")
    assert chat_notices(instructor) == []
    live.mark_gone([instructor_chat.pk], instructor.pk, "some-socket")
    send_message(actor=student, conversation_id=instructor_chat.pk, body="still there?")
    assert [n.payload["seq"] for n in chat_notices(instructor)] == [2]


def test_support_message_notifies_every_absent_admin_but_not_the_live_one(
    student: User, admin_user: User, admin2: User, support_chat: Conversation
) -> None:
    live.mark_live(support_chat.pk, admin2.pk, "admin2-socket")
    send_message(actor=student, conversation_id=support_chat.pk, body="help")
    assert len(chat_notices(admin_user)) == 1
    assert chat_notices(admin2) == []
