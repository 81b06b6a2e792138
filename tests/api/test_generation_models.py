from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import TestUser

MODELS = "/api/v1/generation-models/"


def fal_model(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": f"fal-{uuid.uuid4().hex[:6]}",
        "provider": "fal_standard",
        "provider_config": {
            "fal_app_id": "fal-ai/flux/dev",
            "additional_static_params": {"guidance_scale": 3.5},
        },
        "tool_types": ["BASE_GENERATION"],
        "provider_capabilities": ["TEXT_TO_IMAGE", "LORA"],
        "max_output_width": 2048,
        "max_output_height": 2048,
        "max_size_pixels": 4_194_304,
    }
    body.update(overrides)
    return body


async def test_list_is_public_and_seeded(client: httpx.AsyncClient) -> None:
    r = await client.get(MODELS)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"data", "count"}
    local = [m for m in body["data"] if m["provider"] == "local"]
    assert local and local[0]["recommended"] is True
    assert "BASE_GENERATION" in local[0]["tool_types"]
    assert set(local[0]) == {
        "id",
        "name",
        "icon",
        "provider",
        "provider_config",
        "provider_capabilities",
        "fallback_provider",
        "fallback_provider_config",
        "fallback_provider_capabilities",
        "tool_types",
        "recommended",
        "beta",
        "max_output_width",
        "max_output_height",
        "max_size_pixels",
    }


async def test_crud_roundtrip(client: httpx.AsyncClient, superuser: TestUser) -> None:
    r = await client.post(
        MODELS, json=fal_model(fallback_provider="local"), headers=superuser.headers
    )
    assert r.status_code == 200, r.text
    created = r.json()
    # Configs are stored normalised: defaults filled in, the provider type recorded.
    assert created["provider_config"]["fal_app_id"] == "fal-ai/flux/dev"
    assert created["provider_config"]["provider_type"] == "fal_standard"
    assert created["fallback_provider"] == "local"
    assert created["fallback_provider_config"]["provider_type"] == "local"

    r = await client.get(f"{MODELS}{created['id']}")
    assert r.status_code == 200 and r.json() == created

    r = await client.put(f"{MODELS}{created['id']}", json={"beta": True}, headers=superuser.headers)
    assert r.status_code == 200
    updated = r.json()
    assert updated["beta"] is True
    # Only the fields sent change.
    assert {k: v for k, v in updated.items() if k != "beta"} == {
        k: v for k, v in created.items() if k != "beta"
    }

    r = await client.delete(f"{MODELS}{created['id']}", headers=superuser.headers)
    assert r.status_code == 200 and r.json() == {"message": "Generation model deleted successfully"}
    assert (await client.get(f"{MODELS}{created['id']}")).status_code == 404
    assert (
        await client.delete(f"{MODELS}{created['id']}", headers=superuser.headers)
    ).status_code == 404


async def test_pagination_and_count(client: httpx.AsyncClient, superuser: TestUser) -> None:
    for _ in range(3):
        assert (
            await client.post(MODELS, json=fal_model(), headers=superuser.headers)
        ).status_code == 200
    total = (await client.get(MODELS)).json()["count"]
    page = (await client.get(MODELS, params={"skip": 1, "limit": 2})).json()
    assert len(page["data"]) == 2 and page["count"] == total
    beyond = (await client.get(MODELS, params={"skip": total + 10})).json()
    assert beyond == {"data": [], "count": total}
    assert (await client.get(MODELS, params={"skip": -1})).status_code == 422
    assert (await client.get(MODELS, params={"skip": 2**63})).status_code == 422
    assert (await client.get(MODELS, params={"limit": 0})).status_code == 422
    assert (await client.get(MODELS, params={"limit": "many"})).status_code == 422


async def test_writes_need_a_superuser(
    client: httpx.AsyncClient, user: TestUser, superuser: TestUser
) -> None:
    created = (await client.post(MODELS, json=fal_model(), headers=superuser.headers)).json()
    for method, url, body in [
        ("POST", MODELS, fal_model()),
        ("PUT", f"{MODELS}{created['id']}", {"beta": True}),
        ("DELETE", f"{MODELS}{created['id']}", None),
    ]:
        anonymous = await client.request(method, url, json=body)
        assert anonymous.status_code == 401 and anonymous.json() == {"detail": "Not authenticated"}
        normal = await client.request(method, url, json=body, headers=user.headers)
        assert normal.status_code == 403 and normal.json() == {"detail": "Not enough permissions"}


