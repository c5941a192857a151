"""The dashboard's rollup (core/models/dashboard.py says what each table holds), backfilled from the data already there:

- live message activity per dialog and UTC day, and each dialog's first response: kept by statement-level triggers on
  messages in the messages' own transaction (an import of thousands of messages is one upsert; updates and deletes
  recompute only the (dialog, day) pairs whose live messages really changed);
- where dialogs stand now (status, waiting) per channel, assignee and group: an append-only +1/-1 log a row trigger on
  dialogs writes only when one of those changes, folded by the reader (dashboard_refresh) — no writer locks a row;
- AI spend per hour, model and purpose: rolled up by the reader to the start of the oldest running transaction (usage
  rows are written with created_at = now()), rows written into hours already rolled up added by a trigger;
- the dashboard's ways into dialogs, drafts, escalations and outcome/closing events by time (covering: index-only);
- the dialog list's indexes for a manager + status filter and for a customer search's dialogs.

Why rows per dialog rather than counters per day, channel and manager: the dashboard filters by where a dialog stands
now and counts distinct dialogs and exact percentiles over any period, none of which add up from daily counters
without going stale on a reassignment or a late reply.

Revision ID: 0015
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0019"
branch_labels = None
depends_on = None

UTC_DAY = "(({t}.sent_at AT TIME ZONE 'UTC')::date)"
BOUNDS = """min({t}.sent_at) FILTER (WHERE {t}.direction = 'in'),
            max({t}.sent_at) FILTER (WHERE {t}.direction = 'in'),
            min({t}.sent_at) FILTER (WHERE {t}.direction = 'out'),
            max({t}.sent_at) FILTER (WHERE {t}.direction = 'out')"""

FUNCTIONS = [part.strip() for part in f"""
-- The first live customer message of a dialog and the first live reply at or after it (analytics.first_response's
-- definition, message by message), written over whatever the row held.
CREATE FUNCTION dashboard_first_response_refresh(d bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  asked timestamptz;
  created timestamptz;
  tenant bigint;
BEGIN
  SELECT tenant_id, created_at INTO tenant, created FROM dialogs WHERE id = d;
  IF tenant IS NULL THEN
    RETURN;  -- the dialog is being deleted: its row goes with it
  END IF;
  SELECT m.sent_at INTO asked FROM messages m
   WHERE m.dialog_id = d AND m.direction = 'in' AND NOT m.is_imported ORDER BY m.sent_at, m.id LIMIT 1;
  INSERT INTO dashboard_first_response AS f (dialog_id, tenant_id, created_at, asked_at, answered_at, answered_kind,
                                             answered_staff_id)
  SELECT d, tenant, created, asked, o.sent_at, o.author_kind, o.author_staff_id
    FROM (SELECT 1) one
    LEFT JOIN LATERAL (
      SELECT m.sent_at, m.author_kind, m.author_staff_id FROM messages m
       WHERE asked IS NOT NULL AND m.dialog_id = d AND m.direction = 'out' AND NOT m.is_imported
         AND m.sent_at >= asked
       ORDER BY m.sent_at, m.id LIMIT 1) o ON true
  ON CONFLICT (dialog_id) DO UPDATE SET asked_at = EXCLUDED.asked_at, answered_at = EXCLUDED.answered_at,
    answered_kind = EXCLUDED.answered_kind, answered_staff_id = EXCLUDED.answered_staff_id;
END $$;

-- One (dialog, UTC day) row made again from its live messages (none left: no row).
CREATE FUNCTION dashboard_activity_recompute(d bigint, day_ date) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM dashboard_activity WHERE dialog_id = d AND day = day_;
  INSERT INTO dashboard_activity (dialog_id, day, tenant_id, first_in, last_in, first_out, last_out)
  SELECT d, day_, min(m.tenant_id), {BOUNDS.format(t="m")}
    FROM messages m
   WHERE m.dialog_id = d AND NOT m.is_imported
     AND m.sent_at >= (day_::timestamp AT TIME ZONE 'UTC') AND m.sent_at < ((day_ + 1)::timestamp AT TIME ZONE 'UTC')
  HAVING count(*) > 0;
END $$;

CREATE FUNCTION dashboard_messages_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  INSERT INTO dashboard_activity AS a (dialog_id, day, tenant_id, first_in, last_in, first_out, last_out)
  SELECT n.dialog_id, {UTC_DAY.format(t="n")}, min(n.tenant_id), {BOUNDS.format(t="n")}
    FROM new_rows n WHERE NOT n.is_imported
   GROUP BY 1, 2
  ON CONFLICT (dialog_id, day) DO UPDATE SET
    first_in = LEAST(a.first_in, EXCLUDED.first_in), last_in = GREATEST(a.last_in, EXCLUDED.last_in),
    first_out = LEAST(a.first_out, EXCLUDED.first_out), last_out = GREATEST(a.last_out, EXCLUDED.last_out);
  -- Only a message that can come first (the customer's first, the first reply after it) changes a first response:
  -- after a dialog's first reply, its messages pass this test and cost one primary-key read.
  FOR r IN
    SELECT DISTINCT n.dialog_id FROM new_rows n
      LEFT JOIN dashboard_first_response f ON f.dialog_id = n.dialog_id
     WHERE NOT n.is_imported AND (
           f.dialog_id IS NULL
        OR (n.direction = 'in' AND (f.asked_at IS NULL OR n.sent_at <= f.asked_at))
        OR (n.direction = 'out' AND f.asked_at IS NOT NULL AND n.sent_at >= f.asked_at
            AND (f.answered_at IS NULL OR n.sent_at <= f.answered_at)))
     ORDER BY 1
  LOOP
    PERFORM dashboard_first_response_refresh(r.dialog_id);
  END LOOP;
  RETURN NULL;
END $$;

CREATE FUNCTION dashboard_messages_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN
    WITH changed AS (
      SELECT o.dialog_id AS old_dialog, {UTC_DAY.format(t="o")} AS old_day, o.is_imported AS old_imported,
             n.dialog_id AS new_dialog, {UTC_DAY.format(t="n")} AS new_day, n.is_imported AS new_imported
        FROM old_rows o JOIN new_rows n ON n.id = o.id
       WHERE (o.dialog_id, o.sent_at, o.direction, o.is_imported, o.author_kind, o.author_staff_id)
             IS DISTINCT FROM (n.dialog_id, n.sent_at, n.direction, n.is_imported, n.author_kind, n.author_staff_id))
    SELECT old_dialog AS dialog_id, old_day AS day FROM changed
    UNION SELECT new_dialog, new_day FROM changed
    ORDER BY 1, 2
  LOOP
    PERFORM dashboard_activity_recompute(r.dialog_id, r.day);
  END LOOP;
  FOR r IN
    SELECT o.dialog_id FROM old_rows o JOIN new_rows n ON n.id = o.id
     WHERE (o.dialog_id, o.sent_at, o.direction, o.is_imported, o.author_kind, o.author_staff_id)
           IS DISTINCT FROM (n.dialog_id, n.sent_at, n.direction, n.is_imported, n.author_kind, n.author_staff_id)
    UNION SELECT n.dialog_id FROM old_rows o JOIN new_rows n ON n.id = o.id
     WHERE (o.dialog_id, o.sent_at, o.direction, o.is_imported, o.author_kind, o.author_staff_id)
           IS DISTINCT FROM (n.dialog_id, n.sent_at, n.direction, n.is_imported, n.author_kind, n.author_staff_id)
    ORDER BY 1
  LOOP
    PERFORM dashboard_first_response_refresh(r.dialog_id);
  END LOOP;
  RETURN NULL;
END $$;

CREATE FUNCTION dashboard_messages_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  -- A dialog deleted with its messages takes its rollup rows along (foreign keys): nothing to recompute.
  FOR r IN
    SELECT DISTINCT o.dialog_id, {UTC_DAY.format(t="o")} AS day FROM old_rows o
     WHERE NOT o.is_imported AND EXISTS (SELECT FROM dialogs d WHERE d.id = o.dialog_id)
     ORDER BY 1, 2
  LOOP
    PERFORM dashboard_activity_recompute(r.dialog_id, r.day);
  END LOOP;
  FOR r IN
    SELECT DISTINCT o.dialog_id FROM old_rows o
     WHERE NOT o.is_imported AND EXISTS (SELECT FROM dialogs d WHERE d.id = o.dialog_id) ORDER BY 1
  LOOP
    PERFORM dashboard_first_response_refresh(r.dialog_id);
  END LOOP;
  RETURN NULL;
END $$;
""".split("\n\n") if part.strip()]  # one statement each: asyncpg prepares statements one at a time

SPEND_FUNCTIONS = [
    # Usage rows are written with created_at = now(), the writing transaction's start: no row can still appear before
    # the start of the oldest transaction running now. Whole hours up to that horizon are added to the rollup once.
    """
CREATE FUNCTION dashboard_spend_refresh(tenant bigint) RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
  rolled timestamptz;
  horizon timestamptz;
BEGIN
  INSERT INTO dashboard_spend_rolled (tenant_id, until) VALUES (tenant, '-infinity') ON CONFLICT DO NOTHING;
  SELECT until INTO rolled FROM dashboard_spend_rolled WHERE tenant_id = tenant FOR UPDATE;
  SELECT date_trunc('hour', least(now(), min(a.xact_start))) INTO horizon FROM pg_stat_activity a
   WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.xact_start IS NOT NULL;
  horizon := coalesce(horizon, date_trunc('hour', now()));
  IF horizon > rolled THEN
    INSERT INTO dashboard_spend AS s (tenant_id, hour, model, purpose, cost_usd, calls)
    SELECT tenant, date_trunc('hour', u.created_at), u.model, u.purpose, sum(u.cost_usd), count(*)
      FROM ai_usage u WHERE u.tenant_id = tenant AND u.created_at >= rolled AND u.created_at < horizon
     GROUP BY 2, 3, 4
    ON CONFLICT (tenant_id, hour, model, purpose) DO UPDATE
      SET cost_usd = s.cost_usd + EXCLUDED.cost_usd, calls = s.calls + EXCLUDED.calls;
    UPDATE dashboard_spend_rolled SET until = horizon WHERE tenant_id = tenant;
    rolled := horizon;
  END IF;
  RETURN rolled;
END $$""",
    # A row written with an earlier created_at (a backfill, a test) into hours already rolled up is added at once; the
    # share lock makes a refresh running at the same moment wait, or this wait for it, so the row is counted once.
    """
CREATE FUNCTION dashboard_spend_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT FROM new_rows WHERE created_at < now()) THEN
    PERFORM 1 FROM dashboard_spend_rolled r
      WHERE r.tenant_id IN (SELECT tenant_id FROM new_rows WHERE created_at < now()) ORDER BY r.tenant_id FOR SHARE;
    INSERT INTO dashboard_spend AS s (tenant_id, hour, model, purpose, cost_usd, calls)
    SELECT n.tenant_id, date_trunc('hour', n.created_at), n.model, n.purpose, sum(n.cost_usd), count(*)
      FROM new_rows n JOIN dashboard_spend_rolled r ON r.tenant_id = n.tenant_id AND n.created_at < r.until
     GROUP BY 1, 2, 3, 4
    ON CONFLICT (tenant_id, hour, model, purpose) DO UPDATE
      SET cost_usd = s.cost_usd + EXCLUDED.cost_usd, calls = s.calls + EXCLUDED.calls;
  END IF;
  RETURN NULL;
END $$""",
]

COUNT_FUNCTIONS = [
    # Where dialogs stand now (status, and waiting: unread and neither resolved nor inactive) per channel, assignee
    # and group, as a log of +1/-1 rows: a writer only ever appends (no row is locked, so no transaction waits for
    # another, nor can deadlock on it), and a reader adds the log up, folding it first when nobody else is folding.
    """
CREATE FUNCTION dashboard_dialog_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    INSERT INTO dashboard_dialog_counts (tenant_id, status, channel_id, assignee_id, manager_group_id, unread, n)
    VALUES (OLD.tenant_id, OLD.status, OLD.channel_id, OLD.assignee_id, OLD.manager_group_id, OLD.unread_count > 0,
            -1);
  END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') THEN
    INSERT INTO dashboard_dialog_counts (tenant_id, status, channel_id, assignee_id, manager_group_id, unread, n)
    VALUES (NEW.tenant_id, NEW.status, NEW.channel_id, NEW.assignee_id, NEW.manager_group_id, NEW.unread_count > 0,
            1);
  END IF;
  RETURN NULL;
END $$""",
    """
CREATE FUNCTION dashboard_dialog_created_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE dashboard_first_response SET created_at = NEW.created_at WHERE dialog_id = NEW.id;
  RETURN NULL;
END $$""",
    """
CREATE FUNCTION dashboard_refresh(tenant bigint) RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN
  IF pg_try_advisory_xact_lock(hashtext('dashboard_dialog_counts'), tenant::int) THEN
    WITH moved AS (DELETE FROM dashboard_dialog_counts WHERE tenant_id = tenant RETURNING *)
    INSERT INTO dashboard_dialog_counts (tenant_id, status, channel_id, assignee_id, manager_group_id, unread, n)
    SELECT tenant_id, status, channel_id, assignee_id, manager_group_id, unread, sum(n) FROM moved
     GROUP BY 1, 2, 3, 4, 5, 6 HAVING sum(n) <> 0;
  END IF;
  RETURN dashboard_spend_refresh(tenant);
END $$""",
]

TRIGGERS = """
CREATE TRIGGER dashboard_messages_inserted AFTER INSERT ON messages
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dashboard_messages_inserted();
CREATE TRIGGER dashboard_messages_updated AFTER UPDATE ON messages
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION dashboard_messages_updated();
CREATE TRIGGER dashboard_messages_deleted AFTER DELETE ON messages
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION dashboard_messages_deleted();
CREATE TRIGGER dashboard_dialog_counted AFTER INSERT OR DELETE ON dialogs
  FOR EACH ROW EXECUTE FUNCTION dashboard_dialog_counted();
CREATE TRIGGER dashboard_dialog_recounted AFTER UPDATE ON dialogs FOR EACH ROW
  WHEN ((OLD.tenant_id, OLD.status, OLD.channel_id, OLD.assignee_id, OLD.manager_group_id, OLD.unread_count > 0)
        IS DISTINCT FROM
        (NEW.tenant_id, NEW.status, NEW.channel_id, NEW.assignee_id, NEW.manager_group_id, NEW.unread_count > 0))
  EXECUTE FUNCTION dashboard_dialog_counted();
CREATE TRIGGER dashboard_dialog_created_moved AFTER UPDATE OF created_at ON dialogs FOR EACH ROW
  WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at) EXECUTE FUNCTION dashboard_dialog_created_moved();
