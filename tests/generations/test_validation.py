"""Each strategy's validation, sizes, models, image references, post-processing flags."""

from __future__ import annotations

import io
import threading
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from PIL import Image

from app.imaging import loading
from tests.clients.apps import app_client
from tests.generations.conftest import ModelFactory
from tests.generations.helpers import data_url, wait_for

if TYPE_CHECKING:
    from tests.conftest import TestUser

URL = "/api/v1/generations/"


def _error(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 422, r.text
    detail: dict[str, Any] = r.json()["detail"][0]
    return detail


@pytest.mark.parametrize("strategy", ["VIDEO"])
async def test_strategy_no_model_serves_is_422(
    client: httpx.AsyncClient, user: TestUser, strategy: str
) -> None:
    r = await client.post(
        URL,
        json={"generation_strategy": strategy, "reference_images_paths": [data_url()]},
        headers=user.headers,
    )
    error = _error(r)
    assert error["loc"] == ["body", "generation_strategy"]
    assert (
        f"No configured generation model can serve generation_strategy {strategy}" in error["msg"]
    )


async def test_editing_needs_base_image(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(
        URL,
        json={"generation_strategy": "EDITING", "product_image": data_url()},
        headers=user.headers,
    )
    assert _error(r)["loc"] == ["body", "garment_placement_base_image_url"]


async def test_editing_needs_product_image(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(
        URL,
        json={"generation_strategy": "EDITING", "garment_placement_base_image_url": data_url()},
        headers=user.headers,
    )
    assert _error(r)["loc"] == ["body", "product_image"]


async def test_editing_places_product_on_base_image(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.post(
        URL,
        json={
            "generation_strategy": "EDITING",
            "batch_size": 1,
            "width": 80,
            "height": 120,
            "garment_placement_base_image_url": data_url((10, 200, 10), (40, 60)),
            "product_image": data_url((0, 0, 250), (20, 20)),
        },
        headers=user.headers,
    )
    assert r.status_code == 202, r.text
    assert r.json()["tool"] == "EDITING"
    done = await wait_for(client, r.json()["id"], user.headers)
    assert done["status"] == "COMPLETED", done
    image = await client.get(done["predictions"][0]["result_image_url"], headers=user.headers)
    picture = Image.open(io.BytesIO(image.content)).convert("RGB")
    assert picture.size == (80, 120)
    # The green base is kept around the blue product placed over the garment area.
    assert picture.getpixel((2, 2))[1] > 150
    assert picture.getpixel((40, 60))[2] > 150


async def test_size_beyond_model_limit_is_422(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(URL, json={"width": 5000, "height": 64}, headers=user.headers)
    error = _error(r)
    assert error["loc"] == ["body", "width"]
    assert "at most 4096" in error["msg"]
    r = await client.post(URL, json={"width": 4096, "height": 4096 + 1}, headers=user.headers)
    assert _error(r)["loc"] == ["body", "height"]


async def test_unknown_model_is_422(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(
        URL,
        json={"generative_models_id": "00000000-0000-0000-0000-000000000001"},
        headers=user.headers,
    )
    assert _error(r)["loc"] == ["body", "generative_models_id"]


async def test_model_that_cannot_serve_strategy_is_422(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory
) -> None:
    # Its provider is not registered in this process: nothing can run it.
    model = await make_model(name="unregistered vertex", provider="vertex")
    r = await client.post(URL, json={"generative_models_id": model["id"]}, headers=user.headers)
    error = _error(r)
    assert error["loc"] == ["body", "generative_models_id"]
    assert "cannot serve generation_strategy GENERATE" in error["msg"]


async def test_refine_adds_a_refine_step(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(
        URL, json={"refine": True, "batch_size": 1, "width": 64, "height": 64}, headers=user.headers
    )
    assert r.status_code == 202, r.text
    assert [(s["name"], s["task"]) for s in r.json()["plan"]] == [
        ("main", "TEXT_TO_IMAGE"),
        ("refine", "REFINE"),
    ]
    await client.delete(f"{URL}{r.json()['id']}", headers=user.headers)


async def test_post_step_no_model_serves_is_422(
    client: httpx.AsyncClient,
    user: TestUser,
    app: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.providers.enums import ProviderType

    registry = app.state.provider_registry
    # As if the refiner's provider were not installed: no model can refine any more.
    monkeypatch.setitem(registry._factories, ProviderType.SARTIQ_ULTIMATE_REFINER, None)
    monkeypatch.delitem(registry._factories, ProviderType.SARTIQ_ULTIMATE_REFINER)
    r = await client.post(URL, json={"refine": True}, headers=user.headers)
    error = _error(r)
    assert error["loc"] == ["body", "refine"]
    assert "REFINE" in error["msg"]


async def test_batch_and_seed_bounds(client: httpx.AsyncClient, user: TestUser) -> None:
    assert _error(await client.post(URL, json={"batch_size": 9}, headers=user.headers))["loc"] == [
        "body",
        "batch_size",
    ]
    assert _error(await client.post(URL, json={"seed": -1}, headers=user.headers))["loc"] == [
        "body",
        "seed",
    ]


async def test_reference_images_and_request_size_are_bounded(
    client: httpx.AsyncClient, user: TestUser, database_url: str
) -> None:
    references = [data_url() for _ in range(9)]
    r = await client.post(URL, json={"reference_images_paths": references}, headers=user.headers)
    assert _error(r)["loc"] == ["body", "reference_images_paths"]
    async with app_client(database_url, MAX_REQUEST_BYTES=4096) as small:
        body = {"product_image": "data:image/png;base64," + "A" * 8192}
        r = await small.post(URL, json=body, headers=user.headers)
        assert r.status_code == 413, r.text
    assert (await client.get(URL, headers=user.headers)).json()["count"] == 0


async def test_text_postgresql_cannot_store_is_a_422_leaving_nothing(
    client: httpx.AsyncClient, user: TestUser, database_url: str
) -> None:
    # Refused by the generation's INSERT on the driver pool (asyncpg's own error).
    r = await client.post(URL, json={"extra_prompt": "nul \u0000 inside"}, headers=user.headers)
    count = (await client.get(URL, headers=user.headers)).json()["count"]
    if database_url.startswith("postgresql"):
        assert _error(r)["msg"].startswith("Value cannot be stored")
        assert count == 0
    else:  # SQLite keeps NUL characters.
        assert r.status_code == 202 and count == 1


async def test_private_address_image_is_refused(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(
        URL, json={"product_image": "http://127.0.0.1:9/secret.png"}, headers=user.headers
    )
    error = _error(r)
    assert error["loc"] == ["body", "product_image"]
    assert "non-public" in error["msg"]


async def test_path_outside_data_dir_is_refused(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.post(URL, json={"product_image": "/etc/passwd"}, headers=user.headers)
    assert _error(r)["loc"] == ["body", "product_image"]
    for source in ("file:///etc/passwd", "ftp://example.com/x.png"):
        error = _error(await client.post(URL, json={"product_image": source}, headers=user.headers))
        assert error["loc"] == ["body", "product_image"]
        assert "Unsupported image source scheme" in error["msg"]


async def test_body_organization_must_match_query(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.post(
        URL,
        json={"organization_id": "00000000-0000-0000-0000-000000000002"},
        headers=user.headers,
    )
    assert _error(r)["loc"] == ["body", "organization_id"]


async def test_generated_prompt_is_used_unchanged(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.post(
        URL,
        json={
            "batch_size": 1,
            "width": 64,
            "height": 64,
            "auto_generate_prompt": False,
            "generated_prompt": "exactly this prompt",
        },
        headers=user.headers,
    )
    assert r.status_code == 202, r.text
    assert r.json()["prompt"] == "exactly this prompt"
    assert r.json()["original_prompt"] == "exactly this prompt"


async def test_scale_factor_runs_an_upscale_step(
    client: httpx.AsyncClient, user: TestUser, make_model: ModelFactory
) -> None:
    await make_model(
        name="local upscaler",
        provider="local",
        provider_capabilities=["UPSCALE"],
        tool_types=["UPSCALE"],
        recommended=True,
        max_output_width=512,
        max_output_height=512,
    )
    r = await client.post(
        URL,
        json={"scale_factor": 2, "width": 96, "height": 64, "batch_size": 1},
        headers=user.headers,
    )
    assert r.status_code == 202, r.text
    assert [step["name"] for step in r.json()["plan"]] == ["main", "upscale"]
    done = await wait_for(client, r.json()["id"], user.headers)
    prediction = done["predictions"][0]
    assert (prediction["result_width"], prediction["result_height"]) == (192, 128)
    assert [a["step"] for a in prediction["attempts"]] == ["main", "upscale"]
    # The final size is checked against the upscaler's limits.
    r = await client.post(
        URL, json={"target_width": 1024, "width": 64, "height": 64}, headers=user.headers
    )
    assert _error(r)["loc"] == ["body", "target_width"]


async def test_background_fixing_refuses_a_background_it_cannot_paint(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    body = {
        "generation_strategy": "BACKGROUND_FIXING",
        "garment_placement_base_image_url": data_url(size=(32, 48)),
        "background": "sunny beach",
        "batch_size": 1,
    }
    error = _error(await client.post(URL, json=body, headers=user.headers))
    assert error["loc"] == ["body", "background"]
    assert "'sunny beach' is not a colour ('#RRGGBB') or a preset name" in error["msg"]
    assert "light_grey" in error["msg"] and error["input"] == "sunny beach"
    # Colour codes and preset names are accepted, and so are descriptions elsewhere.
    for background in ("#336699", "Light Grey"):
        r = await client.post(URL, json=body | {"background": background}, headers=user.headers)
        assert r.status_code == 202, r.text
        done = await wait_for(client, r.json()["id"], user.headers, timeout=30)
        assert done["status"] == "COMPLETED", done
    r = await client.post(
        URL, json={"background": "sunny beach", "batch_size": 1}, headers=user.headers
    )
    assert r.status_code == 202, r.text


@pytest.mark.parametrize(
    "strategy", ["FACE_FIXING", "IMAGE_ADJUSTING", "BACKGROUND_FIXING", "REFINE"]
)
async def test_source_image_under_the_tools_minimum_side_is_422(
    client: httpx.AsyncClient, user: TestUser, settings: Any, tmp_path: Any, strategy: str
) -> None:
    tiny = data_url(size=(1, 1))
    error = _error(
        await client.post(
            URL,
            json={"generation_strategy": strategy, "garment_placement_base_image_url": tiny},
            headers=user.headers,
        )
    )
    assert error["loc"] == ["body", "garment_placement_base_image_url"]
    assert "image is too small: 1x1 (each side must be at least 8 px)" in error["msg"]
    # The first reference image is the source when no base image is given.
    error = _error(
        await client.post(
            URL,
            json={"generation_strategy": strategy, "reference_images_paths": [tiny]},
            headers=user.headers,
        )
    )
    assert error["loc"] == ["body", "reference_images_paths", 0]
    # A confined local file is read to be measured too.
    directory = settings.DATA_FILES_DIR or settings.DATA_DIR
    path = directory / f"tiny-{tmp_path.name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (7, 200)).save(path)
    try:
        error = _error(
            await client.post(
                URL,
                json={
                    "generation_strategy": strategy,
                    "garment_placement_base_image_url": str(path),
                },
                headers=user.headers,
            )
        )
    finally:
        path.unlink(missing_ok=True)
    assert "image is too small: 7x200" in error["msg"]


async def test_small_images_other_than_the_tools_source_are_accepted(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    # A 1x1 product image means nothing to the tools' decoder: no minimum side for it.
    r = await client.post(
        URL,
        json={
            "generation_strategy": "IMAGE_ADJUSTING",
            "garment_placement_base_image_url": data_url(size=(32, 48)),
            "product_image": data_url(size=(1, 1)),
            "batch_size": 1,
        },
        headers=user.headers,
    )
    assert r.status_code == 202, r.text
    r = await client.post(
        URL, json={"product_image": data_url(size=(1, 1)), "batch_size": 1}, headers=user.headers
    )
    assert r.status_code == 202, r.text


async def test_data_urls_are_decoded_off_the_event_loop(
    client: httpx.AsyncClient, user: TestUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # base64 of a 20 MiB image takes tens of milliseconds: never on the loop serving requests.
    decode = loading._decode_data_url
    threads: list[int] = []

    def recording(source: str, settings: Any) -> bytes:
        threads.append(threading.get_ident())
        return decode(source, settings)

    monkeypatch.setattr(loading, "_decode_data_url", recording)
    r = await client.post(
        URL, json={"product_image": data_url(), "batch_size": 1}, headers=user.headers
    )
    assert r.status_code == 202, r.text
    done = await wait_for(client, r.json()["id"], user.headers)
    assert done["status"] == "COMPLETED", done
    assert len(threads) >= 2  # checked at creation, loaded again by the worker
    assert threading.get_ident() not in threads
