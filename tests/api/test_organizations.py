from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.conftest import TestUser, UserFactory

ORGS = "/api/v1/organizations/"
MakeOrg = Callable[..., Awaitable[dict[str, Any]]]


async def test_creator_becomes_owner(
    client: httpx.AsyncClient, user: TestUser, make_org: MakeOrg
) -> None:
    org = await make_org(user)
    r = await client.get(f"{ORGS}{org['id']}/members", headers=user.headers)
    assert r.status_code == 200
    assert r.json()["count"] == 1
    assert r.json()["data"][0] == {
        **r.json()["data"][0],
        "user_id": str(user.id),
        "role": "OWNER",
        "email": user.email,
    }


async def test_members_see_their_organizations_only(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: MakeOrg
) -> None:
    alice, bob = await make_user(), await make_user()
    mine = await make_org(alice)
    theirs = await make_org(bob)
    r = await client.get(ORGS, headers=alice.headers)
    assert r.status_code == 200
    ids = {o["id"] for o in r.json()["data"]}
    assert mine["id"] in ids and theirs["id"] not in ids
    assert r.json()["count"] == 1


async def test_superuser_sees_every_organization(
    client: httpx.AsyncClient, superuser: TestUser, user: TestUser, make_org: MakeOrg
) -> None:
    org = await make_org(user)
    r = await client.get(ORGS, params={"limit": 1000}, headers=superuser.headers)
    assert org["id"] in {o["id"] for o in r.json()["data"]}
    assert (await client.get(f"{ORGS}{org['id']}", headers=superuser.headers)).status_code == 200
    assert (await client.get(f"{ORGS}{uuid.uuid4()}", headers=superuser.headers)).status_code == 404


async def test_non_member_gets_403_and_no_existence_leak(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: MakeOrg
) -> None:
    owner, stranger = await make_user(), await make_user()
    org = await make_org(owner)
    existing = await client.get(f"{ORGS}{org['id']}", headers=stranger.headers)
    missing = await client.get(f"{ORGS}{uuid.uuid4()}", headers=stranger.headers)
    assert existing.status_code == missing.status_code == 403
    assert existing.json() == missing.json() == {"detail": "Not enough permissions"}
    r = await client.get(f"{ORGS}{org['id']}/members", headers=stranger.headers)
    assert r.status_code == 403


async def test_owner_manages_members(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: MakeOrg
) -> None:
    owner, member, newcomer = await make_user(), await make_user(), await make_user()
    org = await make_org(owner, member)
    # A plain member cannot add people.
    r = await client.post(
        f"{ORGS}{org['id']}/members", json={"email": newcomer.email}, headers=member.headers
    )
    assert r.status_code == 403
    r = await client.post(
        f"{ORGS}{org['id']}/members", json={"email": newcomer.email}, headers=owner.headers
    )
    assert r.status_code == 201
    r = await client.post(
        f"{ORGS}{org['id']}/members", json={"user_id": str(newcomer.id)}, headers=owner.headers
    )
    assert r.status_code == 409
    r = await client.post(
        f"{ORGS}{org['id']}/members", json={"email": "ghost@example.com"}, headers=owner.headers
    )
    assert r.status_code == 404
    r = await client.post(f"{ORGS}{org['id']}/members", json={}, headers=owner.headers)
    assert r.status_code == 400
    # The newcomer now sees the organization; then the owner removes them.
    assert (await client.get(f"{ORGS}{org['id']}", headers=newcomer.headers)).status_code == 200
    r = await client.delete(f"{ORGS}{org['id']}/members/{newcomer.id}", headers=owner.headers)
    assert r.status_code == 200
    assert (await client.get(f"{ORGS}{org['id']}", headers=newcomer.headers)).status_code == 403


async def test_member_may_leave_but_last_owner_may_not(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: MakeOrg
) -> None:
    owner, member = await make_user(), await make_user()
    org = await make_org(owner, member)
    r = await client.delete(f"{ORGS}{org['id']}/members/{owner.id}", headers=owner.headers)
    assert r.status_code == 400
    r = await client.delete(f"{ORGS}{org['id']}/members/{member.id}", headers=member.headers)
    assert r.status_code == 200
    r = await client.delete(f"{ORGS}{org['id']}/members/{member.id}", headers=owner.headers)
    assert r.status_code == 404


async def test_create_organization_validates_name(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.post(ORGS, json={"name": ""}, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "name"]
    assert (await client.post(ORGS, json={"name": "x"})).status_code == 401


async def test_a_lone_surrogate_is_a_422_that_echoes_it(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    # JSON admits "\ud800"; UTF-8 cannot encode it back into the error that echoes it.
    r = await client.post(
        ORGS,
        content=b'{"name": "\\ud800"}',
        headers={**user.headers, "content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    # As a key, echoed in the error that lists the whole body (name missing).
    r = await client.post(
        ORGS,
        content=b'{"\\ud800": 1}',
        headers={**user.headers, "content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert (await client.get(ORGS, headers=user.headers)).json()["count"] == 0


async def test_two_owners_leaving_at_once_leave_one_owner(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: MakeOrg
) -> None:
    a, b = await make_user(), await make_user()
    org = await make_org(a)
    r = await client.post(
        f"{ORGS}{org['id']}/members",
        json={"user_id": str(b.id), "role": "OWNER"},
        headers=a.headers,
    )
    assert r.status_code == 201, r.text
    responses = await asyncio.gather(
        *(client.delete(f"{ORGS}{org['id']}/members/{u.id}", headers=u.headers) for u in (a, b))
    )
    assert sorted(r.status_code for r in responses) == [200, 400]
    stayed = a if responses[0].status_code == 400 else b
    members = (await client.get(f"{ORGS}{org['id']}/members", headers=stayed.headers)).json()
    assert [(m["user_id"], m["role"]) for m in members["data"]] == [(str(stayed.id), "OWNER")]


async def test_the_same_member_added_at_once_is_added_once(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: MakeOrg
) -> None:
    owner, newcomer = await make_user(), await make_user()
    org = await make_org(owner)
    responses = await asyncio.gather(
        *(
            client.post(
                f"{ORGS}{org['id']}/members",
                json={"user_id": str(newcomer.id)},
                headers=owner.headers,
            )
            for _ in range(3)
        )
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409]
