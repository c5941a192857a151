"""A prompt the bot is waiting on (the /settings "other hours…" text) lives in Redis when it is configured: a bot
restarted in between — or a second bot process taking the next update — still reads the answer as hours. Kept in
memory, the same restart forgets the prompt (the control case shows the test can tell the difference)."""

from __future__ import annotations

import pytest

from bot.component import fsm_storage
from bot.setup import build_dispatcher

from .desk import Desk
from .test_settings_bot import cfg, press, tenant, write

HOURS = "mon-fri 10:00-19:00"


def _restart(desk: Desk, redis_url: str | None) -> None:
    """A new Dispatcher, as a restarted (or another) bot process builds it; the old one's memory is gone."""
    [runtime] = [m.runtime for m in desk.dp.update.outer_middleware if hasattr(m, "runtime")]
    desk.dp = build_dispatcher(runtime, storage=fsm_storage(redis_url))


@pytest.mark.parametrize("in_redis", [True, False])
async def test_a_waiting_prompt_survives_a_bot_restart_only_in_redis(desk: Desk, redis_url: str, in_redis: bool):
    url = redis_url if in_redis else None
    _restart(desk, url)
    owner = desk.owner
    [panel] = await write(desk, owner, owner["id"], "/settings")
    await press(desk, owner, owner["id"], panel, cfg(desk.tenant_id, "hours_text"))
    _restart(desk, url)
    await write(desk, owner, owner["id"], HOURS)
    hours = (await tenant(desk)).working_hours
    if in_redis:
        assert hours == {d: ["10:00", "19:00"] for d in ("mon", "tue", "wed", "thu", "fri")}
    else:
        assert hours["sat"] == ["09:00", "21:00"]  # unchanged: the restarted bot did not know it had asked
