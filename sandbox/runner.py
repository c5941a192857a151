"""Run the four stand-ins on loopback: `salesop sandbox`, the offline demo, benchmarks."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from aiohttp import web

from .elevenlabs import ElevenLabsSandbox
from .openai_api import OpenAISandbox
from .telegram import TelegramSandbox
from .vk import VKSandbox


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class SandboxStack:
    telegram: TelegramSandbox
    vk: VKSandbox
    openai: OpenAISandbox
    elevenlabs: ElevenLabsSandbox
    urls: dict[str, str] = field(default_factory=dict)
    _runners: list[web.AppRunner] = field(default_factory=list)

    def lines(self) -> list[str]:
        """`<name> <base-url>` per stand-in, in the form each client library takes as its base URL."""
        return [f"{name} {url}" for name, url in self.urls.items()]

    async def stop(self) -> None:
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()


async def _serve(app: web.Application, host: str, port: int | None) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = port or _free_port(host)
    await web.TCPSite(runner, host, port).start()
    return runner, port


async def start_sandbox(host: str = "127.0.0.1", *, telegram_limits: str = "realistic", time_scale: float = 1.0,
                        vk_limits: bool = True, vk_latency_ms: float = 0.0, ports: dict[str, int] | None = None,
                        bot_token: str | None = None) -> SandboxStack:
    ports = ports or {}
    stack = SandboxStack(
        telegram=TelegramSandbox(limits=telegram_limits, time_scale=time_scale, bot_token=bot_token),
        vk=VKSandbox(limits=vk_limits, latency_ms=vk_latency_ms, time_scale=time_scale),
        openai=OpenAISandbox(),
        elevenlabs=ElevenLabsSandbox(),
    )
    try:
        for name, app, path in (
            ("telegram", stack.telegram.app, ""),
            ("vk", stack.vk.app, "/method/"),
            ("openai", stack.openai.app, "/v1"),
            ("elevenlabs", stack.elevenlabs.app, ""),
        ):
            runner, port = await _serve(app, host, ports.get(name))
            stack._runners.append(runner)
            stack.urls[name] = f"http://{host}:{port}{path}"
        stack.urls["viewer"] = stack.urls["telegram"] + "/_viewer/"
    except BaseException:
        await stack.stop()
        raise
    return stack
