"""The websocket gateway through the full ASGI stack (DESIGN.md §6)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User
from realtime.consumers import CLOSE_UNAUTHORIZED
from realtime.groups import course_group
from realtime.models import EventStream, KeptEvent
from realtime.publish import apublish_rollback_unsafe, publish_kept_on_commit
from tests.conftest import Socket, access_token

pytestmark = pytest.mark.django_db(transaction=True)


@database_sync_to_async
def publish_progress(user: User, n: int) -> None:
    with transaction.atomic():
        publish_kept_on_commit([user.pk], "video.progress", {"progress": n})


async def test_wrong_origin_is_refused_at_handshake(student: User) -> None:
    socket = Socket(origin="http://evil.example")
    assert not await socket.connect()


async def test_missing_origin_is_refused(student: User) -> None:
    from channels.testing import WebsocketCommunicator

    from elearning.asgi import application

    communicator = WebsocketCommunicator(application, "/ws/")
    connected, _ = await communicator.connect(timeout=5)
    assert not connected


@pytest.mark.parametrize(
    "token",
    ["", "not-a-jwt", "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyX2lkIjoxfQ.forged-signature"],
)
async def test_bad_token_closes_4401(student: User, token: str) -> None:
    socket = Socket()
    assert await socket.connect()
    await socket.send_json({"type": "auth", "token": token})
    closed = await socket.receive_output()
    assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHORIZED}


async def test_expired_token_closes_4401(student: User) -> None:
    token = AccessToken.for_user(student)
    token.set_exp(lifetime=-timedelta(seconds=1))
    socket = Socket()
    assert await socket.connect()
    await socket.send_json({"type": "auth", "token": str(token)})
    assert await socket.receive_output() == {"type": "websocket.close", "code": CLOSE_UNAUTHORIZED}


async def test_token_of_deactivated_user_closes_4401(student: User) -> None:
    token = access_token(student)
    await User.objects.filter(pk=student.pk).aupdate(is_active=False)
    socket = Socket()
    assert await socket.connect()
    await socket.send_json({"type": "auth", "token": token})
    assert await socket.receive_output() == {"type": "websocket.close", "code": CLOSE_UNAUTHORIZED}


async def test_command_before_auth_closes_4401(student: User) -> None:
    socket = Socket()
    assert await socket.connect()
    await socket.send_json({"type": "ping", "ref": 1, "data": {}})
    assert await socket.receive_output() == {"type": "websocket.close", "code": CLOSE_UNAUTHORIZED}


async def test_no_auth_within_timeout_closes_4401(student: User, settings) -> None:
    settings.REALTIME_AUTH_TIMEOUT_S = 0.2
    socket = Socket()
    assert await socket.connect()
    assert await socket.receive_output(timeout=2) == {
        "type": "websocket.close",
        "code": CLOSE_UNAUTHORIZED,
    }


async def test_token_expiry_later_closes_4401(student: User) -> None:
    token = AccessToken.for_user(student)
    token.set_exp(lifetime=timedelta(seconds=1))
    socket = Socket()
    assert await socket.connect()
    ready = await socket.auth(str(token))
    assert ready == {"type": "session.ready", "data": {"user_id": student.pk, "last_seq": 0}}
    assert await socket.receive_output(timeout=3) == {
        "type": "websocket.close",
        "code": CLOSE_UNAUTHORIZED,
    }


async def test_session_cookie_authenticates_without_a_message(student: User) -> None:
    from django.test import Client

    client = Client()
    await database_sync_to_async(client.force_login)(student)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    socket = Socket(headers=[(b"cookie", cookie)])
    assert await socket.connect()
    assert await socket.receive() == {
        "type": "session.ready",
        "data": {"user_id": student.pk, "last_seq": 0},
    }
    await socket.close()


async def test_logout_closes_that_sessions_socket_4401(student: User) -> None:
    from django.test import Client

    client = Client()
    await database_sync_to_async(client.force_login)(student)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    socket = Socket(headers=[(b"cookie", cookie)])
    assert await socket.connect()
    assert (await socket.receive())["type"] == "session.ready"
    await database_sync_to_async(client.post)("/accounts/logout/")
    assert await socket.receive_output(timeout=3) == {
        "type": "websocket.close",
        "code": CLOSE_UNAUTHORIZED,
    }


async def test_ping_gets_pong_and_ack(student: User, open_socket) -> None:
    ws = await open_socket(student)
    reply = await ws.command("ping")
    assert reply == {"type": "ack", "ref": "r1", "data": {}}
    pong = await ws.next_event()
    assert pong["type"] == "pong" and "seq" not in pong and pong["data"] == {}


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("not json", "bad_request"),
        ("[1, 2]", "bad_request"),
        (json.dumps({"type": "launch.missiles", "ref": "x"}), "unknown_command"),
        (json.dumps({"type": "resume", "ref": "x", "data": {"since_seq": -1}}), "invalid"),
        (json.dumps({"type": "resume", "ref": "x", "data": "zero"}), "invalid"),
        (json.dumps({"type": "course.join", "ref": "x", "data": {"course_id": "1"}}), "invalid"),
        (json.dumps({"type": "course.join", "ref": "x", "data": {"course_id": True}}), "invalid"),
        (json.dumps({"type": "auth", "ref": "x", "token": "again"}), "bad_request"),
    ],
)
async def test_bad_commands_get_error_and_socket_stays_open(
    student: User, open_socket, raw: str, code: str
) -> None:
    ws = await open_socket(student)
    await ws.communicator.send_to(text_data=raw)
    error = await ws.receive()
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    assert (await ws.command("ping"))["type"] == "ack"


async def test_binary_frame_gets_error(student: User, open_socket) -> None:
    ws = await open_socket(student)
    await ws.communicator.send_to(bytes_data=b"\x00\x01")
    assert (await ws.receive())["code"] == "bad_request"
    assert (await ws.command("ping"))["type"] == "ack"


async def test_kept_event_reaches_every_socket_of_the_user_only(
    student: User, student2: User, open_socket
) -> None:
    first, second, other = (
        await open_socket(student),
        await open_socket(student),
        await open_socket(student2),
    )
    await publish_progress(student, 40)
    for ws in (first, second):
        event = await ws.next_event()
        assert event["type"] == "video.progress"
        assert event["seq"] == 1
        assert event["data"] == {"progress": 40}
        assert event["ts"].endswith("Z")
    assert await other.nothing_more()


async def test_rolled_back_write_publishes_nothing(student: User, open_socket) -> None:
    ws = await open_socket(student)

    @database_sync_to_async
    def write_then_fail() -> None:
        with pytest.raises(RuntimeError), transaction.atomic():
            publish_kept_on_commit([student.pk], "video.progress", {"progress": 1})
            raise RuntimeError("boom")

    await write_then_fail()
    assert await ws.nothing_more(timeout=0.5)
    assert await KeptEvent.objects.acount() == 0
    assert await EventStream.objects.filter(last_seq__gt=0).acount() == 0


async def test_resume_replays_exactly_the_missed_events(student: User, open_socket) -> None:
    ws = await open_socket(student)
    await publish_progress(student, 10)
    seen = await ws.next_event()
    assert seen["seq"] == 1
    await ws.close()
    for n in (20, 30, 40):
        await publish_progress(student, n)

    again = Socket()
    assert await again.connect()
    ready = await again.auth(access_token(student))
    assert ready["data"]["last_seq"] == 4
    await again.send_json({"type": "resume", "ref": "res", "data": {"since_seq": 1}})
    replayed = [await again.receive() for _ in range(3)]
    assert [(e["seq"], e["data"]["progress"]) for e in replayed] == [(2, 20), (3, 30), (4, 40)]
    assert await again.receive() == {"type": "ack", "ref": "res", "data": {"replayed": 3}}
    await publish_progress(student, 50)
    live = await again.receive()
    assert (live["seq"], live["data"]["progress"]) == (5, 50)
    assert await again.nothing_more()
    await again.close()


async def test_resume_with_nothing_missed_replays_nothing(student: User, open_socket) -> None:
    await publish_progress(student, 10)
    ws = await open_socket(student)
    assert await ws.command("resume", {"since_seq": 1}) == {
        "type": "ack",
        "ref": "r1",
        "data": {"replayed": 0},
    }
    assert await ws.nothing_more()


async def test_resume_skips_events_this_socket_already_delivered(
    student: User, open_socket
) -> None:
    await publish_progress(student, 10)
    ws = await open_socket(student)  # ready says last_seq 1; the client last saw 0
    await publish_progress(student, 20)
    live = await ws.next_event()
    assert live["seq"] == 2
    reply = await ws.command("resume", {"since_seq": 0})
    assert reply["data"] == {"replayed": 1}
    assert [e["seq"] for e in ws.backlog] == [1]


async def test_resume_from_before_the_kept_window_asks_for_resync(
    student: User, open_socket
) -> None:
    for n in range(3):
        await publish_progress(student, n)
    await EventStream.objects.filter(user=student).aupdate(trimmed_through=2)
    await KeptEvent.objects.filter(user=student, seq__lte=2).adelete()
    ws = await open_socket(student)
    assert (await ws.command("resume", {"since_seq": 1}))["data"] == {"resync_required": True}
    assert (await ws.command("resume", {"since_seq": 99}))["data"] == {"resync_required": True}


async def test_ephemeral_group_event_has_no_seq(student: User, course, open_socket) -> None:
    ws = await open_socket(student)
    assert (await ws.command("course.join", {"course_id": course.pk}))["type"] == "ack"
    await apublish_rollback_unsafe(course_group(course.pk), "course.viewers", {"count": 3})
    event = await ws.next_event()
    assert event["type"] == "course.viewers" and "seq" not in event
    assert event["data"] == {"count": 3}
    assert (await ws.command("course.leave", {"course_id": course.pk}))["type"] == "ack"
    await apublish_rollback_unsafe(course_group(course.pk), "course.viewers", {"count": 4})
    assert await ws.nothing_more()


async def test_course_join_unknown_course_is_not_found(student: User, open_socket) -> None:
    ws = await open_socket(student)
    reply = await ws.command("course.join", {"course_id": 987654})
    assert reply["type"] == "error" and reply["code"] == "not_found"


async def test_out_of_order_events_reach_the_client_in_seq_order(
    student: User, open_socket
) -> None:
    from channels.layers import get_channel_layer

    from realtime.groups import user_group
    from realtime.streams import keep_events

    ws = await open_socket(student)

    @database_sync_to_async
    def log_two() -> list:
        with transaction.atomic():
            return keep_events([student.pk], "video.progress", '{"n":1}') + keep_events(
                [student.pk], "video.progress", '{"n":2}'
            )

    first, second = await log_two()
    layer = get_channel_layer()
    # The layer delivers the second before the first (two publishers racing).
    for stamped in (second, first):
        await layer.group_send(
            user_group(student.pk), {"type": "rt.event", "text": stamped.text, "seq": stamped.seq}
        )
    assert [(await ws.next_event())["seq"] for _ in range(2)] == [1, 2]
    assert await ws.nothing_more()


async def test_event_dropped_by_the_layer_is_filled_from_the_log(
    student: User, open_socket
) -> None:
    from channels.layers import get_channel_layer

    from realtime.groups import user_group
    from realtime.streams import keep_events

    ws = await open_socket(student)

    @database_sync_to_async
    def log_two() -> list:
        with transaction.atomic():
            return keep_events([student.pk], "video.progress", '{"n":1}') + keep_events(
                [student.pk], "video.progress", '{"n":2}'
            )

    _, second = await log_two()
    # Only the second one travels; the first was lost between Redis and this process.
    await get_channel_layer().group_send(
        user_group(student.pk), {"type": "rt.event", "text": second.text, "seq": second.seq}
    )
    received = [await ws.next_event(timeout=3) for _ in range(2)]
    assert [(e["seq"], e["data"]) for e in received] == [(1, {"n": 1}), (2, {"n": 2})]
    assert await ws.nothing_more()


async def test_event_published_while_the_session_starts_comes_after_ready_and_resume_loses_nothing(
    student: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a client that saw seq 1 and then missed seq 2 while offline
    await publish_progress(student, 10)
    await publish_progress(student, 20)
    # And a session-start hook (presence, in production: a Redis round trip) during
    # which a new event is published and reaches the socket through the layer
    from realtime import commands

    async def slow_hook(conn: Any) -> None:
        await publish_progress(student, 30)
        await asyncio.sleep(0.3)

    monkeypatch.setattr(commands, "_session_start_hooks", [slow_hook])

    # When the client reconnects
    socket = Socket()
    assert await socket.connect()
    ready = await socket.auth(access_token(student))

    # Then session.ready comes first and names the floor it read before the new event
    assert (ready["type"], ready["data"]["last_seq"]) == ("session.ready", 2)
    live = await socket.receive()
    assert (live["seq"], live["data"]["progress"]) == (3, 30)
    # And a resume from what the client had seen replays the missed event, once
    await socket.send_json({"type": "resume", "ref": "res", "data": {"since_seq": 1}})
    replayed = await socket.receive()
    assert (replayed["seq"], replayed["data"]["progress"]) == (2, 20)
    assert await socket.receive() == {"type": "ack", "ref": "res", "data": {"replayed": 1}}
    assert await socket.nothing_more()
    await socket.close()


async def test_closed_socket_leaves_no_channel_or_subscription_in_the_layer(
    student: User, open_socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    from channels.layers import get_channel_layer
    from django.conf import settings

    if settings.CHANNEL_LAYER_KIND != "pubsub":
        pytest.skip("reads the pub/sub layer's own bookkeeping")
    from realtime.consumers import GatewayConsumer

    layer = get_channel_layer()
    before = set(layer.channels)
    # Given a socket whose client reads so slowly that forwarding the first event of a
    # burst never finishes (a send stuck waiting for the socket to drain)
    forward = GatewayConsumer.rt_event

    async def stuck_after_first(self: GatewayConsumer, message: dict[str, Any]) -> None:
        await forward(self, message)
        await asyncio.Event().wait()

    monkeypatch.setattr(GatewayConsumer, "rt_event", stuck_after_first)
    ws = await open_socket(student)
    for n in range(5):
        await publish_progress(student, n)
    assert (await ws.next_event())["seq"] == 1

    # When the client goes away without reading the rest
    await ws.close()

    # Then the layer holds no channel for it and no Redis subscription to it
    assert set(layer.channels) == before
    channels_left = {
        channel
        for shard in layer._shards
        for channel in shard._subscribed_to
        if channel.startswith(layer.prefix + "specific.")
    }
    assert channels_left == set()


async def test_a_failing_channel_layer_closes_the_socket_instead_of_leaving_it_mute(
    student: User, open_socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    from channels.layers import get_channel_layer

    # Given a socket that has received an event
    layer = get_channel_layer()
    ws = await open_socket(student)

    async def layer_down(channel: str) -> dict[str, Any]:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(layer, "receive", layer_down)
    await publish_progress(student, 10)
    assert (await ws.next_event())["seq"] == 1

    # When its next read from the layer fails
    # Then the server closes it (1011), so the client reconnects and resumes
    assert await ws.receive_output() == {"type": "websocket.close", "code": 1011}