async def test_unknown_and_malformed_ids(client: httpx.AsyncClient, superuser: TestUser) -> None:
    assert (await client.get(f"{MODELS}{uuid.uuid4()}")).status_code == 404
    assert (await client.get(f"{MODELS}{uuid.uuid4()}")).json() == {
        "detail": "Generation model not found"
    }
    r = await client.get(f"{MODELS}not-a-uuid")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["path", "id"]
    r = await client.put(f"{MODELS}{uuid.uuid4()}", json={"beta": True}, headers=superuser.headers)
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (
            {"provider": "vertex", "provider_config": {"temperature": 2.5}},
            ["body", "provider_config", "temperature"],
        ),
        (
            {"provider": "vertex", "provider_config": {"top_p": 1.5}},
            ["body", "provider_config", "top_p"],
        ),
        (
            {"provider": "vertex", "provider_config": {"image_size": "8K"}},
            ["body", "provider_config", "image_size"],
        ),
        (
            {"provider": "freepik_magnific", "provider_config": {"creativity": 11}},
            ["body", "provider_config", "creativity"],
        ),
        (
            {"provider": "freepik_magnific", "provider_config": {"hdr": -11}},
            ["body", "provider_config", "hdr"],
        ),
        (
            {"provider": "freepik_magnific_precision", "provider_config": {"sharpen": 101}},
            ["body", "provider_config", "sharpen"],
        ),
        (
            {"provider": "ai_core", "provider_config": {"temperature": -0.1}},
            ["body", "provider_config", "temperature"],
        ),
        # A config of another provider: its fields are unknown to this one.
        (
            {"provider": "vertex", "provider_config": {"fal_app_id": "fal-ai/flux/dev"}},
            ["body", "provider_config", "fal_app_id"],
        ),
        (
            {"provider": "vertex", "provider_config": {"provider_type": "fal_standard"}},
            ["body", "provider_config", "provider_type"],
        ),
        ({"provider": "nope", "provider_config": {}}, ["body", "provider"]),
        ({"max_output_width": 0}, ["body", "max_output_width"]),
        # What the columns cannot hold (INTEGER, VARCHAR(255), VARCHAR(2048), no NUL).
        ({"max_output_height": 2**31}, ["body", "max_output_height"]),
        ({"name": "x" * 256}, ["body", "name"]),
        ({"name": "a\u0000b"}, ["body", "name"]),
        ({"icon": "x" * 2049}, ["body", "icon"]),
        ({"max_size_pixels": -5}, ["body", "max_size_pixels"]),
        (
            {"fallback_provider": "vertex", "fallback_provider_config": {"temperature": 9}},
            ["body", "fallback_provider_config", "temperature"],
        ),
        ({"fallback_provider_config": {"temperature": 1}}, ["body", "fallback_provider_config"]),
        ({"tool_types": ["NOT_A_TOOL"]}, ["body", "tool_types", 0]),
    ],
)
async def test_invalid_models_are_422_naming_the_field(
    client: httpx.AsyncClient, superuser: TestUser, body: dict[str, Any], loc: list[Any]
) -> None:
    before = (await client.get(MODELS)).json()["count"]
    r = await client.post(MODELS, json=fal_model(**body), headers=superuser.headers)
    assert r.status_code == 422, r.text
    assert loc in [error["loc"] for error in r.json()["detail"]]
    # Nothing half-written is left behind.
    assert (await client.get(MODELS)).json()["count"] == before


async def test_required_fields(client: httpx.AsyncClient, superuser: TestUser) -> None:
    r = await client.post(
        MODELS, json={"name": "x", "provider": "local"}, headers=superuser.headers
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "provider_config"]


async def test_update_revalidates_config_against_new_provider(
    client: httpx.AsyncClient, superuser: TestUser
) -> None:
    created = (await client.post(MODELS, json=fal_model(), headers=superuser.headers)).json()
    url = f"{MODELS}{created['id']}"
    # The stored fal config does not fit vertex.
    r = await client.put(url, json={"provider": "vertex"}, headers=superuser.headers)
    assert r.status_code == 422
    r = await client.put(
        url,
        json={"provider": "vertex", "provider_config": {"temperature": 0.4}},
        headers=superuser.headers,
    )
    assert r.status_code == 200
    assert r.json()["provider"] == "vertex" and r.json()["provider_config"]["temperature"] == 0.4
    r = await client.put(
        url, json={"provider_config": {"temperature": 4}}, headers=superuser.headers
    )
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "provider_config", "temperature"]
    r = await client.put(url, json={"name": None}, headers=superuser.headers)
    assert r.status_code == 422
    # The config is required: null does not reset it to the provider's defaults.
    r = await client.put(url, json={"provider_config": None}, headers=superuser.headers)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["body", "provider_config"]
    assert (await client.get(url)).json()["provider_config"]["temperature"] == 0.4
    r = await client.put(url, json={"name": "x" * 256}, headers=superuser.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]
    r = await client.put(url, json={"fallback_provider": "local"}, headers=superuser.headers)
    assert r.status_code == 200 and r.json()["fallback_provider_config"]["provider_type"] == "local"
    r = await client.put(url, json={"fallback_provider": None}, headers=superuser.headers)
    assert r.status_code == 200
    assert r.json()["fallback_provider"] is None and r.json()["fallback_provider_config"] is None
    assert (await client.get(url)).json()["provider"] == "vertex"


async def test_non_finite_numbers_are_a_422_that_echoes_them(
    client: httpx.AsyncClient, superuser: TestUser
) -> None:
    # Python's JSON parser accepts NaN and Infinity; JSON cannot carry them back.
    before = (await client.get(MODELS)).json()["count"]
    body = fal_model(provider="vertex", provider_config={"temperature": 0.5})
    raw = httpx.Response(200, json=body).text.replace("0.5", "NaN")
    r = await client.post(
        MODELS,
        content=raw,
        headers={**superuser.headers, "content-type": "application/json"},
    )
    assert r.status_code == 422, r.text
    [error] = r.json()["detail"]
    assert error["loc"] == ["body", "provider_config", "temperature"]
    assert error["input"] == "nan"
    assert (await client.get(MODELS)).json()["count"] == before
