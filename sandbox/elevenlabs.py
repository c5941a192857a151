"""ElevenLabs stand-in: text to speech, voices, user and subscription.

The real ``elevenlabs.AsyncElevenLabs(api_key=..., base_url="http://127.0.0.1:PORT")`` works against it
unmodified: the client joins ``base_url`` with paths such as ``v1/text-to-speech/{voice_id}`` and sends the
key in the ``xi-api-key`` header (elevenlabs-python: core/http_client.py ``_build_url``,
core/client_wrapper.py). Errors have the API's ``{"detail": {"status", "message"}}`` shape.

Audio is real and playable: a speech-like signal (voiced syllables on a harmonic tone with a pitch contour,
pauses between words and after punctuation) whose length grows with the text, encoded locally through
libsndfile (the `soundfile` wheel bundles it with LAME and libopus): ``mp3_*`` is an MPEG layer III file,
``opus_48000_*`` an OGG/Opus file, ``pcm_*`` raw signed 16-bit little-endian mono, ``wav_*`` a WAV file and
``ulaw_8000``/``alaw_8000`` raw G.711, as the ``output_format`` query parameter of
https://elevenlabs.io/docs/api-reference/text-to-speech/convert describes them.
"""

from __future__ import annotations

import asyncio
import io
import re
import time
import uuid
import zlib

import numpy as np
import soundfile as sf
from aiohttp import web

# Premade voices every account sees (ids of ElevenLabs' public premade voices).
PREMADE_VOICES = {
    "21m00Tcm4TlvDq8ikWAM": "Rachel",
    "EXAVITQu4vr4xnSDxMaL": "Sarah",
    "JBFqnCBsd6RMkjVDRZzb": "George",
    "pNInz6obpgDQGcFmaJgB": "Adam",
}
MODELS = ("eleven_multilingual_v2", "eleven_v3", "eleven_flash_v2_5", "eleven_turbo_v2_5")
DEFAULT_OUTPUT_FORMAT = "mp3_44100_128"
MAX_AUDIO_SECONDS = 60.0  # long texts are cut here to keep encoding fast; the bill still counts every character
_CONTENT_TYPES = {"mp3": "audio/mpeg", "opus": "audio/ogg", "pcm": "audio/pcm", "wav": "audio/wav",
                  "ulaw": "audio/basic", "alaw": "audio/basic"}


class APIError(Exception):
    def __init__(self, status: int, detail: object):
        super().__init__(str(detail))
        self.status, self.detail = status, detail


def parse_output_format(value: str) -> tuple[str, int, int | None]:
    """'mp3_44100_128' -> ('mp3', 44100, 128); 'pcm_16000' -> ('pcm', 16000, None)."""
    match = re.fullmatch(r"(mp3|opus|pcm|wav|ulaw|alaw)_(\d+)(?:_(\d+))?", value)
    valid = match and (match[1] != "opus" or match[2] == "48000") and (match[1] in ("mp3", "opus")) == bool(match[3]) \
        and (match[1] not in ("ulaw", "alaw") or match[2] == "8000")
    if not valid:
        raise APIError(400, {"status": "invalid_output_format", "message": f"Invalid output format: {value}."})
    return match[1], int(match[2]), int(match[3]) if match[3] else None


def synthesize_speech(text: str, rate: int, *, pitch_hz: float = 150.0, speed: float = 1.0) -> np.ndarray:
    """A deterministic speech-like float32 mono signal: one ~0.16 s voiced syllable per vowel group of each
    word (five harmonics, Hann envelope, per-word pitch), short gaps between words, longer after punctuation."""
    pieces: list[np.ndarray] = [np.zeros(int(0.1 * rate), np.float32)]
    total, budget = 0, int(MAX_AUDIO_SECONDS * rate)
    for token in re.findall(r"\w+|[.!?…]+|[,;:—-]", text):
        if not token[0].isalnum() and token[0] != "_":
            seconds = 0.35 if token[0] in ".!?…" else 0.15
            piece = np.zeros(int(seconds / speed * rate), np.float32)
        else:
            syllables = max(1, len(re.findall(r"[aeiouyаеёиоуыэюя]+", token.lower())))
            n = int(0.16 / speed * rate)
            t = np.arange(n * syllables) / rate
            word_pitch = pitch_hz * (1 + (zlib.crc32(token.encode()) % 21 - 10) / 100)
            f0 = word_pitch * (1 + 0.06 * np.sin(2 * np.pi * 2.5 * t))  # a slow intonation contour
            phase = 2 * np.pi * np.cumsum(f0) / rate
            tone = sum(np.sin(k * phase) / k for k in range(1, 6))
            envelope = np.tile(np.hanning(n), syllables)
            piece = np.concatenate([(0.3 * tone * envelope).astype(np.float32),
                                    np.zeros(int(0.07 / speed * rate), np.float32)])
        pieces.append(piece[:budget - total])
        total += len(pieces[-1])
        if total >= budget:
            break
    signal = np.concatenate(pieces + [np.zeros(int(0.1 * rate), np.float32)])
    return np.clip(signal, -1.0, 1.0).astype(np.float32)


