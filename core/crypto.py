"""Secrets at rest (session strings, tokens, API keys) are encrypted with the master key (Fernet: AES-128-CBC + HMAC).

The master key may be a comma-separated list, newest first: every key decrypts, the first encrypts. That is what
makes rotation safe — `rotate_master_key` re-encrypts every secret under a new key while the old one still reads.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .errors import ConfigError
from .settings import Settings

KEY_FILE = "master.key"


class SecretBox:
    def __init__(self, keys: list[str]):
        if not keys:
            raise ConfigError("no master key")
        try:
            self._fernet = MultiFernet([Fernet(k.strip().encode()) for k in keys])
        except (ValueError, TypeError) as exc:
            raise ConfigError("SALESOP_MASTER_KEY is not a valid key (urlsafe base64 of 32 bytes)") from exc
        self.keys = [k.strip() for k in keys]

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(bytes(token)).decode()
        except InvalidToken as exc:
            raise ConfigError("a stored secret cannot be decrypted with the configured master key") from exc

    def rotate(self, token: bytes) -> bytes:
        return self._fernet.rotate(bytes(token))


def _write_key_file(path: Path, keys: list[str]) -> None:
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(keys) + "\n")
    os.replace(tmp, path)
    os.chmod(path, 0o600)


def load_secret_box(settings: Settings, *, embedded: bool) -> SecretBox:
    """Embedded default: the key is generated once and kept in the data dir (0600). External DB: it is required."""
    if settings.security.master_key is not None:
        return SecretBox(settings.security.master_key.get_secret_value().split(","))
    if not embedded:
        raise ConfigError(
            "SALESOP_MASTER_KEY is required with an external database "
            "(generate one: python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')"
        )
    path = settings.data_dir / KEY_FILE
    if not path.exists():
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        _write_key_file(path, [Fernet.generate_key().decode()])
    return SecretBox([line for line in path.read_text().split() if line])


def _encrypted_columns():
    from .models import ChannelAccount, Tenant

    return [(ChannelAccount, ChannelAccount.credentials_enc), (Tenant, Tenant.elevenlabs_api_key_enc)]


async def reencrypt_all(session: AsyncSession, box: SecretBox) -> int:
    """Re-encrypt every stored secret with the box's first key. Returns how many values were rewritten."""
    count = 0
    for model, column in _encrypted_columns():
        rows = (await session.execute(select(model).where(column.is_not(None)).with_for_update())).scalars()
        for row in rows:
            setattr(row, column.key, box.rotate(getattr(row, column.key)))
            count += 1
    return count


def rotation_keys(settings: Settings, box: SecretBox, *, embedded: bool) -> tuple[str, SecretBox]:
    """A new key and a box that reads with old and new keys and writes with the new one.

    Embedded: the key file lists both keys before any secret is rewritten, so a crash mid-way loses nothing.
    """
    new_key = Fernet.generate_key().decode()
    both = SecretBox([new_key, *box.keys])
    if embedded and settings.security.master_key is None:
        _write_key_file(settings.data_dir / KEY_FILE, both.keys)
    return new_key, both


def finish_rotation(settings: Settings, new_key: str, *, embedded: bool) -> None:
    if embedded and settings.security.master_key is None:
        _write_key_file(settings.data_dir / KEY_FILE, [new_key])
