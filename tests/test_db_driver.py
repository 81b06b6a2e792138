"""Statements compiled ahead for the asyncpg driver pool."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, column, table, update

from app.core.db import driver_statement

ITEMS = table("items", column("id"), column("status"), column("note"))


def test_arguments_follow_the_sql_and_carry_the_statement_literals() -> None:
    statement = (
        update(ITEMS)
        .where(ITEMS.c.id == bindparam("item"), ITEMS.c.status == "NEW")
        .values(status="DONE", note=bindparam("note"))
    )
    compiled = driver_statement(statement)
    assert compiled.sql.startswith("UPDATE items SET status=$1")
    assert compiled.args({"item": 7, "note": "ok"}) == ["DONE", "ok", 7, "NEW"]
    assert driver_statement(statement) is compiled


def test_a_missing_parameter_is_an_error_not_a_null() -> None:
    compiled = driver_statement(
        update(ITEMS).where(ITEMS.c.id == bindparam("item")).values(note=None)
    )
    assert compiled.args({"item": 1}) == [None, 1]
    with pytest.raises(KeyError, match="item"):
        compiled.args({})


def test_expanding_in_lists_are_refused() -> None:
    with pytest.raises(ValueError, match="IN"):
        driver_statement(update(ITEMS).where(ITEMS.c.status.in_(["A", "B"])).values(note="x"))


def test_columns_sqlalchemy_would_fill_on_update_must_be_given() -> None:
    # `updated_at` has an onupdate default that only SQLAlchemy's execution would apply.
    from app.repositories.generations import _finish_prediction_statement

    compiled = driver_statement(_finish_prediction_statement(("status",)))
    with pytest.raises(KeyError, match="updated_at"):
        compiled.args({"v_status": "ERROR", "f_id": 1, "f_token": "t"})
