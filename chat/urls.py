from django.urls import path

from . import views

urlpatterns = [
    path("chat/conversations/", views.conversations, name="chat-conversations"),
    path(
        "chat/conversations/<int:conversation_id>/messages/",
        views.messages,
        name="chat-messages",
    ),
    path("chat/conversations/<int:conversation_id>/read/", views.mark_read, name="chat-read"),
    path("chat/support/inbox/", views.support_inbox, name="chat-support-inbox"),
]
