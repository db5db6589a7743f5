"""Engine tables: definitions, instances, projections (tasks, timers, waits), incidents, audit.

Revision ID: 0001_engine
Revises: 
Create Date: 2026-11-28 09:34:41.423671
"""

from alembic import op
import sqlalchemy as sa


revision = '0001_engine'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('process_definition',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('process_id', sa.String(length=200), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('files', sa.JSON(), nullable=False),
    sa.Column('specs', sa.Text(), nullable=False),
    sa.Column('task_meta', sa.JSON(), nullable=False),
    sa.Column('deployed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deployed_by', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_definition')),
    sa.UniqueConstraint('process_id', 'version', name='uq_process_definition_version')
    )
    with op.batch_alter_table('process_definition', schema=None) as batch_op:
        batch_op.create_index('ix_process_definition_hash', ['process_id', 'content_hash'], unique=False)

    op.create_table('process_instance',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('definition_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('process_id', sa.String(length=200), nullable=False),
    sa.Column('business_key', sa.String(length=200), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('state', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['definition_id'], ['process_definition.id'], name=op.f('fk_process_instance_definition_id_process_definition')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_instance'))
    )
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_process_instance_business_key'), ['business_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instance_definition_id'), ['definition_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instance_process_id'), ['process_id'], unique=False)
        batch_op.create_index('ix_process_instance_status', ['status'], unique=False)

    op.create_table('human_task',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('lane', sa.String(length=200), nullable=True),
    sa.Column('candidate_groups', sa.JSON(), nullable=False),
    sa.Column('assignee', sa.String(length=200), nullable=True),
    sa.Column('form', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_human_task_instance_id_process_instance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_human_task'))
    )
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.create_index('ix_human_task_assignee', ['assignee'], unique=False)
        batch_op.create_index(batch_op.f('ix_human_task_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index('ix_human_task_lane', ['lane'], unique=False)

    op.create_table('incident',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('element_id', sa.String(length=200), nullable=True),
    sa.Column('error_type', sa.String(length=200), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_incident_instance_id_process_instance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_incident'))
    )
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_incident_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_incident_resolved_at'), ['resolved_at'], unique=False)

    op.create_table('instance_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=True),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=True),
    sa.Column('status_from', sa.String(length=20), nullable=True),
    sa.Column('status_to', sa.String(length=20), nullable=True),
    sa.Column('data_changes', sa.JSON(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_instance_event_instance_id_process_instance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_instance_event'))
    )
    with op.batch_alter_table('instance_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_instance_event_instance_id'), ['instance_id'], unique=False)

    op.create_table('timer',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_by', sa.String(length=100), nullable=True),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_timer_instance_id_process_instance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timer'))
    )
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.create_index('ix_timer_due_at', ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_timer_instance_id'), ['instance_id'], unique=False)

    op.create_table('waiting_event',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('element_id', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], name=op.f('fk_waiting_event_instance_id_process_instance'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waiting_event'))
    )
    with op.batch_alter_table('waiting_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waiting_event_instance_id'), ['instance_id'], unique=False)
        batch_op.create_index('ix_waiting_event_name', ['kind', 'name'], unique=False)

    op.create_table('human_task_group',
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('group_name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['human_task.id'], name=op.f('fk_human_task_group_task_id_human_task'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('task_id', 'group_name', name=op.f('pk_human_task_group'))
    )
    with op.batch_alter_table('human_task_group', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_human_task_group_group_name'), ['group_name'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('human_task_group', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_human_task_group_group_name'))

    op.drop_table('human_task_group')
    with op.batch_alter_table('waiting_event', schema=None) as batch_op:
        batch_op.drop_index('ix_waiting_event_name')
        batch_op.drop_index(batch_op.f('ix_waiting_event_instance_id'))

    op.drop_table('waiting_event')
    with op.batch_alter_table('timer', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_timer_instance_id'))
        batch_op.drop_index('ix_timer_due_at')

    op.drop_table('timer')
    with op.batch_alter_table('instance_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_instance_event_instance_id'))

    op.drop_table('instance_event')
    with op.batch_alter_table('incident', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_incident_resolved_at'))
        batch_op.drop_index(batch_op.f('ix_incident_instance_id'))

    op.drop_table('incident')
    with op.batch_alter_table('human_task', schema=None) as batch_op:
        batch_op.drop_index('ix_human_task_lane')
        batch_op.drop_index(batch_op.f('ix_human_task_instance_id'))
        batch_op.drop_index('ix_human_task_assignee')

    op.drop_table('human_task')
    with op.batch_alter_table('process_instance', schema=None) as batch_op:
        batch_op.drop_index('ix_process_instance_status')
        batch_op.drop_index(batch_op.f('ix_process_instance_process_id'))
        batch_op.drop_index(batch_op.f('ix_process_instance_definition_id'))
        batch_op.drop_index(batch_op.f('ix_process_instance_business_key'))

    op.drop_table('process_instance')
    with op.batch_alter_table('process_definition', schema=None) as batch_op:
        batch_op.drop_index('ix_process_definition_hash')

    op.drop_table('process_definition')
