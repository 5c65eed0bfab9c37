"""The guide's login contract on top of SimpleJWT: camelCase keys, nothing rewritten."""

from rest_framework import serializers
from rest_framework_simplejwt.serializers import (
    TokenObtainPairSerializer,
    TokenRefreshSerializer,
)


class LoginSerializer(TokenObtainPairSerializer):
    default_error_messages = {"no_active_account": "Invalid email or password."}

    def validate(self, attrs: dict) -> dict:
        tokens = super().validate(attrs)
        return {"accessToken": tokens["access"], "refreshToken": tokens["refresh"]}


class RefreshSerializer(TokenRefreshSerializer):
    refresh = None
    refreshToken = serializers.CharField(write_only=True)  # noqa: N815 - the guide's JSON key

    def validate(self, attrs: dict) -> dict:
        tokens = super().validate({"refresh": attrs["refreshToken"]})
        answer = {"accessToken": tokens["access"]}
        if "refresh" in tokens:  # ROTATE_REFRESH_TOKENS: the old refresh token is now blacklisted
            answer["refreshToken"] = tokens["refresh"]
        return answer


class TokensSerializer(serializers.Serializer):
    accessToken = serializers.CharField()  # noqa: N815
    refreshToken = serializers.CharField()  # noqa: N815