def encode_audio(signal: np.ndarray, output_format: str) -> bytes:
    codec, rate, kbps = parse_output_format(output_format)
    if codec == "pcm":
        return (signal * 32767).astype("<i2").tobytes()
    buffer = io.BytesIO()
    if codec == "mp3":
        # libsndfile maps compression level 0..1 linearly onto LAME's CBR range: 320..32 kbps for MPEG-1
        # (32-48 kHz), 160..8 kbps for MPEG-2 (16-24 kHz) (src/mpeg_l3_encode.c); tests check the result.
        high, low = (320, 32) if rate >= 32000 else (160, 8)
        sf.write(buffer, signal, rate, format="MP3", subtype="MPEG_LAYER_III", bitrate_mode="CONSTANT",
                 compression_level=(high - kbps) / (high - low))
    elif codec == "opus":
        # libsndfile's Opus encoder maps compression level 0..1 onto 256..6 kbps per channel (src/ogg_opus.c).
        sf.write(buffer, signal, rate, format="OGG", subtype="OPUS", compression_level=(256 - kbps) / 250)
    elif codec == "wav":
        sf.write(buffer, signal, rate, format="WAV", subtype="PCM_16")
    else:
        sf.write(buffer, signal, rate, format="RAW", subtype=codec.upper())
    return buffer.getvalue()


def render_speech(text: str, output_format: str, *, voice_id: str = "", speed: float = 1.0) -> bytes:
    _, rate, _ = parse_output_format(output_format)
    pitch = 100 + zlib.crc32(voice_id.encode()) % 120  # each voice gets its own pitch, 100-219 Hz
    return encode_audio(synthesize_speech(text, rate, pitch_hz=pitch, speed=speed), output_format)


def _voice(voice_id: str, name: str, category: str) -> dict:
    return {"voice_id": voice_id, "name": name, "category": category, "labels": {}, "description": None,
            "preview_url": None, "available_for_tiers": [], "high_quality_base_model_ids": list(MODELS),
            "settings": {"stability": 0.5, "similarity_boost": 0.75, "style": 0.0, "use_speaker_boost": True,
                         "speed": 1.0}, "is_owner": category != "premade", "is_legacy": False}


