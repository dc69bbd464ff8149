"""face tracks: a track id per face, chunk-local tracks for stitching, the next track id per source

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("faces") as batch:
        batch.add_column(sa.Column("track_id", sa.Integer(), nullable=True))
        batch.create_index("ix_faces_source_track", ["source_id", "track_id"])
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("next_track_id", sa.Integer(), nullable=False, server_default="1"))
    op.create_table(
        "chunk_tracks",
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("first_frame", sa.Integer(), nullable=False),
        sa.Column("first_time", sa.Float(), nullable=False),
        sa.Column("first_x", sa.Float(), nullable=False),
        sa.Column("first_y", sa.Float(), nullable=False),
        sa.Column("first_w", sa.Float(), nullable=False),
        sa.Column("first_h", sa.Float(), nullable=False),
        sa.Column("last_frame", sa.Integer(), nullable=False),
        sa.Column("last_time", sa.Float(), nullable=False),
        sa.Column("last_x", sa.Float(), nullable=False),
        sa.Column("last_y", sa.Float(), nullable=False),
        sa.Column("last_w", sa.Float(), nullable=False),
        sa.Column("last_h", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("source_id", "chunk_index", "local_id"),
    )
    op.create_index("ix_chunk_tracks_source_track", "chunk_tracks", ["source_id", "track_id"])


def downgrade() -> None:
    op.drop_index("ix_chunk_tracks_source_track", table_name="chunk_tracks")
    op.drop_table("chunk_tracks")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("next_track_id")
    with op.batch_alter_table("faces") as batch:
        batch.drop_index("ix_faces_source_track")
        batch.drop_column("track_id")
