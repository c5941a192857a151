"""Telegram user accounts over MTProto: the stand-in Telethon connects to (see sandbox.py)."""

from .sandbox import MTProtoSandbox

__all__ = ["MTProtoSandbox"]
