"""VK: a community (Bots Long Poll, community token) and a user account (its conversation list polled, user
token). Live ingest userbots/vk/realtime.py, history userbots/vk/importer.py, sending userbots/gateway.py VKSender
(messages.send with a random_id from the command's key, uploads, messages.edit / messages.delete within VK's 24
hours, messages.setActivity for "typing…")."""

from __future__ import annotations

from core import channels
from core.models import ChannelAccount

from .base import ChannelAdapter, LiveHost, SendDeps


class _VK(ChannelAdapter):
    def sender(self, deps: SendDeps):
        from ..gateway import VKSender

        return VKSender(deps.db, deps.secrets, deps.settings, fetch_media=deps.fetch_media)

    async def live(self, host: LiveHost, channel: ChannelAccount):
        from core.services import channels as channel_service

        from ..vk.realtime import VKChannelRealtime

        token = channel_service.credentials(host.secrets, channel)
        return VKChannelRealtime(host.db, host.queue, host.settings, channel, token, host.media)


class VKCommunity(_VK):
    traits = channels.VK_COMMUNITY


class VKUser(_VK):
    traits = channels.VK_USER
