"""Reviewing notifications in Django admin. Writes go through the services."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.safestring import SafeString

from . import services
from .models import Announcement, Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin[Notification]):
    list_display = ("id", "recipient", "kind", "title", "is_read", "created_at")
    list_filter = ("kind", "is_read", "created_at")
    search_fields = ("recipient__username", "recipient__email", "title", "body")
    list_select_related = ("recipient",)
    date_hierarchy = "created_at"
    readonly_fields = (
        "recipient",
        "kind",
        "title",
        "body",
        "payload_view",
        "dedupe_key",
        "is_read",
        "read_at",
        "created_at",
    )
    exclude = ("payload",)
    actions = ("mark_read", "push_again")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Notification | None = None) -> bool:
        # Viewable, not editable: a changed row would disagree with events already sent.
        return False

    @admin.display(description="payload")
    def payload_view(self, obj: Notification) -> SafeString:
        # format_html escapes the JSON text, so user text in a payload cannot inject HTML.
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, indent=2, ensure_ascii=False))

    @admin.action(description="Mark selected notifications read (and sync open tabs)")
    def mark_read(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        changed = services.mark_notifications_read_for_recipients(
            actor=request.user,  # type: ignore[arg-type]
            notification_ids=list(queryset.values_list("pk", flat=True)),
        )
        self.message_user(request, f"Marked {changed} notification(s) read.", messages.SUCCESS)

    @admin.action(description="Push selected notifications again to the recipients' open sockets")
    def push_again(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        for notification_id in ids:
            services.push_again(actor=request.user, notification_id=notification_id)  # type: ignore[arg-type]
        self.message_user(request, f"Pushed {len(ids)} notification(s) again.", messages.SUCCESS)


@admin.register(Announcement)
class AnnouncementAdmin(admin.ModelAdmin[Announcement]):
    list_display = ("id", "title", "audience", "created_by", "delivered_count", "finished_at")
    list_filter = ("audience",)
    search_fields = ("title", "body")
    readonly_fields = ("created_by", "delivered_count", "finished_at", "created_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Announcements are sent through the API so that the fan-out task is queued.
        return False
