"""agentic evaluation and reproducibility manifest on predictions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-22 02:11:46.136072
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("prediction") as batch:
        batch.add_column(sa.Column("evaluation", JSON, nullable=True))
        batch.add_column(sa.Column("manifest", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("prediction") as batch:
        batch.drop_column("manifest")
        batch.drop_column("evaluation")
