"""Authenticating a socket: by its session cookie at the handshake, or by the first
message's access token (never from the URL)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from channels.auth import get_user
from django.conf import settings
from django.http import parse_cookie
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    user: User
    expires_at: float  # unix time


def user_for_access_token(token: object) -> TokenIdentity | None:
    """The active user the token names, or None for a missing, forged or expired token."""
    if not isinstance(token, str) or not token or len(token) > 4096:
        return None
    try:
        access = AccessToken(token)  # type: ignore[arg-type]
        user_id = access[api_settings.USER_ID_CLAIM]
        expires_at = float(access["exp"])
    except (TokenError, KeyError, TypeError, ValueError):
        return None
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return None
    return TokenIdentity(user=user, expires_at=expires_at)


class SessionUserMiddleware:
    """Puts the session's user (or AnonymousUser) and its session key into the scope.

    Channels' `AuthMiddlewareStack` does the same but also wraps `send`, to save
    sessions on HTTP responses: on a websocket that is a few coroutine frames on every
    event sent to every socket, for nothing, since the gateway never changes a session.
    Here the session is read once, at the handshake, and `send` is passed on untouched.
    """

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        cookies = _cookies(scope)
        session = import_module(settings.SESSION_ENGINE).SessionStore(
            cookies.get(settings.SESSION_COOKIE_NAME)
        )
        scope = dict(scope, session=session)
        # channels' get_user checks the session's auth hash, as Django's own login does.
        scope["user"] = await get_user(scope)
        scope["session_key"] = session.session_key
        await self.inner(scope, receive, send)


def _cookies(scope: Scope) -> dict[str, str]:
    for name, value in scope.get("headers", ()):
        if name == b"cookie":
            return parse_cookie(value.decode("latin1"))
    return {}
