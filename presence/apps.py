from django.apps import AppConfig


class PresenceConfig(AppConfig):
    name = "presence"

    def ready(self) -> None:
        from . import ws  # noqa: F401  (registers lesson.watch and the socket hooks)
