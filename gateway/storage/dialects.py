"""The few SQL expressions that must be spelled differently on SQLite and PostgreSQL.

Everything else in the services is portable SQLAlchemy; whatever is not lives here, each
function taking the session (or dialect name) and returning an expression for that backend.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable, type_coerce

from gateway.storage.types import JSONType

Upsert = postgresql.Insert | sqlite.Insert
Column = ColumnElement[Any] | QueryableAttribute[Any]


def dialect_name(db: AsyncSession) -> str:
    """Return the name of the dialect `db` is bound to ("sqlite" or "postgresql")."""
    return db.get_bind().dialect.name


def insert(db: AsyncSession, table: Table) -> Upsert:
    """Return an INSERT for `table` that supports ON CONFLICT on the session's backend."""
    if dialect_name(db) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def json_array_contains(db: AsyncSession, column: Column, value: str) -> ColumnElement[bool]:
    """Return `column` (a JSON array of strings) contains `value`."""
    if dialect_name(db) == "postgresql":
        # jsonb @> '["value"]'
        return type_coerce(column, JSONB).contains([value])
    elements = func.json_each(column).table_valued("value")
    return select(literal(1)).select_from(elements).where(elements.c.value == value).exists()


def json_field_text(column: Column, key: str) -> ColumnElement[str]:
    """Return the top-level `key` of a JSON object as text: 5 and "5" both read "5"."""
    # PostgreSQL's ->> already yields text; SQLite's json_extract keeps numbers numeric.
    return cast(column[key].as_string(), String)


def greatest(db: AsyncSession, a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    """Return the larger of two values (SQLite's two-argument max())."""
    if dialect_name(db) == "postgresql":
        return func.greatest(a, b, type_=a.type)
    return func.max(a, b, type_=a.type)


def least(db: AsyncSession, a: ColumnElement[Any], b: ColumnElement[Any]) -> ColumnElement[Any]:
    """Return the smaller of two values (SQLite's two-argument min())."""
    if dialect_name(db) == "postgresql":
        return func.least(a, b, type_=a.type)
    return func.min(a, b, type_=a.type)


def merged_string_set(db: AsyncSession, table: Table, column: str) -> ColumnElement[Any]:
    """Return, inside ON CONFLICT DO UPDATE, the sorted union of the stored and new arrays.

    `column` holds a JSON array of strings; duplicates are dropped and the result is sorted so
    that the outcome does not depend on the order in which occurrences arrive.
    """
    if column not in table.c:
        raise ValueError(f"{table.name} has no column {column!r}")
    # Only identifiers go into the SQL text, and `column` was checked against the table.
    stored, new = f"{table.name}.{column}", f"excluded.{column}"
    if dialect_name(db) == "postgresql":
        sql = (
            "(SELECT coalesce(jsonb_agg(DISTINCT e.v ORDER BY e.v), '[]'::jsonb)"  # noqa: S608
            f" FROM jsonb_array_elements_text({stored} || {new}) AS e(v))"
        )
    else:
        # SQLite before 3.44 has no ORDER BY inside aggregates; json_group_array keeps the
        # order of the sorted subquery it reads.
        sql = (
            "(SELECT json_group_array(u.value) FROM ("  # noqa: S608
            f"SELECT value FROM json_each({stored})"
            f" UNION SELECT value FROM json_each({new})"
            " ORDER BY value) AS u)"
        )
    return literal_column(sql, JSONType)


class Explain(Executable, ClauseElement):
    """`EXPLAIN <statement>` (PostgreSQL), executed with the statement's bound parameters.

    Built as a construct rather than text so that values (an admin's search text among them)
    travel as parameters through the usual type processing, never rendered into the SQL.
    """

    inherit_cache = False

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement


@compiles(Explain, "postgresql")
def _compile_explain(element: Explain, compiler: SQLCompiler, **kw: Any) -> str:
    return "EXPLAIN " + compiler.process(element.statement, **kw)
