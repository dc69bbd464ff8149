"""live sources: the wall-clock time of the newest frame read (a stalled camera shows its age); chunks indexed
by source and queue time, so retention finds old chunks without reading a camera's millions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("last_frame_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_chunks_source_queued", "chunks", ["source_id", "queued_at"])


def downgrade() -> None:
    op.drop_index("ix_chunks_source_queued", table_name="chunks")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("last_frame_at")
