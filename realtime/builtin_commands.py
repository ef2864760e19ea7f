"""The gateway's own commands: `ping`. (`resume` needs the consumer's replay state.)"""

from __future__ import annotations

from .commands import Ack, CommandData, Connection, command
from .envelope import ephemeral_event_text, timestamp


@command("ping")
async def ping(conn: Connection, data: CommandData) -> Ack:
    await conn.send_text(ephemeral_event_text("pong", timestamp(), "{}"))
    return {}
