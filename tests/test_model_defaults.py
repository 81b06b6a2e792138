"""Defaults of table models built in Python (SQLModel runs the factories per row)."""

from __future__ import annotations

import uuid

from app.models.generation import Prediction, PredictionStatus


def _prediction() -> Prediction:
    return Prediction(
        generation_id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        position=0,
        seed=1,
        status=PredictionStatus.PENDING,
    )


def test_list_columns_default_to_a_fresh_empty_list_per_row() -> None:
    first, second = _prediction(), _prediction()
    assert first.attempts == [] and second.attempts == []
    first.attempts.append({"provider": "local"})
    assert second.attempts == []
    assert first.id != second.id
