"""What the scheduler works on and what it hands back: a generation :class:`Request` (one prompt,
n choices), an :class:`EmbedRequest` (inputs whose final hidden states are wanted), the rows they
hold (:class:`Choice`: one sequence being decoded; :class:`Reader`: a prompt being read), and
the events ``emit`` receives (:class:`Chunk`, :class:`Done`, :class:`Embedded`, :class:`Failed`).
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from ..runtime.generate import TextStream
from ..runtime.stop_strings import StopStrings

# ---- events handed to the HTTP side ------------------------------------------------------------


@dataclasses.dataclass
class Chunk:
    """One generated token of choice `index`: the text it made final ('' while held back), its
    id, and with logprobs requested (token logprob, [(id, logprob), ...] best first)."""
    text: str
    token: int
    logprob: tuple[float, list[tuple[int, float]]] | None = None
    index: int = 0


@dataclasses.dataclass
class Done:
    """Choice `index` ended; `last`: it was the request's last choice to end (the counts are then
    the request's: the prompt once, the tokens of every choice)."""
    finish_reason: str  # "stop" (stop string, stop token, grammar complete) or "length"
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    text: str = ""  # the last text held back (flushed at the end)
    index: int = 0
    last: bool = True


@dataclasses.dataclass
class Embedded:
    """An embedding request's vectors, in the order of its inputs."""
    vectors: list
    prompt_tokens: int
    cached_tokens: int


@dataclasses.dataclass
class Failed:
    status: int
    message: str
    type: str
    code: str | None = None


class NothingToSample(Exception):
    """The sampler found no token it may draw (this request's bans or grammar, or -inf / NaN logits)."""


class QueueFull(Exception):
    """The waiting queue is full; the client should retry after ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


# ---- requests as the scheduler sees them ---------------------------------------------------------

class _Work:
    """What every request has: ``emit(event)`` (called on the scheduler thread), a deadline from
    ``timeout`` (counted from submit), and the cancel / finish flags."""

    def __init__(self, emit: Callable[[object], None], timeout: float | None):
        self.emit = emit
        self.timeout = timeout
        self.deadline: float | None = None  # set by Scheduler.submit
        self.cancelled = False  # set by the HTTP side (client gone); read by the scheduler
        self.finished = False
        self.rows_needed = 1


class Request(_Work):
    """A generation: prompt ids, a seeded Sampler per choice (built and validated by the caller:
    ``sampler``, or ``samplers`` for n > 1), limits, and ``emit``. ``keys``: the prompt's
    prefix-cache keys (``PrefixCache.keys_for``), computed by the caller off the scheduler
    thread; None: computed at admission. ``constraint``: a structured.Constraint each choice
    forks (None: no grammar), with ``first_mask`` the mask of its first draw if known. The prompt
    is read once; its state is copied into the rows of the other choices."""

    def __init__(self, prompt: np.ndarray, sampler, max_tokens: int, stops: list[bytes] | StopStrings,
                 emit: Callable[[object], None], *, logprobs: int | None = None, timeout: float | None = None,
                 keys: list[bytes] | None = None, initial_state=None, samplers: list | None = None,
                 constraint=None, first_mask: np.ndarray | None = None):
        super().__init__(emit, timeout)
        self.prompt = np.ascontiguousarray(prompt, dtype=np.int64)
        self.samplers = list(samplers) if samplers is not None else [sampler]
        self.sampler = self.samplers[0]
        self.max_tokens = max_tokens
        self.logprobs = logprobs  # None: off; k >= 0: the chosen token's logprob and the k best
        self.initial_state = initial_state  # the floats of its rows' initial state; None: the model's
        self.keys = keys
        self.stops = stops if isinstance(stops, StopStrings) else StopStrings(stops)
        self.constraint = constraint
        self.first_mask = first_mask
        self.rows_needed = len(self.samplers)
        self.reserved = 0  # rows promised to its choices, not taken yet
        self.choices: list[Choice] = []  # made when the prompt is read
        self.cached = 0  # prompt tokens that came from the prompt cache
        self.open_choices = 0

    @property
    def completion_tokens(self) -> int:
        return sum(len(c.tokens) for c in self.choices)


class Choice:
    """One sequence of a Request being decoded, in its own row."""

    def __init__(self, request: Request, index: int, row: int):
        self.request, self.index, self.row = request, index, row
        self.sampler = request.samplers[index]
        self.constraint = None
        if request.constraint is not None:
            self.constraint = request.constraint if index == len(request.samplers) - 1 else request.constraint.fork()
        self.mask = request.first_mask  # the allowed tokens of the next draw (None: all)
        self.text = TextStream(request.stops)
        self.tokens: list[int] = []
        self.next_token = -1
        self.finished = False


class EmbedRequest(_Work):
    """Inputs (token id arrays) whose final hidden states are wanted, each read in a row of its
    own (as many at once as rows are free); ``keys``: each input's prefix-cache keys."""

    def __init__(self, inputs: list[np.ndarray], emit: Callable[[object], None], *, timeout: float | None = None,
                 keys: list | None = None):
        super().__init__(emit, timeout)
        self.inputs = [np.ascontiguousarray(x, dtype=np.int64) for x in inputs]
        self.keys = keys
        self.vectors: list = [None] * len(self.inputs)
        self.next_input = 0  # inputs handed to a Reader so far
        self.reading = 0  # of which still being read
        self.cached = 0
        self.initial_state = None

    @property
    def prompt_tokens(self) -> int:
        return sum(len(x) for x in self.inputs)


class Reader:
    """A prompt being read into a row: a Request's (then forked into its choices) or one input
    of an EmbedRequest (then its hidden state is the result)."""

    def __init__(self, owner: Request | EmbedRequest, prompt: np.ndarray, keys, row: int, index: int = 0):
        self.owner, self.prompt, self.keys, self.row, self.index = owner, prompt, keys, row, index
        self.done = 0  # prompt tokens in the row's state
        self.cached = 0
