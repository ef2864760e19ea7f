from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self) -> None:
        from . import ws  # noqa: F401  (registers the chat.* websocket commands)
