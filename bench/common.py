"""What the benchmarks share: the database they write to."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class BenchDatabase:
    """SALESOP_DATABASE_URL when set, else a throwaway embedded PostgreSQL under a temp directory; migrated."""

    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="salesop-bench-")
        self.dir = Path(self.tmp.name)
        self.embedded = None
        self.url = os.environ.get("SALESOP_DATABASE_URL")

    async def start(self) -> str:
        from core import migrate
        from core.db import EmbeddedPostgres

        if not self.url:
            self.embedded = EmbeddedPostgres(self.dir)
            self.embedded.start()
            self.embedded.psql("DROP DATABASE IF EXISTS bench;\nCREATE DATABASE bench;\n")
            self.url = self.embedded.url("bench")
        await migrate.upgrade(self.url)
        return self.url

    @property
    def pgdata(self) -> Path | None:
        return self.embedded.pgdata if self.embedded is not None else None

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
        self.tmp.cleanup()
