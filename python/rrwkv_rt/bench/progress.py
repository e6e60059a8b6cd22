"""Progress of a benchmark on stderr, so that neither a terminal nor a log sits silent for minutes:
a tqdm bar per measuring loop on a terminal; elsewhere (a pipe, a CI log) one line per phase and
per round instead of a bar's carriage returns. Nothing goes to stdout, which holds the results."""
from __future__ import annotations

import sys
import time

_T0 = time.perf_counter()


def _tty() -> bool:
    return sys.stderr.isatty()


def phase(msg: str) -> None:
    """One status line, stamped with the seconds since the program started."""
    line = f"[bench {time.perf_counter() - _T0:5.0f} s] {msg}"
    if _tty():
        from tqdm import tqdm
        tqdm.write(line, file=sys.stderr)  # above any bar, without breaking it
    else:
        print(line, file=sys.stderr, flush=True)


class Bar:
    """A loop of `rounds` rounds of `per_round` measured blocks each: a tqdm bar counting blocks on
    a terminal, one "desc: round i/n" line per round otherwise (`step` names the round)."""

    def __init__(self, desc: str, rounds: int, per_round: int, step: str = "round"):
        self.desc, self.rounds, self.step = desc, rounds, step
        self.bar = None
        if _tty():
            from tqdm import tqdm
            self.bar = tqdm(total=rounds * per_round, desc=desc, unit="block", file=sys.stderr, leave=False)

    def round(self, i: int) -> None:
        """Round `i` (counted from 0) starts."""
        if self.bar is None:
            phase(f"{self.desc}: {self.step} {i + 1}/{self.rounds}")
        else:
            self.bar.set_description(f"{self.desc} {i + 1}/{self.rounds}")

    def update(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
