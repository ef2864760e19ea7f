from django.urls import path

from . import views

urlpatterns = [
    path("presence/online/", views.online_users, name="presence-online"),
    path("courses/<int:course_id>/watching/", views.course_watching, name="course-watching"),
]
