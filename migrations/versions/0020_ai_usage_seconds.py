"""AI usage: seconds of audio transcribed get a column of their own (ai_usage.seconds).

Until now a transcription's billed seconds were written into ai_usage.characters, the column of speech synthesis,
so a sum of "characters" mixed characters spoken with seconds heard. Every row that recorded characters under any
purpose but "tts" was a transcription (core.ai.transcribe and the manager's voice in core.services.voice are the only
callers that passed seconds; every speech synthesis is recorded with purpose "tts"): their value moves to seconds.
The costs stay as they are — they were priced per second already.

Revision ID: 0020
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ai_usage", sa.Column("seconds", sa.Integer(), server_default="0", nullable=False))
    op.execute("UPDATE ai_usage SET seconds = characters, characters = 0 WHERE purpose <> 'tts' AND characters > 0")


def downgrade() -> None:
    # Back into the one column the older code reads (a row has either characters or seconds, never both).
    op.execute("UPDATE ai_usage SET characters = characters + seconds WHERE seconds > 0")
    op.drop_column("ai_usage", "seconds")
