"""One way to stop work in progress: a token checked before every loss evaluation.

The front-ends hold a :class:`CancelToken` and give it to the engine (``Stylizer(...,
cancel=token)``, ``stylize_image``/``stylize_video(cancel=...)``); a Cancel button, a
shutdown, a quit key or a deadline cancels it, and the optimizer raises :class:`Cancelled`
at its next evaluation. Thread-safe: any thread may cancel.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Cancelled(Exception):
    """The work was stopped through its token; ``reason`` says why (e.g. "quit", "deadline")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CancelToken:
    """Cancelled by :meth:`cancel`, or by itself once ``deadline`` (a ``clock()`` value,
    ``time.monotonic()`` unless another clock is given) has passed."""

    def __init__(self, *, deadline: float | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._event = threading.Event()
        self._reason = "cancelled"
        self.deadline = deadline
        self.clock = clock

    def cancel(self, reason: str = "cancelled") -> None:
        if not self._event.is_set():
            self._reason = reason
            self._event.set()

    @property
    def cancelled(self) -> bool:
        if self.deadline is not None and self.clock() >= self.deadline:
            self.cancel("deadline")
        return self._event.is_set()

    @property
    def reason(self) -> str:
        return self._reason

    def check(self) -> None:
        """Raise :class:`Cancelled` if the token is cancelled."""
        if self.cancelled:
            raise Cancelled(self._reason)
