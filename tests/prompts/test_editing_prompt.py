"""POST /prompts/create-editing-prompt: local analysis, vision LLM, and input safety."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw

from app.core.config import Settings
from app.imaging.analysis import analyse_garment, analyse_scene
from app.main import create_app
from tests.conftest import TestUser as User
from tests.fakes.llm import FakeLLM

URL = "/api/v1/prompts/create-editing-prompt"


def encode(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buffer.getvalue()).decode()


def product_shot(color: tuple[int, int, int], striped: bool = False) -> Image.Image:
    """A garment-shaped block on a white backdrop, optionally striped."""
    image = Image.new("RGB", (80, 80), "white")
    draw = ImageDraw.Draw(image)
    draw.rectangle((15, 10, 65, 70), fill=color)
    if striped:
        for y in range(10, 70, 6):
            draw.rectangle((15, y, 65, y + 2), fill=(250, 240, 60))
    return image


def base_photo() -> Image.Image:
    return Image.new("RGB", (60, 100), (235, 235, 235))


def test_garment_analysis() -> None:
    solid = analyse_garment(product_shot((25, 35, 80)))
    assert solid.colours[0].name == "navy" and not solid.patterned
    assert solid.brightness == "dark"
    striped = analyse_garment(product_shot((200, 30, 35), striped=True))
    assert striped.patterned
    assert {"red", "yellow"} <= {c.name for c in striped.colours}
    light = analyse_garment(product_shot((240, 150, 180)))
    assert light.brightness == "light" and light.colours[0].name == "pink"
    # One pixel wide or high: still read (gradients need two pixels along each axis).
    assert analyse_garment(Image.new("RGB", (1, 1), (25, 35, 80))).colours[0].name == "navy"
    assert analyse_garment(Image.new("RGB", (1, 500), (200, 30, 35))).colours[0].name == "red"
    scene = analyse_scene(base_photo())
    assert (scene.orientation, scene.framing) == ("portrait", "full-length")
    assert analyse_scene(Image.new("RGB", (100, 60))).orientation == "landscape"


async def test_local_analysis_prompt(client: httpx.AsyncClient, user: User) -> None:
    body = {
        "base_image": encode(base_photo()),
        "reference_image": encode(product_shot((25, 35, 80)), "JPEG"),
    }
    r = await client.post(URL, json=body, headers=user.headers)
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["source"] == "analysis" and data["llm_error"] is None
    assert "solid navy garment (dark)" in data["prompt"]
    assert "portrait full-length photo" in data["prompt"]
    assert data["analysis"]["reference"]["pattern"] == "solid"
    striped = {**body, "reference_image": encode(product_shot((200, 30, 35), striped=True))}
    r = await client.post(URL, json=striped, headers=user.headers)
    assert "patterned" in r.json()["prompt"] and "red" in r.json()["prompt"]


async def test_local_paths_and_refusals(
    client: httpx.AsyncClient, user: User, settings: Settings, tmp_path: Path
) -> None:
    files = settings.data_files_dir
    files.mkdir(parents=True, exist_ok=True)
    product_shot((40, 150, 60)).save(files / "green.png")
    base_photo().save(files / "base.png")
    r = await client.post(
        URL, json={"base_image": "base.png", "reference_image": "green.png"}, headers=user.headers
    )
    assert r.status_code == 200 and "green" in r.json()["prompt"]
    outside = tmp_path / "x.png"
    base_photo().save(outside)
    for body, field in (
        ({"base_image": str(outside), "reference_image": "green.png"}, "base_image"),
        ({"base_image": "base.png", "reference_image": "../green.png"}, "reference_image"),
        (
            {"base_image": "http://169.254.169.254/latest", "reference_image": "green.png"},
            "base_image",
        ),
        (
            {"base_image": "base.png", "reference_image": "data:image/png;base64,###"},
            "reference_image",
        ),
        ({"base_image": "base\u0000.png", "reference_image": "green.png"}, "base_image"),
    ):
        r = await client.post(URL, json=body, headers=user.headers)
        assert r.status_code == 400, body
        assert r.json()["detail"].startswith(f"{field}:")
    r = await client.post(URL, json={"base_image": "base.png"}, headers=user.headers)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "reference_image"]
    assert (await client.post(URL, json={})).status_code == 401


async def test_vision_llm_gets_both_images(
    settings: Settings,
    client: httpx.AsyncClient,
    user: User,
    fake_llm: FakeLLM,
    ai_core_model: dict[str, Any],
) -> None:
    # An app instance of its own, without the shared app's background jobs, so its pool
    # shows exactly the connections this request holds.
    quiet_app = create_app(settings)
    pool = quiet_app.state.db.engine.sync_engine.pool
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=quiet_app), base_url="http://test")
    held: list[int] = []

    def reply(system: str | None, _user: str, images: int) -> str:
        # The fake LLM is shared: count only this endpoint's calls, not those of background
        # jobs other tests left running on the shared app.
        if (system or "").startswith("You write instructions"):
            held.append(pool.checkedout())
        return f"swap garment ({images} images; {(system or '')[:40]})"

    fake_llm.reply = reply
    body = {
        "base_image": encode(base_photo()),
        "reference_image": encode(product_shot((25, 35, 80))),
    }
    r = await client.post(URL, json=body, headers=user.headers)
    data = r.json()
    assert data["source"] == "llm"
    assert data["prompt"].startswith("swap garment (2 images; You write instructions")
    # The database connection is back in the pool while the LLM works.
    assert held == [0]
    fake_llm.mode = "error"
    r = await client.post(URL, json=body, headers=user.headers)
    assert (r.json()["source"], r.json()["llm_error"]) == ("analysis", "provider_error")
    await client.aclose()
    await quiet_app.state.db.dispose()


@pytest.mark.parametrize("field", ["base_image", "reference_image"])
async def test_openapi_schema(client: httpx.AsyncClient, field: str) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    schema = spec["components"]["schemas"]["CreateEditingPromptRequest"]
    assert schema["required"] == ["base_image", "reference_image"]
    assert schema["properties"][field]["type"] == "string"
    assert schema["description"].startswith(
        "Request model for the /create-editing-prompt endpoint."
    )
