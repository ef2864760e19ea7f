from __future__ import annotations

from django.contrib import admin

from .models import Conversation, Message, ReadMarker


class MessageInline(admin.TabularInline[Message, Conversation]):
    model = Message
    extra = 0
    fields = ("seq", "sender", "body", "client_id", "created_at")
    readonly_fields = fields
    ordering = ("-seq",)
    can_delete = False

    def has_add_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin[Conversation]):
    list_display = ("id", "kind", "status", "owner", "course", "answered_by", "last_seq")
    list_filter = ("kind", "status")
    search_fields = ("owner__username", "course__title")
    raw_id_fields = ("owner", "course", "instructor", "answered_by")
    readonly_fields = ("last_seq", "owner_read_seq", "staff_read_seq", "last_message_at")
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin[Message]):
    list_display = ("id", "conversation", "seq", "sender", "created_at")
    search_fields = ("body",)
    raw_id_fields = ("conversation", "sender")


@admin.register(ReadMarker)
class ReadMarkerAdmin(admin.ModelAdmin[ReadMarker]):
    list_display = ("conversation", "user", "seq", "is_notified", "updated_at")
    raw_id_fields = ("conversation", "user")
