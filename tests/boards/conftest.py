"""Fixtures of the board tests: the builder's signed-in clients per role, and the shop's day
(:mod:`tests.boards.world`)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.boards import world as w
from tests.builder.conftest import signed_in  # noqa: F401 - the fixture


@pytest.fixture
def world(services: Any) -> w.World:
    return w.build(services)
