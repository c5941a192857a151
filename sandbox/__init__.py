"""Local stand-ins that speak the real wire protocols of Telegram Bot API, VK API, OpenAI and ElevenLabs.

Used by tests, benchmarks and the offline demo (`salesop sandbox`, `salesop run` with no bot token).
Nothing here is imported by core/.
"""
