from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"

    def ready(self) -> None:
        from . import ws  # noqa: F401  (registers the notification.* websocket commands)
