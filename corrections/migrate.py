"""Bring a corrections store's schema up to date with Alembic (corrections/migrations).

    python -m corrections.migrate sqlite:///runs/corrections.sqlite

The web front migrates its store when it starts, so this command is for a PostgreSQL that several
replicas share: run it once, as a Kubernetes job, before the new replicas start (docs/LIFECYCLE.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from corrections.engine import connect

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database_url", help="sqlite:///path or postgresql+psycopg://user@host/db")
    engine = connect(parser.parse_args().database_url)
    upgrade(engine)
    print(f"{engine.url.render_as_string(hide_password=True)}: schema at head")


if __name__ == "__main__":
    main()
