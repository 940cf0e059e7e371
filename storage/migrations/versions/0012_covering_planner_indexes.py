"""covering and partial indexes for the nudge planner

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-24 23:20:00.000000
"""
import sqlalchemy as sa
from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Wider versions of the same indexes: the planner reads them without visiting the rows.
    op.drop_index('ix_event_person_type_time', table_name='learning_event')
    op.create_index('ix_event_person_type_time', 'learning_event',
                    ['person_id', 'type', 'occurred_at', 'score'], unique=False)
    op.drop_index('ix_event_type_time', table_name='learning_event')
    op.create_index('ix_event_type_time', 'learning_event',
                    ['type', 'occurred_at', 'person_id', 'ref'], unique=False)
    op.drop_index('ix_event_ref_type', table_name='learning_event')
    op.create_index('ix_event_ref_type', 'learning_event',
                    ['ref', 'type', 'person_id', 'occurred_at'], unique=False)
    op.create_index('ix_identity_person_channel', 'identity',
                    ['person_id', 'channel', 'reachable'], unique=False)
    op.drop_index('ix_identity_person_id', table_name='identity')
    # Partial: the planner's rows have neither, and skip these indexes.
    for column in ('external_id', 'parent_id'):
        op.drop_index(f'ix_delivery_{column}', table_name='delivery')
        where = sa.text(f'{column} IS NOT NULL')
        op.create_index(f'ix_delivery_{column}', 'delivery', [column], unique=False,
                        sqlite_where=where, postgresql_where=where)


def downgrade() -> None:
    for column in ('external_id', 'parent_id'):
        op.drop_index(f'ix_delivery_{column}', table_name='delivery')
        op.create_index(f'ix_delivery_{column}', 'delivery', [column], unique=False)
    op.create_index('ix_identity_person_id', 'identity', ['person_id'], unique=False)
    op.drop_index('ix_identity_person_channel', table_name='identity')
    op.drop_index('ix_event_ref_type', table_name='learning_event')
    op.create_index('ix_event_ref_type', 'learning_event', ['ref', 'type', 'person_id'],
                    unique=False)
    op.drop_index('ix_event_type_time', table_name='learning_event')
    op.create_index('ix_event_type_time', 'learning_event', ['type', 'occurred_at'], unique=False)
    op.drop_index('ix_event_person_type_time', table_name='learning_event')
    op.create_index('ix_event_person_type_time', 'learning_event',
                    ['person_id', 'type', 'occurred_at'], unique=False)
