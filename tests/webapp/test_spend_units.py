"""AI spend in each call's own unit: speech synthesis counts characters, transcription seconds of audio, each priced
per its own unit from the price table — and `salesop spend` and the Mini App's AI spend agree on every figure. The
migration that gave seconds a column (0020) moves the seconds older rows kept among the characters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import text

from core import migrate
from core.ai.spend import Usage, record_usage, spend_summary
from core.db import Database
from core.models import UsagePurpose
from core.services.tenants import create_tenant

from .test_report_pages import NOW, USAGE, get, shop  # noqa: F401 (the fixture)

MILLION = Decimal(1_000_000)
SPOKEN = (1234, 77)  # characters of two speech syntheses
HEARD = (3, 41)  # seconds of two transcriptions


async def test_characters_and_seconds_are_summed_and_priced_apart_the_same_in_cli_and_miniapp(shop, tmp_path):
    table = shop["settings"].ai.price_table
    async with shop["db"].unit_of_work() as session:
        for chars in SPOKEN:
            await record_usage(session, table, Usage(UsagePurpose.TTS, "elevenlabs", "eleven_multilingual_v2",
                                                     characters=chars), tenant_id=shop["tenant"])
        for seconds in HEARD:
            await record_usage(session, table, Usage(UsagePurpose.OTHER, "openai", "whisper-1", seconds=seconds),
                               tenant_id=shop["tenant"], dialog_id=shop["dialogs"][1])
        by_purpose = {r.keys["purpose"]: r for r in await spend_summary(session, shop["tenant"], by=("purpose",))}
    # ElevenLabs: $180 per 1M characters; whisper-1: $0.006 a minute, $100 per 1M seconds.
    speech_cost = sum(SPOKEN) * Decimal(180) / MILLION
    heard_cost = sum(HEARD) * Decimal(100) / MILLION
    assert (by_purpose["other"].seconds, by_purpose["other"].characters, by_purpose["other"].cost_usd) == \
        (sum(HEARD), 0, heard_cost)
    assert by_purpose["tts"].characters == sum(SPOKEN) and by_purpose["tts"].seconds == 0

    env = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
    env.update(SALESOP_DATA_DIR=str(tmp_path / "var"), SALESOP_DATABASE_URL=shop["settings"].db.database_url
               .get_secret_value(), SALESOP_MASTER_KEY=shop["settings"].security.master_key.get_secret_value())
    cli = subprocess.run([sys.executable, "-m", "salesop.cli", "spend", "--tenant", "shop", "--days", "7",
                          "--by", "model", "--json"], capture_output=True, text=True, env=env, timeout=120)
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)
    status, page = await get(shop, "finance", "/api/spend?period=7")
    assert status == 200

    expected = sum((c for ago, *_, c in USAGE if ago < timedelta(days=7)), Decimal(0)) + speech_cost + heard_cost
    assert Decimal(printed["total"]["cost_usd"]) == Decimal(page["total_usd"]) == expected
    assert (printed["total"]["characters"], printed["total"]["seconds"]) == (page["characters"], page["seconds"]) \
        == (sum(SPOKEN), sum(HEARD))
    cli_models = {r["model"]: r for r in printed["rows"]}
    page_models = {r["model"]: r for r in next(c for c in page["charts"] if c["id"] == "by_model")["rows"]}
    for model, chars, seconds, cost in (("eleven_multilingual_v2", sum(SPOKEN), 0, speech_cost),
                                        ("whisper-1", 0, sum(HEARD), heard_cost)):
        for row in (cli_models[model], page_models[model]):
            assert (row["characters"], row["seconds"]) == (chars, seconds), (model, row)
        assert Decimal(cli_models[model]["cost_usd"]) == cost
        assert Decimal(page_models[model]["cost_usd"]) == cost.quantize(Decimal("0.000001"))


async def test_the_migration_moves_transcription_seconds_out_of_characters(fresh_db_url):
    await migrate.upgrade(fresh_db_url)
    db = Database(fresh_db_url, pool_size=1)
    try:
        async with db.unit_of_work() as session:
            tenant_id = (await create_tenant(session, slug="shop", name="Shop")).id
        await migrate.downgrade(fresh_db_url, "0018")
        # Rows as the code before 0020 wrote them: a transcription's seconds in characters.
        async with db.unit_of_work() as session:
            for purpose, model, units in (("other", "whisper-1", 41), ("tts", "eleven_multilingual_v2", 1234),
                                          ("suggest", "gpt-4o-mini", 0), ("other", "gpt-4o-mini", 0)):
                await session.execute(text(
                    "INSERT INTO ai_usage (tenant_id, purpose, provider, model, prompt_tokens, completion_tokens,"
                    " cached_tokens, characters, cost_usd) VALUES (:t, :p, 'openai', :m, 5, 0, 0, :u, 0.001)"),
                    {"t": tenant_id, "p": purpose, "m": model, "u": units})
        await db.dispose()
        await migrate.upgrade(fresh_db_url)
        async with db.unit_of_work() as session:
            rows = (await session.execute(text(
                "SELECT model, purpose, characters, seconds FROM ai_usage ORDER BY id"))).all()
        assert [tuple(r) for r in rows] == [("whisper-1", "other", 0, 41), ("eleven_multilingual_v2", "tts", 1234, 0),
                                            ("gpt-4o-mini", "suggest", 0, 0), ("gpt-4o-mini", "other", 0, 0)]
        await db.dispose()
        await migrate.downgrade(fresh_db_url, "0018")  # and back: the older code finds its units where it kept them
        async with db.unit_of_work() as session:
            back = (await session.execute(text("SELECT characters FROM ai_usage ORDER BY id"))).scalars().all()
        assert back == [41, 1234, 0, 0]
    finally:
        await db.dispose()
