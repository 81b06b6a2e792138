"""REFINE, FACE_FIXING, BACKGROUND_FIXING and IMAGE_ADJUSTING through the HTTP API, served by
the seeded offline models (the local refiners and the local provider's image tools)."""

from __future__ import annotations

import base64
import io
from typing import TYPE_CHECKING, Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.generations.helpers import wait_for
from tests.imaging.synthetic import portrait

if TYPE_CHECKING:
    from tests.conftest import TestUser

URL = "/api/v1/generations/"


def _data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


async def _run(
    client: httpx.AsyncClient, user: TestUser, body: dict[str, Any]
) -> tuple[dict[str, Any], Image.Image]:
    r = await client.post(URL, json=body, headers=user.headers)
    assert r.status_code == 202, r.text
    done = await wait_for(client, r.json()["id"], user.headers, timeout=30)
    assert done["status"] == "COMPLETED", done
    (prediction,) = done["predictions"]
    image = await client.get(prediction["result_image_url"], headers=user.headers)
    assert image.status_code == 200
    return done, Image.open(io.BytesIO(image.content)).convert("RGB")


async def test_refine_strategy_uses_the_ultimate_refiner(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    source = portrait(96, 144).image
    done, image = await _run(
        client,
        user,
        {
            "generation_strategy": "REFINE",
            "garment_placement_base_image_url": _data_url(source),
            "seed": 1,
            "batch_size": 1,
        },
    )
    assert done["plan"][0]["provider"] == "sartiq_ultimate_refiner"
    assert image.size == (192, 288)  # version '1' with nothing asked: x2, same aspect


async def test_face_fixing_strategy_uses_the_face_fixer(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    source = portrait(192, 288).image
    done, image = await _run(
        client,
        user,
        {
            "generation_strategy": "FACE_FIXING",
            "garment_placement_base_image_url": _data_url(source),
            "seed": 1,
            "batch_size": 1,
        },
    )
    assert done["plan"][0]["provider"] == "sartiq_ultimate_face_fixer"
    assert image.size == source.size
    changed = np.any(np.asarray(image) != np.asarray(source), axis=2)
    ys, _ = np.nonzero(changed)
    assert changed.any() and ys.max() < 100  # only around the face, at the top


async def test_background_fixing_strategy_replaces_the_backdrop(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    source = portrait(128, 192).image
    done, image = await _run(
        client,
        user,
        {
            "generation_strategy": "BACKGROUND_FIXING",
            "garment_placement_base_image_url": _data_url(source),
            "background": "#00FF00",
            "seed": 1,
            "batch_size": 1,
        },
    )
    assert done["plan"][0]["provider"] == "local"
    assert image.getpixel((2, 2)) == (0, 255, 0)


@pytest.mark.parametrize(
    ("strategy", "factor"),
    [("IMAGE_ADJUSTING", 1), ("BACKGROUND_FIXING", 1), ("FACE_FIXING", 1), ("REFINE", 2)],
)
async def test_local_tools_work_on_the_image_turned_upright_by_its_exif_orientation(
    client: httpx.AsyncClient, user: TestUser, strategy: str, factor: int
) -> None:
    # A phone photo: stored sideways (128x192) with a tag saying to turn it to 192x128.
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    portrait(128, 192).image.save(buffer, format="PNG", exif=exif)
    source = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    _done, image = await _run(
        client,
        user,
        {
            "generation_strategy": strategy,
            "garment_placement_base_image_url": source,
            "seed": 1,
            "batch_size": 1,
        },
    )
    assert image.size == (192 * factor, 128 * factor)


async def test_background_fixing_is_reproducible_for_the_same_input_and_seed(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    body = {
        "generation_strategy": "BACKGROUND_FIXING",
        "garment_placement_base_image_url": _data_url(portrait(128, 192).image),
        "background": "#00FF00",
        "seed": 7,
        "batch_size": 1,
    }
    digests = set()
    for _ in range(3):
        done, _image = await _run(client, user, body)
        digests.add(done["predictions"][0]["result_sha256"])
    assert len(digests) == 1, digests
    # A replay of the run gives the same bytes again.
    r = await client.post(
        f"/api/v1/predictions/{done['predictions'][0]['id']}/replay", headers=user.headers
    )
    assert r.status_code == 202, r.text
    replayed = await wait_for(client, r.json()["id"], user.headers, timeout=30)
    assert replayed["status"] == "COMPLETED", replayed
    assert {replayed["predictions"][0]["result_sha256"]} == digests


async def test_image_adjusting_strategy_corrects_a_colour_cast(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    original = np.asarray(portrait(128, 192).image).astype(float)
    cast = Image.fromarray(np.clip(original * [1.1, 1.0, 0.82] * 0.8, 0, 255).astype(np.uint8))
    done, image = await _run(
        client,
        user,
        {
            "generation_strategy": "IMAGE_ADJUSTING",
            "garment_placement_base_image_url": _data_url(cast),
            "seed": 1,
            "batch_size": 1,
        },
    )
    assert done["plan"][0]["provider"] == "local"
    corner_before = np.asarray(cast)[:10, :10].reshape(-1, 3).mean(axis=0)
    corner_after = np.asarray(image)[:10, :10].reshape(-1, 3).mean(axis=0)
    assert np.ptp(corner_after) < 0.3 * np.ptp(corner_before)


async def test_background_fixing_handles_images_too_thin_for_grabcut(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    for size in ((8, 6000), (6000, 8)):
        source = Image.new("RGB", size, (90, 140, 200))
        done, image = await _run(
            client,
            user,
            {
                "generation_strategy": "BACKGROUND_FIXING",
                "garment_placement_base_image_url": _data_url(source),
                "background": "white",
                "seed": 1,
                "batch_size": 1,
            },
        )
        assert image.size == size
        report = done["predictions"][0]["manifest"]["pipeline"][0]["report"]["report"]
        assert report["method"] == "subject_box" and "too thin for GrabCut" in report["matte_note"]


async def test_a_16_bit_greyscale_source_keeps_its_greys(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    # Greys from dark to mid as 16-bit values: a straight convert("RGB") clips them all white.
    ramp = np.linspace(0x1000, 0x8000, 96 * 144).reshape(144, 96).astype(np.uint16)
    _done, image = await _run(
        client,
        user,
        {
            "generation_strategy": "IMAGE_ADJUSTING",
            "garment_placement_base_image_url": _data_url(Image.fromarray(ramp)),
            "seed": 1,
            "batch_size": 1,
        },
    )
    assert np.asarray(image).mean() < 160
