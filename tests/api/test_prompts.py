"""/api/v1/prompts: compose and create-for-generation over the catalogue."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from sqlalchemy import event

from tests.conftest import TestUser as User
from tests.conftest import UserFactory

API = "/api/v1"
OrgFactory = Callable[..., Awaitable[dict[str, Any]]]


async def _post(
    client: httpx.AsyncClient, who: User, path: str, body: dict[str, Any], **kw: Any
) -> Any:
    r = await client.post(f"{API}/{path}/", json=body, headers=who.headers, **kw)
    assert r.status_code == 201, r.text
    return r.json()


async def _shot_types(client: httpx.AsyncClient, who: User) -> dict[str, dict[str, Any]]:
    r = await client.get(f"{API}/shot-types/", headers=who.headers, params={"limit": 1000})
    return {row["slug"]: row for row in r.json()["data"]}


async def _catalogue(client: httpx.AsyncClient, who: User, **kw: Any) -> dict[str, Any]:
    subject = await _post(
        client,
        who,
        "subjects",
        {
            "name": "Ava",
            "slug": "ava",
            "gender": "FEMALE",
            "age_class": "YOUNG",
            "description": "auburn hair, freckles",
            "lora_path": "https://x/ava.safetensors",
            "lora_trigger": "ohwx",
            "cover_image_url": "https://x/ava.png",
        },
        **kw,
    )
    shirt = await _post(
        client,
        who,
        "products",
        {
            "name": "Linen Shirt",
            "description": "white linen shirt",
            "gender": "FEMALE",
            "lora_path": "https://x/shirt.safetensors",
            "lora_trigger": "shrt",
            "cover_image_url": "https://x/shirt.png",
            "back_image_url": "https://x/shirt-back.png",
        },
        **kw,
    )
    style = await _post(
        client, who, "styles", {"name": "Editorial", "description": "soft editorial"}, **kw
    )
    return {"subject": subject, "product": shirt, "style": style}


async def test_prompts_require_authentication(client: httpx.AsyncClient) -> None:
    assert (await client.post(f"{API}/prompts/compose", json={})).status_code == 401
    r = await client.post(f"{API}/prompts/create-for-generation", json={})
    assert r.status_code == 401


async def test_compose_base_prompt_only(client: httpx.AsyncClient, user: User) -> None:
    r = await client.post(f"{API}/prompts/compose", json={}, headers=user.headers)
    assert r.status_code == 200
    assert r.json() == {"prompt": r.json()["prompt"]}
    assert r.json()["prompt"].startswith("professional fashion e-commerce photograph")


async def test_compose_with_shot_type_pose_and_look(client: httpx.AsyncClient, user: User) -> None:
    shots = await _shot_types(client, user)
    back = shots["full-body-back"]
    pose = await _post(
        client,
        user,
        "pose-presets",
        {
            "name": "Over the shoulder",
            "shot_type_id": back["id"],
            "prompt": "looking over the shoulder",
        },
    )
    items = await _catalogue(client, user)
    look = await _post(
        client,
        user,
        "shooting-looks",
        {
            "name": "Summer",
            "subject_id": items["subject"]["id"],
            "main_product_id": items["product"]["id"],
            "style_id": items["style"]["id"],
            "background": "sandy beach",
            "lighting": "golden hour",
            "outfit_instruction": "sleeves rolled up",
        },
    )
    r = await client.post(
        f"{API}/prompts/compose",
        json={
            "shot_type_id": back["id"],
            "pose_id": pose["id"],
            "shooting_look_id": look["id"],
        },
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    prompt = r.json()["prompt"]
    expected_order = [
        "professional fashion",
        "ohwx young woman, auburn hair",
        "white linen shirt",
        "soft editorial style",
        back["prompt"],
        "looking over the shoulder",
        "sleeves rolled up",
        "golden hour lighting",
        "sandy beach background",
    ]
    positions = [prompt.index(part) for part in expected_order]
    assert positions == sorted(positions)
    # The pose preset's shot type is used when none is given.
    r = await client.post(
        f"{API}/prompts/compose", json={"pose_id": pose["id"]}, headers=user.headers
    )
    assert back["prompt"] in r.json()["prompt"]


async def test_compose_reads_what_the_look_and_the_pose_name_in_a_second_round(
    client: httpx.AsyncClient, user: User
) -> None:
    # The look's extra products (one also its main product, one deleted since) and the pose
    # preset's shot type are only known once the look and the preset are read.
    shots = await _shot_types(client, user)
    back = shots["full-body-back"]
    pose = await _post(client, user, "pose-presets", {"name": "Turn", "shot_type_id": back["id"]})
    items = await _catalogue(client, user)
    belt = await _post(client, user, "products", {"name": "Belt", "description": "gold belt"})
    gone = await _post(client, user, "products", {"name": "Scarf", "description": "silk scarf"})
    look = await _post(
        client,
        user,
        "shooting-looks",
        {
            "name": "L",
            "main_product_id": items["product"]["id"],
            "extra_product_ids": [belt["id"], gone["id"], items["product"]["id"]],
        },
    )
    r = await client.delete(f"{API}/products/{gone['id']}", headers=user.headers)
    assert r.status_code == 200
    r = await client.post(
        f"{API}/prompts/compose",
        json={"pose_id": pose["id"], "shooting_look_id": look["id"]},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    prompt = r.json()["prompt"]
    assert "styled with gold belt, white linen shirt" in prompt
    assert "silk scarf" not in prompt
    assert back["prompt"] in prompt


async def test_compose_unknown_and_foreign_ids_are_404(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: OrgFactory
) -> None:
    alice, mallory = await make_user(), await make_user()
    org = await make_org(mallory)
    look = await _post(
        client, mallory, "shooting-looks", {"name": "Secret"}, params={"organization_id": org["id"]}
    )
    r = await client.post(
        f"{API}/prompts/compose", json={"shooting_look_id": look["id"]}, headers=alice.headers
    )
    assert r.status_code == 404
    assert "shooting_look_id" in r.json()["detail"]
    r = await client.post(
        f"{API}/prompts/compose", json={"pose_id": str(uuid.uuid4())}, headers=alice.headers
    )
    assert r.status_code == 404 and "pose_id" in r.json()["detail"]
    r = await client.post(
        f"{API}/prompts/compose", json={"shot_type_id": "nope"}, headers=alice.headers
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "shot_type_id"]
    r = await client.post(
        f"{API}/prompts/compose",
        json={},
        headers=alice.headers,
        params={"organization_id": org["id"]},
    )
    assert r.status_code == 403


async def test_create_for_generation_per_shot_type(client: httpx.AsyncClient, user: User) -> None:
    items = await _catalogue(client, user)
    body = {
        "subject_slug": "ava",
        "product_id": items["product"]["id"],
        "product_lora_enabled": True,
        "product_lora_weight": 0.6,
        "style_id": items["style"]["id"],
        "shot_type_string": "full-body-front, Full Body Back",
        "background": "light grey seamless paper",
        "negative_prompt": "sunglasses",
        "extra_prompt": "crisp fabric texture",
    }
    r = await client.post(f"{API}/prompts/create-for-generation", json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["shot_types"] == ["full-body-front", "full-body-back"]
    front, back = data["prompts"]["full-body-front"], data["prompts"]["full-body-back"]
    assert front["source"] == "chain" and front["prompt"] == front["original_prompt"]
    assert "ohwx young woman" in front["prompt"] and "shrt" in front["prompt"]
    assert "light grey seamless paper background" in front["prompt"]
    assert front["prompt"].endswith("crisp fabric texture")
    assert "back view" in back["prompt"] and "back view" not in front["prompt"]
    assert "sunglasses" in front["negative_prompt"]
    assert "face" in back["negative_prompt"] and "face" not in front["negative_prompt"]
    loras = {lora["kind"]: lora for lora in data["loras"]}
    assert loras["subject"] == {
        "kind": "subject",
        "path": "https://x/ava.safetensors",
        "weight": 1.0,
        "trigger": "ohwx",
    }
    assert loras["product"]["weight"] == 0.6
    builders_seen = [entry["builder"] for entry in front["trace"]]
    assert (
        builders_seen.index("subject")
        < builders_seen.index("products")
        < builders_seen.index("shot_type")
    )
    assert front["shot_type"]["framing"] == "Full Body"


async def test_create_for_generation_without_shot_type_and_defaults(
    client: httpx.AsyncClient, user: User
) -> None:
    r = await client.post(
        f"{API}/prompts/create-for-generation",
        json={"subject_description": "tall man with a beard", "subject_gender": "MALE"},
        headers=user.headers,
    )
    assert r.status_code == 200
    assert list(r.json()["prompts"]) == ["default"]
    assert "man, tall man with a beard" in r.json()["prompts"]["default"]["prompt"]
    assert r.json()["loras"] == []


async def test_generated_prompt_returned_unchanged(client: httpx.AsyncClient, user: User) -> None:
    body = {
        "auto_generate_prompt": False,
        "generated_prompt": "  my exact prompt ",
        "shot_type": "full-body-front",
    }
    r = await client.post(f"{API}/prompts/create-for-generation", json=body, headers=user.headers)
    entry = r.json()["prompts"]["full-body-front"]
    assert entry["prompt"] == "  my exact prompt "
    assert entry["original_prompt"] == "  my exact prompt "
    assert entry["source"] == "user"
    # Without auto generation and without a prompt, the deterministic chain is used.
    r = await client.post(
        f"{API}/prompts/create-for-generation",
        json={"auto_generate_prompt": False},
        headers=user.headers,
    )
    assert r.json()["prompts"]["default"]["source"] == "chain"


async def test_create_for_generation_errors(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: OrgFactory
) -> None:
    alice, mallory = await make_user(), await make_user()
    org = await make_org(mallory)
    theirs = await _post(
        client, mallory, "subjects", {"name": "Hidden"}, params={"organization_id": org["id"]}
    )
    url = f"{API}/prompts/create-for-generation"
    for body, field in (
        ({"product_id": str(uuid.uuid4())}, "product_id"),
        ({"subject_id": theirs["id"]}, "subject_id"),
        ({"subject_slug": "hidden"}, "subject_slug"),
        ({"style_slug": "none-such"}, "style_slug"),
        # No slug holds a NUL character (PostgreSQL would refuse it as a parameter).
        ({"product_slug": "a\u0000b"}, "product_slug"),
        ({"shot_type": "sideways-hop"}, "shot_type"),
        ({"shot_type_string": "full-body-front,nope"}, "shot_type_string"),
        ({"pose_preset_id": str(uuid.uuid4())}, "pose_preset_id"),
    ):
        r = await client.post(url, json=body, headers=alice.headers)
        assert r.status_code == 404, body
        assert field in r.json()["detail"]
    r = await client.post(url, json={"batch_size": 0}, headers=alice.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "batch_size"]
    r = await client.post(url, json={"reference_image_strength": 101}, headers=alice.headers)
    assert r.status_code == 422
    # Organization in the body: membership is checked like the query parameter.
    r = await client.post(url, json={"organization_id": org["id"]}, headers=alice.headers)
    assert r.status_code == 403
    r = await client.post(
        url,
        json={"organization_id": org["id"], "subject_id": theirs["id"]},
        headers=mallory.headers,
    )
    assert r.status_code == 200
    r = await client.post(
        url,
        json={"organization_id": str(uuid.uuid4())},
        headers=mallory.headers,
        params={"organization_id": org["id"]},
    )
    assert r.status_code == 422


class _Recording:
    """A driver pool or connection, noting each statement it runs."""

    def __init__(self, target: Any, statements: list[str]) -> None:
        self._target = target
        self._statements = statements

    async def fetch(self, sql: str, *args: Any) -> Any:
        self._statements.append(sql)
        return await self._target.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Any:
        self._statements.append(sql)
        return await self._target.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        self._statements.append(sql)
        return await self._target.fetchval(sql, *args)


class _RecordingPool(_Recording):
    async def acquire(self) -> _Recording:
        return _Recording(await self._target.acquire(), self._statements)

    async def release(self, connection: _Recording) -> None:
        await self._target.release(connection._target)


@contextmanager
def count_queries(app: Any) -> Iterator[list[str]]:
    """Every statement sent to the database, through SQLAlchemy or the driver pool."""
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    db = app.state.db
    real_driver_pool = db.driver_pool

    async def recording_driver_pool() -> Any:
        pool = await real_driver_pool()
        return None if pool is None else _RecordingPool(pool, statements)

    engine = db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", record)
    db.driver_pool = recording_driver_pool
    try:
        yield statements
    finally:
        del db.driver_pool
        event.remove(engine, "before_cursor_execute", record)


def _from(table: str, statements: list[str]) -> list[str]:
    return [s for s in statements if re.search(rf'\bFROM "?{table}"?(\s|$)', s)]


async def test_one_query_per_entity_kind(app: Any, client: httpx.AsyncClient, user: User) -> None:
    items = await _catalogue(client, user)
    extra = await _post(client, user, "products", {"name": "Belt"})
    look = await _post(
        client,
        user,
        "shooting-looks",
        {
            "name": "L",
            "subject_id": items["subject"]["id"],
            "extra_product_ids": [extra["id"]],
        },
    )
    body = {
        "shooting_look_id": None,
        "product_id": items["product"]["id"],
        "product2_slug": extra["slug"],
        "style_slug": items["style"]["slug"],
        "subject_slug": "ava",
        "shot_type_string": "full-body-front,full-body-back,detail-front",
    }
    with count_queries(app) as statements:
        r = await client.post(
            f"{API}/prompts/create-for-generation", json=body, headers=user.headers
        )
    assert r.status_code == 200
    tables = ("subject", "product", "style", "shot_type")
    for table in tables:
        hits = _from(table, statements)
        assert len(hits) == 1, (table, hits)
    if app.state.db.engine.dialect.name == "postgresql":
        # On the driver pool, every kind in one statement (one round trip).
        assert len({s for table in tables for s in _from(table, statements)}) == 1
    with count_queries(app) as statements:
        r = await client.post(
            f"{API}/prompts/compose", json={"shooting_look_id": look["id"]}, headers=user.headers
        )
    assert "Belt" in r.json()["prompt"]
    assert len(_from("product", statements)) == 1


async def test_openapi_documents_prompt_endpoints(client: httpx.AsyncClient) -> None:
    spec = (await client.get(f"{API}/openapi.json")).json()
    op = spec["paths"][f"{API}/prompts/create-for-generation"]["post"]
    assert op["summary"] == "Create Prompt For Generation"
    assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/GenerationCreate"
    )
    ok = op["responses"]["200"]["content"]["application/json"]
    assert ok["schema"] == {
        "additionalProperties": True,
        "type": "object",
        "title": "Response Create Prompt For Generation",
    }
    assert "full-body-front" in ok["example"]["prompts"]
    schemas = spec["components"]["schemas"]
    assert set(schemas["PromptContextRequest"]["properties"]) == {
        "shot_type_id",
        "pose_id",
        "shooting_look_id",
    }
    assert schemas["ComposedPromptResponse"]["required"] == ["prompt"]


async def test_edited_base_prompt_is_used_at_once(
    client: httpx.AsyncClient, user: User, superuser: User
) -> None:
    url = f"{API}/system-prompts/base"
    original = (await client.get(url, headers=user.headers)).json()["prompt"]
    assert (await client.post(f"{API}/prompts/compose", json={}, headers=user.headers)).json()[
        "prompt"
    ] == original
    await client.put(url, json={"prompt": "catalogue photo"}, headers=superuser.headers)
    try:
        r = await client.post(f"{API}/prompts/compose", json={}, headers=user.headers)
        assert r.json()["prompt"] == "catalogue photo"
    finally:
        await client.put(url, json={"prompt": original}, headers=superuser.headers)


async def test_tenancy_scopes_hold_for_looks_and_entities(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: OrgFactory
) -> None:
    """Personal, organization and superuser scopes, through both the look join and the
    per-kind entity queries."""
    alice, mallory, bob = await make_user(), await make_user(), await make_user()
    root = await make_user(superuser=True)
    org = await make_org(mallory, bob)
    in_org = {"organization_id": org["id"]}
    mine = await _catalogue(client, alice)
    my_look = await _post(
        client,
        alice,
        "shooting-looks",
        {"name": "Mine", "subject_id": mine["subject"]["id"], "style_id": mine["style"]["id"]},
    )
    theirs = await _post(
        client,
        mallory,
        "subjects",
        {"name": "Zed", "description": "silver buzz cut"},
        params=in_org,
    )
    their_look = await _post(
        client,
        mallory,
        "shooting-looks",
        {"name": "Theirs", "subject_id": theirs["id"]},
        params=in_org,
    )

    async def compose(who: User, look: dict[str, Any], **params: Any) -> httpx.Response:
        return await client.post(
            f"{API}/prompts/compose",
            json={"shooting_look_id": look["id"]},
            headers=who.headers,
            params=params,
        )

    async def create(who: User, subject: dict[str, Any], **params: Any) -> httpx.Response:
        return await client.post(
            f"{API}/prompts/create-for-generation",
            json={"subject_id": subject["id"]},
            headers=who.headers,
            params=params,
        )

    # Personal scope: own rows only; another organization's are not there.
    r = await compose(alice, my_look)
    assert r.status_code == 200 and "auburn hair" in r.json()["prompt"]
    assert (await compose(alice, their_look)).status_code == 404
    assert (await create(alice, theirs)).status_code == 404
    # Organization rows are not personal rows, not even for the organization's members.
    assert (await compose(mallory, their_look)).status_code == 404
    assert (await create(bob, theirs)).status_code == 404
    # Organization scope: that organization's rows, and nobody's personal ones.
    r = await compose(bob, their_look, **in_org)
    assert r.status_code == 200 and "silver buzz cut" in r.json()["prompt"]
    assert (await create(bob, theirs, **in_org)).status_code == 200
    assert (await compose(bob, my_look, **in_org)).status_code == 404
    assert (await create(bob, mine["subject"], **in_org)).status_code == 404
    # A superuser without an organization sees every row; with one, that organization's.
    r = await compose(root, my_look)
    assert r.status_code == 200 and "auburn hair" in r.json()["prompt"]
    r = await compose(root, their_look)
    assert r.status_code == 200 and "silver buzz cut" in r.json()["prompt"]
    assert (await create(root, theirs)).status_code == 200
    assert (await create(root, mine["subject"])).status_code == 200
    assert (await compose(root, their_look, **in_org)).status_code == 200
    assert (await compose(root, my_look, **in_org)).status_code == 404
    assert (await create(root, mine["subject"], **in_org)).status_code == 404


async def test_a_superusers_own_row_wins_a_slug_over_other_owners(
    client: httpx.AsyncClient, make_user: UserFactory, make_org: OrgFactory
) -> None:
    # A superuser without an organization sees every row; a slug still means their own.
    root, mallory = await make_user(superuser=True), await make_user()
    org = await make_org(mallory)
    body = {"name": "Ava", "slug": "ava", "description": "MALLORY ORG AVA"}
    await _post(client, mallory, "subjects", body, params={"organization_id": org["id"]})
    await _post(client, root, "subjects", {**body, "description": "ROOT OWN AVA"})
    r = await client.post(
        f"{API}/prompts/create-for-generation", json={"subject_slug": "ava"}, headers=root.headers
    )
    assert r.status_code == 200, r.text
    assert "ROOT OWN AVA" in r.text and "MALLORY" not in r.text
