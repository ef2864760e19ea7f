from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from .models import VideoJob


@admin.register(VideoJob)
class VideoJobAdmin(admin.ModelAdmin[VideoJob]):
    list_display = (
        "file_name",
        "owner",
        "upload_type",
        "status",
        "stage",
        "progress",
        "attempt",
        "run",
        "updated_at",
    )
    list_filter = ("status", "upload_type")
    search_fields = ("file_name", "owner__username", "owner__email")
    list_select_related = ("owner",)
    ordering = ("-created_at",)
    date_hierarchy = "created_at"
    # Processing state is written by the workers through the services; the admin only
    # reviews it (reprocess with `manage.py reprocess_videos` or the API).
    readonly_fields = (
        "id",
        "owner",
        "file_name",
        "upload_type",
        "course",
        "content_index",
        "language",
        "burn_subtitles",
        "status",
        "stage",
        "progress",
        "message",
        "result_pretty",
        "attempt",
        "run",
        "claimed_by",
        "heartbeat_at",
        "source",
        "size_bytes",
        "created_at",
        "updated_at",
        "finished_at",
    )
    exclude = ("result",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description="result")
    def result_pretty(self, job: VideoJob) -> str:
        return format_html("<pre>{}</pre>", json.dumps(job.result, indent=2, ensure_ascii=False))
