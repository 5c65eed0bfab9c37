"""The guide's login contract on top of SimpleJWT: camelCase keys, nothing rewritten."""

from rest_framework import serializers
from rest_framework_simplejwt.authentication import JWTAuthentication
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
        # The checks every access token gets (JWTAuthentication.get_user): the user still exists, is
        # active and has not changed their password since (CHECK_REVOKE_TOKEN). SimpleJWT 5.5.1's
        # refresh makes none of them: a deleted user's token is a DoesNotExist (500), and a token
        # issued before a password change is refreshed (fixed upstream after 5.5.1, PR #928).
        JWTAuthentication().get_user(self.token_class(attrs["refreshToken"]))
        tokens = super().validate({"refresh": attrs["refreshToken"]})
        answer = {"accessToken": tokens["access"]}
        if "refresh" in tokens:  # ROTATE_REFRESH_TOKENS: the old refresh token is now blacklisted
            answer["refreshToken"] = tokens["refresh"]
        return answer


class TokensSerializer(serializers.Serializer):
    accessToken = serializers.CharField()  # noqa: N815
    refreshToken = serializers.CharField()  # noqa: N815
