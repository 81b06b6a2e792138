"""Organization isolation on every generation route, including stored files."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx

from tests.generations.helpers import wait_for

if TYPE_CHECKING:
    from tests.conftest import TestUser

URL = "/api/v1/generations/"


async def test_other_users_cannot_reach_a_generation(
    client: httpx.AsyncClient, make_user: Any, make_org: Any
) -> None:
    owner: TestUser = await make_user()
    member: TestUser = await make_user()
    stranger: TestUser = await make_user()
    org = await make_org(owner, member)
    params = {"organization_id": org["id"]}
    r = await client.post(
        URL, params=params, json={"batch_size": 1, "width": 64, "height": 64}, headers=owner.headers
    )
    assert r.status_code == 202, r.text
    generation = await wait_for(client, r.json()["id"], owner.headers, params=params)
    assert generation["organization_id"] == org["id"]
    prediction = generation["predictions"][0]

    # A member of the organization sees it, within the organization.
    r = await client.get(f"{URL}{generation['id']}", params=params, headers=member.headers)
    assert r.status_code == 200
    image = await client.get(prediction["result_image_url"], params=params, headers=member.headers)
    assert image.status_code == 200
    # Not among the member's personal rows.
    assert (await client.get(f"{URL}{generation['id']}", headers=member.headers)).status_code == 404

    # Someone outside: 403 asking for the organization, 404 otherwise, everywhere.
    assert (await client.get(URL, params=params, headers=stranger.headers)).status_code == 403
    for method, path in [
        ("GET", f"{URL}{generation['id']}"),
        ("POST", f"{URL}{generation['id']}/cancel"),
        ("POST", f"{URL}{generation['id']}/retry"),
        ("DELETE", f"{URL}{generation['id']}"),
        ("GET", f"/api/v1/predictions/{prediction['id']}"),
        ("POST", f"/api/v1/predictions/{prediction['id']}/select"),
        ("GET", prediction["result_image_url"]),
    ]:
        r = await client.request(method, path, headers=stranger.headers)
        assert r.status_code == 404, (method, path, r.text)
    listed = await client.get(URL, headers=stranger.headers)
    assert listed.json()["count"] == 0
    listed = await client.get(
        "/api/v1/predictions/", params={"generation_id": generation["id"]}, headers=stranger.headers
    )
    assert listed.json()["count"] == 0
    # Still there for its owners.
    r = await client.get(f"{URL}{generation['id']}", params=params, headers=owner.headers)
    assert r.status_code == 200


async def test_stored_results_cannot_be_named_as_local_image_paths(
    app: Any, client: httpx.AsyncClient, make_user: Any, settings: Any
) -> None:
    """DATA_FILES_DIR defaults to DATA_DIR, which holds every organization's results (and the
    signing key): a path naming them is answered as if nothing were there."""
    owner: TestUser = await make_user()
    stranger: TestUser = await make_user()
    r = await client.post(
        URL, json={"batch_size": 1, "width": 64, "height": 64}, headers=owner.headers
    )
    generation = await wait_for(client, r.json()["id"], owner.headers)
    assert generation["status"] == "COMPLETED"
    [key] = await app.state.storage.list_keys(f"generations/{generation['id']}/")
    files = settings.files_dir.relative_to(settings.data_files_dir)
    for path in (
        f"{files}/{key}",
        str(settings.files_dir / key),
        f"{files}/generations/{generation['id']}",  # exists: a directory
        f"{files}/generations/00000000-0000-0000-0000-000000000000",  # does not exist
        "secret_key",
    ):
        r = await client.post(
            URL,
            json={
                "generation_strategy": "IMAGE_ADJUSTING",
                "garment_placement_base_image_url": path,
            },
            headers=stranger.headers,
        )
        assert r.status_code == 422, (path, r.text)
        assert "Image file not found" in r.text, (path, r.text)
