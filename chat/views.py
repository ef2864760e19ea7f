"""Chat REST endpoints (DESIGN.md §5). Thin: parse, call one service or selector, shape."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User

from . import selectors, services
from .events import conversation_data, message_data
from .models import ConversationKind
from .permissions import get_conversation_for_user


class OpenConversationInput(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=ConversationKind.choices)
    course_id = serializers.IntegerField(min_value=1, required=False)


class SendMessageInput(serializers.Serializer[Any]):
    # Length is checked by the service, after trimming, so REST and websocket agree.
    body = serializers.CharField(trim_whitespace=False, allow_blank=True)
    client_id = serializers.CharField(required=False, trim_whitespace=False)


class MarkReadInput(serializers.Serializer[Any]):
    seq = serializers.IntegerField(min_value=0)


_conversation_schema = inline_serializer(
    "Conversation",
    {
        "id": serializers.IntegerField(),
        "kind": serializers.CharField(),
        "status": serializers.CharField(),
        "course": serializers.DictField(allow_null=True),
        "owner": serializers.DictField(),
        "instructor": serializers.DictField(allow_null=True),
        "answered_by": serializers.DictField(allow_null=True),
        "last_seq": serializers.IntegerField(),
        "unread_count": serializers.IntegerField(),
        "reads": serializers.ListField(child=serializers.DictField()),
        "created_at": serializers.DateTimeField(),
        "last_message_at": serializers.DateTimeField(allow_null=True),
    },
)
_message_schema = inline_serializer(
    "ChatMessage",
    {
        "id": serializers.IntegerField(),
        "conversation_id": serializers.IntegerField(),
        "seq": serializers.IntegerField(),
        "sender": serializers.DictField(),
        "is_from_staff": serializers.BooleanField(),
        "body": serializers.CharField(),
        "client_id": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
    },
)


def _user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


def _bad_input(error: services.InvalidChatInput) -> ValidationError:
    return ValidationError(error.message, code=error.code)


@extend_schema(
    methods=["GET"],
    responses=_conversation_schema,
    description="The user's conversations, most recently active first, with unread counts.",
)
@extend_schema(
    methods=["POST"],
    request=OpenConversationInput,
    responses={200: _conversation_schema, 201: _conversation_schema},
    description="Get or create: 201 when created, 200 when it existed.",
)
@api_view(["GET", "POST"])
def conversations(request: Request) -> Response:
    user = _user(request)
    if request.method == "GET":
        rows = selectors.conversations_for(user)
        return Response([conversation_data(row) for row in rows])
    form = OpenConversationInput(data=request.data)
    form.is_valid(raise_exception=True)
    try:
        conversation, created = services.open_conversation(
            actor=user,
            kind=form.validated_data["kind"],
            course_id=form.validated_data.get("course_id"),
        )
    except services.InvalidChatInput as error:
        raise _bad_input(error) from None
    return Response(
        conversation_data(selectors.conversation_for(user, conversation)),
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


@extend_schema(
    methods=["GET"],
    parameters=[
        OpenApiParameter("before_seq", int, description="Page backwards: messages below it."),
        OpenApiParameter("after_seq", int, description="Catch up forwards: messages above it."),
        OpenApiParameter("limit", int, description="1–200, default 50."),
    ],
    responses=inline_serializer(
        "ChatMessagePage",
        {
            "results": serializers.ListField(child=serializers.DictField()),
            "has_more": serializers.BooleanField(),
        },
    ),
    description="Messages in ascending seq. Without parameters: the newest page.",
)
@extend_schema(
    methods=["POST"],
    request=SendMessageInput,
    responses={201: _message_schema, 200: _message_schema},
    description="201 with the new message; 200 with the original when client_id repeats.",
)
@api_view(["GET", "POST"])
def messages(request: Request, conversation_id: int) -> Response:
    user = _user(request)
    if request.method == "POST":
        form = SendMessageInput(data=request.data)
        form.is_valid(raise_exception=True)
        try:
            sent = services.send_message(
                actor=user,
                conversation_id=conversation_id,
                body=form.validated_data["body"],
                client_id=form.validated_data.get("client_id"),
            )
        except services.InvalidChatInput as error:
            raise _bad_input(error) from None
        return Response(
            message_data(sent.message),
            status=status.HTTP_200_OK if sent.is_repeat else status.HTTP_201_CREATED,
        )
    conversation = get_conversation_for_user(user, conversation_id)
    query = _PageQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    page = selectors.message_page(conversation, **query.validated_data)
    return Response(
        {"results": [message_data(m) for m in page.messages], "has_more": page.has_more}
    )


class _PageQuery(serializers.Serializer[Any]):
    before_seq = serializers.IntegerField(min_value=1, required=False)
    after_seq = serializers.IntegerField(min_value=0, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=selectors.MAX_PAGE, required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "before_seq" in attrs and "after_seq" in attrs:
            raise ValidationError("Give before_seq or after_seq, not both.", code="invalid")
        return attrs


@extend_schema(
    request=MarkReadInput,
    responses=inline_serializer(
        "ChatRead",
        {
            "conversation_id": serializers.IntegerField(),
            "seq": serializers.IntegerField(),
            "unread_count": serializers.IntegerField(),
        },
    ),
    description="Moves the caller's read marker forward (never back) and returns it.",
)
@api_view(["POST"])
def mark_read(request: Request, conversation_id: int) -> Response:
    form = MarkReadInput(data=request.data)
    form.is_valid(raise_exception=True)
    result = services.mark_read(
        actor=_user(request), conversation_id=conversation_id, seq=form.validated_data["seq"]
    )
    return Response(
        {
            "conversation_id": result.conversation_id,
            "seq": result.seq,
            "unread_count": result.unread_count,
        }
    )


@extend_schema(
    responses=_conversation_schema,
    description="Admins: open support conversations, unread first, then most recent.",
)
@api_view(["GET"])
def support_inbox(request: Request) -> Response:
    user = _user(request)
    if not user.is_platform_admin:
        raise PermissionDenied("Only admins see the support inbox.")
    return Response([conversation_data(row) for row in selectors.support_inbox(user)])
