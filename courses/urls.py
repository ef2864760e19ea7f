from django.urls import path

from . import social_views, views

urlpatterns = [
    path("courses/", views.course_list, name="course-list"),
    path("courses/<int:course_id>/", views.course_detail, name="course-detail"),
    path("courses/<int:course_id>/purchase/", social_views.purchase, name="course-purchase"),
    path("courses/<int:course_id>/comments/", social_views.comments, name="course-comments"),
    path("courses/<int:course_id>/reviews/", social_views.reviews, name="course-reviews"),
]
