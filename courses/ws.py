"""Websocket commands of course pages: `course.join`, `course.leave`."""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.http import Http404

from presence.services import join_course_page, leave_course_page
from realtime.commands import Ack, CommandData, Connection, command, not_found, positive_int

from .permissions import get_course_for_user


@command("course.join")
async def join_course(conn: Connection, data: CommandData) -> Ack:
    course_id = positive_int(data, "course_id")
    try:
        await database_sync_to_async(get_course_for_user)(conn.user, course_id)
    except Http404:
        raise not_found("course") from None
    # Subscribes to `course.<id>` and counts this socket's user as a viewer (presence).
    viewers = await join_course_page(conn, course_id)
    return {"course_id": course_id, "viewers": viewers}


@command("course.leave")
async def leave_course(conn: Connection, data: CommandData) -> Ack:
    course_id = positive_int(data, "course_id")
    await leave_course_page(conn, course_id)
    return {"course_id": course_id}
