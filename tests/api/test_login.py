from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from jose import jwt

from app.core import security
from app.core.config import Settings
from tests.conftest import SUPERUSER_EMAIL, SUPERUSER_PASSWORD, UserFactory, token_headers

LOGIN = "/api/v1/login/access-token"


async def login(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post(LOGIN, data={"username": email, "password": password})


async def test_login_returns_bearer_token(client: httpx.AsyncClient) -> None:
    r = await login(client, SUPERUSER_EMAIL, SUPERUSER_PASSWORD)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    me = await client.post(
        "/api/v1/login/test-token", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200
    assert me.json()["email"] == SUPERUSER_EMAIL
    assert "hashed_password" not in me.json()


async def test_login_email_is_case_insensitive(client: httpx.AsyncClient) -> None:
    r = await login(client, SUPERUSER_EMAIL.upper(), SUPERUSER_PASSWORD)
    assert r.status_code == 200


async def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[str] = []
    real_verify = security.verify_password

    def counting_verify(password: str, hashed: str) -> tuple[bool, str | None]:
        calls.append(hashed)
        return real_verify(password, hashed)

    monkeypatch.setattr(security, "verify_password", counting_verify)
    wrong = await login(client, SUPERUSER_EMAIL, "not-the-password")
    unknown = await login(client, "nobody@example.com", "whatever-password")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "Incorrect email or password"}
    # Both paths pay for one full password verification, so timing does not reveal accounts.
    assert len(calls) == 2


async def test_inactive_user_cannot_log_in(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    user = await make_user(active=False)
    r = await login(client, user.email, user.password)
    assert r.status_code == 400
    assert r.json() == {"detail": "Inactive user"}


async def test_login_form_requires_fields(client: httpx.AsyncClient) -> None:
    r = await client.post(LOGIN, data={"username": "a@example.com"})
    assert r.status_code == 422


async def test_password_verification_does_not_block_the_event_loop(
    client: httpx.AsyncClient,
) -> None:
    login_task = asyncio.create_task(login(client, SUPERUSER_EMAIL, SUPERUSER_PASSWORD))
    await asyncio.sleep(0.01)
    health = await client.get("/api/v1/utils/health-check/")
    assert health.status_code == 200
    # argon2 runs in a thread: the health check is answered while the login still hashes.
    assert not login_task.done()
    assert (await login_task).status_code == 200


async def test_bcrypt_hash_is_accepted_and_upgraded(
    client: httpx.AsyncClient, app: Any, make_user: UserFactory
) -> None:
    from passlib.hash import bcrypt

    from app.models.user import User

    user = await make_user()
    async with app.state.db.sessionmaker() as session:
        row = await session.get(User, user.id)
        assert row is not None
        row.hashed_password = bcrypt.hash(user.password)
        session.add(row)
        await session.commit()
    assert (await login(client, user.email, user.password)).status_code == 200
    async with app.state.db.sessionmaker() as session:
        row = await session.get(User, user.id)
        assert row is not None
        assert row.hashed_password.startswith("$argon2")


async def test_long_passwords_are_wrong_passwords_not_errors(
    client: httpx.AsyncClient, app: Any, make_user: UserFactory
) -> None:
    from passlib.hash import bcrypt

    from app.models.user import User

    user = await make_user()
    # Longer than passlib accepts: a mismatch, for known and unknown emails alike.
    for email in (user.email, "nobody@example.com"):
        assert (await login(client, email, "x" * 5000)).status_code == 401
    # A bcrypt hash made when bcrypt ignored all but the first 72 bytes of a password.
    long_password = "correct horse battery staple " * 4
    async with app.state.db.sessionmaker() as session:
        row = await session.get(User, user.id)
        assert row is not None
        row.hashed_password = bcrypt.hash(long_password.encode()[:72])
        session.add(row)
        await session.commit()
    assert (await login(client, user.email, long_password)).status_code == 200
    # Upgraded to argon2 over the whole password: its first 72 bytes alone no longer pass.
    assert (await login(client, user.email, long_password)).status_code == 200
    assert (await login(client, user.email, long_password[:72])).status_code == 401


async def test_no_credentials(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/users/me")
    assert r.status_code == 401
    assert r.json() == {"detail": "Not authenticated"}


def _forge(claims: dict[str, Any], key: str, algorithm: str) -> str:
    return str(jwt.encode(claims, key, algorithm=algorithm))


def _b64(data: bytes) -> str:
    import base64

    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "case",
    ["none", "hs512", "bad_signature", "expired", "no_exp", "no_sub", "garbage", "unknown_user"],
)
async def test_bad_tokens_are_rejected(
    client: httpx.AsyncClient, settings: Settings, make_user: UserFactory, case: str
) -> None:
    import json

    user = await make_user()
    future = datetime.now(UTC) + timedelta(minutes=5)
    claims: dict[str, Any] = {"sub": str(user.id), "exp": future}
    key = settings.secret_key
    if case == "none":
        header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        payload = _b64(json.dumps({"sub": str(user.id), "exp": int(future.timestamp())}).encode())
        token = f"{header}.{payload}."
    elif case == "hs512":
        token = _forge(claims, key, "HS512")
    elif case == "bad_signature":
        token = _forge(claims, "another-key-" + "y" * 32, "HS256")
    elif case == "expired":
        token = _forge(
            {"sub": str(user.id), "exp": datetime.now(UTC) - timedelta(seconds=5)}, key, "HS256"
        )
    elif case == "no_exp":
        token = _forge({"sub": str(user.id)}, key, "HS256")
    elif case == "no_sub":
        token = _forge({"exp": future}, key, "HS256")
    elif case == "unknown_user":
        token = _forge({"sub": str(uuid.uuid4()), "exp": future}, key, "HS256")
    else:
        token = "not-a-token"
    r = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.json() == {"detail": "Could not validate credentials"}


async def test_valid_minted_token_works(
    client: httpx.AsyncClient, settings: Settings, make_user: UserFactory
) -> None:
    user = await make_user()
    r = await client.get("/api/v1/users/me", headers=token_headers(settings, user.id))
    assert r.status_code == 200
    assert r.json()["id"] == str(user.id)


async def test_a_password_change_signs_out_the_tokens_issued_before_it(
    client: httpx.AsyncClient, settings: Settings, make_user: UserFactory, superuser: Any
) -> None:
    user = await make_user()

    def issued_earlier() -> dict[str, str]:
        now = datetime.now(UTC)
        claims = {
            "sub": str(user.id),
            "iat": now - timedelta(seconds=5),
            "exp": now + timedelta(minutes=5),
        }
        token = jwt.encode(claims, settings.secret_key, algorithm=settings.JWT_ALGORITHM)
        return {"Authorization": f"Bearer {token}"}

    old = issued_earlier()
    assert (await client.get("/api/v1/users/me", headers=old)).status_code == 200
    r = await client.patch(
        "/api/v1/users/me/password",
        json={"current_password": user.password, "new_password": "a-new-password-1"},
        headers=user.headers,
    )
    assert r.status_code == 200
    refused = await client.get("/api/v1/users/me", headers=old)
    assert refused.status_code == 401
    assert "password has changed" in refused.json()["detail"]
    fresh = await login(client, user.email, "a-new-password-1")
    headers = {"Authorization": f"Bearer {fresh.json()['access_token']}"}
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
    # A superuser setting the password does the same.
    old = issued_earlier()
    r = await client.patch(
        f"/api/v1/users/{user.id}", json={"password": "set-by-admin-1"}, headers=superuser.headers
    )
    assert r.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=old)).status_code == 401


async def test_a_token_issued_just_before_a_password_change_is_signed_out(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    """Within the same second too, and a token issued just after the change works: what is
    compared is the change the token was issued under, not times from different clocks."""
    user = await make_user()
    password = user.password
    for n in range(3):
        before = await login(client, user.email, password)
        headers = {"Authorization": f"Bearer {before.json()['access_token']}"}
        assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 200
        new_password = f"a-new-password-{n}"
        r = await client.patch(
            "/api/v1/users/me/password",
            json={"current_password": password, "new_password": new_password},
            headers=headers,
        )
        assert r.status_code == 200
        refused = await client.get("/api/v1/users/me", headers=headers)
        assert refused.status_code == 401, refused.text
        password = new_password
        after = await login(client, user.email, password)
        fresh = {"Authorization": f"Bearer {after.json()['access_token']}"}
        assert (await client.get("/api/v1/users/me", headers=fresh)).status_code == 200
