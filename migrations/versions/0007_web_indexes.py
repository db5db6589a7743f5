"""Indexes for the officers' and supervisors' pages at a regency's volume (bench/web.py).

- `ix_complaint_unit_id`: an OPD officer's reports are those their agency *or one of its
  units* holds (`agency_id IN (...) OR unit_id IN (...)`); without an index on unit_id that
  OR reads every complaint (the report list, the list API, an OPD supervisor's board).
- `ix_complaint_duplicate_of`: the duplicates of a report, read by every case page. Almost
  every complaint has no `duplicate_of_id`; SQLite's statistics then judge the full index
  useless and scan the table (a million rows) instead. A partial index of the rows that do
  have one is small and always chosen.
- `ix_human_task_worklist` and `ix_human_task_group_group_task`: a worklist reads the tasks
  of a candidate group with their assignee, type and instance; both indexes cover that, so
  neither the wide task rows (their forms) nor the table behind the group index are read.
  The group index replaces `ix_human_task_group_group_name`, of which it is an extension.

Revision ID: 0007_web_indexes
Revises: 0006_stats_indexes
Create Date: 2026-11-28 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_web_indexes"
down_revision = "0006_stats_indexes"
branch_labels = None
depends_on = None

HAS_ORIGINAL = "duplicate_of_id IS NOT NULL"


def upgrade() -> None:
    op.create_index("ix_complaint_unit_id", "complaint", ["unit_id"])
    op.create_index("ix_complaint_duplicate_of", "complaint", ["duplicate_of_id"],
                    postgresql_where=sa.text(HAS_ORIGINAL), sqlite_where=sa.text(HAS_ORIGINAL))
    op.create_index("ix_human_task_worklist", "human_task",
                    ["id", "instance_id", "element_id", "assignee", "created_at"])
    op.create_index("ix_human_task_group_group_task", "human_task_group",
                    ["group_name", "task_id"])
    op.drop_index("ix_human_task_group_group_name", table_name="human_task_group")


def downgrade() -> None:
    op.create_index("ix_human_task_group_group_name", "human_task_group", ["group_name"])
    op.drop_index("ix_human_task_group_group_task", table_name="human_task_group")
    op.drop_index("ix_human_task_worklist", table_name="human_task")
    op.drop_index("ix_complaint_duplicate_of", table_name="complaint")
    op.drop_index("ix_complaint_unit_id", table_name="complaint")
