from django.contrib import admin

from .models import Course, Lesson


class LessonInline(admin.TabularInline[Lesson, Course]):
    model = Lesson
    extra = 0


@admin.register(Course)
class CourseAdmin(admin.ModelAdmin[Course]):
    list_display = ("title", "instructor", "is_published", "created_at")
    list_filter = ("is_published",)
    search_fields = ("title", "instructor__username")
    prepopulated_fields = {"slug": ("title",)}
    inlines = (LessonInline,)