CREATE TRIGGER dashboard_spend_inserted AFTER INSERT ON ai_usage
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dashboard_spend_inserted();
"""

BACKFILL = f"""
INSERT INTO dashboard_activity (dialog_id, day, tenant_id, first_in, last_in, first_out, last_out)
SELECT m.dialog_id, {UTC_DAY.format(t="m")}, min(m.tenant_id), {BOUNDS.format(t="m")}
  FROM messages m WHERE NOT m.is_imported GROUP BY 1, 2;
INSERT INTO dashboard_first_response (dialog_id, tenant_id, created_at, asked_at, answered_at, answered_kind,
                                      answered_staff_id)
SELECT d.id, d.tenant_id, d.created_at, i.sent_at, o.sent_at, o.author_kind, o.author_staff_id
  FROM dialogs d
  LEFT JOIN LATERAL (
    SELECT m.sent_at FROM messages m WHERE m.dialog_id = d.id AND m.direction = 'in' AND NOT m.is_imported
     ORDER BY m.sent_at, m.id LIMIT 1) i ON true
  LEFT JOIN LATERAL (
    SELECT m.sent_at, m.author_kind, m.author_staff_id FROM messages m
     WHERE i.sent_at IS NOT NULL AND m.dialog_id = d.id AND m.direction = 'out' AND NOT m.is_imported
       AND m.sent_at >= i.sent_at
     ORDER BY m.sent_at, m.id LIMIT 1) o ON true
 WHERE d.message_count > 0 OR EXISTS (SELECT FROM messages m WHERE m.dialog_id = d.id);
