"""what retention removed, counted on the source: a source's progress (frames analysed, faces, chunks done or
failed) stays true after `ferstream prune` deletes the rows it was counted from

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

COLUMNS = ("pruned_frames", "pruned_frames_no_face", "pruned_faces", "pruned_chunks_done", "pruned_chunks_failed",
           "pruned_frames_failed")


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        for name in COLUMNS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        for name in reversed(COLUMNS):
            batch.drop_column(name)
