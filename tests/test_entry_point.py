"""`python -m app` hands uvicorn the settings that shape how requests are served."""

from __future__ import annotations

from typing import Any

import pytest

import app.__main__ as entry
from app.core.config import settings


@pytest.mark.parametrize("access_log", [True, False])
def test_access_log_follows_the_setting(monkeypatch: pytest.MonkeyPatch, access_log: bool) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(entry.uvicorn, "run", lambda *args, **kwargs: calls.append(kwargs))
    monkeypatch.setattr(settings, "ACCESS_LOG", access_log)
    entry.main()
    assert calls[0]["access_log"] is access_log
    assert calls[0]["factory"] is True


def test_the_worker_runs_on_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvloop

    import app.worker as worker

    started: list[Any] = []

    def fake_run(coroutine: Any) -> None:
        started.append(coroutine)
        coroutine.close()

    monkeypatch.setattr(uvloop, "run", fake_run)
    worker.main()
    assert started and started[0].cr_code.co_name == "run_worker"
