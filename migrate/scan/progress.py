"""Progress on stderr for long scans (tqdm), silent when stderr is not a terminal."""

from __future__ import annotations

import sys
from typing import Any


class Progress:
    """One status bar: ``describe()`` names the current part, ``advance()`` counts items read."""

    def __init__(self, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=None, unit=" items", file=sys.stderr, leave=False, dynamic_ncols=True)

    def describe(self, text: str) -> None:
        if self._bar is not None:
            self._bar.set_description_str(text, refresh=True)

    def advance(self, count: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(count)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
