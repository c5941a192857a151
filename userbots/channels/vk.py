"""VK: a community (Bots Long Poll, community token) and a user account (its conversation list polled, user
token). Live ingest userbots/vk/realtime.py, history userbots/vk/importer.py, sending userbots/gateway.py VKSender
(messages.send with a random_id from the command's key, uploads, messages.edit / messages.delete within VK's 24
hours, messages.setActivity for "typing…")."""

from __future__ import annotations

from core import channels
from core.models import ChannelAccount

from .base import ChannelAdapter, ImportDone, ImportJob, LiveHost, SendDeps


class _VK(ChannelAdapter):
    community: bool  # a community token (the group is the mailbox's owner), or a user's
    def sender(self, deps: SendDeps):
        from ..gateway import VKSender

        return VKSender(deps.db, deps.secrets, deps.settings, fetch_media=deps.fetch_media)

    async def live(self, host: LiveHost, channel: ChannelAccount):
        from core.services import channels as channel_service

        from ..vk.realtime import VKChannelRealtime

        token = channel_service.credentials(host.secrets, channel)
        if host.lease_lost(channel.id):
            return None
        return VKChannelRealtime(host.db, host.queue, host.settings, channel, token, host.media,
                                 fence=host.lease_fence(channel.id), fenced_out=host.fenced_out)

    async def import_history(self, job: ImportJob) -> ImportDone:
        """VK's `execute`: batches of 25 calls at the token's rate bound, a catch-up pass for conversations that
        moved while the import ran, one more try for conversations VK refused alone (userbots/vk/importer.py)."""
        from ..vk import api as vk_api
        from ..vk.importer import WORKERS, VKImporter

        api = vk_api.build_api(job.settings, job.credentials, community=self.community)
        try:
            importer = VKImporter(job.db, job.settings, job.channel, api, job.checkpoint, progress=job.progress,
                                  workers=job.workers or WORKERS)
            await importer.run()
        finally:
            await api.close()
        return ImportDone(importer.messages_this_run, importer.write_seconds, api.requests_made)


class VKCommunity(_VK):
    traits = channels.VK_COMMUNITY
    community = True


class VKUser(_VK):
    traits = channels.VK_USER
    community = False
