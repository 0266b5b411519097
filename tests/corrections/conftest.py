"""Each store test runs on both stores the service supports: a SQLite file, and a database of its
own on a real PostgreSQL server started for the session."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from tests.fixtures.postgres import postgres_server


@pytest.fixture(scope="session")
def postgres():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'corrections.sqlite'}"
    server = request.getfixturevalue("postgres")
    name = f"corrections_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return server.rsplit("/", 1)[0] + f"/{name}"
