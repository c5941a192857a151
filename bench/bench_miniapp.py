"""Mini App dialog list and dialog page at scale: 200,000 dialogs and 4,000,000 messages in one tenant.

Loads the data with generate_series inside PostgreSQL (minutes, not hours) into the database before migration 0011,
then applies 0011 (its index build time is reported), then times the real service calls the API makes
(core.services.miniapp.list_dialogs / dialog_view) and prints p50 / p95 in milliseconds:

    .venv/bin/python bench/bench_miniapp.py [--dialogs 200000] [--messages 4000000] [--runs 60]

Distribution: most dialogs are short (geometric, mean about 17 messages); 200 dialogs hold 1,000–5,000 messages each,
one exactly 5,000 (the dialog page measured). Texts are drawn from a Russian shop vocabulary with a skewed (Zipf-like)
frequency; 1 % of messages carry an order number (a rare search term). 3 % of messages have an attachment, 0.5 % were
edited, the big dialogs' customer messages have AI drafts; escalated dialogs have a pending escalation.

It also times the Mini App dashboard (core.services.dashboard.figures: 30 days, 30 days for one manager, 7 days,
today) on the same shop, whose dialogs carry outcomes, closings, ratings and their events, with drafts in every kind
of dialog and AI usage rows; migration 0015 (the dashboard's rollup) is applied to the loaded data and timed.

SALESOP_DATABASE_URL: use that (empty) database instead of a throwaway embedded PostgreSQL.
--data-dir DIR: keep the embedded PostgreSQL there; a later run finds the shop loaded (or resumes an interrupted load)
and only migrates and times: `--data-dir /tmp/miniapp-bench --only dashboard` takes a minute, not ten.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import text  # noqa: E402

from bench.common import BenchDatabase  # noqa: E402

VOCAB = (
    "здравствуйте добрый день подскажите пожалуйста сколько стоит есть ли в наличии доставка самовывоз оплата "
    "размер цвет спасибо хорошо когда можно заказать цена скидка чайник кружка сковорода кастрюля нож набор "
    "тарелка ложка вилка доставку курьером почтой оплатить картой наличными возврат гарантия сегодня завтра "
    "адрес москва питер белый черный красный большой маленький новый модель артикул фото видео отзыв "
    "заказ оформить корзина промокод акция подарок упаковка коробка чек счёт договор менеджер ответьте "
    "жду звонка перезвоните номер телефон вопрос уточнить наличие склад магазин пункт выдачи трекер "
    "отправили получил спасибо большое всё отлично претензия брак замена обмен деньги вернуть неделю"
).split()
FIRST = "Анна Мария Ольга Елена Ирина Наталья Светлана Татьяна Иван Алексей Дмитрий Сергей Андрей Павел Михаил Олег".split()
LAST = ("Петрова Иванова Смирнова Кузнецова Попова Соколова Лебедева Козлова Новикова Морозова Волкова Зайцева "
        "Петров Иванов Смирнов Кузнецов Попов Соколов Лебедев Козлов Новиков Морозов Волков Зайцев").split()
BIG_DIALOGS = 200
PAGE_DIALOG_SIZE = 5000


def _array(words: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + w.replace("'", "''") + "'" for w in words) + "]"


def load_sql(dialogs: int, messages: int) -> list[tuple[str, str]]:
    """(what, SQL) steps that fill the database. Dialog ids are 1..dialogs; dialog 1 is the 5,000-message one."""
    short_total = messages - PAGE_DIALOG_SIZE - (BIG_DIALOGS - 1) * 2750
    mean_short = max(1.0, short_total / max(1, dialogs - BIG_DIALOGS))
    vocab, n = _array(VOCAB), len(VOCAB)
    return [
        ("customers", f"""
            INSERT INTO customers (id, tenant_id, display_name, username, phone, tags, blocked, extra, memory)
              SELECT i, 1,
                     ({_array(FIRST)})[1 + i % {len(FIRST)}] || ' ' || ({_array(LAST)})[1 + (i / 7) % {len(LAST)}],
                     CASE WHEN i % 2 = 0 THEN 'user' || i END,
                     '+7999' || lpad(i::text, 7, '0'),
                     CASE WHEN i % 10 = 0 THEN ARRAY['vip'] ELSE '{{}}' END, false, '{{}}', '{{}}'
              FROM generate_series(1, {dialogs}) i;
        """),
        ("dialogs", f"""
            INSERT INTO dialogs (id, tenant_id, customer_id, channel_id, external_chat_id, status, ai_mode, assignee_id,
                                 unread_count, message_count, outcome, last_message_at, created_at, updated_at)
              SELECT i, 1, i, 1 + i % 3, i::text,
                     CASE WHEN r < 0.70 THEN 'resolved' WHEN r < 0.85 THEN 'active' WHEN r < 0.93 THEN 'waiting'
                          WHEN r < 0.97 THEN 'escalated' ELSE 'inactive' END,
                     'semi_auto',
                     CASE WHEN i % 10 < 7 THEN 2 + i % 5 END,
                     CASE WHEN i % 20 = 0 THEN 1 + i % 3 ELSE 0 END,
                     CASE WHEN i = 1 THEN {PAGE_DIALOG_SIZE}
                          WHEN i <= {BIG_DIALOGS} THEN 1000 + (i * 7919) % 3500
                          ELSE 1 + floor(-ln(1 - random()) * {mean_short - 0.5:.3f})::int END,
                     CASE WHEN i % 10 = 1 THEN 'won' WHEN i % 10 = 2 THEN 'lost' END,
                     NULL, now(), now()
              FROM (SELECT i, random() AS r FROM generate_series(1, {dialogs}) i) s;
            -- start times spread over a year; the first message of dialog d at started_at
            CREATE UNLOGGED TABLE bench_starts AS
              SELECT id, now() - interval '365 days' * random() AS started_at, message_count FROM dialogs;
        """),
        ("messages (generate_series)", f"""
            INSERT INTO messages (tenant_id, dialog_id, external_id, direction, author_kind, author_staff_id, text, sent_at,
                                  edit_count, is_read, is_imported, extra)
              SELECT 1, s.id, g::text,
                     CASE WHEN g % 2 = 1 THEN 'in' ELSE 'out' END,
                     CASE WHEN g % 2 = 1 THEN 'customer' WHEN g % 6 = 0 THEN 'ai' ELSE 'manager' END,
                     CASE WHEN g % 2 = 0 AND g % 6 <> 0 AND s.id % 10 < 7 THEN 2 + s.id % 5 END,
                     array_to_string(ARRAY(
                        SELECT ({vocab})[1 + floor(power(random(), 2.2) * {n})::int]
                        FROM generate_series(1, 3 + (g + s.id) % 9) w WHERE w > -s.id
                     ), ' ') || CASE WHEN random() < 0.01 THEN ' заказ №' || (100000 + floor(random() * 900000))::int
                                     ELSE '' END,
                     LEAST(s.started_at + (g * interval '3 minutes'), now() - interval '1 minute' * (s.id % 997)),
                     CASE WHEN random() < 0.005 THEN 1 ELSE 0 END, true, false, '{{}}'
              FROM bench_starts s, generate_series(1, s.message_count) g;
        """),
        ("dialog times from messages", """
            UPDATE dialogs d SET last_message_at = m.last_at, message_count = m.n, created_at = m.first_at,
                                 last_customer_message_at = m.last_in
              FROM (SELECT dialog_id, min(sent_at) AS first_at, max(sent_at) AS last_at, count(*) AS n,
                           max(sent_at) FILTER (WHERE direction = 'in') AS last_in
                      FROM messages GROUP BY dialog_id) m
             WHERE m.dialog_id = d.id;
        """),
        ("outcomes, closings, CSAT + events", f"""
            UPDATE dialogs SET outcome_at = last_message_at,
                               outcome_amount = CASE WHEN outcome = 'won' THEN 1000 + (id % 50) * 100 END,
                               outcome_currency = CASE WHEN outcome = 'won' THEN 'RUB' END,
                               outcome_reason = CASE WHEN outcome = 'lost' THEN
                                   ({_array(["дорого", "нет в наличии", "долгая доставка", "передумал"])})[1 + id % 4]
                                   END
             WHERE outcome IS NOT NULL;
            UPDATE dialogs SET closed_at = LEAST(now(), last_message_at + interval '1 hour'),
                               csat = CASE WHEN id % 7 = 0 THEN 1 + id % 5 END
             WHERE status = 'resolved';
            INSERT INTO events (tenant_id, kind, dialog_id, actor_staff_id, payload, created_at)
              SELECT 1, 'dialog_' || outcome, id, assignee_id, '{{}}'::jsonb, outcome_at FROM dialogs
               WHERE outcome IS NOT NULL
              UNION ALL
              SELECT 1, 'dialog_closed', id, assignee_id, '{{}}'::jsonb, closed_at FROM dialogs
               WHERE status = 'resolved';
        """),
        ("attachments, edits", """
            INSERT INTO attachments (message_id, ordinal, kind, mime, size, file_name, external_ref)
              SELECT id, 0, 'photo', 'image/jpeg', 120000, 'photo_' || id || '.jpg', '{}' FROM messages WHERE id % 33 = 0;
            INSERT INTO message_edits (message_id, old_text, new_text, edited_at)
              SELECT id, text || ' (было)', text, sent_at + interval '1 minute' FROM messages WHERE edit_count > 0;
        """),
        ("AI drafts, escalations", f"""
            INSERT INTO suggestions (tenant_id, dialog_id, message_id, text, intent, confidence, decision, state,
                                     final_text, decided_by_id, decided_at, reject_reason, created_at,
                                     decision_reason, checks, inputs, sources)
              SELECT 1, m.dialog_id, m.id, 'Черновик ответа на: ' || left(m.text, 60), 'price', 0.7, 'need_approval',
                     (ARRAY['sent','edited','rejected','escalated','outdated'])[1 + m.id % 5],
                     CASE WHEN m.id % 5 = 1 THEN 'Исправленный ответ' END, 2 + m.id % 5,
                     m.sent_at + interval '1 minute', CASE WHEN m.id % 5 = 2 THEN 'tone' END,
                     m.sent_at + interval '10 seconds', '', '{{}}', '{{}}', '[]'
              FROM messages m WHERE m.dialog_id <= {BIG_DIALOGS} AND m.direction = 'in' AND m.id % 2 = 1;
            -- the other dialogs: a draft for one customer message in eight, the intents varied
            INSERT INTO suggestions (tenant_id, dialog_id, message_id, text, intent, confidence, decision, state,
                                     final_text, decided_by_id, decided_at, reject_reason, created_at,
                                     decision_reason, checks, inputs, sources)
              SELECT 1, m.dialog_id, m.id, 'Черновик ответа на: ' || left(m.text, 60),
                     ({_array(["price", "availability", "delivery", "payment", "complaint", "other"])})[1 + m.id % 6],
                     0.8, 'need_approval',
                     (ARRAY['sent','sent','edited','rejected','escalated','outdated','pending'])[1 + m.id % 7],
                     NULL, CASE WHEN m.id % 3 > 0 THEN 2 + m.id % 5 END,
                     m.sent_at + interval '1 minute', NULL, m.sent_at + interval '10 seconds', '', '{{}}', '{{}}', '[]'
              FROM messages m WHERE m.dialog_id > {BIG_DIALOGS} AND m.direction = 'in' AND m.id % 8 = 1;
            -- AI spend: an intent and a drafting call per draft, an embedding call of no dialog per 40 messages
            INSERT INTO ai_usage (tenant_id, dialog_id, purpose, provider, model, prompt_tokens, completion_tokens,
                                  cached_tokens, characters, cost_usd, created_at)
              SELECT 1, dialog_id, p.purpose, 'openai', p.model, 900 + id % 700, p.completion, 0, 0,
                     ((900 + id % 700) * p.input + p.completion * p.output) / 1000000, created_at
              FROM suggestions,
                   (VALUES ('intent', 'gpt-4o-mini', 12, 0.15, 0.6), ('suggest', 'gpt-4o', 180, 2.5, 10.0))
                     AS p(purpose, model, completion, input, output);
            INSERT INTO ai_usage (tenant_id, dialog_id, purpose, provider, model, prompt_tokens, completion_tokens,
                                  cached_tokens, characters, cost_usd, created_at)
              SELECT 1, NULL, 'embed', 'openai', 'text-embedding-3-small', 40 * (20 + id % 60), 0, 0, 0,
                     40 * (20 + id % 60) * 0.02 / 1000000, sent_at
              FROM messages WHERE id % 40 = 0;
            INSERT INTO escalations (tenant_id, dialog_id, reason, status, created_by_id, created_at)
              SELECT 1, id, 'low_confidence', 'pending', 2, last_message_at FROM dialogs WHERE status = 'escalated';
        """),
        ("clean up", "DROP TABLE bench_starts;"),
    ]


async def setup(db) -> None:
    """The tenant (with its built-in roles), three channels and six staff, through the models: ids 1.. in a fresh
    database, which the bulk SQL relies on."""
    from core.models import ChannelAccount, ChannelKind, StaffMember
    from core.services.tenants import create_tenant, role_by_code

    async with db.unit_of_work() as session:
        tenant = await create_tenant(session, slug="bench", name="Bench shop")
        for i in range(1, 4):
            session.add(ChannelAccount(tenant_id=tenant.id, external_id=str(i), title=f"Channel {i}",
                                       kind=ChannelKind.VK_COMMUNITY if i == 1 else ChannelKind.TELEGRAM_ACCOUNT))
        owner = await role_by_code(session, tenant.id, "owner")
        manager = await role_by_code(session, tenant.id, "manager")
        for i in range(1, 7):
            session.add(StaffMember(tenant_id=tenant.id, role_id=(owner if i == 1 else manager).id,
                                    telegram_user_id=1000 + i, name=f"Manager {i}"))
        await session.flush()
        assert tenant.id == 1


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


ONLY: tuple[str, ...] = ()


async def timed(label: str, fn, runs: int, results: list) -> None:
    if ONLY and not label.startswith(ONLY):
        return
    for _ in range(3):  # warm-up
        await fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - started) * 1000)
    row = (label, statistics.median(samples), pct(samples, 0.95), max(samples))
    results.append(row)
    print(f"{label:<52} p50 {row[1]:7.1f} ms   p95 {row[2]:7.1f} ms   max {row[3]:7.1f} ms", flush=True)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dialogs", type=int, default=200_000)
    parser.add_argument("--messages", type=int, default=4_000_000)
    parser.add_argument("--runs", type=int, default=60)
    parser.add_argument("--reuse", action="store_true",
                        help="the database (SALESOP_DATABASE_URL) is loaded already: rebuild 0011's indexes and time")
    parser.add_argument("--data-dir", type=Path,
                        help="keep the embedded PostgreSQL here: the first run loads it, later runs with the same "
                             "--dialogs/--messages find it loaded and only migrate to head and time (minutes saved)")
    parser.add_argument("--redo-rollup", action="store_true",
                        help="with a loaded --data-dir: undo and re-apply 0015 to time its backfill again")
    parser.add_argument("--only", default="",
                        help="time only the measurements whose label starts with one of these comma-separated words "
                             "(list, search, dialog, dashboard)")
    args = parser.parse_args()

    from alembic.script import ScriptDirectory

    from core import migrate
    from core.db import Database, EmbeddedPostgres
    from core.services import dialog_search, miniapp

    bench = BenchDatabase()
    scripts = ScriptDirectory.from_config(migrate.alembic_config())
    before = scripts.get_revision("0011").down_revision
    try:
        before_rollup = scripts.get_revision("0015").down_revision
    except Exception:  # noqa: BLE001 - a checkout before the rollup (the baseline): no 0015 to time
        before_rollup = None
    marker = f"{args.dialogs}/{args.messages}"
    loaded = False
    done_steps: set[str] = set()  # load steps an interrupted run of the same --data-dir finished
    if not bench.url:
        bench.embedded = EmbeddedPostgres(args.data_dir or bench.dir)
        bench.embedded.start()
        if args.data_dir is not None and "bench" in bench.embedded.psql(
                "SELECT datname FROM pg_database WHERE datname = 'bench';\n"):
            probe = Database(bench.embedded.url("bench"), pool_size=1)
            try:
                async with probe.engine.connect() as c:
                    if (await c.execute(text("SELECT to_regclass('bench_loaded') IS NOT NULL"))).scalar():
                        loaded = (await c.execute(text("SELECT what FROM bench_loaded"))).scalar() == marker
                    elif (await c.execute(text("SELECT to_regclass('bench_progress') IS NOT NULL"))).scalar():
                        done_steps = set((await c.execute(text(
                            "SELECT step FROM bench_progress WHERE what = :m"), {"m": marker})).scalars())
            finally:
                await probe.dispose()
        if not loaded and not done_steps:
            bench.embedded.psql("DROP DATABASE IF EXISTS bench;\nCREATE DATABASE bench;\n")
        bench.url = bench.embedded.url("bench")
    if loaded:
        print(f"reusing the database loaded in {args.data_dir} ({marker})", flush=True)
        if args.redo_rollup and before_rollup is not None:
            await migrate.downgrade(bench.url, before_rollup)
    elif done_steps:
        print(f"resuming the load in {args.data_dir} after: {', '.join(sorted(done_steps))}", flush=True)
    elif args.reuse:
        await migrate.downgrade(bench.url, before)
    else:
        await migrate.upgrade(bench.url, before)
    db = Database(bench.url, pool_size=2)
    try:
        t0 = time.perf_counter()
        fresh = not args.reuse and not loaded
        if fresh and not done_steps:
            # The models speak the newest schema: the tenant, channels and staff are made at head, then the schema
            # goes back to before 0011 so the bulk load does not maintain its indexes row by row.
            await migrate.upgrade(bench.url)
            await setup(db)
            await db.engine.dispose()
            await migrate.downgrade(bench.url, before)
        for what, sql in (load_sql(args.dialogs, args.messages) if fresh else []):
            if what in done_steps:
                continue
            started = time.perf_counter()
            async with db.engine.connect() as c:
                raw = await c.get_raw_connection()
                # several statements, no parameters: asyncpg's simple query, one transaction with its progress mark
                await raw.driver_connection.execute(
                    "BEGIN;\nCREATE TABLE IF NOT EXISTS bench_progress (what text, step text);\n" + sql +
                    f";\nINSERT INTO bench_progress VALUES ('{marker}', '{what}');\nCOMMIT;")
            print(f"load: {what:<32} {time.perf_counter() - started:7.1f} s", flush=True)
        async with db.engine.connect() as c:
            counts = (await c.execute(text("SELECT (SELECT count(*) FROM dialogs), (SELECT count(*) FROM messages), "
                                           "(SELECT max(message_count) FROM dialogs), "
                                           "(SELECT count(*) FROM suggestions)"))).one()
        print(f"loaded {counts[0]} dialogs, {counts[1]} messages (largest dialog {counts[2]}), {counts[3]} drafts "
              f"in {time.perf_counter() - t0:.0f} s", flush=True)
        if not loaded:
            started = time.perf_counter()
            await migrate.upgrade(bench.url, "0011")
            print(f"migration 0011 (indexes on the loaded data): {time.perf_counter() - started:.1f} s", flush=True)
        if before_rollup is not None:
            await migrate.upgrade(bench.url, before_rollup)
        if before_rollup is not None and (await migrate.current_heads(bench.url)) == {before_rollup}:
            started = time.perf_counter()
            await migrate.upgrade(bench.url, "0015")
            print(f"migration 0015 (dashboard rollup backfill): {time.perf_counter() - started:.1f} s", flush=True)
        await migrate.upgrade(bench.url)
        async with db.engine.connect() as c:
            c = await c.execution_options(isolation_level="AUTOCOMMIT")
            # Visibility maps set (as autovacuum keeps them), so index-only scans read no table pages.
            await c.exec_driver_sql("VACUUM ANALYZE")
            if fresh:
                await c.exec_driver_sql(f"CREATE TABLE bench_loaded AS SELECT '{marker}'::text AS what")
                await c.exec_driver_sql("DROP TABLE IF EXISTS bench_progress")

        global ONLY
        ONLY = tuple(w.strip() for w in args.only.split(",") if w.strip())
        hidden = {"profile_link", "traffic_source", "ai_cost", "email"}  # the manager role
        results: list = []

        async def listing(filters=None, cursor=None):
            async with db.unit_of_work() as session:
                return await miniapp.list_dialogs(session, tenant_id=1, hidden=hidden, filters=filters, cursor=cursor)

        F = dialog_search.Filters
        await timed("list: first page", lambda: listing(), args.runs, results)
        cursor = None
        for _ in range(99):
            cursor = (await listing(cursor=cursor))["next_cursor"]
        await timed("list: page 100 (keyset)", lambda: listing(cursor=cursor), args.runs, results)
        for label, filters in (
            ("list: status = active", F(status=dialog_search.DialogStatus.ACTIVE)),
            ("list: channel 2", F(channel_id=2)),
            ("list: manager 3", F(assignee=3)),
            ("list: unread", F(unread=True)),
            ("list: has escalation", F(escalated=True)),
            ("list: outcome won + channel 1", F(outcome="won", channel_id=1)),
            ("list: status active + manager 4 + unread", F(status=dialog_search.DialogStatus.ACTIVE, assignee=4,
                                                            unread=True)),
        ):
            await timed(label, lambda f=filters: listing(f), args.runs, results)
        async with db.engine.connect() as c:
            order = (await c.execute(text(
                "SELECT substring(text from 'заказ №([0-9]+)') FROM messages WHERE text LIKE '%заказ №%' "
                "ORDER BY id DESC LIMIT 1"))).scalar_one()
            word_counts = {w: (await c.execute(text(
                "SELECT count(*) FROM messages WHERE to_tsvector('russian'::regconfig, text) @@ "
                "websearch_to_tsquery('russian', :w)"), {"w": w})).scalar_one()
                for w in ("чайник", "гарантия", "здравствуйте")}
        print(f"search terms: order №{order}; messages holding: {word_counts}", flush=True)
        for label, q in (
            ("search: name 'Ольга Петр'", "Ольга Петр"),
            ("search: phone digits '0123456'", "0123456"),
            ("search: username 'user1234'", "user1234"),
            (f"search: order number {order} (rare)", order),
            (f"search: 'гарантия' ({word_counts['гарантия']} msgs)", "гарантия"),
            (f"search: 'чайник' ({word_counts['чайник']} msgs)", "чайник"),
            (f"search: 'здравствуйте' ({word_counts['здравствуйте']} msgs)", "здравствуйте"),
            ("search: 'гарантия' + status active", "гарантия"),
        ):
            status = dialog_search.DialogStatus.ACTIVE if "status" in label else None
            await timed(label, lambda q=q, s=status: listing(F(q=q, status=s)), max(20, args.runs // 2), results)

        async def page(before=None):
            async with db.unit_of_work() as session:
                return await miniapp.dialog_view(session, dialog_id=1, tenant_id=1, hidden=hidden, before=before)

        await timed("dialog page: 5,000 messages, newest page", lambda: page(), args.runs, results)
        before_cursor = None
        for _ in range(25):
            before_cursor = (await page(before_cursor))["before"]
        await timed("dialog page: 5,000 messages, page 26 back", lambda: page(before_cursor), args.runs, results)

        from datetime import UTC, datetime

        from core.services import analytics
        from core.services import dashboard as figures

        async def board(choice: str, filters=analytics.NO_FILTERS):
            period = figures.period_of(choice, now=datetime.now(UTC), timezone="Europe/Moscow")
            async with db.unit_of_work() as session:
                return await figures.figures(session, 1, period, filters, currency="RUB", with_spend=True)

        if ONLY and not "dashboard".startswith(ONLY):
            shown = None
        else:
            shown = await board("30")
        if shown is not None:
                print(f"30-day dashboard: {shown.counts.new} new, {shown.counts.active} active dialogs, "
                  f"{shown.share.drafts} drafts, {shown.outcomes.won} won, spend ${shown.spend.total_usd:.2f} "
                  f"in {shown.spend.calls} calls", flush=True)
        dash_runs = max(10, args.runs // 3)
        await timed("dashboard: 30 days", lambda: board("30"), dash_runs, results)
        await timed("dashboard: 30 days, manager 3", lambda: board("30", analytics.Filters(manager_id=3)),
                    dash_runs, results)
        await timed("dashboard: 7 days", lambda: board("7"), dash_runs, results)
        await timed("dashboard: today", lambda: board("today"), dash_runs, results)

        print("\n| measurement | p50, ms | p95, ms | max, ms |\n|---|---:|---:|---:|")
        for label, p50, p95, worst in results:
            print(f"| {label} | {p50:.1f} | {p95:.1f} | {worst:.1f} |")
    finally:
        await db.dispose()
        bench.stop()


if __name__ == "__main__":
    asyncio.run(main())
