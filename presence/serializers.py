"""Response shapes of the presence endpoints, for the OpenAPI schema."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers


class OnlineUserSerializer(serializers.Serializer[Any]):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField()
    connections = serializers.IntegerField()
    age_s = serializers.FloatField(help_text="Seconds since the last heartbeat.")
    stale = serializers.BooleanField(help_text="Missed heartbeats: the server may have died.")


class RecentlyOfflineSerializer(serializers.Serializer[Any]):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    last_seen = serializers.DateTimeField()


class OnlineUsersSerializer(serializers.Serializer[Any]):
    ttl_s = serializers.FloatField()
    count = serializers.IntegerField()
    users = OnlineUserSerializer(many=True)
    recently_offline = RecentlyOfflineSerializer(many=True)


class WatcherSerializer(serializers.Serializer[Any]):
    user_id = serializers.IntegerField()
    username = serializers.CharField()
    lesson_id = serializers.IntegerField()
    lesson_title = serializers.CharField()
    position = serializers.FloatField(help_text="Seconds into the lesson.")
    playing = serializers.BooleanField()
    reported_at = serializers.DateTimeField()
    age_s = serializers.FloatField()
    stale = serializers.BooleanField()


class WatchingSerializer(serializers.Serializer[Any]):
    course_id = serializers.IntegerField()
    watch_ttl_s = serializers.FloatField()
    watchers = WatcherSerializer(many=True)
