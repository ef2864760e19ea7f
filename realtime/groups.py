"""The only module that builds channel-layer group names (DESIGN.md §6).

Names match ``[a-zA-Z0-9._-]`` and stay far below Channels' 100-character limit.
"""

from __future__ import annotations

from uuid import UUID

ADMINS = "admins"


def user_group(user_id: int) -> str:
    return f"user.{int(user_id)}"


def admins_group() -> str:
    return ADMINS


def course_group(course_id: int) -> str:
    return f"course.{int(course_id)}"


def chat_group(conversation_id: int | UUID) -> str:
    return f"chat.{conversation_id}"
