"""Authenticating a socket by the first message's access token (never from the URL)."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User


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
