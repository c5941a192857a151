"""VK API stand-in: the Bots Long Poll, messages/users/groups/photos/docs methods and execute, for vkbottle."""

from .server import VKSandbox

__all__ = ["VKSandbox"]
