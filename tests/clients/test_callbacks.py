"""Per-request callbacks: `config.callback_url` receives the generation's final state through
the webhook delivery machinery (retried with the same `webhook-id`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.clients.apps import FAST_WEBHOOKS, app_instance
from tests.clients.receiver import webhook_receiver
from tests.clients.test_webhooks import eventually
from tests.generations.helpers import wait_for

if TYPE_CHECKING:
    from tests.conftest import TestUser


async def test_callback_receives_the_final_state_after_a_500(
    database_url: str, user: TestUser
) -> None:
    with webhook_receiver(script=[500]) as receiver:
        async with app_instance(database_url, **FAST_WEBHOOKS) as (_app, c):
            secret = await c.get("/api/v1/webhooks/callback-secret", headers=user.headers)
            assert secret.status_code == 200, secret.text
            rotated = await c.post("/api/v1/webhooks/callback-secret/rotate", headers=user.headers)
            assert rotated.status_code == 200, rotated.text
            assert rotated.json()["secret"] != secret.json()["secret"]
            assert rotated.json()["secret"].startswith("whsec_")
            # Verified with the secret in force when it is sent: the rotated one.
            receiver.secret = rotated.json()["secret"]
            r = await c.post(
                "/api/v1/generations/",
                json={
                    "batch_size": 1,
                    "seed": 21,
                    "width": 64,
                    "height": 64,
                    "config": {"callback_url": receiver.url},
                },
                headers=user.headers,
            )
            assert r.status_code == 202, r.text
            assert r.json()["config"] == {"callback_url": receiver.url}
            done = await wait_for(c, r.json()["id"], user.headers)

            async def delivered() -> bool:
                return len(receiver.received) >= 2

            await eventually(delivered)
    first, second = receiver.received
    assert first.verified and second.verified
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    assert first.body["type"] == "generation.completed"
    data = first.body["data"]
    assert data["generation_id"] == done["id"]
    assert data["status"] == "COMPLETED"
    assert data["generation_url"] == f"/api/v1/generations/{done['id']}"
    (prediction,) = data["predictions"]
    assert prediction["id"] == done["predictions"][0]["id"]
    assert prediction["result_sha256"] == done["predictions"][0]["result_sha256"]
    assert prediction["result_image_url"] == done["predictions"][0]["result_image_url"]
    # Only the final event is called back: no progress or prediction events.
    assert len(receiver.received) == 2


async def test_callback_url_goes_through_the_url_guard(database_url: str, user: TestUser) -> None:
    # The suite's own app does not allow loopback targets.
    async with app_instance(database_url) as (_app, c):
        r = await c.post(
            "/api/v1/generations/",
            json={"width": 64, "height": 64, "config": {"callback_url": "http://127.0.0.1:9/x"}},
            headers=user.headers,
        )
    assert r.status_code == 422
    (error,) = r.json()["detail"]
    assert error["loc"] == ["body", "config", "callback_url"]
    assert "URL refused" in error["msg"]


async def test_callback_secrets_are_per_scope_and_members_only(
    client: Any, make_user: Any, make_org: Any
) -> None:
    owner, member, outsider = await make_user(), await make_user(), await make_user()
    org = await make_org(owner, member)
    in_org = {"organization_id": org["id"]}

    async def secret_of(who: TestUser, **params: str) -> Any:
        return await client.get(
            "/api/v1/webhooks/callback-secret", params=params, headers=who.headers
        )

    first = await secret_of(owner, **in_org)
    assert first.status_code == 200, first.text
    # Created once, then the same for every member.
    assert (await secret_of(member, **in_org)).json() == first.json()
    assert (await secret_of(owner, **in_org)).json() == first.json()
    # A personal space has its own, and nobody else reads the organization's.
    assert (await secret_of(owner)).json()["secret"] != first.json()["secret"]
    assert (await secret_of(outsider, **in_org)).status_code == 403
    r = await client.post(
        "/api/v1/webhooks/callback-secret/rotate", params=in_org, headers=outsider.headers
    )
    assert r.status_code == 403
    assert (await secret_of(owner, **in_org)).json() == first.json()
