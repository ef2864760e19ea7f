from django.urls import path

from . import views

urlpatterns = [
    path("courses/", views.course_list, name="course-list"),
    path("courses/<int:course_id>/", views.course_detail, name="course-detail"),
]
