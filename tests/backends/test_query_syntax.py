"""Named parameters (:id), one syntax, translated to each backend's placeholders."""

from __future__ import annotations

import pytest

from bulkload.backends.query import Query, parse_query


def test_names_become_numbered_dollars_for_postgresql():
    query = Query("SELECT * FROM t WHERE a = :a AND b = :b OR a2 = :a")
    assert query.parameters == ("a", "b")
    assert query.translate("dollar") == (
        "SELECT * FROM t WHERE a = $1 AND b = $2 OR a2 = $1",
        (0, 1),
    )


def test_names_become_one_question_mark_per_use_for_sqlite():
    sql, order = Query("SELECT * FROM t WHERE a = :a AND b = :b OR a2 = :a").translate("qmark")
    assert sql == "SELECT * FROM t WHERE a = ? AND b = ? OR a2 = ?"
    assert order == (0, 1, 0)


def test_casts_literals_and_comments_are_not_parameters():
    query = Query(
        "SELECT ':no', \":nope\", x::int -- :comment\nFROM t /* :c */ WHERE id = :id::bigint"
    )
    assert query.parameters == ("id",)
    sql, _ = query.translate("dollar")
    assert sql.endswith("WHERE id = $1::bigint") and "':no'" in sql and "x::int" in sql


def test_a_named_weighted_query():
    query = parse_query("name=lookup,weight=9:SELECT a FROM t WHERE id = :id")
    assert (query.name, query.weight, query.sql) == (
        "lookup",
        9.0,
        "SELECT a FROM t WHERE id = :id",
    )
    assert parse_query("SELECT :x", 2).name == "query2"  # a plain one keeps its colon
    with pytest.raises(ValueError, match="weight"):
        parse_query("name=a,weight=0:SELECT 1")
