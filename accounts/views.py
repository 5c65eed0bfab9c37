from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.serializers import LoginSerializer, RefreshSerializer, TokensSerializer
from accounts.throttles import LoginEmailThrottle, LoginIPThrottle
from crm.api import ErrorSerializer
from crm.openapi import RETRY_AFTER, TOO_MANY


@extend_schema(
    summary="Log in with email and password",
    parameters=[RETRY_AFTER],
    responses={
        200: TokensSerializer,
        400: OpenApiResponse(ErrorSerializer, description="Malformed body"),
        401: OpenApiResponse(ErrorSerializer, description="Wrong email or password"),
        429: TOO_MANY,
    },
)
class LoginView(TokenObtainPairView):
    serializer_class = LoginSerializer
    throttle_classes = [LoginIPThrottle, LoginEmailThrottle]


@extend_schema(
    summary="Exchange a refresh token for a new access token (and a rotated refresh token)",
    responses={
        200: TokensSerializer,
        400: OpenApiResponse(ErrorSerializer, description="Malformed body"),
        401: OpenApiResponse(
            ErrorSerializer,
            description="Invalid, expired or used refresh token; its user deleted, deactivated or with a new password",
        ),
    },
)
class RefreshView(TokenRefreshView):
    serializer_class = RefreshSerializer