"""


def upgrade() -> None:
    op.create_table(
        "dashboard_activity",
        sa.Column("dialog_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("first_in", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_in", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_out", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_out", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["dialog_id"], ["dialogs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("dialog_id", "day"),
    )
    op.create_table(
        "dashboard_first_response",
        sa.Column("dialog_id", sa.BigInteger(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("asked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_kind", sa.String(length=24), nullable=True),
        sa.Column("answered_staff_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["dialog_id"], ["dialogs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("dialog_id"),
    )
    for statement in BACKFILL.split(";\n"):
        if statement.strip():
            op.execute(statement)
    op.create_table(
        "dashboard_spend",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("hour", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=24), nullable=False),
        sa.Column("cost_usd", sa.Numeric(), nullable=False),
        sa.Column("calls", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id", "hour", "model", "purpose"),
    )
    op.create_table(
        "dashboard_spend_rolled",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("tenant_id"),
    )
    op.create_index("ix_dashboard_activity_tenant_day", "dashboard_activity", ["tenant_id", "day"],
                    postgresql_include=["dialog_id", "first_in", "last_in", "first_out", "last_out"])
    op.create_index("ix_dashboard_first_response_tenant_created", "dashboard_first_response",
                    ["tenant_id", "created_at"],
                    postgresql_include=["dialog_id", "asked_at", "answered_at", "answered_kind", "answered_staff_id"])
    op.create_table(
        "dashboard_dialog_counts",
        sa.Column("id", sa.BigInteger(), sa.Identity(), nullable=False),
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column("manager_group_id", sa.BigInteger(), nullable=True),
        sa.Column("unread", sa.Boolean(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_dashboard_dialog_counts_tenant", "dashboard_dialog_counts", ["tenant_id"])
    op.execute("INSERT INTO dashboard_dialog_counts (tenant_id, status, channel_id, assignee_id, manager_group_id, "
               "unread, n) SELECT tenant_id, status, channel_id, assignee_id, manager_group_id, unread_count > 0, "
               "count(*) FROM dialogs GROUP BY 1, 2, 3, 4, 5, 6")
    for statement in FUNCTIONS + SPEND_FUNCTIONS + COUNT_FUNCTIONS:
        op.execute(statement)
    op.execute("SELECT dashboard_spend_refresh(id) FROM tenants ORDER BY id")
    for statement in TRIGGERS.strip().split(";\n"):
        op.execute(statement)
    op.create_index("ix_dialogs_dashboard", "dialogs", ["tenant_id", "last_message_at"],
                    postgresql_include=["id", "status", "created_at", "channel_id", "assignee_id", "manager_group_id"])
    op.create_index("ix_dialogs_tenant_closed", "dialogs", ["tenant_id", "closed_at"],
                    postgresql_include=["id", "status", "csat", "channel_id", "assignee_id", "manager_group_id"],
                    postgresql_where=sa.text("closed_at IS NOT NULL"))
    op.create_index("ix_events_dashboard", "events", ["tenant_id", "created_at"],
                    postgresql_include=["dialog_id", "kind", "actor_staff_id", "id"],
                    postgresql_where=sa.text("kind IN ('dialog_won', 'dialog_lost', 'dialog_closed')"))
    # The dialog list: a manager's dialogs of one status newest first, unread and the rest told apart in the index.
    op.create_index("ix_dialogs_assignee_status_recent", "dialogs",
                    ["assignee_id", "status", sa.text("last_message_at DESC"), sa.text("id DESC")],
                    postgresql_include=["tenant_id", "unread_count", "channel_id", "outcome"],
                    postgresql_where=sa.text("message_count > 0 AND assignee_id IS NOT NULL"))
    # A search's matching customers → their dialogs, read from the index alone.
    op.create_index("ix_dialogs_customer_recent", "dialogs", ["customer_id"],
                    postgresql_include=["tenant_id", "message_count", "last_message_at", "id", "status", "channel_id",
                                        "assignee_id", "outcome", "unread_count"])
    op.create_index("ix_dialogs_tenant_outcome", "dialogs", ["tenant_id", "outcome_at"],
                    postgresql_where=sa.text("outcome IS NOT NULL"))
    op.create_index("ix_suggestions_tenant_time", "suggestions", ["tenant_id", "created_at"],
                    postgresql_include=["dialog_id", "state", "decided_by_id", "intent"])
    op.create_index("ix_escalations_tenant_time", "escalations", ["tenant_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_escalations_tenant_time", table_name="escalations")
    op.drop_index("ix_suggestions_tenant_time", table_name="suggestions")
    op.drop_index("ix_dialogs_tenant_outcome", table_name="dialogs")
    op.drop_index("ix_dialogs_customer_recent", table_name="dialogs")
    op.drop_index("ix_dialogs_assignee_status_recent", table_name="dialogs")
    op.drop_index("ix_events_dashboard", table_name="events")
    op.drop_index("ix_dialogs_tenant_closed", table_name="dialogs")
    op.drop_index("ix_dialogs_dashboard", table_name="dialogs")
    op.execute("DROP TRIGGER dashboard_dialog_recounted ON dialogs")
    op.execute("DROP TRIGGER dashboard_dialog_counted ON dialogs")
    op.execute("DROP TRIGGER dashboard_dialog_created_moved ON dialogs")
    op.execute("DROP FUNCTION dashboard_dialog_created_moved()")
    op.execute("DROP FUNCTION dashboard_refresh(bigint)")
    op.execute("DROP FUNCTION dashboard_dialog_counted()")
    op.drop_table("dashboard_dialog_counts")
    op.execute("DROP TRIGGER dashboard_spend_inserted ON ai_usage")
    op.execute("DROP FUNCTION dashboard_spend_inserted()")
    op.execute("DROP FUNCTION dashboard_spend_refresh(bigint)")
    op.drop_table("dashboard_spend_rolled")
    op.drop_table("dashboard_spend")
    for what in ("inserted", "updated", "deleted"):
        op.execute(f"DROP TRIGGER dashboard_messages_{what} ON messages")
        op.execute(f"DROP FUNCTION dashboard_messages_{what}()")
    op.execute("DROP FUNCTION dashboard_activity_recompute(bigint, date)")
    op.execute("DROP FUNCTION dashboard_first_response_refresh(bigint)")
    op.drop_table("dashboard_first_response")
    op.drop_table("dashboard_activity")
