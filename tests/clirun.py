"""Run a console script's main() in-process, as a user would see it: (exit code, stdout, stderr)."""
from __future__ import annotations

from typing import Callable

import pytest


def cli_runner(main: Callable[[list[str]], int], capsys: pytest.CaptureFixture) -> Callable[..., tuple[int, str, str]]:
    def run(*args: object) -> tuple[int, str, str]:
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:  # argparse usage errors
            code = e.code
        out = capsys.readouterr()
        return code, out.out, out.err

    return run
