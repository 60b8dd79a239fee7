"""category models trained by the service, evaluated and promoted by a person (issue 19)

Revision ID: 0021_model_versions
Revises: 0020_config_versions
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_model_versions"
down_revision = "0020_config_versions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("version", sa.String(64), nullable=False, unique=True),
        sa.Column("blob", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("trained_by", sa.String(64), nullable=False),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("evaluation", sa.JSON, nullable=False),
    )
    op.create_index("ix_model_versions_trained_at", "model_versions", ["trained_at"])
    op.create_table(
        "model_activations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("model_id", sa.Integer, nullable=True),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_model_activations_at", "model_activations", ["at"])


def downgrade() -> None:
    op.drop_table("model_activations")
    op.drop_table("model_versions")
