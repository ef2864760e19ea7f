from django.urls import path

from . import views

urlpatterns = [
    path("videos/", views.video_jobs, name="video-jobs"),
    path("videos/<uuid:job_id>/", views.video_job_detail, name="video-job-detail"),
    path("videos/<uuid:job_id>/reprocess/", views.video_job_reprocess, name="video-job-reprocess"),
]
