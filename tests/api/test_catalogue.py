"""Catalogue CRUD: subjects, products, styles, shot types, pose presets, shooting looks."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.conftest import TestUser as User
from tests.conftest import UserFactory

API = "/api/v1"
OrgFactory = Callable[..., Awaitable[dict[str, Any]]]

SLUGGED = {
    "subjects": {"name": "Ava Stone", "gender": "FEMALE", "age_class": "YOUNG"},
    "products": {"name": "Linen Shirt", "sku": "LS-1", "product_family": "APPAREL"},
    "styles": {"name": "Soft Editorial", "description": "soft editorial look"},
    "shot-types": {"name": "Hero Front", "framing": "Full Body", "view_angle": "Front"},
}
ALL = [*SLUGGED, "pose-presets", "shooting-looks"]


async def _shot_type_id(client: httpx.AsyncClient, who: User) -> str:
    r = await client.get(f"{API}/shot-types/", headers=who.headers)
    assert r.status_code == 200
    return str(r.json()["data"][0]["id"])


async def _body(client: httpx.AsyncClient, resource: str, who: User) -> dict[str, Any]:
    if resource in SLUGGED:
        return {**SLUGGED[resource], "slug": f"s-{uuid.uuid4().hex[:8]}"}
    if resource == "pose-presets":
        return {"name": "Hands on hips", "shot_type_id": await _shot_type_id(client, who)}
    return {"name": "Look 1", "lighting": "soft daylight", "output_format": "PNG"}


def _params(org: dict[str, Any] | None) -> dict[str, str]:
    return {"organization_id": org["id"]} if org else {}


@pytest.mark.parametrize("resource", ALL)
async def test_requires_authentication(client: httpx.AsyncClient, resource: str) -> None:
    assert (await client.get(f"{API}/{resource}/")).status_code == 401
    assert (await client.post(f"{API}/{resource}/", json={})).status_code == 401
    assert (await client.get(f"{API}/{resource}/{uuid.uuid4()}")).status_code == 401


@pytest.mark.parametrize("resource", ALL)
async def test_crud_round_trip(client: httpx.AsyncClient, user: User, resource: str) -> None:
    body = await _body(client, resource, user)
    r = await client.post(f"{API}/{resource}/", json=body, headers=user.headers)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["owner_id"] == str(user.id)
    assert created["organization_id"] is None

    r = await client.get(f"{API}/{resource}/{created['id']}", headers=user.headers)
    assert r.status_code == 200
    assert r.json()["name"] == body["name"]

    method = client.put if resource == "pose-presets" else client.patch
    r = await method(
        f"{API}/{resource}/{created['id']}", json={"name": "Renamed"}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Renamed"

    r = await client.get(f"{API}/{resource}/", headers=user.headers)
    assert created["id"] in [row["id"] for row in r.json()["data"]]

    r = await client.delete(f"{API}/{resource}/{created['id']}", headers=user.headers)
    assert r.status_code == 200
    assert (
        await client.get(f"{API}/{resource}/{created['id']}", headers=user.headers)
    ).status_code == 404


@pytest.mark.parametrize("resource", ALL)
async def test_unknown_id_is_404(client: httpx.AsyncClient, user: User, resource: str) -> None:
    missing = f"{API}/{resource}/{uuid.uuid4()}"
    assert (await client.get(missing, headers=user.headers)).status_code == 404
    assert (await client.delete(missing, headers=user.headers)).status_code == 404
    r = await client.get(f"{API}/{resource}/not-a-uuid", headers=user.headers)
    assert r.status_code == 422


@pytest.mark.parametrize("resource", ALL)
async def test_validation_errors_name_the_field(
    client: httpx.AsyncClient, user: User, resource: str
) -> None:
    body = await _body(client, resource, user)
    r = await client.post(f"{API}/{resource}/", json={**body, "name": ""}, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "name"]
    created = (await client.post(f"{API}/{resource}/", json=body, headers=user.headers)).json()
    method = client.put if resource == "pose-presets" else client.patch
    r = await method(f"{API}/{resource}/{created['id']}", json={"name": None}, headers=user.headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "name"]


@pytest.mark.parametrize("resource", list(SLUGGED))
async def test_slug_unique_per_owner(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: OrgFactory, resource: str
) -> None:
    alice, bob = await make_user(), await make_user()
    body = await _body(client, resource, alice)
    url = f"{API}/{resource}/"
    assert (await client.post(url, json=body, headers=alice.headers)).status_code == 201
    r = await client.post(url, json=body, headers=alice.headers)
    assert r.status_code == 409
    assert body["slug"] in r.json()["detail"]
    # Another user's personal space and an organization are other owners.
    assert (await client.post(url, json=body, headers=bob.headers)).status_code == 201
    org = await make_org(alice, bob)
    params = _params(org)
    assert (
        await client.post(url, json=body, headers=alice.headers, params=params)
    ).status_code == 201
    r = await client.post(url, json=body, headers=bob.headers, params=params)
    assert r.status_code == 409
    # Renaming onto a taken slug is a conflict too.
    other = await client.post(
        url, json={**body, "slug": "other-" + body["slug"]}, headers=alice.headers
    )
    r = await client.patch(
        f"{url}{other.json()['id']}", json={"slug": body["slug"]}, headers=alice.headers
    )
    assert r.status_code == 409
    r = await client.post(url, json={**body, "slug": "Not A Slug"}, headers=alice.headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "slug"]


async def test_slug_derived_from_name(client: httpx.AsyncClient, user: User) -> None:
    r = await client.post(
        f"{API}/subjects/", json={"name": "Élodie  Marchand!"}, headers=user.headers
    )
    assert r.status_code == 201
    assert r.json()["slug"] == "elodie-marchand"


@pytest.mark.parametrize("resource", ALL)
async def test_cross_organization_isolation(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: OrgFactory, resource: str
) -> None:
    alice, mallory = await make_user(), await make_user()
    org_a, org_b = await make_org(alice), await make_org(mallory)
    body = await _body(client, resource, alice)
    url = f"{API}/{resource}/"
    r = await client.post(url, json=body, headers=alice.headers, params=_params(org_a))
    assert r.status_code == 201, r.text
    row = r.json()
    assert row["organization_id"] == org_a["id"]

    # Mallory's own organization does not see it, and its count does not reveal it.
    r = await client.get(url, headers=mallory.headers, params=_params(org_b))
    ids = [item["id"] for item in r.json()["data"]]
    assert row["id"] not in ids
    assert r.json()["count"] == len(ids)
    for method in ("GET", "DELETE"):
        r = await client.request(
            method, f"{url}{row['id']}", headers=mallory.headers, params=_params(org_b)
        )
        assert r.status_code == 404
    update = "PUT" if resource == "pose-presets" else "PATCH"
    r = await client.request(
        update, f"{url}{row['id']}", json={"name": "x"}, headers=mallory.headers
    )
    assert r.status_code == 404
    # Asking for an organization one is not a member of is forbidden.
    r = await client.get(url, headers=mallory.headers, params=_params(org_a))
    assert r.status_code == 403
    # Organization rows are not personal rows, even for their creator.
    r = await client.get(f"{url}{row['id']}", headers=alice.headers)
    assert r.status_code == 404
    r = await client.get(f"{url}{row['id']}", headers=alice.headers, params=_params(org_a))
    assert r.status_code == 200


async def test_organization_members_share_rows(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: OrgFactory
) -> None:
    alice, bob = await make_user(), await make_user()
    org = await make_org(alice, bob)
    r = await client.post(
        f"{API}/products/", json={"name": "Shared"}, headers=alice.headers, params=_params(org)
    )
    product_id = r.json()["id"]
    r = await client.patch(
        f"{API}/products/{product_id}",
        json={"description": "edited by bob"},
        headers=bob.headers,
        params=_params(org),
    )
    assert r.status_code == 200
    assert r.json()["description"] == "edited by bob"
    r = await client.get(f"{API}/products/", headers=bob.headers, params=_params(org))
    assert r.json()["count"] == 1


async def test_pagination(client: httpx.AsyncClient, user: User) -> None:
    for i in range(3):
        await client.post(f"{API}/styles/", json={"name": f"Style {i}"}, headers=user.headers)
    r = await client.get(f"{API}/styles/", headers=user.headers, params={"skip": 1, "limit": 1})
    assert r.json()["count"] == 3
    assert [row["name"] for row in r.json()["data"]] == ["Style 1"]
    r = await client.get(f"{API}/styles/", headers=user.headers, params={"skip": 5})
    assert r.json() == {"data": [], "count": 3}
    r = await client.get(f"{API}/styles/", headers=user.headers, params={"limit": 0})
    assert r.status_code == 422


async def test_standard_shot_types_are_seeded_and_read_only(
    client: httpx.AsyncClient, user: User, make_org: OrgFactory
) -> None:
    r = await client.get(f"{API}/shot-types/", headers=user.headers)
    rows = r.json()["data"]
    slugs = {row["slug"] for row in rows}
    assert {"full-body-front", "full-body-back", "upper-body-front", "detail-front"} <= slugs
    assert {row["framing"] for row in rows} >= {
        "Full Body",
        "Upper Body",
        "Lower Body",
        "Upper Three Quarters",
        "Lower Three Quarters",
        "Detail",
    }
    back = next(row for row in rows if row["slug"] == "full-body-back")
    assert back["view_angle"] == "Back" and back["public"] is True
    # Visible inside an organization as well.
    org = await make_org(user)
    r = await client.get(f"{API}/shot-types/", headers=user.headers, params=_params(org))
    assert "full-body-front" in {row["slug"] for row in r.json()["data"]}
    # Readable, not writable.
    r = await client.patch(
        f"{API}/shot-types/{back['id']}", json={"name": "x"}, headers=user.headers
    )
    assert r.status_code == 403
    r = await client.delete(f"{API}/shot-types/{back['id']}", headers=user.headers)
    assert r.status_code == 403
    r = await client.post(
        f"{API}/shot-types/", json={"name": "Bad", "framing": "Sideways"}, headers=user.headers
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "framing"]


async def test_pose_preset_needs_a_visible_shot_type(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: OrgFactory
) -> None:
    alice, mallory = await make_user(), await make_user()
    org = await make_org(mallory)
    r = await client.post(
        f"{API}/shot-types/",
        json={"name": "Private", "framing": "Detail"},
        headers=mallory.headers,
        params=_params(org),
    )
    private_id = r.json()["id"]
    for shot_type_id in (str(uuid.uuid4()), private_id):
        r = await client.post(
            f"{API}/pose-presets/",
            json={"name": "Pose", "shot_type_id": shot_type_id},
            headers=alice.headers,
        )
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "shot_type_id"]
    r = await client.post(f"{API}/pose-presets/", json={"name": "Pose"}, headers=alice.headers)
    assert r.status_code == 422


async def test_shooting_look_references(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: OrgFactory
) -> None:
    alice, mallory = await make_user(), await make_user()
    org = await make_org(mallory)
    theirs = await client.post(
        f"{API}/products/", json={"name": "Theirs"}, headers=mallory.headers, params=_params(org)
    )
    mine = [
        (await client.post(f"{API}/products/", json={"name": n}, headers=alice.headers)).json()
        for n in ("Jacket", "Scarf")
    ]
    subject = await client.post(f"{API}/subjects/", json={"name": "Mia"}, headers=alice.headers)
    r = await client.post(
        f"{API}/shooting-looks/",
        json={
            "name": "Autumn",
            "subject_id": subject.json()["id"],
            "main_product_id": mine[0]["id"],
            "extra_product_ids": [mine[1]["id"]],
            "resolution_width": 1024,
            "resolution_height": 1536,
        },
        headers=alice.headers,
    )
    assert r.status_code == 201, r.text
    look = r.json()
    assert look["extra_product_ids"] == [mine[1]["id"]]
    assert look["output_format"] == "JPG"
    r = await client.patch(
        f"{API}/shooting-looks/{look['id']}",
        json={"extra_product_ids": [theirs.json()["id"]]},
        headers=alice.headers,
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "extra_product_ids"]
    r = await client.post(
        f"{API}/shooting-looks/",
        json={"name": "Bad", "main_product_id": theirs.json()["id"]},
        headers=alice.headers,
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "main_product_id"]
    r = await client.post(
        f"{API}/shooting-looks/",
        json={"name": "Bad", "resolution_width": 10},
        headers=alice.headers,
    )
    assert r.status_code == 422


async def test_system_prompts(client: httpx.AsyncClient, user: User, superuser: User) -> None:
    assert (await client.get(f"{API}/system-prompts/")).status_code == 401
    r = await client.get(f"{API}/system-prompts/", headers=user.headers)
    assert r.status_code == 200
    types = {row["prompt_type"] for row in r.json()["data"]}
    assert {"base", "negative", "enhancement", "prompt_generation", "editing"} <= types
    r = await client.get(f"{API}/system-prompts/base", headers=user.headers)
    assert r.status_code == 200 and r.json()["prompt"]
    assert (await client.get(f"{API}/system-prompts/nope", headers=user.headers)).status_code == 404
    r = await client.get(f"{API}/system-prompts/Bad-Type", headers=user.headers)
    assert r.status_code == 422
    r = await client.put(
        f"{API}/system-prompts/custom_note", json={"prompt": "x"}, headers=user.headers
    )
    assert r.status_code == 403
    r = await client.put(
        f"{API}/system-prompts/custom_note", json={"prompt": "first"}, headers=superuser.headers
    )
    assert r.json() == {"prompt_type": "custom_note", "prompt": "first"}
    r = await client.put(
        f"{API}/system-prompts/custom_note", json={"prompt": "second"}, headers=superuser.headers
    )
    assert r.status_code == 200
    r = await client.get(f"{API}/system-prompts/custom_note", headers=user.headers)
    assert r.json()["prompt"] == "second"
    r = await client.put(
        f"{API}/system-prompts/custom_note", json={"prompt": ""}, headers=superuser.headers
    )
    assert r.status_code == 422


async def test_only_superusers_publish_shot_types(
    client: httpx.AsyncClient, user: User, superuser: User, make_user: UserFactory
) -> None:
    body = {"name": "Full Body Front", "slug": "full-body-front", "framing": "Full Body"}
    r = await client.post(f"{API}/shot-types/", json={**body, "public": True}, headers=user.headers)
    assert r.status_code == 403
    # A private row of the same slug is fine, and only its owner resolves it.
    r = await client.post(f"{API}/shot-types/", json=body, headers=user.headers)
    assert r.status_code == 201
    r = await client.patch(
        f"{API}/shot-types/{r.json()['id']}", json={"public": True}, headers=user.headers
    )
    assert r.status_code == 403
    r = await client.post(
        f"{API}/shot-types/",
        json={**body, "slug": f"house-{uuid.uuid4().hex[:6]}", "public": True},
        headers=superuser.headers,
    )
    assert r.status_code == 201
    other = await make_user()
    r = await client.get(f"{API}/shot-types/{r.json()['id']}", headers=other.headers)
    assert r.status_code == 200


async def test_concurrent_duplicate_slug_is_a_conflict(app: Any, user: User) -> None:
    """The unique index backs the pre-check: a racing insert becomes a 409, not a 500."""
    from app.models.style import Style
    from app.repositories.catalogue import CatalogueRepository, DuplicateRow

    async with app.state.db.sessionmaker() as session:
        repo = CatalogueRepository(session, Style)
        await repo.save(Style(name="A", slug="race", owner_id=user.id))
        with pytest.raises(DuplicateRow):
            await repo.save(Style(name="B", slug="race", owner_id=user.id))
        await session.rollback()


async def test_deleting_referenced_rows(client: httpx.AsyncClient, user: User) -> None:
    product = (
        await client.post(f"{API}/products/", json={"name": "Gone"}, headers=user.headers)
    ).json()
    look = (
        await client.post(
            f"{API}/shooting-looks/",
            json={"name": "L", "main_product_id": product["id"]},
            headers=user.headers,
        )
    ).json()
    shot = (
        await client.post(
            f"{API}/shot-types/", json={"name": "Mine", "framing": "Detail"}, headers=user.headers
        )
    ).json()
    pose = (
        await client.post(
            f"{API}/pose-presets/",
            json={"name": "P", "shot_type_id": shot["id"]},
            headers=user.headers,
        )
    ).json()
    await client.delete(f"{API}/products/{product['id']}", headers=user.headers)
    r = await client.get(f"{API}/shooting-looks/{look['id']}", headers=user.headers)
    assert r.json()["main_product_id"] is None
    # A shot type's pose presets go with it.
    await client.delete(f"{API}/shot-types/{shot['id']}", headers=user.headers)
    r = await client.get(f"{API}/pose-presets/{pose['id']}", headers=user.headers)
    assert r.status_code == 404


async def test_a_value_postgresql_cannot_store_is_a_422(
    client: httpx.AsyncClient, user: User, database_url: str
) -> None:
    body = {**SLUGGED["subjects"], "description": "nul \u0000 inside"}
    r = await client.post(f"{API}/subjects/", json=body, headers=user.headers)
    count = (await client.get(f"{API}/subjects/", headers=user.headers)).json()["count"]
    if database_url.startswith("postgresql"):
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["msg"].startswith("Value cannot be stored")
        assert count == 0
    else:  # SQLite keeps NUL characters.
        assert r.status_code in (200, 201), r.text
        assert count == 1


async def test_a_superuser_acting_in_an_unknown_organization_gets_404(
    client: httpx.AsyncClient, superuser: User
) -> None:
    params = {"organization_id": str(uuid.uuid4())}
    r = await client.post(
        f"{API}/subjects/", json={"name": "Ghost"}, params=params, headers=superuser.headers
    )
    assert r.status_code == 404 and r.json()["detail"] == "Organization not found"
    r = await client.post(
        f"{API}/webhooks/",
        json={
            "url": "https://hooks.example.com/x",
            "event_types": ["generation.completed"],
            **params,
        },
        headers=superuser.headers,
    )
    assert r.status_code == 404 and r.json()["detail"] == "Organization not found"


async def test_names_in_any_script_get_distinct_readable_slugs(
    client: httpx.AsyncClient, user: User
) -> None:
    slugs = []
    for name in ("Платье", "Юбка", "连衣裙", "Été"):
        r = await client.post(f"{API}/products/", json={"name": name}, headers=user.headers)
        assert r.status_code == 201, r.text
        slugs.append(r.json()["slug"])
    assert slugs == ["plat-e", "yubka", "lianyiqun", "ete"]
