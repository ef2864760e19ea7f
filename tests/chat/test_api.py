"""Chat REST endpoints (DESIGN.md §5): shapes, status codes and every refusal."""

from __future__ import annotations

import pytest

from accounts.models import User
from chat.models import Conversation, ConversationStatus, Message
from chat.services import send_message
from courses.models import Course, Purchase
from tests.conftest import api_client

pytestmark = pytest.mark.django_db

CONVERSATIONS = "/api/chat/conversations/"


def messages_url(conversation_id: int) -> str:
    return f"{CONVERSATIONS}{conversation_id}/messages/"


def test_open_instructor_chat_is_get_or_create(
    student: User, instructor: User, course: Course, bought: Purchase
) -> None:
    client = api_client(student)
    created = client.post(CONVERSATIONS, {"kind": "instructor", "course_id": course.pk})
    again = client.post(CONVERSATIONS, {"kind": "instructor", "course_id": course.pk})
    assert (created.status_code, again.status_code) == (201, 200)
    body = created.json()
    assert body == {
        "id": body["id"],
        "kind": "instructor",
        "status": "open",
        "course": {"id": course.pk, "title": "Signals 101"},
        "owner": {"id": student.pk, "username": "student"},
        "instructor": {"id": instructor.pk, "username": "instructor"},
        "answered_by": None,
        "last_seq": 0,
        "unread_count": 0,
        "reads": [],
        "created_at": body["created_at"],
        "last_message_at": None,
    }
    assert again.json()["id"] == body["id"]


def test_open_instructor_chat_without_purchase_is_forbidden(student: User, course: Course) -> None:
    response = api_client(student).post(
        CONVERSATIONS, {"kind": "instructor", "course_id": course.pk}
    )
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert not Conversation.objects.exists()


def test_bad_open_requests_are_400(student: User) -> None:
    client = api_client(student)
    assert client.post(CONVERSATIONS, {"kind": "gossip"}).status_code == 400
    assert client.post(CONVERSATIONS, {"kind": "instructor"}).status_code == 400


def test_anonymous_gets_401(support_chat: Conversation) -> None:
    client = api_client()
    assert client.get(CONVERSATIONS).status_code == 401
    assert client.get(messages_url(support_chat.pk)).status_code == 401


def test_send_over_rest_is_idempotent_by_client_id(
    student: User, instructor_chat: Conversation
) -> None:
    client = api_client(student)
    url = messages_url(instructor_chat.pk)
    first = client.post(url, {"body": "  <script>x</script>  ", "client_id": "k1"}, format="json")
    repeat = client.post(url, {"body": "other", "client_id": "k1"}, format="json")
    assert (first.status_code, repeat.status_code) == (201, 200)
    assert repeat.json() == first.json()
    assert first.json()["body"] == "  <script>x</script>  "
    assert first.json()["seq"] == 1
    assert Message.objects.count() == 1


def test_blank_or_long_body_is_400(student: User, instructor_chat: Conversation) -> None:
    client = api_client(student)
    url = messages_url(instructor_chat.pk)
    for body in ("   ", "z" * 4001):
        response = client.post(url, {"body": body}, format="json")
        assert (response.status_code, response.json()["code"]) == (400, "invalid")
    assert not Message.objects.exists()


def test_non_participants_get_404_for_everything(
    outsider: User, admin_user: User, instructor_chat: Conversation
) -> None:
    missing = 999_999
    for user in (outsider, admin_user):
        client = api_client(user)
        for conversation_id in (instructor_chat.pk, missing):
            responses = [
                client.get(messages_url(conversation_id)),
                client.post(messages_url(conversation_id), {"body": "hi"}, format="json"),
                client.post(f"{CONVERSATIONS}{conversation_id}/read/", {"seq": 1}),
            ]
            assert [r.status_code for r in responses] == [404, 404, 404]
            # Absent and not-yours look the same.
            assert {r.json()["detail"] for r in responses} == {"No such conversation."}
        assert client.get(CONVERSATIONS).json() == []
    assert not Message.objects.exists()


def test_history_and_read_over_rest(
    student: User, instructor: User, instructor_chat: Conversation
) -> None:
    for n in range(1, 6):
        send_message(actor=instructor, conversation_id=instructor_chat.pk, body=f"m{n}")
    client = api_client(student)
    page = client.get(messages_url(instructor_chat.pk), {"before_seq": 5, "limit": 2}).json()
    assert [m["seq"] for m in page["results"]] == [3, 4]
    assert page["has_more"] is True
    assert page["results"][0]["sender"] == {"id": instructor.pk, "username": "instructor"}
    both = client.get(messages_url(instructor_chat.pk), {"before_seq": 5, "after_seq": 1})
    assert both.status_code == 400
    [listed] = client.get(CONVERSATIONS).json()
    assert (listed["unread_count"], listed["last_seq"]) == (5, 5)
    read = client.post(f"{CONVERSATIONS}{instructor_chat.pk}/read/", {"seq": 4}).json()
    assert read == {"conversation_id": instructor_chat.pk, "seq": 4, "unread_count": 1}
    [listed] = client.get(CONVERSATIONS).json()
    assert listed["unread_count"] == 1
    # The sender has read up to its own last message.
    assert sorted(listed["reads"], key=lambda r: r["seq"]) == [
        {"user": {"id": student.pk, "username": "student"}, "seq": 4},
        {"user": {"id": instructor.pk, "username": "instructor"}, "seq": 5},
    ]


def test_support_inbox_lists_open_support_chats_unread_first(
    student: User, student2: User, outsider: User, admin_user: User, admin2: User
) -> None:
    client1 = api_client(student)
    client2 = api_client(student2)
    client3 = api_client(outsider)
    first = client1.post(CONVERSATIONS, {"kind": "support"}).json()["id"]
    second = client2.post(CONVERSATIONS, {"kind": "support"}).json()["id"]
    closed = client3.post(CONVERSATIONS, {"kind": "support"}).json()["id"]
    client1.post(messages_url(first), {"body": "help 1"}, format="json")
    client2.post(messages_url(second), {"body": "help 2"}, format="json")
    Conversation.objects.filter(pk=closed).update(status=ConversationStatus.CLOSED)
    # admin2 answers the second: answered, so it drops below the unread one.
    api_client(admin2).post(messages_url(second), {"body": "done"}, format="json")
    inbox = api_client(admin_user).get("/api/chat/support/inbox/")
    assert inbox.status_code == 200
    rows = inbox.json()
    assert [(r["id"], r["unread_count"]) for r in rows] == [(first, 1), (second, 0)]
    assert rows[1]["answered_by"] == {"id": admin2.pk, "username": "admin2"}
    assert rows[0]["answered_by"] is None
    for user in (student, outsider):
        refused = api_client(user).get("/api/chat/support/inbox/")
        assert (refused.status_code, refused.json()["code"]) == (403, "permission_denied")


def test_admin_cannot_open_support_chat(admin_user: User) -> None:
    response = api_client(admin_user).post(CONVERSATIONS, {"kind": "support"})
    assert response.status_code == 403
    assert not Conversation.objects.exists()


def test_schema_builds_with_chat_endpoints(student: User) -> None:
    response = api_client(student).get("/api/schema/")
    assert response.status_code == 200
    assert b"/api/chat/conversations/{conversation_id}/messages/" in response.content
