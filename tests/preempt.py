"""Stop a run in the middle, as a preempted job stops: the resume tests interrupt a loop function at one step."""
from __future__ import annotations

from contextlib import contextmanager
from types import ModuleType
from typing import Any, Iterator

import pytest


@contextmanager
def preempted(monkeypatch: pytest.MonkeyPatch, module: ModuleType, name: str, at: int) -> Iterator[None]:
    """Inside the block, module.name(state, index, ...) raises KeyboardInterrupt when index == at (a step or an
    epoch, 0-based); the block must end by that interrupt."""
    original = getattr(module, name)

    def interrupted(state: Any, index: int, *rest: Any) -> Any:
        if index == at:
            raise KeyboardInterrupt
        return original(state, index, *rest)

    with monkeypatch.context() as patch:
        patch.setattr(module, name, interrupted)
        with pytest.raises(KeyboardInterrupt):
            yield
