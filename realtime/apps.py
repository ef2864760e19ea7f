from django.apps import AppConfig


class RealtimeConfig(AppConfig):
    name = "realtime"

    def ready(self) -> None:
        from . import builtin_commands, signals  # noqa: F401  (registers resume/ping, logout hook)
