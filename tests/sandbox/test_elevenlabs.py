"""The ElevenLabs stand-in, driven by the real elevenlabs client over HTTP; audio checked by real parsers."""

from __future__ import annotations

import contextlib
import io

import httpx
import numpy as np
import pytest
import soundfile as sf
from aiohttp import web
from elevenlabs.client import AsyncElevenLabs
from elevenlabs.core.api_error import ApiError
from mutagen.mp3 import MP3
from mutagen.oggopus import OggOpus

from sandbox.elevenlabs import PREMADE_VOICES, ElevenLabsSandbox

RACHEL = "21m00Tcm4TlvDq8ikWAM"
TEXT = "Здравствуйте! Ваш заказ уже в пути, курьер приедет завтра с десяти до двенадцати."


@contextlib.asynccontextmanager
async def serve(sandbox: ElevenLabsSandbox):
    """Yields a factory of real clients (one per api key) talking to the sandbox on a free local port."""
    runner = web.AppRunner(sandbox.app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    clients: dict[str, AsyncElevenLabs] = {}
    http = httpx.AsyncClient(timeout=10)

    def client(key: str = "key-a") -> AsyncElevenLabs:
        if key not in clients:
            clients[key] = AsyncElevenLabs(api_key=key, base_url=f"http://{host}:{port}", httpx_client=http)
        return clients[key]

    try:
        yield client
    finally:
        await http.aclose()
        await runner.cleanup()


@pytest.fixture
async def sandbox():
    return ElevenLabsSandbox(api_keys={"key-a": ["voiceOfTenantA000001"], "key-b": []}, character_limit=2000)


@pytest.fixture
async def client(sandbox):
    async with serve(sandbox) as factory:
        yield factory


async def tts(c: AsyncElevenLabs, text: str, output_format: str, voice_id: str = RACHEL) -> bytes:
    return b"".join([chunk async for chunk in c.text_to_speech.convert(
        voice_id, text=text, model_id="eleven_multilingual_v2", output_format=output_format,
        voice_settings={"stability": 0.5, "similarity_boost": 0.75})])


def decoded(audio: bytes) -> tuple[np.ndarray, int]:
    signal, rate = sf.read(io.BytesIO(audio), dtype="float32")
    return signal, rate


async def test_opus_output_is_a_valid_ogg_opus_file(client, sandbox):
    audio = await tts(client(), TEXT, "opus_48000_64")
    assert audio[:4] == b"OggS" and b"OpusHead" in audio[:64] and b"OpusTags" in audio
    info = OggOpus(io.BytesIO(audio)).info
    assert info.channels == 1 and 3 < info.length < 8
    signal, rate = decoded(audio)
    assert rate == 48000 and np.sqrt(np.mean(signal ** 2)) > 0.01  # audible, not silence
    longer = await tts(client(), TEXT * 3, "opus_48000_64")
    assert OggOpus(io.BytesIO(longer)).info.length > 2.5 * info.length
    assert sandbox.requests[-1]["query"]["output_format"] == "opus_48000_64"


async def test_mp3_output_is_a_valid_mp3_at_the_requested_bitrate(client, sandbox):
    audio = await tts(client(), TEXT, "mp3_44100_128")
    info = MP3(io.BytesIO(audio)).info
    assert (info.sample_rate, info.channels, round(info.bitrate / 1000)) == (44100, 1, 128) and info.length > 3
    assert decoded(audio)[1] == 44100
    low = MP3(io.BytesIO(await tts(client(), "Да.", "mp3_22050_32"))).info
    assert (low.sample_rate, round(low.bitrate / 1000)) == (22050, 32)


async def test_pcm_and_streaming_endpoint(client, sandbox):
    pcm = await tts(client(), TEXT, "pcm_16000")
    samples = np.frombuffer(pcm, "<i2")
    assert len(pcm) % 2 == 0 and 3 * 16000 < len(samples) < 8 * 16000 and np.abs(samples).max() > 1000
    chunks = [c async for c in client().text_to_speech.stream(RACHEL, text=TEXT, output_format="mp3_44100_64")]
    assert len(chunks) > 1 and MP3(io.BytesIO(b"".join(chunks))).info.length > 3
    assert sandbox.requests[-1]["path"] == f"/v1/text-to-speech/{RACHEL}/stream"


async def test_characters_are_billed_per_key(client, sandbox):
    before = await client().user.subscription.get()
    assert (before.character_count, before.character_limit, before.tier) == (0, 2000, "creator")
    await tts(client(), TEXT, "mp3_44100_128")
    await tts(client(), "Спасибо!", "pcm_16000", voice_id="voiceOfTenantA000001")
    after = await client().user.subscription.get()
    assert after.character_count == len(TEXT) + len("Спасибо!") == sandbox.character_count
    assert (await client("key-b").user.subscription.get()).character_count == 0
    user = await client().user.get()
    assert user.subscription.character_count == after.character_count
    assert [r["json"]["text"] for r in sandbox.requests if r["json"]] == [TEXT, "Спасибо!"]

    with pytest.raises(ApiError) as e:
        await tts(client(), "x" * 2000, "mp3_44100_128")
    assert e.value.status_code == 401 and e.value.body["detail"]["status"] == "quota_exceeded"


async def test_voices_keys_and_errors(client, sandbox):
    voices = (await client().voices.get_all()).voices
    assert {v.voice_id for v in voices} == set(PREMADE_VOICES) | {"voiceOfTenantA000001"}
    assert {v.category for v in voices} == {"premade", "cloned"}
    with pytest.raises(ApiError) as e:  # a voice owned by another key is not found
        await tts(client("key-b"), TEXT, "mp3_44100_128", voice_id="voiceOfTenantA000001")
    assert e.value.status_code == 404 and e.value.body["detail"]["status"] == "voice_not_found"
    with pytest.raises(ApiError) as e:
        await tts(client("unknown-key"), TEXT, "mp3_44100_128")
    assert e.value.status_code == 401 and e.value.body["detail"]["status"] == "invalid_api_key"
    with pytest.raises(ApiError) as e:
        await tts(client(), TEXT, "flac_44100")
    assert e.value.status_code == 400
    assert sandbox.character_count == 0


async def test_any_key_accepted_without_configured_keys():
    async with serve(ElevenLabsSandbox()) as client:
        c = client("anything")
        assert len(await tts(c, "Привет", "opus_48000_32")) > 0
        assert {v.voice_id for v in (await c.voices.get_all()).voices} == set(PREMADE_VOICES)
        with pytest.raises(ApiError) as e:
            await tts(c, "Привет", "mp3_44100_128", voice_id="nope")
        assert e.value.status_code == 404
