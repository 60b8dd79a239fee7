"""security review (issue 15): station tokens (station, scope, expiry), the station on envelopes,
idempotency keys scoped to their submitter, server-side web sessions, sign-in throttling per address

Revision ID: 0013_stations_sessions
Revises: 0006 (the auth branch)

Idempotency keys were matched across all submitters; they are now stored scoped, as
``<length of submitter>:<submitter>:<key as sent>`` (intake.accept.scoped_key), so the unique
constraint of 0001 stays as it is and now means "unique per submitter". Keys already stored are
rewritten the same way (a submitter retrying an old upload after the upgrade still finds it).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_stations_sessions"
down_revision = "0006"
branch_labels = None
depends_on = None

_SUBMITTER = "COALESCE(submitted_by, 'system')"


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.add_column(sa.Column("station", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("scope", sa.String(length=10), nullable=False, server_default="full"))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("envelopes") as batch_op:
        batch_op.add_column(sa.Column("station", sa.String(length=100), nullable=True))
    if op.get_bind().dialect.name == "postgresql":  # SQLite does not enforce VARCHAR lengths (and would copy
        op.alter_column("envelopes", "idempotency_key",  # the whole table to change one)
                        type_=sa.String(length=400), existing_type=sa.String(length=200), existing_nullable=True)
    op.execute(f"UPDATE envelopes SET idempotency_key = CAST(LENGTH({_SUBMITTER}) AS VARCHAR(8)) || ':' || "
               f"{_SUBMITTER} || ':' || idempotency_key WHERE idempotency_key IS NOT NULL")
    op.create_index("ix_login_failures_ip", "login_failures", ["ip"])
    op.create_table(
        "web_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    op.create_index("ix_web_sessions_user_id", "web_sessions", ["user_id"])
    op.create_index("ix_web_sessions_expires_at", "web_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_expires_at", table_name="web_sessions")
    op.drop_index("ix_web_sessions_user_id", table_name="web_sessions")
    op.drop_table("web_sessions")
    op.drop_index("ix_login_failures_ip", table_name="login_failures")
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, idempotency_key FROM envelopes WHERE idempotency_key IS NOT NULL"))
    for env_id, key in list(rows):
        n, _, rest = key.partition(":")
        plain = rest[int(n) + 1:] if n.isdigit() else key
        bind.execute(sa.text("UPDATE envelopes SET idempotency_key = :k WHERE id = :i"), {"k": plain[:200], "i": env_id})
    with op.batch_alter_table("envelopes") as batch_op:
        batch_op.drop_column("station")
    with op.batch_alter_table("api_tokens") as batch_op:
        batch_op.drop_column("expires_at")
        batch_op.drop_column("scope")
        batch_op.drop_column("station")
