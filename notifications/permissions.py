"""Who may do what with notifications. Fetchers answer 404 for "not yours"."""

from __future__ import annotations

from django.http import Http404

from accounts.models import User

from .models import Notification


def can_announce(user: User) -> bool:
    return user.is_active and user.is_platform_admin


def can_manage_notifications_of_others(user: User) -> bool:
    """Admins (Django admin) may mark read and push again on behalf of a recipient."""
    return user.is_active and user.is_platform_admin


def get_notification_for_user(user: User, notification_id: int) -> Notification:
    notification = Notification.objects.filter(pk=notification_id, recipient_id=user.pk).first()
    if notification is None:
        raise Http404("No such notification.")
    return notification
