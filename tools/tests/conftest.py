"""Fixtures every scenario file shares: the build, once per session, and a fresh copy of the
generated sample bucket per test (test_state_machine.py has its own `sample`, with the expected
counts)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import sparkify_local as local  # noqa: E402


def pytest_addoption(parser):
    parser.addoption("--sequences", type=int, default=2,
                     help="arrival sequences test_incremental.py runs (each under both isolation "
                          "levels)")
    parser.addoption("--seed", type=int, default=None,
                     help="run test_incremental.py's one sequence of this seed")


@pytest.fixture(scope="session")
def built():
    local.build(quiet=True)


@pytest.fixture
def sample(built, tmp_path):
    local.generate_sample(tmp_path / "sample")
    return tmp_path / "sample" / "udacity-dend"
