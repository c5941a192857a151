"""Routers that areas outside bot/ contribute (each included by bot/setup.py)."""
