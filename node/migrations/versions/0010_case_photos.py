"""Photos keep the person they came from, a thumbnail and the token the public may see it by

Revision ID: 0010_case_photos
Revises: 0008_office
Create Date: 2026-12-04

Erasure unlinks a person's cases before it forgets what else is theirs, so a photo names its
citizen itself. A branch of its own from 0008_office, where case_photos was made.
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_case_photos"
down_revision: str | None = "0008_office"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("case_photos") as batch:
        batch.add_column(sa.Column("citizen_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("thumbnail_path", sa.String(length=500), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("public_token", sa.String(length=64), nullable=True))
    # A photo names its citizen itself from now on (export and erasure find it by the person).
    op.execute(
        "UPDATE case_photos SET citizen_id = "
        "(SELECT cases.citizen_id FROM cases WHERE cases.id = case_photos.case_id)"
    )
    photos = sa.table("case_photos", sa.column("id", sa.Integer), sa.column("public_token"))
    connection = op.get_bind()
    for (photo_id,) in connection.execute(sa.select(photos.c.id)).all():
        connection.execute(
            photos.update()
            .where(photos.c.id == photo_id)
            .values(public_token=secrets.token_urlsafe(18))
        )
    with op.batch_alter_table("case_photos") as batch:
        batch.alter_column("public_token", existing_type=sa.String(length=64), nullable=False)
        batch.create_foreign_key(
            batch.f("fk_case_photos_citizen_id_citizens"), "citizens", ["citizen_id"], ["id"]
        )
        batch.create_index(batch.f("ix_case_photos_citizen_id"), ["citizen_id"])
        batch.create_unique_constraint(batch.f("uq_case_photos_public_token"), ["public_token"])


def downgrade() -> None:
    with op.batch_alter_table("case_photos") as batch:
        batch.drop_constraint(batch.f("uq_case_photos_public_token"), type_="unique")
        batch.drop_index(batch.f("ix_case_photos_citizen_id"))
        batch.drop_constraint(batch.f("fk_case_photos_citizen_id_citizens"), type_="foreignkey")
        batch.drop_column("public_token")
        batch.drop_column("thumbnail_path")
        batch.drop_column("citizen_id")
