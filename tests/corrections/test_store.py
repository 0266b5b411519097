"""The corrections store on SQLite and on a real PostgreSQL: migrations, limits, reviews, and
that a refused write leaves nothing behind."""

from __future__ import annotations

import hashlib
import threading
from datetime import timedelta

import pytest
from sqlalchemy import inspect, select

from corrections.migrate import downgrade, upgrade
from corrections.schema import corrections, metadata
from corrections.store import (
    Limits,
    NewCorrection,
    StoreRefusal,
    add_correction,
    count,
    open_store,
    review,
    utc_now,
    with_status,
)

ROOMY = Limits(per_client_per_hour=100, max_stored=1000)


def new(address: str = "203.0.113.7", correction: str = "7") -> NewCorrection:
    return NewCorrection(image=b"\x89PNG drawing", served_answer='{"number": "1"}', model_version="1.0",
                         correction=correction, client_address=address)


@pytest.fixture
def store(store_url):
    engine = open_store(store_url)
    yield engine
    engine.dispose()


def test_the_migrated_schema_is_the_one_the_code_uses_and_migrates_down(store):
    tables = inspect(store)
    for table in metadata.sorted_tables:
        assert {column["name"] for column in tables.get_columns(table.name)} == set(table.columns.keys())
    assert {index["name"] for index in tables.get_indexes("corrections")} == {
        "corrections_by_client", "corrections_by_status"}
    downgrade(store, "base")
    assert set(inspect(store).get_table_names()) == {"alembic_version"}
    upgrade(store)
    assert count(store) == {"pending": 0, "accepted": 0, "rejected": 0}


def test_a_correction_is_stored_as_sent_with_a_salted_client_hash(store):
    sent = new()
    stored_id = add_correction(store, sent, ROOMY)
    (stored,) = with_status(store, "pending")
    assert (stored.id, stored.image, stored.correction, stored.model_version) == (stored_id, sent.image, "7", "1.0")
    assert stored.client_hash != hashlib.sha256(sent.client_address.encode()).hexdigest()
    add_correction(store, new(), ROOMY)
    add_correction(store, new("198.51.100.1"), ROOMY)
    hashes = [c.client_hash for c in with_status(store, "pending")]
    assert hashes[0] == hashes[1] != hashes[2]


def test_the_hourly_limit_per_client_refuses_and_stores_nothing(store):
    limits = Limits(per_client_per_hour=2, max_stored=1000)
    now = utc_now()
    add_correction(store, new(), limits, now)
    add_correction(store, new(), limits, now)
    with pytest.raises(StoreRefusal) as refused:
        add_correction(store, new(), limits, now)
    assert refused.value.status == 429
    add_correction(store, new("198.51.100.1"), limits, now)  # another client is not held back
    add_correction(store, new(), limits, now + timedelta(hours=1, seconds=1))  # nor this one an hour later
    assert count(store)["pending"] == 4


def test_a_full_store_refuses(store):
    limits = Limits(per_client_per_hour=100, max_stored=2)
    add_correction(store, new("192.0.2.1"), limits)
    add_correction(store, new("192.0.2.2"), limits)
    with pytest.raises(StoreRefusal) as refused:
        add_correction(store, new("192.0.2.3"), limits)
    assert refused.value.status == 503 and count(store)["pending"] == 2


def test_writers_at_once_cannot_pass_a_limit_together(store):
    limits = Limits(per_client_per_hour=3, max_stored=1000)
    outcomes = []

    def submit():
        try:
            add_correction(store, new(), limits)
            outcomes.append("stored")
        except StoreRefusal:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["stored"] * 3
    assert count(store)["pending"] == 3


def test_a_review_changes_all_it_names_or_nothing(store):
    first, second = add_correction(store, new(), ROOMY), add_correction(store, new(), ROOMY)
    with pytest.raises(StoreRefusal) as refused:
        review(store, {first: ("accepted", "person"), second: ("rejected", "person"), 999: ("accepted", "person")})
    assert refused.value.status == 409 and "999" in str(refused.value)
    assert count(store) == {"pending": 2, "accepted": 0, "rejected": 0}
    review(store, {first: ("accepted", "rule:second-choice")})
    with pytest.raises(StoreRefusal):
        review(store, {first: ("rejected", "person"), second: ("rejected", "person")})  # the first is no longer pending
    review(store, {second: ("rejected", "person")})
    with store.connect() as connection:
        rows = connection.execute(select(corrections.c.id, corrections.c.status, corrections.c.reviewed_by)
                                  .order_by(corrections.c.id)).all()
    assert [tuple(row) for row in rows] == [(first, "accepted", "rule:second-choice"), (second, "rejected", "person")]


@pytest.mark.parametrize("status", ["maybe", ""])
def test_unknown_statuses_are_refused(store, status):
    with pytest.raises(StoreRefusal):
        review(store, {add_correction(store, new(), ROOMY): (status, "person")})
    with pytest.raises(StoreRefusal):
        with_status(store, status)
