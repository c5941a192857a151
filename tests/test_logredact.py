"""No secret reaches a log line: a real `salesop serve bot` at DEBUG whose Bot API calls fail with an error quoting
the request URL (which holds the bot token), and the redaction rules themselves."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import string
import sys

from aiohttp import web
from cryptography.fernet import Fernet

from core import logredact
from core.settings import Settings
from sandbox.runner import serve
from tests.conftest import free_port


def _bot_token() -> str:
    alphabet = string.ascii_letters + string.digits + "_-"
    return "7" + "".join(secrets.choice(string.digits) for _ in range(9)) + ":AA" + \
        "".join(secrets.choice(alphabet) for _ in range(33))


async def test_serve_bot_at_debug_logs_no_secret(tmp_path, db_url):
    token, openai_key = _bot_token(), "sk-proj-" + secrets.token_urlsafe(32)
    master_key = Fernet.generate_key().decode()
    seen: list[str] = []

    async def loop_back(request: web.Request) -> web.Response:
        # A misconfigured proxy in front of the Bot API: every call is redirected to itself.
        seen.append(request.path)
        raise web.HTTPTemporaryRedirect(request.path)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", loop_back)
    runner, base = await serve(app)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SALESOP_")}
        env.update(SALESOP_DATA_DIR=str(tmp_path / "var"), SALESOP_DATABASE_URL=db_url,
                   SALESOP_MASTER_KEY=master_key, SALESOP_BOT_TOKEN=token, SALESOP_TELEGRAM_API_URL=base,
                   SALESOP_OPENAI_API_KEY=openai_key, SALESOP_LOG_LEVEL="DEBUG",
                   SALESOP_WEBAPP_PORT=str(free_port()))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "salesop.cli", "serve", "bot", env=env, cwd=tmp_path,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        # The Bot API unreachable at start-up is waited out with retries (bot.component.answered_in_time), each try
        # logged: once the error quoting the URL was logged, the process is stopped as an operator would.
        logged = bytearray()
        try:
            async with asyncio.timeout(120):
                while b"TooManyRedirects" not in logged:
                    line = await proc.stderr.readline()
                    if not line:
                        break
                    logged += line
        except TimeoutError:
            raise AssertionError(f"salesop serve bot logged no error: {logged.decode()[-3000:]}") from None
        finally:
            if proc.returncode is None:
                proc.terminate()
            stdout, rest = await asyncio.wait_for(proc.communicate(), 60)
        stderr = bytes(logged) + rest
    finally:
        await runner.cleanup()
    out = stdout.decode() + stderr.decode()
    assert any(token in path for path in seen)  # the URL it called held the token...
    assert "TooManyRedirects" in out and "DEBUG" in out  # ...and the error quoting that URL was logged, at DEBUG
    for secret in (token, token.split(":")[1], openai_key, master_key, db_url):
        assert secret not in out
    assert logredact.MASK in out


def test_redaction_rules():
    token = _bot_token()
    text = (f"GET https://api.telegram.org/bot{token}/getMe key=sk-abcdefghijklmnopqrstuv "
            "vk=vk1.a.AbC-12_x.yz eleven=sk_" + "a1" * 20 + " session=1" + "A" * 340 + "==")
    clean = logredact.redact(text)
    assert clean == ("GET https://api.telegram.org/bot***/getMe key=*** vk=*** eleven=*** session=***")
    assert logredact.redact("order 12345: 2 items, total 3000") == "order 12345: 2 items, total 3000"


def test_settings_secrets_are_known_and_scrubbed_from_records_and_tracebacks(tmp_path):
    master_key = Fernet.generate_key().decode()
    settings = Settings.load(data_dir=tmp_path, security={"master_key": master_key},
                             db={"database_url": "postgresql://app:pa55word-x@db/salesop"},
                             telegram={"webhook_secret": "hook-secret-1"})
    known = logredact.secrets_of(settings)
    assert {master_key, "pa55word-x", "hook-secret-1", "postgresql://app:pa55word-x@db/salesop"} <= set(known)
    logredact.register(*known)
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "connecting to %s with %s",
                               ("postgresql://app:pa55word-x@db/salesop", "hook-secret-1"), None)
    try:
        raise RuntimeError(f"master key {master_key} rejected")
    except RuntimeError:
        record.exc_info = sys.exc_info()
    logredact._scrub(record)
    formatted = logging.Formatter().format(record)
    assert "pa55word" not in formatted and "hook-secret-1" not in formatted and master_key not in formatted
    assert "connecting to *** with ***" in formatted and "master key *** rejected" in formatted
