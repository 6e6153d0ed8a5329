"""Shared fixtures; the helpers they use live in tests/helpers.py (imported as a module)."""

from __future__ import annotations

import pytest
from helpers import PAIRS


@pytest.fixture
def pairs():
    return list(PAIRS)