class ElevenLabsSandbox:
    def __init__(self, *, api_keys: dict[str, list[str]] | None = None, character_limit: int = 100_000,
                 tier: str = "creator"):
        """api_keys: key -> ids of the cloned voices it owns (premade voices are everyone's); None accepts
        any key. character_limit: the monthly quota; a request past it gets 401 quota_exceeded."""
        self.api_keys = api_keys
        self.character_limit, self.tier = character_limit, tier
        self.character_count = 0
        self.character_counts: dict[str, int] = {}  # per api key: what /v1/user/subscription reports
        self.requests: list[dict] = []
        self._reset_unix = int(time.time()) + 30 * 86400
        self.app = web.Application(middlewares=[self._middleware])
        self.app.add_routes([
            web.post("/v1/text-to-speech/{voice_id}", self._tts),
            web.post("/v1/text-to-speech/{voice_id}/stream", self._tts),
            web.get("/v1/voices", self._voices),
            web.get("/v1/voices/{voice_id}", self._get_voice),
            web.get("/v1/models", self._models),
            web.get("/v1/user", self._user),
            web.get("/v1/user/subscription", self._subscription),
        ])

    def voices_for(self, api_key: str) -> dict[str, dict]:
        owned = (self.api_keys or {}).get(api_key, [])
        voices = {vid: _voice(vid, name, "premade") for vid, name in PREMADE_VOICES.items()}
        voices.update({vid: _voice(vid, f"Cloned voice {vid[:8]}", "cloned") for vid in owned})
        return voices

    @web.middleware
    async def _middleware(self, request: web.Request, handler) -> web.StreamResponse:
        key = request.headers.get("xi-api-key")
        entry = {"method": request.method, "path": request.path, "query": dict(request.query), "json": None,
                 "api_key": key}
        self.requests.append(entry)
        try:
            if not key:
                raise APIError(401, {"status": "needs_authorization", "message":
                                     "Neither authorization header nor xi-api-key received, please provide one."})
            if self.api_keys is not None and key not in self.api_keys:
                raise APIError(401, {"status": "invalid_api_key", "message": "Invalid API key"})
            if request.body_exists:
                try:
                    entry["json"] = await request.json()
                except ValueError:
                    raise APIError(422, [{"type": "json_invalid", "loc": ["body", 0], "msg": "JSON decode error",
                                          "input": {}}])
            return await handler(request)
        except APIError as e:
            return web.json_response({"detail": e.detail}, status=e.status)

    def _lookup_voice(self, request: web.Request) -> dict:
        voice_id = request.match_info["voice_id"]
        voice = self.voices_for(request.headers["xi-api-key"]).get(voice_id)
        if voice is None:
            raise APIError(404, {"status": "voice_not_found",
                                 "message": f"A voice with the voice_id {voice_id} was not found."})
        return voice

    async def _tts(self, request: web.Request) -> web.StreamResponse:
        voice = self._lookup_voice(request)
        key = request.headers["xi-api-key"]
        body = await request.json() if request.body_exists else None
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not text.strip():
            # FastAPI's request validation error, which the API returns for a missing field.
            raise APIError(422, [{"type": "missing", "loc": ["body", "text"], "msg": "Field required", "input": body}])
        output_format = request.query.get("output_format", DEFAULT_OUTPUT_FORMAT)
        codec = parse_output_format(output_format)[0]
        used = self.character_counts.get(key, 0)
        if used + len(text) > self.character_limit:
            raise APIError(401, {"status": "quota_exceeded", "message":
                                 f"This request exceeds your quota of {self.character_limit}. You have "
                                 f"{self.character_limit - used} credits remaining, while {len(text)} credits "
                                 "are required for this request."})
        speed = min(1.2, max(0.7, float((body.get("voice_settings") or {}).get("speed") or 1.0)))  # API's range
        audio = await asyncio.to_thread(render_speech, text, output_format, voice_id=voice["voice_id"], speed=speed)
        self.character_counts[key] = used + len(text)
        self.character_count += len(text)
        # The API reports the billed characters and the history item in response headers.
        headers = {"Content-Type": _CONTENT_TYPES[codec], "character-cost": str(len(text)),
                   "request-id": uuid.uuid4().hex[:20]}
        if not request.path.endswith("/stream"):
            return web.Response(body=audio, headers=headers)
        response = web.StreamResponse(headers=headers)  # chunked transfer, as the streaming endpoint sends it
        await response.prepare(request)
        for start in range(0, len(audio), 4096):
            await response.write(audio[start:start + 4096])
        await response.write_eof()
        return response

    async def _voices(self, request: web.Request) -> web.Response:
        return web.json_response({"voices": list(self.voices_for(request.headers["xi-api-key"]).values())})

    async def _get_voice(self, request: web.Request) -> web.Response:
        return web.json_response(self._lookup_voice(request))

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response([{"model_id": m, "name": m, "can_do_text_to_speech": True} for m in MODELS])

    def _subscription_body(self, key: str) -> dict:
        cloned = len((self.api_keys or {}).get(key, []))
        return {"tier": self.tier, "character_count": self.character_counts.get(key, 0),
                "character_limit": self.character_limit, "max_character_limit_extension": None,
                "max_credit_limit_extension": 0, "can_extend_character_limit": False,
                "allowed_to_extend_character_limit": False, "next_character_count_reset_unix": self._reset_unix,
                "voice_slots_used": cloned, "professional_voice_slots_used": 0,
                "professional_voice_slots_used_in_workspace": 0, "voice_limit": 30, "max_voice_add_edits": None,
                "voice_add_edit_counter": 0, "professional_voice_limit": 1, "can_extend_voice_limit": False,
                "can_use_instant_voice_cloning": True, "can_use_professional_voice_cloning": True,
                "currency": "usd", "current_overage": {"amount": "0", "currency": "usd"}, "status": "active",
                "billing_period": "monthly_period", "character_refresh_period": "monthly_period"}

    async def _subscription(self, request: web.Request) -> web.Response:
        return web.json_response({**self._subscription_body(request.headers["xi-api-key"]), "next_invoice": None,
                                  "open_invoices": [], "has_open_invoices": False})

    async def _user(self, request: web.Request) -> web.Response:
        key = request.headers["xi-api-key"]
        return web.json_response({
            "user_id": f"user_{zlib.crc32(key.encode()):08x}", "workspace_id": "workspace_sandbox",
            "subscription": self._subscription_body(key), "is_new_user": False,
            "can_use_delayed_payment_methods": False, "is_onboarding_completed": True,
            "is_onboarding_checklist_completed": True, "first_name": "Sandbox", "is_api_key_hashed": True,
            "xi_api_key_preview": f"{key[:3]}...{key[-4:]}", "created_at": 1_700_000_000,
            "seat_type": "workspace_admin"})
