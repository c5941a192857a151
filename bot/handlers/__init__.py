"""Thin handlers: parse the update, call a core service, queue what to show. Routers are assembled in bot/setup.py."""
