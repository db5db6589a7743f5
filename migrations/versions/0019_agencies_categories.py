"""The report categories in the database (workflows/categories.py), editable by the system
administrator at /admin/categories.

- `category`: code, names in Indonesian and English, an Indonesian description, whether a
  photo is required before verification, active, position on the forms, version. Seeded
  with the categories shipped until now (literal rows: this migration imports no live code).

Revision ID: 0019_agencies_categories
Revises: 0017_admin_audit
Create Date: 2026-12-06 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0019_agencies_categories"
down_revision = "0017_admin_audit"
branch_labels = None
depends_on = None

# code, name_id, name_en, description_id, photo_required
SHIPPED = [
    ("roads", "Jalan", "Roads",
     "Jalan berlubang, rusak atau longsor, jembatan, trotoar dan drainase jalan.", True),
    ("waste", "Sampah", "Waste",
     "Sampah yang tidak diangkut, tempat pembuangan liar, kebersihan lingkungan.", True),
    ("street_lights", "Penerangan jalan umum", "Street lights",
     "Lampu jalan yang mati, berkedip atau rusak.", True),
    ("water", "Air bersih", "Water",
     "Air PDAM yang tidak mengalir, keruh atau bocor, dan tagihan air.", True),
    ("civil_registration", "Kependudukan dan pencatatan sipil", "Civil registration",
     "KTP-el, kartu keluarga, akta kelahiran dan kematian, pindah datang.", False),
    ("health", "Kesehatan", "Health",
     "Puskesmas, rumah sakit daerah, BPJS Kesehatan, layanan kesehatan.", False),
    ("education", "Pendidikan", "Education",
     "Sekolah, guru, penerimaan peserta didik baru, bantuan pendidikan.", False),
    ("permits", "Perizinan", "Permits",
     "Perizinan berusaha dan bangunan, layanan terpadu satu pintu.", False),
    ("social_aid", "Bantuan sosial", "Social aid",
     "Bantuan sosial, data penerima, program keluarga harapan.", False),
    ("other", "Lainnya", "Other", "Hal lain yang tidak termasuk kategori di atas.", False),
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
