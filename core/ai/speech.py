"""core.ports.Speech over ElevenLabs (the official `elevenlabs` SDK, any base URL): a tenant's text in the tenant's
voice, with the tenant's own API key.

The audio is asked for as `opus_48000_*`: an OGG/Opus file, what Telegram plays as a voice bubble and VK takes as an
audio message, so the bytes a manager listens to are sent as they are — no transcoding, nothing added. ElevenLabs
bills characters: `characters(text)` is what one call costs, recorded as AI spend (core.ai.spend) by the caller.

Every failure is a SpeechError with a code people are shown a sentence for (voice.error.<code>): a refused key
(401), the quota used up, an unknown voice, a timeout, ElevenLabs unreachable, anything else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

OUTPUT_FORMAT = "opus_48000_64"  # OGG/Opus, 48 kHz, 64 kbps: a voice note as Telegram and VK keep them
DEFAULT_TIMEOUT = 30.0
SAMPLE_TEXT = {"ru": "Здравствуйте! Так будет звучать голос вашего магазина.",
               "en": "Hello! This is how your shop's voice will sound."}
ERROR_CODES = ("unauthorized", "quota_exceeded", "voice_not_found", "timeout", "unreachable", "too_long", "failed")


class SpeechError(Exception):
    """ElevenLabs refused or did not answer. `code` is one of ERROR_CODES; `detail` is ElevenLabs' own words."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code if code in ERROR_CODES else "failed"
        self.detail = detail


@dataclass(frozen=True)
class Voice:
    voice_id: str
    name: str
    category: str  # premade | cloned | generated | professional


def characters(text: str) -> int:
    """What ElevenLabs bills for a text: its characters."""
    return len(text)


def _api_error(exc) -> SpeechError:
    """elevenlabs.core.api_error.ApiError → SpeechError. The API answers {"detail": {"status", "message"}}."""
    body = exc.body if isinstance(exc.body, dict) else {}
    detail = body.get("detail")
    status, message = "", ""
    if isinstance(detail, dict):
        status, message = str(detail.get("status") or ""), str(detail.get("message") or "")
    elif detail is not None:
        message = str(detail)
    if status in ("quota_exceeded", "voice_not_found"):
        return SpeechError(status, message)
    if exc.status_code == 401:
        return SpeechError("unauthorized", message)
    if exc.status_code == 404:
        return SpeechError("voice_not_found", message)
    if exc.status_code in (400, 422) and "text" in (message or str(detail)):
        return SpeechError("too_long", message)
    return SpeechError("failed", f"HTTP {exc.status_code}: {message}"[:300])


class ElevenLabsSpeech:
    """Implements core.ports.Speech. One SDK client per API key (tenants have their own), made on first use."""

    provider = "elevenlabs"

    def __init__(self, base_url: str, model: str, *, timeout: float = DEFAULT_TIMEOUT,
                 output_format: str = OUTPUT_FORMAT):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.timeout = timeout
        self.output_format = output_format
        self._clients: dict[str, object] = {}

    def _client(self, api_key: str):
        client = self._clients.get(api_key)
        if client is None:
            from elevenlabs import AsyncElevenLabs

            client = AsyncElevenLabs(api_key=api_key, base_url=self.base_url, timeout=self.timeout)
            self._clients[api_key] = client
        return client

    async def _call(self, what: str, call):
        import httpx
        from elevenlabs.core.api_error import ApiError

        try:
            return await call()
        except ApiError as exc:
            raise _api_error(exc) from None
        except httpx.TimeoutException:
            raise SpeechError("timeout", f"{what}: no answer in {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise SpeechError("unreachable", f"{what}: {exc}"[:300]) from None

    async def synthesize(self, text: str, *, voice_id: str, api_key: str) -> bytes:
        """The text spoken in the voice, as an OGG/Opus file."""
        client = self._client(api_key)

        async def call() -> bytes:
            chunks = client.text_to_speech.convert(voice_id, text=text, model_id=self.model,
                                                   output_format=self.output_format)
            return b"".join([chunk async for chunk in chunks])

        audio = await self._call("text to speech", call)
        if not audio.startswith(b"OggS"):
            raise SpeechError("failed", "ElevenLabs did not answer with an OGG/Opus file")
        return audio

    async def voices(self, api_key: str) -> list[Voice]:
        """The voices the account may use (GET /v1/voices): its own and the premade ones."""
        client = self._client(api_key)
        answer = await self._call("voices", lambda: client.voices.get_all())
        return [Voice(v.voice_id, v.name or v.voice_id, str(v.category or "")) for v in answer.voices]

    async def sample(self, api_key: str, voice_id: str, locale: str = "ru") -> tuple[bytes, str]:
        """"Listen to a sample" in the settings: a short sentence in the voice, and the sentence (for its spend)."""
        text = SAMPLE_TEXT.get(locale, SAMPLE_TEXT["ru"])
        return await self.synthesize(text, voice_id=voice_id, api_key=api_key), text


def build_speech(settings) -> ElevenLabsSpeech:
    voice = settings.voice
    return ElevenLabsSpeech(voice.elevenlabs_base_url, voice.elevenlabs_model, timeout=settings.ai.ai_timeout)
