"""The report categories in the database (workflows/categories.py), editable by the system
administrator at /admin/categories.

- `category`: code, names in Indonesian and English, an Indonesian description, whether a
  photo is required before verification, active, position on the forms, version. Seeded
  with the categories shipped until now (literal rows: this migration imports no live code).

Revision ID: 0026_agencies_categories
Revises: 0025_follow_stop
Create Date: 2026-12-06 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0026_agencies_categories"
down_revision = "0025_follow_stop"
branch_labels = None
depends_on = None

# code, name_id, name_en, description_id (Open311 publishes it), photo_required
SHIPPED = [
    ("roads", "Jalan", "Roads",
     "Jalan rusak, berlubang, longsor atau tergenang; jembatan dan trotoar.", True),
    ("waste", "Sampah", "Waste",
     "Sampah menumpuk, tidak diangkut, atau dibuang sembarangan.", True),
    ("street_lights", "Penerangan jalan umum", "Street lights",
     "Lampu penerangan jalan umum mati, berkedip atau rusak.", True),
    ("water", "Air bersih", "Water",
     "Air bersih tidak mengalir, keruh, atau pipa bocor.", True),
    ("civil_registration", "Kependudukan dan pencatatan sipil", "Civil registration",
     "Layanan KTP-el, kartu keluarga, akta dan dokumen kependudukan.", False),
    ("health", "Kesehatan", "Health",
     "Layanan puskesmas, rumah sakit daerah dan kesehatan masyarakat.", False),
    ("education", "Pendidikan", "Education",
     "Sekolah, guru, dan layanan pendidikan daerah.", False),
    ("permits", "Perizinan", "Permits",
     "Perizinan berusaha dan layanan perizinan lainnya.", False),
    ("social_aid", "Bantuan sosial", "Social aid",
     "Bantuan sosial yang tidak tepat sasaran atau tidak diterima.", False),
    ("other", "Lainnya", "Other",
     "Pengaduan lain tentang layanan pemerintah daerah.", False),
]


def upgrade() -> None:
    category = op.create_table(
        "category",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_id", sa.String(length=100), nullable=False),
        sa.Column("name_en", sa.String(length=100), nullable=False),
        sa.Column("description_id", sa.Text(), nullable=True),
        sa.Column("photo_required", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_category")),
    )
    op.bulk_insert(category, [
        {"code": code, "name_id": name_id, "name_en": name_en, "description_id": description,
         "photo_required": photo, "active": True, "position": (index + 1) * 10, "version": 1}
        for index, (code, name_id, name_en, description, photo) in enumerate(SHIPPED)])


def downgrade() -> None:
    op.drop_table("category")
