"""Websocket side of presence: socket start/end hooks and the `lesson.watch` command."""

from __future__ import annotations

from channels.db import database_sync_to_async

from realtime.commands import (
    Ack,
    CommandData,
    CommandError,
    Connection,
    boolean,
    command,
    non_negative_number,
    not_found,
    on_disconnect,
    on_session_start,
    positive_int,
)

from . import services
from .permissions import LessonNotWatchable, course_of_watchable_lesson

MAX_POSITION_S = 24 * 3600.0
# Lessons this socket was allowed to watch (lesson id → course id): a report every few
# seconds must not cost a database query each. A socket keeps its grant until it closes.
_GRANTS = "presence.lesson_grants"
_MAX_GRANTS = 64


@on_session_start
async def socket_started(conn: Connection) -> None:
    await services.start_socket(conn)


@on_disconnect
async def socket_ended(conn: Connection) -> None:
    await services.end_socket(conn)


@command("lesson.watch")
async def watch_lesson(conn: Connection, data: CommandData) -> Ack:
    lesson_id = positive_int(data, "lesson_id")
    position = non_negative_number(data, "position", maximum=MAX_POSITION_S)
    playing = boolean(data, "playing")
    grants: dict[int, int] = conn.state.setdefault(_GRANTS, {})
    course_id = grants.get(lesson_id)
    if course_id is None:
        try:
            course_id = await database_sync_to_async(course_of_watchable_lesson)(
                conn.user, lesson_id
            )
        except LessonNotWatchable as refusal:
            if refusal.code == "purchase_required":
                raise CommandError(
                    "purchase_required", "Buy the course to watch its lessons."
                ) from None
            raise not_found("lesson") from None
        if len(grants) >= _MAX_GRANTS:
            grants.clear()
        grants[lesson_id] = course_id
    await services.report_watching(
        conn, course_id=course_id, lesson_id=lesson_id, position=position, playing=playing
    )
    return {"lesson_id": lesson_id}
