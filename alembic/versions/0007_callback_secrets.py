"""callback_secret: per-scope secrets that sign per-request callbacks

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 19:07:27
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "callback_secret",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organization.id"],
            name=op.f("fk_callback_secret_organization_id_organization"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user.id"],
            name=op.f("fk_callback_secret_user_id_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_secret")),
        sa.UniqueConstraint("scope", name=op.f("uq_callback_secret_scope")),
    )
    op.create_index(
        op.f("ix_callback_secret_organization_id"),
        "callback_secret",
        ["organization_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_callback_secret_user_id"), "callback_secret", ["user_id"], unique=False
    )
    with op.batch_alter_table("webhook_delivery") as batch:
        batch.add_column(sa.Column("signing_scope", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_delivery") as batch:
        batch.drop_column("signing_scope")
    op.drop_index(op.f("ix_callback_secret_user_id"), table_name="callback_secret")
    op.drop_index(op.f("ix_callback_secret_organization_id"), table_name="callback_secret")
    op.drop_table("callback_secret")
