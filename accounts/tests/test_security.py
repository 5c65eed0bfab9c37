"""Login throttling and token forgery (issue: hardening)."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from django.conf import settings as django_settings
from django.db import connection
from rest_framework_simplejwt.tokens import AccessToken

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
