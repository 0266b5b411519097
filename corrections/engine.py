"""A SQLAlchemy engine for the corrections store: SQLite (one file, WAL) or PostgreSQL.

SQLite writers take the write lock when their transaction begins (BEGIN IMMEDIATE), so a limit
checked inside a transaction still holds when its row is written; PostgreSQL gets the same from a
table lock (corrections/store.py).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

# How long a SQLite writer waits for another's lock before giving up.
SQLITE_BUSY_TIMEOUT_S = 5


def connect(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def sqlite_settings(dbapi_connection, _record):
        # pysqlite's own transaction handling is turned off, so the BEGIN below is the only one.
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA journal_mode=WAL")

    @event.listens_for(engine, "begin")
    def begin_immediate(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
