from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlmodel import select

from app.models.api_key import ApiKey
from tests.conftest import TestUser, UserFactory

KEYS = "/api/v1/api-keys/"
MakeOrg = Callable[..., Awaitable[dict[str, Any]]]


async def _create_key(
    client: httpx.AsyncClient, owner: TestUser, org: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "ci"}
    if org is not None:
        body["organization_id"] = org["id"]
    r = await client.post(KEYS, json=body, headers=owner.headers)
    assert r.status_code == 201, r.text
    return dict(r.json())


async def test_key_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, app: Any, user: TestUser
) -> None:
    created = await _create_key(client, user)
    secret = created["key"]
    assert secret.startswith("sk_") and created["prefix"] == secret[:10]
    listed = (await client.get(KEYS, headers=user.headers)).json()
    assert listed["count"] == 1
    assert "key" not in listed["data"][0] and "key_hash" not in listed["data"][0]
    async with app.state.db.sessionmaker() as session:
        stored = (await session.exec(select(ApiKey).where(ApiKey.owner_id == user.id))).one()
    assert secret not in stored.key_hash and len(stored.key_hash) == 64


async def test_api_key_authenticates_and_records_use(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    created = await _create_key(client, user)
    r = await client.get("/api/v1/users/me", headers={"X-API-Key": created["key"]})
    assert r.status_code == 200 and r.json()["id"] == str(user.id)
    listed = (await client.get(KEYS, headers=user.headers)).json()["data"][0]
    assert listed["last_used_at"] is not None


async def test_use_is_recorded_even_when_the_request_fails(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    # The key is resolved (and its use recorded) outside the request's transaction, which an
    # error rolls back.
    created = await _create_key(client, user)
    r = await client.get(f"/api/v1/subjects/{uuid.uuid4()}", headers={"X-API-Key": created["key"]})
    assert r.status_code == 404
    listed = (await client.get(KEYS, headers=user.headers)).json()["data"][0]
    assert listed["last_used_at"] is not None


async def test_revoked_and_unknown_keys_are_refused(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    created = await _create_key(client, user)
    r = await client.delete(f"{KEYS}{created['id']}", headers=user.headers)
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    for key in (created["key"], "sk_unknown"):
        r = await client.get("/api/v1/users/me", headers={"X-API-Key": key})
        assert r.status_code == 401
        assert r.json() == {"detail": "Could not validate credentials"}


async def test_superuser_key_has_no_superuser_rights(
    client: httpx.AsyncClient, superuser: TestUser
) -> None:
    created = await _create_key(client, superuser)
    r = await client.get("/api/v1/users/", headers={"X-API-Key": created["key"]})
    assert r.status_code == 403
    r = await client.post(
        "/api/v1/generation-models/",
        json={"name": "x", "provider": "local", "provider_config": {}},
        headers={"X-API-Key": created["key"]},
    )
    assert r.status_code == 403


async def test_organization_key_is_pinned_to_its_organization(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: MakeOrg
) -> None:
    owner = await make_user()
    org, other = await make_org(owner), await make_org(owner)
    created = await _create_key(client, owner, org)
    key_headers = {"X-API-Key": created["key"]}
    r = await client.get(KEYS, params={"organization_id": org["id"]}, headers=key_headers)
    assert r.status_code == 200 and r.json()["count"] == 1
    # Without organization_id the key acts for its organization.
    assert (await client.get(KEYS, headers=key_headers)).json()["count"] == 1
    r = await client.get(KEYS, params={"organization_id": other["id"]}, headers=key_headers)
    assert r.status_code == 403
    # The key sees its own organization only.
    orgs = (await client.get("/api/v1/organizations/", headers=key_headers)).json()
    assert [o["id"] for o in orgs["data"]] == [org["id"]]
    assert (
        await client.get(f"/api/v1/organizations/{other['id']}", headers=key_headers)
    ).status_code == 403
    # API keys cannot mint API keys.
    assert (await client.post(KEYS, json={"name": "x"}, headers=key_headers)).status_code == 403


async def test_key_stops_working_when_owner_leaves_organization(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: MakeOrg
) -> None:
    owner, member = await make_user(), await make_user()
    org = await make_org(owner, member)
    created = await _create_key(client, member, org)
    assert (
        await client.get("/api/v1/users/me", headers={"X-API-Key": created["key"]})
    ).status_code == 200
    r = await client.delete(
        f"/api/v1/organizations/{org['id']}/members/{member.id}", headers=owner.headers
    )
    assert r.status_code == 200
    assert (
        await client.get("/api/v1/users/me", headers={"X-API-Key": created["key"]})
    ).status_code == 403


async def test_cannot_create_key_for_foreign_organization(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: MakeOrg
) -> None:
    owner, stranger = await make_user(), await make_user()
    org = await make_org(owner)
    r = await client.post(
        KEYS, json={"name": "x", "organization_id": org["id"]}, headers=stranger.headers
    )
    assert r.status_code == 403
    r = await client.get(KEYS, params={"organization_id": org["id"]}, headers=stranger.headers)
    assert r.status_code == 403


async def test_only_creator_or_owner_revokes(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: MakeOrg
) -> None:
    owner, member, stranger = await make_user(), await make_user(), await make_user()
    org = await make_org(owner, member)
    created = await _create_key(client, member, org)
    assert (
        await client.delete(f"{KEYS}{created['id']}", headers=stranger.headers)
    ).status_code == 404
    assert (await client.delete(f"{KEYS}{created['id']}", headers=owner.headers)).status_code == 200


async def test_personal_keys_are_private(client: httpx.AsyncClient, make_user: UserFactory) -> None:
    a, b = await make_user(), await make_user()
    await _create_key(client, a)
    assert (await client.get(KEYS, headers=b.headers)).json()["count"] == 0


async def test_a_key_acts_on_the_account_only_within_its_organization(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: MakeOrg
) -> None:
    owner = await make_user()
    org, other = await make_org(owner), await make_org(owner)
    key = await _create_key(client, owner, org)
    headers = {"X-API-Key": key["key"]}
    # The same user's keys of another organization and personal ones are out of its reach.
    for target in (await _create_key(client, owner, other), await _create_key(client, owner)):
        assert (await client.delete(f"{KEYS}{target['id']}", headers=headers)).status_code == 404
    # The account itself (sign-in email, password) is changed in person only.
    r = await client.patch("/api/v1/users/me", json={"email": "x@example.com"}, headers=headers)
    assert r.status_code == 403
    r = await client.patch(
        "/api/v1/users/me/password",
        json={"current_password": owner.password, "new_password": "another-password-1"},
        headers=headers,
    )
    assert r.status_code == 403
    # What it may do: revoke its owner's keys of its own organization, itself included.
    sibling = await _create_key(client, owner, org)
    assert (await client.delete(f"{KEYS}{sibling['id']}", headers=headers)).status_code == 200
