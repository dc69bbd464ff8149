"""indexes for wall-clock (live source) time windows

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_frames_source_captured", "frames", ["source_id", "captured_at"])
    op.create_index("ix_faces_source_captured", "faces", ["source_id", "captured_at"])


def downgrade() -> None:
    op.drop_index("ix_faces_source_captured", table_name="faces")
    op.drop_index("ix_frames_source_captured", table_name="frames")
