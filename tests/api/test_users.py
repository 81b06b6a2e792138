from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx

from tests.conftest import TestUser, UserFactory

USERS = "/api/v1/users/"


async def test_read_and_update_me(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.get("/api/v1/users/me", headers=user.headers)
    assert r.status_code == 200
    assert r.json()["email"] == user.email
    r = await client.patch(
        "/api/v1/users/me", json={"full_name": "Ada Lovelace"}, headers=user.headers
    )
    assert r.status_code == 200
    assert r.json()["full_name"] == "Ada Lovelace"


async def test_update_me_cannot_take_another_email(
    client: httpx.AsyncClient, make_user: UserFactory
) -> None:
    a, b = await make_user(), await make_user()
    r = await client.patch("/api/v1/users/me", json={"email": b.email}, headers=a.headers)
    assert r.status_code == 409


async def test_update_me_cannot_escalate(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.patch("/api/v1/users/me", json={"is_superuser": True}, headers=user.headers)
    assert r.status_code == 200
    assert r.json()["is_superuser"] is False


async def test_update_me_rejects_bad_email(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.patch("/api/v1/users/me", json={"email": "not-an-email"}, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "email"]


async def test_change_password(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.patch(
        "/api/v1/users/me/password",
        json={"current_password": "wrong-password", "new_password": "another-password"},
        headers=user.headers,
    )
    assert r.status_code == 400
    r = await client.patch(
        "/api/v1/users/me/password",
        json={"current_password": user.password, "new_password": "another-password"},
        headers=user.headers,
    )
    assert r.status_code == 200
    login = await client.post(
        "/api/v1/login/access-token", data={"username": user.email, "password": "another-password"}
    )
    assert login.status_code == 200


async def test_superuser_user_crud(client: httpx.AsyncClient, superuser: TestUser) -> None:
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    r = await client.post(
        USERS, json={"email": email, "password": "a-long-password"}, headers=superuser.headers
    )
    assert r.status_code == 201
    created = r.json()
    assert (
        created["email"] == email and "password" not in created and "hashed_password" not in created
    )
    r = await client.post(
        USERS, json={"email": email, "password": "a-long-password"}, headers=superuser.headers
    )
    assert r.status_code == 409

    r = await client.get(USERS, params={"search": email}, headers=superuser.headers)
    assert r.status_code == 200
    assert r.json()["count"] == 1 and r.json()["data"][0]["id"] == created["id"]

    r = await client.patch(
        f"{USERS}{created['id']}", json={"full_name": "Changed"}, headers=superuser.headers
    )
    assert r.status_code == 200 and r.json()["full_name"] == "Changed"
    r = await client.get(f"{USERS}{created['id']}", headers=superuser.headers)
    assert r.status_code == 200

    r = await client.delete(f"{USERS}{created['id']}", headers=superuser.headers)
    assert r.status_code == 200 and r.json() == {"message": "User deleted successfully"}
    r = await client.get(f"{USERS}{created['id']}", headers=superuser.headers)
    assert r.status_code == 404


async def test_user_list_pagination(
    client: httpx.AsyncClient, superuser: TestUser, make_user: UserFactory
) -> None:
    for _ in range(3):
        await make_user()
    r = await client.get(USERS, params={"skip": 0, "limit": 2}, headers=superuser.headers)
    body = r.json()
    assert len(body["data"]) == 2
    assert body["count"] >= 4
    assert (
        await client.get(USERS, params={"limit": 0}, headers=superuser.headers)
    ).status_code == 422
    assert (
        await client.get(USERS, params={"skip": -1}, headers=superuser.headers)
    ).status_code == 422


async def test_superuser_cannot_delete_self(client: httpx.AsyncClient, superuser: TestUser) -> None:
    r = await client.delete(f"{USERS}{superuser.id}", headers=superuser.headers)
    assert r.status_code == 403


async def test_normal_user_cannot_use_admin_routes(
    client: httpx.AsyncClient, user: TestUser, make_user: UserFactory
) -> None:
    other = await make_user()
    forbidden = {"detail": "Not enough permissions"}
    for method, url, body in [
        ("GET", USERS, None),
        ("POST", USERS, {"email": "x@example.com", "password": "a-long-password"}),
        ("GET", f"{USERS}{other.id}", None),
        ("PATCH", f"{USERS}{other.id}", {"full_name": "x"}),
        ("DELETE", f"{USERS}{other.id}", None),
    ]:
        r = await client.request(method, url, json=body, headers=user.headers)
        assert r.status_code == 403, (method, url)
        assert r.json() == forbidden


async def test_user_reads_self_by_id(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.get(f"{USERS}{user.id}", headers=user.headers)
    assert r.status_code == 200


async def test_unknown_and_malformed_ids(client: httpx.AsyncClient, superuser: TestUser) -> None:
    assert (
        await client.get(f"{USERS}{uuid.uuid4()}", headers=superuser.headers)
    ).status_code == 404
    r = await client.get(f"{USERS}not-a-uuid", headers=superuser.headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["path", "user_id"]


async def test_create_user_validates_body(client: httpx.AsyncClient, superuser: TestUser) -> None:
    r = await client.post(
        USERS, json={"email": "ok@example.com", "password": "short"}, headers=superuser.headers
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "password"]


async def test_deactivated_user_is_refused_on_the_next_request(
    client: httpx.AsyncClient, superuser: TestUser, user: TestUser
) -> None:
    compose = "/api/v1/prompts/compose"
    assert (await client.post(compose, json={}, headers=user.headers)).status_code == 200
    r = await client.patch(
        f"{USERS}{user.id}", json={"is_active": False}, headers=superuser.headers
    )
    assert r.status_code == 200
    r = await client.post(compose, json={}, headers=user.headers)
    assert r.status_code == 400 and r.json()["detail"] == "Inactive user"
    r = await client.get("/api/v1/users/me", headers=user.headers)
    assert r.status_code == 400


async def test_demoted_superuser_loses_rights_on_the_next_request(
    client: httpx.AsyncClient, superuser: TestUser, make_user: UserFactory
) -> None:
    other = await make_user(superuser=True)
    assert (await client.get(USERS, headers=other.headers)).status_code == 200
    r = await client.patch(
        f"{USERS}{other.id}", json={"is_superuser": False}, headers=superuser.headers
    )
    assert r.status_code == 200
    assert (await client.get(USERS, headers=other.headers)).status_code == 403


async def test_superuser_updates_own_row_through_the_admin_route(
    client: httpx.AsyncClient, superuser: TestUser
) -> None:
    # The caller's user and the row the route loads are one object in the request's session.
    r = await client.patch(
        f"{USERS}{superuser.id}", json={"full_name": "Root"}, headers=superuser.headers
    )
    assert r.status_code == 200 and r.json()["full_name"] == "Root"
    r = await client.get("/api/v1/users/me", headers=superuser.headers)
    assert r.json()["full_name"] == "Root"


async def test_one_email_taken_at_once_is_one_success_and_409s(
    client: httpx.AsyncClient, make_user: UserFactory, superuser: TestUser
) -> None:
    users = [await make_user() for _ in range(3)]
    email = f"race-{uuid.uuid4().hex[:8]}@example.com"
    responses = await asyncio.gather(
        *(client.patch("/api/v1/users/me", json={"email": email}, headers=u.headers) for u in users)
    )
    assert sorted(r.status_code for r in responses) == [200, 409, 409]
    body = {"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "password": "password-123"}
    responses = await asyncio.gather(
        *(client.post(USERS, json=body, headers=superuser.headers) for _ in range(3))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409]


async def test_the_only_owner_of_an_organization_is_not_deleted(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: Any, superuser: TestUser
) -> None:
    owner, other = await make_user(), await make_user()
    org = await make_org(owner, name=f"Acme {uuid.uuid4().hex[:6]}")
    r = await client.delete(f"{USERS}{owner.id}", headers=superuser.headers)
    assert r.status_code == 409 and org["name"] in r.json()["detail"]
    r = await client.post(
        f"/api/v1/organizations/{org['id']}/members",
        json={"user_id": str(other.id), "role": "OWNER"},
        headers=owner.headers,
    )
    assert r.status_code == 201
    assert (await client.delete(f"{USERS}{owner.id}", headers=superuser.headers)).status_code == 200
