"""What to do when VK says no: wait and retry (flood, captcha, a hiccup), or stop and ask a person (revoked token).
The channel row shows which, so 'why is nothing coming in' has an answer in `salesop channel list`."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from vkbottle.exception_factory import VKAPIError

from core.models import ChannelStatus

from ..checkpoint import ChannelState, ImportStopped
from ..texts import t
from . import api as vk_api

log = logging.getLogger(__name__)


class VKRetryPolicy:
    """Waits are emulated seconds (divided by the time scale), long enough for VK's limits to reset."""

    CAPTCHA_WAITS = (5, 15, 45, 120, 300)
    FLOOD_WAITS = (10, 30, 60, 120, 300, 600, 600, 600)
    TRANSIENT_WAITS = (0.5, 1, 2, 5, 10, 20, 30, 60)

    def __init__(self, state: ChannelState, time_scale: float, *, give_up: bool = True):
        self.state = state
        self.time_scale = time_scale
        self.give_up = give_up  # realtime never gives up on a captcha or flood: it keeps the channel's state visible

    def _waits(self, waits: tuple[float, ...], attempt: int) -> float | None:
        if attempt < len(waits):
            return waits[attempt]
        return None if self.give_up else waits[-1]

    async def on_error(self, exc: BaseException, attempt: int) -> float:
        """Emulated seconds to wait before trying again after `exc` (the attempt-th failure in a row). Raises
        ImportStopped when a person has to act (revoked token) or, for a finite policy, when waiting is over."""
        if isinstance(exc, VKAPIError):
            code = exc.code
            error = f"{code}: {exc.error_msg}"
            if code in vk_api.AUTH:
                detail = t("channel.vk_token_revoked", error=error)
                await self.state.trouble(ChannelStatus.REVOKED, detail)
                raise ImportStopped(detail) from None
            if code == vk_api.CAPTCHA:
                waits, status, key = self.CAPTCHA_WAITS, ChannelStatus.CAPTCHA, "channel.vk_captcha"
            elif code in vk_api.FLOOD:
                waits, status, key = self.FLOOD_WAITS, ChannelStatus.FLOOD_WAIT, "channel.vk_flood"
            else:
                waits, status, key = self.TRANSIENT_WAITS, ChannelStatus.ERROR, "channel.vk_error"
            wait = self._waits(waits, attempt)
            if wait is None:
                raise ImportStopped(t(key, code=code, seconds=0, error=error)) from None
            await self.state.trouble(status, t(key, code=code, seconds=wait, error=error), wait)
            return wait
        if isinstance(exc, (aiohttp.ClientError, asyncio.TimeoutError, json.JSONDecodeError)):
            wait = self._waits(self.TRANSIENT_WAITS, attempt)
            if wait is None:
                raise ImportStopped(t("channel.vk_error", error=repr(exc), seconds=0)) from None
            log.warning("VK request failed (%r), retrying in %s s", exc, wait)
            return wait
        raise exc

    async def run(self, what: Callable[[], Awaitable[Any]]) -> Any:
        attempt = 0
        while True:
            try:
                result = await what()
                await self.state.healthy()
                return result
            except (VKAPIError, aiohttp.ClientError, asyncio.TimeoutError, json.JSONDecodeError) as exc:
                wait = await self.on_error(exc, attempt)
            attempt += 1
            await asyncio.sleep(wait / self.time_scale)
