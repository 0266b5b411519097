"""The corrections store: add a correction within its limits, list them, and review them.

Every write is one transaction: a correction refused by a limit, or a review naming one unknown or
already-reviewed id, leaves the store exactly as it was.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Connection, Engine, func, select, update

from corrections.engine import connect
from corrections.migrate import upgrade
from corrections.schema import STATUSES, corrections, store_salt

RATE_WINDOW = timedelta(hours=1)


class StoreRefusal(Exception):
    """A correction or a review the store will not take; ``status`` is the HTTP status to answer."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Limits:
    per_client_per_hour: int
    max_stored: int


@dataclass(frozen=True)
class NewCorrection:
    image: bytes
    served_answer: str
    model_version: str
    correction: str
    client_address: str


@dataclass(frozen=True)
class Correction:
    id: int
    created_at: datetime
    client_hash: str
    image: bytes
    served_answer: str
    model_version: str
    correction: str
    status: str
    reviewed_by: str | None


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def open_store(url: str) -> Engine:
    """An engine on the store at ``url``, its schema migrated to the newest revision."""
    engine = connect(url)
    upgrade(engine)
    return engine


def salted_hash(connection: Connection, address: str) -> str:
    salt = connection.execute(select(store_salt.c.salt)).scalar_one()
    return hmac.new(salt.encode(), address.encode(), hashlib.sha256).hexdigest()


def lock_for_limits(connection: Connection) -> None:
    """Serialise writers, so two at once cannot both pass a limit (SQLite: BEGIN IMMEDIATE did)."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("LOCK TABLE corrections IN SHARE ROW EXCLUSIVE MODE")


def add_correction(engine: Engine, new: NewCorrection, limits: Limits, now: datetime | None = None) -> int:
    """Store ``new`` and return its id, or raise ``StoreRefusal`` and store nothing."""
    now = now or utc_now()
    with engine.begin() as connection:
        lock_for_limits(connection)
        client = salted_hash(connection, new.client_address)
        recent = connection.execute(select(func.count()).where(
            corrections.c.client_hash == client, corrections.c.created_at > now - RATE_WINDOW)).scalar_one()
        if recent >= limits.per_client_per_hour:
            raise StoreRefusal(f"at most {limits.per_client_per_hour} corrections an hour from one address", 429)
        stored = connection.execute(select(func.count()).select_from(corrections)).scalar_one()
        if stored >= limits.max_stored:
            raise StoreRefusal("the corrections store is full; try again after the next review", 503)
        return connection.execute(corrections.insert().values(
            created_at=now, client_hash=client, image=new.image,
            image_sha256=hashlib.sha256(new.image).hexdigest(), served_answer=new.served_answer,
            model_version=new.model_version, correction=new.correction, status="pending",
        )).inserted_primary_key[0]


def with_status(engine: Engine, status: str) -> list[Correction]:
    if status not in STATUSES:
        raise StoreRefusal(f"unknown status {status!r} (one of {', '.join(STATUSES)})", 400)
    query = select(*(corrections.c[field] for field in Correction.__dataclass_fields__)).where(
        corrections.c.status == status).order_by(corrections.c.id)
    with engine.connect() as connection:
        return [Correction(**row._mapping) for row in connection.execute(query)]


def review(engine: Engine, decisions: dict[int, tuple[str, str]], now: datetime | None = None) -> None:
    """Apply ``{id: (status, reviewed_by)}`` to pending corrections, status "accepted" or "rejected":
    every decision, or (on any unknown or already-reviewed id) none."""
    if not decisions:
        raise StoreRefusal("no correction named", 400)
    unknown = {status for status, _ in decisions.values()} - {"accepted", "rejected"}
    if unknown:
        raise StoreRefusal(f"a review accepts or rejects, not {', '.join(map(repr, sorted(unknown)))}", 400)
    wanted = sorted(decisions)
    with engine.begin() as connection:
        lock_for_limits(connection)
        pending = set(connection.execute(select(corrections.c.id).where(
            corrections.c.id.in_(wanted), corrections.c.status == "pending")).scalars())
        if pending != set(wanted):
            raise StoreRefusal(f"not pending (unknown or already reviewed): "
                               f"{', '.join(str(i) for i in wanted if i not in pending)}; nothing was changed", 409)
        for correction_id, (status, reviewed_by) in decisions.items():
            connection.execute(update(corrections).where(corrections.c.id == correction_id).values(
                status=status, reviewed_by=reviewed_by, reviewed_at=now or utc_now()))


def count(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        rows = connection.execute(select(corrections.c.status, func.count()).group_by(corrections.c.status))
        return {status: 0 for status in STATUSES} | dict(rows.all())
