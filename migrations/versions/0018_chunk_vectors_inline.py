"""Knowledge chunks keep their embedding in the row: toast_tuple_target = 8160 on knowledge_chunks.

A 512-dimension vector (every embedder here makes 512) is a little over 2 KB, PostgreSQL's default threshold: each
was moved to the TOAST table, and every vector read — the exact nearest-neighbour scan over a small shop's own
chunks, the distance of each candidate the HNSW index returns — cost a TOAST index lookup and two or three more page
reads (a 5,000-chunk shop: 21,000 buffers for one search, 3,100 with the vectors in the rows). With the target at
its maximum, a row is only toasted when it would not fit in a page.

Rows written before keep their TOAST copy until they are written again (re-embedding, a new import); a small table
is rewritten here at once (a big one would hold the table and its HNSW index for minutes).

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

REWRITE_AT_MOST = 10_000  # chunks rewritten by the migration itself


def upgrade() -> None:
    op.execute("ALTER TABLE knowledge_chunks SET (toast_tuple_target = 8160)")
    # A new value (not the same TOAST pointer) is what moves a vector back into its row.
    op.execute(f"""
        DO $$
        BEGIN
            IF (SELECT count(*) FROM knowledge_chunks) <= {REWRITE_AT_MOST} THEN
                UPDATE knowledge_chunks SET embedding = embedding::real[]::vector WHERE embedding IS NOT NULL;
            END IF;
        END $$
    """)


def downgrade() -> None:
    op.execute("ALTER TABLE knowledge_chunks RESET (toast_tuple_target)")
