"""Session-wide local cluster for the integration tests.

With PIMAP_STACK_JSON pointing at a stack.json (ctest's stack_up fixture sets it), the tests use
that running stack; otherwise one is brought up in a temporary dir and torn down at the end.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pimap_stack import new_stack_dir, remove_dir, stack_down, stack_up


@pytest.fixture(scope="session")
def stack():
    given = os.environ.get("PIMAP_STACK_JSON")
    if given:
        yield json.loads(Path(given).read_text())
        return
    directory = new_stack_dir()
    try:
        described = stack_up(directory)
    except BaseException:
        remove_dir(directory)
        raise
    try:
        yield described
    finally:
        r = stack_down(directory)
        assert r.returncode == 0, f"stack down failed:\n{r.stderr}"
        remove_dir(directory)
