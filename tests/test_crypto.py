from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from core.crypto import SecretBox, load_secret_box
from core.errors import ConfigError
from core.settings import Settings


def test_round_trip_and_rotation_reads_old_tokens():
    old = SecretBox([Fernet.generate_key().decode()])
    token = old.encrypt("vk-token-123")
    both = SecretBox([Fernet.generate_key().decode(), *old.keys])
    rotated = both.rotate(token)
    assert SecretBox([both.keys[0]]).decrypt(rotated) == "vk-token-123"
    with pytest.raises(ConfigError):
        old.decrypt(rotated)


def test_embedded_key_generated_once_with_0600(tmp_path):
    settings = Settings.load(data_dir=tmp_path)
    first = load_secret_box(settings, embedded=True)
    second = load_secret_box(settings, embedded=True)
    assert first.keys == second.keys
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600


def test_external_database_requires_master_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SALESOP_MASTER_KEY", raising=False)
    with pytest.raises(ConfigError, match="SALESOP_MASTER_KEY is required"):
        load_secret_box(Settings.load(data_dir=tmp_path), embedded=False)


def test_bad_master_key_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="not a valid key"):
        load_secret_box(Settings.load(data_dir=tmp_path, security={"master_key": "nope"}), embedded=False)
