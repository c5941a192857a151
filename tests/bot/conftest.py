"""Fixtures for the manager workspace tests: a desk (tests/bot/desk.py) per test on its own database."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from core.settings import Settings

from .desk import Desk, Resources, attachment, build_desk, close_desk  # noqa: F401

DeskFactory = Callable[..., Awaitable[Desk]]


@pytest.fixture
async def make_desk(settings: Settings) -> AsyncIterator[DeskFactory]:
    started: list[Resources] = []

    async def factory(**options) -> Desk:
        desk, resources = await build_desk(
            database_url=settings.db.database_url.get_secret_value(),
            master_key=settings.security.master_key.get_secret_value(), data_dir=settings.data_dir, **options,
        )
        started.append(resources)
        return desk

    yield factory
    for resources in started:
        await close_desk(resources)


@pytest.fixture
async def desk(make_desk) -> Desk:
    return await make_desk()
