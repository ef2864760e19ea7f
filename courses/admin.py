from django.contrib import admin

from .models import Comment, Course, Lesson, Purchase, Review


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


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin[Purchase]):
    list_display = ("id", "user", "course", "created_at")
    list_filter = ("created_at",)
    search_fields = ("user__username", "course__title")
    list_select_related = ("user", "course")
    # Made through the purchase service, which notifies; the admin only reviews them.
    readonly_fields = ("user", "course", "created_at")


@admin.register(Comment)
class CommentAdmin(admin.ModelAdmin[Comment]):
    list_display = ("id", "course", "author", "parent", "created_at")
    list_filter = ("created_at",)
    search_fields = ("body", "author__username", "course__title")
    list_select_related = ("course", "author")
    raw_id_fields = ("course", "author", "parent")


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin[Review]):
    list_display = ("id", "course", "user", "rating", "updated_at")
    list_filter = ("rating",)
    search_fields = ("body", "user__username", "course__title")
    list_select_related = ("course", "user")
    raw_id_fields = ("course", "user")
