"""emotion events: rules bound to sources, their evaluation progress, the events, the change feed (outbox) and
its deliveries (ferstream.events)

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _source_fk() -> sa.Column:
    return sa.Column("source_id", sa.Integer(), sa.ForeignKey("sources.id", ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "event_rules",
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("spec", sa.Text(), nullable=False),
    )
    op.create_table(
        "event_progress",
        sa.Column("source_id", sa.Integer(), sa.ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("closed", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_table(
        "events",
        sa.Column("id", sa.String(36), primary_key=True),
        _source_fk(),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("per", sa.String(8), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("track_id", sa.Integer()),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("start", sa.Float(), nullable=False),
        sa.Column("end", sa.Float(), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True)),
        sa.Column("end_at", sa.DateTime(timezone=True)),
        sa.Column("start_frame", sa.Integer(), nullable=False),
        sa.Column("end_frame", sa.Integer(), nullable=False),
        sa.Column("peak", sa.Float(), nullable=False),
        sa.Column("peak_frame", sa.Integer(), nullable=False),
        sa.Column("peak_face", sa.Integer()),
        sa.Column("faces", sa.Integer(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_events_source_rule_state", "events", ["source_id", "rule", "state"])
    op.create_index("ix_events_start_at", "events", ["start_at"])
    op.create_table(
        "event_changes",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(36), nullable=False),
        _source_fk(),
        sa.Column("rule", sa.String(128), nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_event_changes_rule", "event_changes", ["rule", "id"])
    op.create_index("ix_event_changes_event", "event_changes", ["event_id"])
    op.create_table(
        "event_deliveries",
        sa.Column("change_id", _ID, sa.ForeignKey("event_changes.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("endpoint", sa.String(255), primary_key=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.Column("next_at", sa.DateTime(timezone=True)),
    )


def downgrade() -> None:
    for table in ("event_deliveries", "event_changes", "events", "event_progress", "event_rules"):
        op.drop_table(table)
