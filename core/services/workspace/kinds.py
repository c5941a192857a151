"""The workspace's outbox command kinds, for the composition root to register (core.commands.CommandKinds): those
shown in a manager group (.group_commands) and those sent to customers (.customer_commands). Other areas define
theirs in their own modules (core.services.voice, .quick_replies, .reports, core.ai.tools)."""

from __future__ import annotations

from pathlib import Path

from ...commands import CommandKind
from .customer_commands import CUSTOMER_KINDS
from .group_commands import GROUP_KINDS


def workspace_kinds(media_root: Path) -> list[CommandKind]:
    return [kind(media_root) for kind in (*GROUP_KINDS, *CUSTOMER_KINDS)]
