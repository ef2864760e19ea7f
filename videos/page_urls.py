from django.urls import path

from . import pages

urlpatterns = [
    path("videos/", pages.video_queue, name="video-queue"),
]
