"""Chat over the websocket, through the full ASGI stack with the real Redis layer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async

from accounts.models import User
from chat.models import Conversation, Message
from notifications.models import Notification
from tests.conftest import Socket, access_token, api_client

pytestmark = pytest.mark.django_db(transaction=True)


async def chat_notice_count(user: User) -> int:
    return await Notification.objects.filter(recipient=user, kind="chat_message").acount()


# Events of other apps (presence of admins coming online, …) that these tests ignore.
FOREIGN = ("presence.", "course.")


async def nothing_more(ws: Socket, timeout: float = 0.3) -> bool:
    """True when no event of ours (chat, notifications) arrives within `timeout`."""
    ws.backlog = [e for e in ws.backlog if not e["type"].startswith(FOREIGN)]
    if ws.backlog:
        return False
    # receive_nothing, not a receive with a timeout: the latter cancels the application.
    while not await ws.communicator.receive_nothing(timeout=timeout):
        event = await ws.receive()
        if not event["type"].startswith(FOREIGN):
            ws.backlog.append(event)
            return False
    return True


async def next_event(ws: Socket, timeout: float = 10) -> dict[str, Any]:
    while True:
        event = await ws.next_event(timeout)
        if not event["type"].startswith(FOREIGN):
            return event


async def next_of_type(ws: Socket, event_type: str, timeout: float = 10) -> dict[str, Any]:
    while True:
        event = await next_event(ws, timeout)
        if event["type"] == event_type:
            return event


async def test_message_reaches_every_tab_of_both_sides_with_both_seqs(
    open_socket: Any, student: User, instructor: User, instructor_chat: Conversation
) -> None:
    sender = await open_socket(student)
    other_tab = await open_socket(student)
    receiver = await open_socket(instructor)
    await receiver.command("chat.join", {"conversation_id": instructor_chat.pk})
    ack = await sender.command(
        "chat.send",
        {"conversation_id": instructor_chat.pk, "body": "<i>hi</i>", "client_id": "c1"},
    )
    assert ack["type"] == "ack"
    assert ack["data"]["is_repeat"] is False
    sent = ack["data"]["message"]
    assert (sent["seq"], sent["body"], sent["client_id"]) == (1, "<i>hi</i>", "c1")
    for ws in (receiver, other_tab, sender):
        event = await next_of_type(ws, "chat.message")
        assert event["data"] == sent
        assert isinstance(event["seq"], int)  # the per-user seq, for resume
    assert await nothing_more(receiver)


async def test_repeated_client_id_over_ws_delivers_one_message(
    open_socket: Any, student: User, instructor: User, instructor_chat: Conversation
) -> None:
    sender = await open_socket(student)
    receiver = await open_socket(instructor)
    data = {"conversation_id": instructor_chat.pk, "body": "once", "client_id": "same"}
    first = await sender.command("chat.send", data)
    repeat = await sender.command("chat.send", {**data, "body": "changed"})
    assert repeat["data"] == {"message": first["data"]["message"], "is_repeat": True}
    event = await next_of_type(receiver, "chat.message")
    assert event["data"]["body"] == "once"
    assert await nothing_more(receiver)
    assert await Message.objects.acount() == 1


@pytest.mark.parametrize(
    ("command", "extra"),
    [
        ("chat.join", {}),
        ("chat.send", {"body": "hi", "client_id": "x"}),
        ("chat.typing", {"is_typing": True}),
        ("chat.read", {"seq": 1}),
    ],
)
async def test_non_participants_get_not_found_and_learn_nothing(
    open_socket: Any,
    student: User,
    instructor: User,
    outsider: User,
    admin_user: User,
    instructor_chat: Conversation,
    command: str,
    extra: dict[str, Any],
) -> None:
    participant = await open_socket(student)
    await participant.command("chat.join", {"conversation_id": instructor_chat.pk})
    for user in (outsider, admin_user):  # admins see support chats, not this one
        ws = await open_socket(user)
        replies = [
            await ws.command(command, {"conversation_id": conversation_id, **extra})
            for conversation_id in (instructor_chat.pk, 987_654)
        ]
        for reply in replies:
            assert (reply["type"], reply["code"]) == ("error", "not_found")
        assert replies[0]["message"] == replies[1]["message"] == "No such conversation."
        # Joined nothing: the participant's typing and messages do not reach it.
        await participant.command(
            "chat.typing", {"conversation_id": instructor_chat.pk, "is_typing": True}
        )
        await participant.command(
            "chat.send",
            {"conversation_id": instructor_chat.pk, "body": "private", "client_id": user.username},
        )
        assert await nothing_more(ws)
        await participant.command(
            "chat.typing", {"conversation_id": instructor_chat.pk, "is_typing": False}
        )
    assert await Message.objects.filter(sender__in=[outsider, admin_user]).aexists() is False


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"body": "", "client_id": "x"}, "invalid"),
        ({"body": "   ", "client_id": "x"}, "invalid"),
        ({"body": "y" * 4001, "client_id": "x"}, "invalid"),
        ({"body": "ok"}, "invalid"),
        ({"body": "ok", "client_id": "c" * 65}, "invalid"),
        ({"body": ["ok"], "client_id": "x"}, "invalid"),
    ],
)
async def test_bad_send_data_is_refused_and_the_socket_stays_open(
    open_socket: Any,
    student: User,
    instructor_chat: Conversation,
    data: dict[str, Any],
    code: str,
) -> None:
    ws = await open_socket(student)
    reply = await ws.command("chat.send", {"conversation_id": instructor_chat.pk, **data})
    assert (reply["type"], reply["code"]) == ("error", code)
    assert (await ws.command("ping"))["type"] == "ack"
    assert await Message.objects.acount() == 0


async def test_support_chat_is_open_to_every_admin(
    open_socket: Any, student: User, admin_user: User, admin2: User, support_chat: Conversation
) -> None:
    owner = await open_socket(student)
    admin_ws = await open_socket(admin_user)
    join = await admin_ws.command("chat.join", {"conversation_id": support_chat.pk})
    assert join == {
        "type": "ack",
        "ref": join["ref"],
        "data": {"conversation_id": support_chat.pk, "last_seq": 0},
    }
    await owner.command(
        "chat.send", {"conversation_id": support_chat.pk, "body": "help", "client_id": "h"}
    )
    await next_of_type(admin_ws, "chat.message")
    answer = await (await open_socket(admin2)).command(
        "chat.send", {"conversation_id": support_chat.pk, "body": "here", "client_id": "h"}
    )
    assert answer["data"]["message"]["sender"] == {"id": admin2.pk, "username": "admin2"}
    assert answer["data"]["message"]["is_from_staff"] is True
    event = await next_of_type(owner, "chat.message")
    assert event["data"]["seq"] == 1
    event = await next_of_type(owner, "chat.message")
    assert (event["data"]["seq"], event["data"]["body"]) == (2, "here")


# --- typing --------------------------------------------------------------------------


def typing_event(conversation: Conversation, user: User, *, is_typing: bool) -> dict[str, Any]:
    return {
        "conversation_id": conversation.pk,
        "user": {"id": user.pk, "username": user.username},
        "is_typing": is_typing,
    }


async def test_typing_is_sent_on_transitions_only(
    open_socket: Any, student: User, instructor: User, instructor_chat: Conversation
) -> None:
    typist = await open_socket(student)
    reader = await open_socket(instructor)
    await reader.command("chat.join", {"conversation_id": instructor_chat.pk})
    data = {"conversation_id": instructor_chat.pk, "is_typing": True}
    first = await typist.command("chat.typing", data)
    again = await typist.command("chat.typing", data)
    assert (first["data"]["is_sent"], again["data"]["is_sent"]) == (True, False)
    event = await next_event(reader)
    assert event["type"] == "chat.typing"
    assert "seq" not in event  # ephemeral
    assert event["data"] == typing_event(instructor_chat, student, is_typing=True)
    assert await nothing_more(reader)
    await typist.command("chat.typing", {**data, "is_typing": False})
    event = await next_event(reader)
    assert event["data"] == typing_event(instructor_chat, student, is_typing=False)
    # Stopping twice sends nothing more.
    repeat_stop = await typist.command("chat.typing", {**data, "is_typing": False})
    assert repeat_stop["data"]["is_sent"] is False
    assert await nothing_more(reader)


async def test_typing_expires_when_the_typist_goes_quiet(
    open_socket: Any,
    monkeypatch: pytest.MonkeyPatch,
    student: User,
    instructor: User,
    instructor_chat: Conversation,
) -> None:
    monkeypatch.setattr("chat.ws.TYPING_TTL_S", 0.3)
    typist = await open_socket(student)
    reader = await open_socket(instructor)
    await reader.command("chat.join", {"conversation_id": instructor_chat.pk})
    await typist.command("chat.typing", {"conversation_id": instructor_chat.pk, "is_typing": True})
    assert (await next_event(reader))["data"]["is_typing"] is True
    stopped = await next_event(reader, timeout=3)
    assert stopped["data"] == typing_event(instructor_chat, student, is_typing=False)
    assert await nothing_more(reader, timeout=0.5)


async def test_typing_stops_when_the_typist_disconnects_or_sends(
    open_socket: Any, student: User, instructor: User, instructor_chat: Conversation
) -> None:
    reader = await open_socket(instructor)
    await reader.command("chat.join", {"conversation_id": instructor_chat.pk})
    typist = await open_socket(student)
    data = {"conversation_id": instructor_chat.pk, "is_typing": True}
    await typist.command("chat.typing", data)
    assert (await next_event(reader))["data"]["is_typing"] is True
    await typist.command(
        "chat.send", {"conversation_id": instructor_chat.pk, "body": "done", "client_id": "d"}
    )
    kinds = {(await next_event(reader))["type"] for _ in range(2)}
    assert kinds == {"chat.typing", "chat.message"}
    await typist.command("chat.typing", data)
    assert (await next_event(reader))["data"]["is_typing"] is True
    await typist.close()
    event = await next_event(reader)
    assert event["data"] == typing_event(instructor_chat, student, is_typing=False)
    assert await nothing_more(reader)


# --- read receipts and notifications --------------------------------------------------


async def test_read_receipt_reaches_the_other_side(
    open_socket: Any, student: User, instructor: User, instructor_chat: Conversation
) -> None:
    student_ws = await open_socket(student)
    instructor_ws = await open_socket(instructor)
    await instructor_ws.command(
        "chat.send", {"conversation_id": instructor_chat.pk, "body": "read me", "client_id": "r"}
    )
    await next_of_type(student_ws, "chat.message")
    ack = await student_ws.command("chat.read", {"conversation_id": instructor_chat.pk, "seq": 1})
    assert ack["data"] == {"conversation_id": instructor_chat.pk, "seq": 1, "unread_count": 0}
    receipt = await next_of_type(instructor_ws, "chat.read")
    assert receipt["data"] == {
        "conversation_id": instructor_chat.pk,
        "user": {"id": student.pk, "username": "student"},
        "seq": 1,
    }
    assert isinstance(receipt["seq"], int)
    # Reading the same seq again sends no second receipt.
    await student_ws.command("chat.read", {"conversation_id": instructor_chat.pk, "seq": 1})
    assert await nothing_more(instructor_ws)


async def test_joined_reader_gets_no_notice_until_its_socket_closes(
    open_socket: Any, student: User, instructor: User, instructor_chat: Conversation
) -> None:
    sender = await open_socket(student)
    reader = await open_socket(instructor)
    await reader.command("chat.join", {"conversation_id": instructor_chat.pk})
    send = {"conversation_id": instructor_chat.pk, "body": "live", "client_id": "1"}
    await sender.command("chat.send", send)
    assert (await next_event(reader))["type"] == "chat.message"
    assert await nothing_more(reader)  # no notification.created
    assert await chat_notice_count(instructor) == 0
    await reader.close()
    await sender.command("chat.send", {**send, "client_id": "2"})
    await sender.command("chat.send", {**send, "client_id": "3"})
    assert await chat_notice_count(instructor) == 1


async def test_leaving_the_conversation_turns_notices_back_on(
    open_socket: Any, student: User, instructor: User, instructor_chat: Conversation
) -> None:
    sender = await open_socket(student)
    reader = await open_socket(instructor)
    await reader.command("chat.join", {"conversation_id": instructor_chat.pk})
    await reader.command("chat.leave", {"conversation_id": instructor_chat.pk})
    await sender.command(
        "chat.send", {"conversation_id": instructor_chat.pk, "body": "x", "client_id": "1"}
    )
    kinds = sorted([(await next_event(reader))["type"] for _ in range(2)])
    assert kinds == ["chat.message", "notification.created"]
    assert await chat_notice_count(instructor) == 1


# --- ordering under concurrency --------------------------------------------------------


async def _burst(ws: Socket, conversation_id: int, prefix: str, count: int) -> list[dict]:
    """Sends `count` messages back to back without waiting, then collects the acks."""
    for n in range(count):
        await ws.send_json(
            {
                "type": "chat.send",
                "ref": f"{prefix}{n}",
                "data": {
                    "conversation_id": conversation_id,
                    "body": f"{prefix} {n}",
                    "client_id": f"{prefix}-{n}",
                },
            }
        )
    acks: list[dict] = []
    while len(acks) < count:
        message = await ws.receive(timeout=20)
        if message["type"] == "ack":
            acks.append(message)
        else:
            ws.backlog.append(message)
    return acks


async def _messages(ws: Socket, count: int) -> list[dict]:
    events: list[dict] = []
    while len(events) < count:
        event = await next_event(ws, timeout=20)
        if event["type"] == "chat.message":
            events.append(event)
    return events


async def test_interleaved_bursts_end_identical_for_everyone_including_a_reconnect(
    open_socket: Any, student: User, admin_user: User, admin2: User, support_chat: Conversation
) -> None:
    per_sender = 25
    total = 2 * per_sender
    owner = await open_socket(student)
    answering = await open_socket(admin_user)
    watcher = Socket()
    assert await watcher.connect()
    await watcher.auth(access_token(admin2))
    seen_before_drop: list[dict] = []

    async def watch_then_drop() -> None:
        seen_before_drop.extend(await _messages(watcher, per_sender // 2))
        await watcher.close()  # mid-burst: the rest are sent while it is away

    acks_owner, acks_admin, _ = await asyncio.gather(
        _burst(owner, support_chat.pk, "s", per_sender),
        _burst(answering, support_chat.pk, "a", per_sender),
        watch_then_drop(),
    )
    assert all(ack["data"]["is_repeat"] is False for ack in acks_owner + acks_admin)
    owner_events = await _messages(owner, total)
    admin_events = await _messages(answering, total)

    # The third client comes back: resume from the last per-user seq it saw.
    back = await open_socket(admin2)
    back_ack = await back.command("resume", {"since_seq": seen_before_drop[-1]["seq"]})
    replayed = [e for e in back.backlog if e["type"] == "chat.message"]
    assert back_ack["data"]["replayed"] >= len(replayed) == total - len(seen_before_drop)
    # ... and over REST: what it missed after the last conversation seq it saw.
    page = await database_sync_to_async(
        lambda: (
            api_client(admin2)
            .get(
                f"/api/chat/conversations/{support_chat.pk}/messages/",
                {"after_seq": seen_before_drop[-1]["data"]["seq"], "limit": 200},
            )
            .json()
        )
    )()

    def merged(*parts: list[dict]) -> list[tuple[int, int, str]]:
        by_seq = {m["seq"]: m for part in parts for m in part}
        return [(s, by_seq[s]["sender"]["id"], by_seq[s]["body"]) for s in sorted(by_seq)]

    before = [e["data"] for e in seen_before_drop]
    expected = merged([e["data"] for e in owner_events])
    assert [seq for seq, _, _ in expected] == list(range(1, total + 1))  # no gap, no duplicate
    # Arrival order is seq order on each socket, and each sender's own order is kept.
    assert [e["data"]["seq"] for e in owner_events] == list(range(1, total + 1))
    assert [e["data"]["seq"] for e in admin_events] == list(range(1, total + 1))
    assert merged([e["data"] for e in admin_events]) == expected
    assert merged(before, [e["data"] for e in replayed]) == expected
    assert merged(before, page["results"]) == expected
    assert len(before) + len(replayed) == total  # the replay duplicated nothing
    owner_bodies = [body for _, sender, body in expected if sender == student.pk]
    assert owner_bodies == [f"s {n}" for n in range(per_sender)]
    assert await Message.objects.acount() == total
