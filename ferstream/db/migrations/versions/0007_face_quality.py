"""face quality: each face's quality score (0..1, NULL where not measured) and whether its emotion is uncertain
(kept, but left out of distributions, summaries and track smoothing unless asked for)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("faces") as batch:
        batch.add_column(sa.Column("quality", sa.Float(), nullable=True))
        batch.add_column(sa.Column("uncertain", sa.Boolean(create_constraint=False), nullable=False,
                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("faces") as batch:
        batch.drop_column("uncertain")
        batch.drop_column("quality")
