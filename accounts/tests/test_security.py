"""Login throttling and token forgery (issue: hardening)."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings as django_settings
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

from accounts.models import User

pytestmark = pytest.mark.django_db


def login(client, email: str, password: str = "wrong", ip: str = "203.0.113.7", **headers: str):
    return client.post(
        "/auth/login",
        {"email": email, "password": password},
        content_type="application/json",
        REMOTE_ADDR=ip,
        headers=headers,
    )


def test_sixth_attempt_on_one_email_is_429_from_any_address(client, user) -> None:
    for i in range(5):
        assert login(client, "staff@example.com", ip=f"198.51.100.{i}").status_code == 401
    answer = login(client, "Staff@Example.com", ip="198.51.100.99")
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) > 0
    assert "detail" in answer.json()
    # Even the right password waits: that is the point.
    assert login(client, "staff@example.com", "correct-horse-battery", ip="198.51.100.98").status_code == 429


def test_one_address_trying_many_emails_is_429(client, db) -> None:
    for i in range(20):
        assert login(client, f"user{i}@example.com").status_code == 401
    assert login(client, "user99@example.com").status_code == 429


def test_forged_forwarded_for_does_not_dodge_the_address_throttle(client, db) -> None:
    for i in range(20):
        login(client, f"user{i}@example.com", X_Forwarded_For=f"10.0.0.{i}")
    assert login(client, "other@example.com", X_Forwarded_For="10.9.9.9").status_code == 429


def test_forwarded_for_is_used_when_a_proxy_is_configured(client, db, settings) -> None:
    settings.REST_FRAMEWORK = {**django_settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    for i in range(25):
        answer = login(client, f"user{i}@example.com", ip="127.0.0.1", X_Forwarded_For=f"192.0.2.{i}")
        assert answer.status_code == 401, "each client behind the proxy has its own budget"


def test_attempts_are_counted_in_the_shared_cache(client, db) -> None:
    login(client, "staff@example.com")
    if "DatabaseCache" in django_settings.CACHES["default"]["BACKEND"]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM crm_cache")
            assert cursor.fetchone()[0] >= 2  # one key per address, one per email


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def claims(user) -> dict:
    return dict(AccessToken.for_user(user).payload)


@pytest.mark.parametrize("forgery", ["other_key", "expired", "alg_none", "hs512", "garbage", "refresh_as_access"])
def test_forged_expired_or_wrong_algorithm_tokens_are_401(client, user, claims, forgery: str) -> None:
    key = django_settings.SECRET_KEY
    if forgery == "other_key":
        token = jwt.encode(claims, "not-our-secret-key-but-long-enough-32b", algorithm="HS256")
    elif forgery == "expired":
        access = AccessToken.for_user(user)
        access.set_exp(lifetime=-timedelta(seconds=1))
        token = str(access)
    elif forgery == "alg_none":
        token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."
    elif forgery == "hs512":
        token = jwt.encode(claims, key, algorithm="HS512")
    elif forgery == "refresh_as_access":
        token = jwt.encode({**claims, "token_type": "refresh"}, key, algorithm="HS256")
    else:
        token = "a.b.c"
    answer = client.get("/whatsapp/stats", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401


def test_a_genuine_token_still_works(client, user) -> None:
    token = str(AccessToken.for_user(user))
    assert client.get("/whatsapp/stats", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_access_tokens_are_short_lived() -> None:
    assert django_settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"] <= timedelta(minutes=15)


def test_with_redis_url_the_cache_is_redis() -> None:
    """Every worker and host shares the throttle's counts: with REDIS_URL they live in Redis."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import redis

    url = "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    script = (
        "from django.core.cache import cache; from django.conf import settings; "
        "cache.set('crm-test-key', 'shared', 30); print(settings.CACHES['default']['BACKEND'])"
    )
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", script],
        env={**os.environ, "REDIS_URL": url},
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "RedisCache" in out.stdout, out.stderr
    client = redis.Redis.from_url(url)
    assert any(b"crm-test-key" in key for key in client.keys("*"))
    client.flushdb()


def test_changing_the_password_revokes_every_earlier_token(client, user) -> None:
    before = login(client, "staff@example.com", "correct-horse-battery").json()
    refreshed = client.post("/auth/refresh", {"refreshToken": before["refreshToken"]}, content_type="application/json")
    earlier = [before["accessToken"], refreshed.json()["accessToken"]]
    admin = User.objects.create_superuser(email="boss@example.com", password="pw")
    client.force_login(admin)
    changed = client.post(
        f"/admin/accounts/user/{user.pk}/password/",
        {"password1": "Another-long-pass-7", "password2": "Another-long-pass-7", "usable_password": "true"},
    )
    assert changed.status_code == 302
    client.logout()
    for access in earlier:
        assert client.get("/whatsapp/stats", headers={"Authorization": f"Bearer {access}"}).status_code == 401
    for refresh in [refreshed.json()["refreshToken"]]:
        answer = client.post("/auth/refresh", {"refreshToken": refresh}, content_type="application/json")
        assert answer.status_code == 401
    after = login(client, "staff@example.com", "Another-long-pass-7")
    assert after.status_code == 200
    access = after.json()["accessToken"]
    assert client.get("/whatsapp/stats", headers={"Authorization": f"Bearer {access}"}).status_code == 200
    again = client.post(
        "/auth/refresh", {"refreshToken": after.json()["refreshToken"]}, content_type="application/json"
    )
    assert again.status_code == 200


# Spellings of admin@example.com: case, spaces, a dotless ı (PostgreSQL's UPPER makes it I),
# fullwidth letters (NFKC).
SPELLINGS = [
    "admin@example.com",
    "Admin@Example.COM",
    "admın@example.com",
    "ADMIN@EXAMPLE.COM ",
    "ａｄｍｉｎ@example.com",
    "admin@ｅxample.com",
]


def test_every_spelling_of_one_address_counts_against_one_login_limit(client, db) -> None:
    User.objects.create_user(email="admin@example.com", password="correct-horse-battery")
    for i, spelling in enumerate(SPELLINGS[:5]):
        assert login(client, spelling, ip=f"198.51.100.{i}").status_code == 401
    assert login(client, SPELLINGS[5], "correct-horse-battery", ip="198.51.100.99").status_code == 429


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_spelling_logs_in_as_the_one_user_on_every_database(client, db, spelling: str) -> None:
    admin = User.objects.create_user(email="admin@example.com", password="correct-horse-battery")
    answer = login(client, spelling, "correct-horse-battery")
    assert answer.status_code == 200
    assert AccessToken(answer.json()["accessToken"])["user_id"] == str(admin.pk)


def test_a_look_alike_of_an_existing_address_cannot_be_a_second_user(client, db) -> None:
    User.objects.create_user(email="admin@example.com", password="correct-horse-battery")
    client.force_login(User.objects.create_superuser(email="boss@example.com", password="pw"))
    password = "Very-long-pass-123"
    answer = client.post(
        "/admin/accounts/user/add/",
        {"email": "Admın@Example.com", "password1": password, "password2": password, "usable_password": "true"},
    )
    assert answer.status_code == 200
    assert "already exists" in answer.content.decode()
    assert User.objects.count() == 2
