"""The corrections store's tables: what a person said a drawing really was, and the store's salt.

Alembic's migrations (corrections/migrations) create them; this module is what the code reads and
writes through, so the two must agree (tests/corrections/test_store.py checks a migrated database
against it).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, DateTime, Index, Integer, LargeBinary, MetaData, String, Table, Text

STATUSES = ("pending", "accepted", "rejected")

metadata = MetaData()

corrections = Table(
    "corrections", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime, nullable=False),  # UTC
    Column("client_hash", String(64), nullable=False),  # salted SHA-256 of the client's address
    Column("image", LargeBinary, nullable=False),  # the drawing exactly as sent
    Column("image_sha256", String(64), nullable=False),
    Column("served_answer", Text, nullable=False),  # the JSON answer the page showed
    Column("model_version", String(32), nullable=False),
    Column("correction", String(32), nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("reviewed_by", String(64)),  # "person", or the rule that accepted it
    Column("reviewed_at", DateTime),
    CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name="status_known"),
    Index("corrections_by_client", "client_hash", "created_at"),
    Index("corrections_by_status", "status"),
)

# One row, written by the first migration: the salt of client_hash, shared by every web replica.
store_salt = Table(
    "store_salt", metadata,
    Column("salt", String(64), primary_key=True),
)
