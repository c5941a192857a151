"""Telegram personal accounts through Telethon: login, sessions in the database, realtime, history, sends."""
