from __future__ import annotations

from rest_framework import serializers

from .models import Course, Lesson


class LessonSerializer(serializers.ModelSerializer[Lesson]):
    class Meta:
        model = Lesson
        fields = ("id", "position", "title", "duration_s")


class CourseSerializer(serializers.ModelSerializer[Course]):
    instructor_id = serializers.IntegerField(read_only=True)
    instructor_name = serializers.CharField(source="instructor.username", read_only=True)
    rating_average = serializers.SerializerMethodField()
    rating_count = serializers.SerializerMethodField()
    # Distinct users on the course page now (presence); null when Redis is unreachable.
    viewer_count = serializers.SerializerMethodField()

    class Meta:
        model = Course
        fields: tuple[str, ...] = (
            "id",
            "title",
            "slug",
            "description",
            "instructor_id",
            "instructor_name",
            "is_published",
            "price_cents",
            "rating_average",
            "rating_count",
            "viewer_count",
        )

    def get_rating_average(self, course: Course) -> float | None:
        average = getattr(course, "rating_average", None)
        return None if average is None else round(float(average), 2)

    def get_rating_count(self, course: Course) -> int:
        return int(getattr(course, "rating_count", 0) or 0)

    def get_viewer_count(self, course: Course) -> int | None:
        counts = self.context.get("viewer_counts")
        return None if counts is None else int(counts.get(course.pk, 0))


class CourseDetailSerializer(CourseSerializer):
    lessons = LessonSerializer(many=True, read_only=True)

    class Meta(CourseSerializer.Meta):
        fields: tuple[str, ...] = (*CourseSerializer.Meta.fields, "lessons")
