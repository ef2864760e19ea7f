"""Websocket commands of notifications: `notification.read` {id}, `notification.read_all`."""

from __future__ import annotations

from channels.db import database_sync_to_async
from django.http import Http404

from realtime.commands import Ack, CommandData, Connection, command, not_found, positive_int

from . import services


@command("notification.read")
async def read_notification(conn: Connection, data: CommandData) -> Ack:
    notification_id = positive_int(data, "id")
    try:
        count = await database_sync_to_async(services.mark_read)(
            actor=conn.user, notification_id=notification_id
        )
    except Http404:
        raise not_found("notification") from None
    return {"id": notification_id, "unread_count": count}


@command("notification.read_all")
async def read_all_notifications(conn: Connection, data: CommandData) -> Ack:
    count = await database_sync_to_async(services.mark_all_read)(actor=conn.user)
    return {"unread_count": count}
