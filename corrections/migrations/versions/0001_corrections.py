"""The corrections table and the salt of client addresses.

Revision ID: 0001
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "corrections",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("client_hash", sa.String(64), nullable=False),
        sa.Column("image", sa.LargeBinary, nullable=False),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("served_answer", sa.Text, nullable=False),
        sa.Column("model_version", sa.String(32), nullable=False),
        sa.Column("correction", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("reviewed_by", sa.String(64)),
        sa.Column("reviewed_at", sa.DateTime),
        sa.CheckConstraint("status IN ('pending', 'accepted', 'rejected')", name="status_known"),
    )
    op.create_index("corrections_by_client", "corrections", ["client_hash", "created_at"])
    op.create_index("corrections_by_status", "corrections", ["status"])
    salt = op.create_table("store_salt", sa.Column("salt", sa.String(64), primary_key=True))
    op.bulk_insert(salt, [{"salt": secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table("store_salt")
    op.drop_index("corrections_by_status", "corrections")
    op.drop_index("corrections_by_client", "corrections")
    op.drop_table("corrections")
