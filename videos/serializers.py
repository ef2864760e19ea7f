"""The video job's REST shape, for the OpenAPI schema. The body itself comes from
`videos.events.job_payload`, the same builder as the `video.progress` event."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from .models import JobStatus, UploadType


class SubtitlesSerializer(serializers.Serializer[Any]):
    vtt = serializers.CharField(allow_null=True)
    srt = serializers.CharField(allow_null=True)
    language = serializers.CharField(allow_null=True)


class JobResultSerializer(serializers.Serializer[Any]):
    public_id = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    duration = serializers.FloatField(allow_null=True)
    format = serializers.CharField(allow_null=True)
    subtitles = SubtitlesSerializer()
    warning = serializers.CharField(allow_null=True)
    error = serializers.CharField(allow_null=True)


class VideoJobSerializer(serializers.Serializer[Any]):
    id = serializers.UUIDField()
    file_name = serializers.CharField()
    upload_type = serializers.ChoiceField(choices=UploadType.choices)
    content_index = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(choices=JobStatus.choices)
    stage = serializers.CharField()
    progress = serializers.IntegerField(min_value=0, max_value=100)
    message = serializers.CharField()
    result = JobResultSerializer()
    attempt = serializers.IntegerField()
    updated_at = serializers.DateTimeField()


class VideoUploadSerializer(serializers.Serializer[Any]):
    """Parses the multipart form; the rules (sizes, permissions) live in the service."""

    file = serializers.FileField(required=False, allow_empty_file=True)
    upload_type = serializers.CharField(required=False, allow_blank=True)
    course_id = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    content_index = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    language = serializers.CharField(required=False, allow_blank=True, max_length=16)
    burn_subtitles = serializers.BooleanField(required=False, default=False)
