"""Closing a user's session sockets when they log out (DESIGN.md §6: close 4401)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest

from .publish import revoke_sessions_on_commit


@receiver(user_logged_out)
def close_sockets_of_session(
    sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any
) -> None:
    if user is None or request is None:
        return
    revoke_sessions_on_commit(user.pk, request.session.session_key)
