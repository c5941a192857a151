"""Settings, one pydantic-settings class per section, all read from `SALESOP_*` variables (and `.env`).

Loaded once in the entrypoint (`Settings.load()`) and passed down; nothing reads the environment at import time.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _section(**extra) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix="SALESOP_", env_file=".env", extra="ignore", **extra)


class DatabaseSettings(BaseSettings):
    model_config = _section()

    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql://user:pass@host:port/db. Unset: an embedded PostgreSQL + pgvector under the data dir.",
    )
    db_pool_size: int = Field(default=10, description="Connections per process in the SQLAlchemy pool.")


class RedisSettings(BaseSettings):
    model_config = _section()

    redis_url: str | None = Field(
        default=None,
        description="redis://host:port/db. Unset: in-process task queue, rate buckets and bot state (one process).",
    )


class TelegramSettings(BaseSettings):
    model_config = _section()

    bot_token: SecretStr | None = Field(
        default=None, description="Manager bot token from @BotFather. Unset: the offline demo runs against the sandbox."
    )
    telegram_api_url: str = Field(
        default="https://api.telegram.org", description="Bot API server base URL (a local Bot API server, or the sandbox)."
    )
    webhook_url: str | None = Field(default=None, description="Public HTTPS URL for updates. Unset: long polling.")
    webhook_secret: SecretStr | None = Field(default=None, description="X-Telegram-Bot-Api-Secret-Token for the webhook.")
    webhook_port: int = Field(default=8081, description="Local port the bot's webhook server binds (host: SALESOP_WEBAPP_HOST).")
    telegram_api_id: int | None = Field(default=None, description="api_id from my.telegram.org (userbot accounts).")
    telegram_api_hash: SecretStr | None = Field(default=None, description="api_hash from my.telegram.org.")
    telegram_mtproto_address: str | None = Field(
        default=None,
        description="host:port of the MTProto server for Telegram accounts. Unset: Telegram's own data centres.")
    telegram_mtproto_public_key: str | None = Field(
        default=None,
        description="RSA public key of that server: PEM text or a path to a .pem file (Telethon knows Telegram's own).")


class VKSettings(BaseSettings):
    model_config = _section()

    vk_api_url: str = Field(
        default="https://api.vk.com/method/", description="VK API base, same form as vkbottle's API_URL."
    )
    vk_api_version: str = Field(default="5.199", description="VK API version sent with every call.")


class AISettings(BaseSettings):
    model_config = _section()

    openai_api_key: SecretStr | None = Field(
        default=None, description="Key for any OpenAI-compatible endpoint. Unset: local embedder + grounded responder."
    )
    openai_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL (proxy, vLLM, Ollama).")
    chat_model: str = Field(default="gpt-4o-mini", description="Model for suggestions, intents and summaries.")
    embedding_model: str = Field(default="text-embedding-3-small", description="Embedding model.")
    ai_timeout: float = Field(default=30.0, description="Seconds before an LLM call is abandoned and retried.")
    # USD per 1M tokens: input, cached input, output. Spend is computed from this table, so it is exact and auditable.
    price_table: dict[str, dict[str, Decimal]] = Field(
        default_factory=lambda: {
            "gpt-4o-mini": {"input": Decimal("0.15"), "cached": Decimal("0.075"), "output": Decimal("0.60")},
            "gpt-4o": {"input": Decimal("2.50"), "cached": Decimal("1.25"), "output": Decimal("10.00")},
            "text-embedding-3-small": {"input": Decimal("0.02"), "cached": Decimal("0"), "output": Decimal("0")},
            "text-embedding-3-large": {"input": Decimal("0.13"), "cached": Decimal("0"), "output": Decimal("0")},
            # ElevenLabs bills characters: USD per 1M characters.
            "eleven_multilingual_v2": {"input": Decimal("180"), "cached": Decimal("0"), "output": Decimal("0")},
            # Transcription bills seconds of audio: USD per 1M seconds ($0.006 a minute).
            "whisper-1": {"input": Decimal("100"), "cached": Decimal("0"), "output": Decimal("0")},
        },
        description="JSON: model → USD per 1M tokens (input, cached, output); speech models per 1M characters, transcription per 1M seconds.",
    )
    global_autosend: bool = Field(default=True, description="Global kill switch: false stops every automatic send.")
    ai_max_attempts: int = Field(default=4, description="Attempts per LLM/embedding call (429, 5xx, timeouts are retried).")


class VoiceSettings(BaseSettings):
    model_config = _section()

    elevenlabs_base_url: str = Field(default="https://api.elevenlabs.io", description="ElevenLabs API base URL.")
    elevenlabs_model: str = Field(default="eleven_multilingual_v2", description="TTS model id.")


class SecuritySettings(BaseSettings):
    model_config = _section()

    master_key: SecretStr | None = Field(
        default=None,
        description="Key that encrypts secrets at rest (urlsafe base64, 32 bytes). Embedded mode: generated once.",
    )


class WebAppSettings(BaseSettings):
    model_config = _section()

    webapp_url: str | None = Field(default=None, description="Public HTTPS URL of the Mini App.")
    webapp_host: str = Field(default="127.0.0.1", description="Address the Mini App / webhook server binds.")
    webapp_port: int = Field(default=8080, description="Port the Mini App / webhook server binds.")
    initdata_ttl: int = Field(default=86400, description="Seconds a Mini App initData stays valid.")
    miniapp_short_name: str | None = Field(
        default=None,
        description="The Mini App's short name registered with @BotFather (/newapp): topic cards then open it signed "
                    "in through https://t.me/<bot>/<short name>?startapp=dialog_<id>. Unset: a plain link to the page.")


class Settings(BaseSettings):
    """All sections together. Each section reads its own variables, so the table in README maps 1:1 to fields."""

    model_config = _section()

    data_dir: Path = Field(default=Path("var"), description="Where the embedded database, media and keys live.")
    log_level: str = Field(default="INFO", description="Logging level.")
    # Russian by default: the CLI is run by the business's own technical person, who imports Russian price lists
    # and knowledge bases (their column names are quoted back in Russian) and reads the same words the bot shows the
    # owners; one language for every line and error, so English is a deliberate choice: SALESOP_LANGUAGE=en.
    language: Literal["ru", "en"] = Field(
        default="ru", description="Language of the CLI's messages and errors: ru or en.")
    time_scale: float = Field(
        default=1.0, description="Emulated seconds per real second for rate budgets (sandbox demos and tests only)."
    )

    db: DatabaseSettings = Field(default_factory=DatabaseSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    vk: VKSettings = Field(default_factory=VKSettings)
    ai: AISettings = Field(default_factory=AISettings)
    voice: VoiceSettings = Field(default_factory=VoiceSettings)
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    webapp: WebAppSettings = Field(default_factory=WebAppSettings)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, v: Path) -> Path:
        return v.expanduser().resolve()

    @classmethod
    def load(cls, **overrides) -> "Settings":
        return cls(**overrides)


SECTIONS = (
    Settings,
    DatabaseSettings,
    RedisSettings,
    TelegramSettings,
    VKSettings,
    AISettings,
    VoiceSettings,
    SecuritySettings,
    WebAppSettings,
)


def env_names() -> dict[str, tuple[str, str]]:
    """Every SALESOP_* variable → (default, description). Feeds the README table and the compose-file test."""
    out: dict[str, tuple[str, str]] = {}
    for section in SECTIONS:
        for name, field in section.model_fields.items():
            if isinstance(field.default_factory, type) and issubclass(field.default_factory, BaseSettings):
                continue
            default = field.default
            if field.default_factory is not None:
                default = "(table)" if name == "price_table" else ""
            shown = "" if default is None else (default.get_secret_value() if isinstance(default, SecretStr) else default)
            out[f"SALESOP_{name.upper()}"] = (str(shown), field.description or "")
    return out
