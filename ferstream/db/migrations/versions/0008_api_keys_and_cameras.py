"""the HTTP API's keys (only their hashes), the cameras it manages at run time, and chunks found by when they were
done (its live feed)

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("read_only", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "cameras",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False, unique=True),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("sample_fps", sa.Float(), nullable=False),
        sa.Column("detector", sa.String(16), nullable=True),
        sa.Column("min_face", sa.Float(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("retention", sa.String(32), nullable=True),
        sa.Column("origin", sa.String(8), nullable=False),
        sa.Column("edited", sa.Boolean(), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_chunks_done_at", "chunks", ["done_at"])


def downgrade() -> None:
    op.drop_index("ix_chunks_done_at", table_name="chunks")
    op.drop_table("cameras")
    op.drop_table("api_keys")
