"""Run the four stand-ins on loopback: `salesop sandbox`, the offline demo, benchmarks."""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from .elevenlabs import ElevenLabsSandbox
from .mtproto import MTProtoSandbox
from .mtproto.protocol import PUBLIC_KEY_FILE
from .mtproto.web import setup as setup_accounts_web
from .openai_api import OpenAISandbox
from .telegram import TelegramSandbox
from .vk import VKSandbox


@dataclass
class SandboxStack:
    telegram: TelegramSandbox
    vk: VKSandbox
    openai: OpenAISandbox
    elevenlabs: ElevenLabsSandbox
    mtproto: MTProtoSandbox
    urls: dict[str, str] = field(default_factory=dict)
    _runners: list[web.AppRunner] = field(default_factory=list)

    def lines(self) -> list[str]:
        """`<name> <base-url>` per stand-in, in the form each client library takes as its base URL; for Telegram
        accounts (MTProto over TCP) the host:port and the server's public key file, as Telethon takes them."""
        return [f"{name} {url}" for name, url in self.urls.items()] + [
            f"mtproto {self.mtproto.address}", f"mtproto-key {PUBLIC_KEY_FILE}"]

    async def stop(self) -> None:
        await self.mtproto.stop()
        for runner in reversed(self._runners):
            await runner.cleanup()
        self._runners.clear()


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve one app on `host` (port 0: any free port, chosen by the OS). Returns the runner and its base URL."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound_host, bound_port = runner.addresses[0][:2]
    return runner, f"http://{bound_host}:{bound_port}"


async def start_sandbox(host: str = "127.0.0.1", *, telegram_limits: str = "realistic", time_scale: float = 1.0,
                        vk_limits: bool = True, vk_latency_ms: float = 0.0, ports: dict[str, int] | None = None,
                        bot_token: str | None = None) -> SandboxStack:
    ports = ports or {}
    stack = SandboxStack(
        telegram=TelegramSandbox(limits=telegram_limits, time_scale=time_scale, bot_token=bot_token),
        vk=VKSandbox(limits=vk_limits, latency_ms=vk_latency_ms, time_scale=time_scale),
        openai=OpenAISandbox(),
        elevenlabs=ElevenLabsSandbox(),
        mtproto=MTProtoSandbox(limits=telegram_limits, time_scale=time_scale),
    )
    try:
        await stack.mtproto.start(host, ports.get("mtproto", 0))
        setup_accounts_web(stack.telegram.app, stack.mtproto)  # its control API and pages share the Bot API's port
        stack.telegram.business.link(stack.mtproto)  # one Telegram account can be a userbot and a business account
        for name, app, path in (
            ("telegram", stack.telegram.app, ""),
            ("vk", stack.vk.app, "/method/"),
            ("openai", stack.openai.app, "/v1"),
            ("elevenlabs", stack.elevenlabs.app, ""),
        ):
            runner, base = await serve(app, host, ports.get(name, 0))
            stack._runners.append(runner)
            stack.urls[name] = base + path
        stack.urls["viewer"] = stack.urls["telegram"] + "/_viewer/"
    except BaseException:
        await stack.stop()
        raise
    return stack
