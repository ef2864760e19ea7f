from django.apps import AppConfig


class CoursesConfig(AppConfig):
    name = "courses"

    def ready(self) -> None:
        from . import ws  # noqa: F401  (registers the course.* websocket commands)
