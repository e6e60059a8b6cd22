"""Grammar masks off the scheduler's critical path: the mask of each constrained row's next draw
depends only on the tokens it has accepted, so it is computed on a helper thread while
``Batch.step`` computes the logits it will be applied to (both release the GIL). The scheduler
waits for the masks only after the step; a mask that takes less time than a step costs nothing.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("rrwkv_rt.server")


class _Pending:
    def __init__(self, future=None):
        self._future = future

    def wait(self) -> None:
        if self._future is not None:
            self._future.result()


_DONE = _Pending()


class MaskWorker:
    """``start(choices)`` fills each choice's ``mask`` on the helper thread; ``.wait()`` on what it
    returns. A choice whose mask fails keeps ``mask`` None: the scheduler computes it again on its
    own thread, where the error is that request's (a 400)."""

    def __init__(self):
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def start(self, choices: list):
        todo = [c for c in choices if c.mask is None]
        if not todo:
            return _DONE
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="rrwkv-grammar")
            return _Pending(self._pool.submit(self._fill, todo))

    @staticmethod
    def _fill(choices: list) -> None:
        for c in choices:
            try:
                c.mask = c.constraint.mask()
            except Exception:  # computed again on the scheduler thread, which reports it
                c.mask = None

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None
