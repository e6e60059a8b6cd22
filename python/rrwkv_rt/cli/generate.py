"""The ``generate`` and ``chat`` subcommands of ``python -m rrwkv_rt`` (wired in cli/__init__.py).

    python -m rrwkv_rt generate [MODEL] --prompt "def main(" --max-new-tokens 100 --seed 1
    python -m rrwkv_rt chat [MODEL]          # lines from stdin; /reset /save PATH /load PATH /quit

On a terminal, generate echoes the prompt (--no-echo: not) and chat has line editing and history.

MODEL defaults to the model shipped with the package (rrwkv_rt/data/default.rrwkv).
"""
from __future__ import annotations

import argparse
import re
import sys
import time

from .. import _core
from .device import add_device_argument
from .model_args import add_read_into_memory_argument

_DEFAULT = _core.SAMPLING_DEFAULTS  # the sampler's own defaults (sampling/sampler.h)
SAMPLING = ("temperature", "top_p", "top_k", "min_p", "presence_penalty", "frequency_penalty", "penalty_decay",
            "repetition_penalty", "seed")


def _add_common(p: argparse.ArgumentParser, max_new_tokens: int) -> None:
    p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                   help=".rrwkv model file (default: the model shipped with the package)")
    g = p.add_argument_group("sampling (the rwkv package's PIPELINE semantics)")
    g.add_argument("--max-new-tokens", "--max-tokens", type=int, default=max_new_tokens, metavar="N",
                   help=f"most tokens to generate (default {max_new_tokens}); --max-tokens is the OpenAI name")
    d = _DEFAULT
    g.add_argument("--temperature", type=float, default=d["temperature"],
                   help=f">= 0; 0 = greedy (default {d['temperature']})")
    g.add_argument("--top-p", type=float, default=d["top_p"], help=f"[0, 1]; 1 = off (default {d['top_p']})")
    g.add_argument("--top-k", type=int, default=d["top_k"], help=f">= 0; 0 = off (default {d['top_k']})")
    g.add_argument("--min-p", type=float, default=d["min_p"], help=f"[0, 1]; 0 = off (default {d['min_p']:g})")
    # the rwkv package's names (PIPELINE_ARGS) are accepted as aliases
    g.add_argument("--presence-penalty", "--alpha-presence", type=float, default=d["presence_penalty"],
                   help=f"alpha_presence (default {d['presence_penalty']:g})")
    g.add_argument("--frequency-penalty", "--alpha-frequency", type=float, default=d["frequency_penalty"],
                   help=f"alpha_frequency (default {d['frequency_penalty']:g})")
    g.add_argument("--penalty-decay", "--alpha-decay", type=float, default=d["penalty_decay"],
                   help=f"alpha_decay, [0, 1] (default {d['penalty_decay']})")
    g.add_argument("--repetition-penalty", type=float, default=d["repetition_penalty"],
                   help=f"> 0; 1 = off (default {d['repetition_penalty']:g})")
    g.add_argument("--seed", type=int, default=None, help="makes the output reproducible (default: random)")
    g.add_argument("--stop", action="append", default=None, metavar="STR",
                   help="stop at this string, which is not printed (repeatable; \\n, \\t, \\r and \\\\ are "
                        "decoded, so --stop '\\n\\n' stops at a blank line)")
    p.add_argument("--threads", type=int, default=None, metavar="N", help="CPU threads (default: all available)")
    p.add_argument("--initial-state", default=None, metavar="FILE",
                   help="start from a state-tuning file (.pth / .safetensors of blocks.N.att.time_state, RWKV-5/6/7); "
                        "/reset returns to it")
    p.add_argument("--fast", action="store_true",
                   help="the fast path: activations rounded to bf16 (int8 for quantized weights) for the "
                   "CPU's dot-product instructions: faster prompts (docs/FAST_PATH.md)")
    add_device_argument(p)
    add_read_into_memory_argument(p)


def add_parsers(sub) -> None:
    g = sub.add_parser("generate", help="continue a prompt with a model, streaming the text to stdout")
    _add_common(g, max_new_tokens=200)
    g.add_argument("--prompt", required=True, metavar="TEXT", help="the text to continue ('-' reads stdin)")
    g.add_argument("--echo", action=argparse.BooleanOptionalAction, default=None,
                   help="print the prompt before the continuation (default: when stdout is a terminal, so that "
                        "it reads as one text; not into a pipe or file)")
    g.add_argument("--state-in", metavar="PATH", help="start from a state saved by --state-out / save_state()")
    g.add_argument("--state-out", metavar="PATH", help="save the state afterwards (prompt and generated text)")
    g.add_argument("--stats", action="store_true", help="print token counts and speed to stderr")
    g.set_defaults(func=cmd_generate)

    c = sub.add_parser("chat", help="interactive chat keeping the state across turns (reads lines from stdin)")
    _add_common(c, max_new_tokens=500)
    c.add_argument("--user", default="User", help="the user's name in the transcript (default: User)")
    c.add_argument("--assistant", default="Assistant", help="the model's name (default: Assistant)")
    c.add_argument("--system", default=None, metavar="TEXT", help="text fed before the first turn")
    c.set_defaults(func=cmd_chat)


def _open(args):
    from ..runtime import Model, Session
    from ..runtime.generate import default_model_path
    if args.threads is not None and args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    model = Model(args.model or default_model_path(), read_into_memory=args.read_into_memory)
    return Session(model, threads=args.threads, initial_state=args.initial_state,
                   exact=not args.fast, device=args.device)


def _unescape(s: str) -> str:
    return re.sub(r"\\([ntr\\])", lambda m: {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[m.group(1)], s)


def _options(args) -> dict:
    stop = [_unescape(s) for s in args.stop] if args.stop else None
    return {k: getattr(args, k) for k in SAMPLING} | {"stop": stop}


def _out(text: str) -> None:
    out = getattr(sys.stdout, "buffer", None)
    if out is not None:  # UTF-8 whatever the locale says
        sys.stdout.flush()
        out.write(text.encode("utf-8", "replace"))
        out.flush()
    else:
        sys.stdout.write(text)
        sys.stdout.flush()


def should_echo(echo: bool | None, stdout=None) -> bool:
    """--echo / --no-echo, else echo on a terminal only: a pipe gets just the continuation."""
    if echo is not None:
        return echo
    stdout = sys.stdout if stdout is None else stdout
    try:
        return stdout.isatty()
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def _check_empty_prompt(session, state_in: str | None) -> None:
    """An empty --prompt continues a state saved by `generate --state-out`; say so in the
    command line's words (generate()'s own error speaks of Python calls)."""
    from ..runtime import continuation
    if continuation.recall(session) is not None:
        return
    if state_in is None:
        raise ValueError("--prompt is empty; give the text to continue (an empty --prompt continues the text of a "
                         "state saved by `generate --state-out PATH`, passed back with --state-in PATH)")
    raise ValueError(f"--prompt is empty and the state in {state_in!r} holds nothing to continue from (it was not "
                     "saved by `generate --state-out`); give the text to continue")


def cmd_generate(args) -> None:
    session = _open(args)
    prompt = sys.stdin.read() if args.prompt == "-" else args.prompt
    if args.state_in:
        session.load_state(args.state_in)
    if prompt == "":
        _check_empty_prompt(session, args.state_in)
    t0 = time.perf_counter()
    stream = session.generate(prompt, args.max_new_tokens, stream=True, **_options(args))
    if should_echo(args.echo):
        _out(prompt)
    for chunk in stream:
        _out(chunk)
    _out("\n")
    if args.state_out:
        session.save_state(args.state_out)
    if args.stats:
        dt = time.perf_counter() - t0
        n = len(stream.tokens)
        print(f"[{stream.prompt_tokens} prompt tokens, {n} generated ({stream.finish_reason}) in {dt:.2f} s: "
              f"{n / dt if dt > 0 else 0:.1f} tokens/s overall]", file=sys.stderr)


SEPARATOR = "\n\n"  # between turns, as in the RWKV chat format ("User: ...\n\nAssistant: ...\n\n")
CHAT_HELP = "commands: /reset (forget the conversation), /save PATH, /load PATH, /quit (or end of input)"


def _check(session, args, opts: dict) -> None:
    from ..runtime.generate import Sampler, _max_new_tokens, _stop_strings
    _max_new_tokens(args.max_new_tokens)
    _stop_strings(opts["stop"])
    Sampler(session.model.vocab_size, **{k: opts[k] for k in SAMPLING})


def _tokens(session, text: str):
    from ..runtime.generate import model_tokenizer
    return model_tokenizer(session.model).encode_array(text)


def line_editing(interactive: bool) -> bool:
    """On a terminal, importing readline gives input() line editing and an in-memory history
    (up arrow); nothing is written to disk. Not imported for piped input, which stays as it was."""
    if not interactive:
        return False
    try:
        import readline  # noqa: F401  (the import is what enables it)
    except ImportError:  # e.g. Windows without pyreadline: plain input()
        return False
    return True


def cmd_chat(args) -> None:
    from .. import FormatError
    session = _open(args)
    interactive = sys.stdin.isatty()
    line_editing(interactive)
    opts = _options(args)
    opts["stop"] = [SEPARATOR] + (opts["stop"] or [])
    _check(session, args, opts)  # bad options fail now, not at the first turn

    def start():
        if args.system:
            session.forward(_tokens(session, args.system.rstrip("\n") + SEPARATOR))

    start()
    if interactive:
        print(f"chatting with {session.model.path} ({CHAT_HELP})", file=sys.stderr)
    while True:
        if interactive:
            try:
                line = input(f"{args.user}: ")
            except EOFError:
                print(file=sys.stderr)
                break
        else:
            line = sys.stdin.readline()
            if not line:
                break
        line = line.strip()
        if not line:
            continue
        if line.startswith("/"):
            cmd, _, arg = line.partition(" ")
            arg = arg.strip()
            try:
                if cmd in ("/quit", "/exit"):
                    break
                elif cmd == "/reset":
                    session.reset()
                    start()
                    print("conversation reset", file=sys.stderr)
                elif cmd == "/save" and arg:
                    session.save_state(arg)
                    print(f"saved the state ({session.pos} tokens) to {arg}", file=sys.stderr)
                elif cmd == "/load" and arg:
                    session.load_state(arg)
                    print(f"loaded the state ({session.pos} tokens) from {arg}", file=sys.stderr)
                else:
                    print(f"rrwkv chat: unknown command {line!r}; {CHAT_HELP}", file=sys.stderr)
            except (ValueError, FormatError, OSError) as e:
                print(f"rrwkv chat: error: {e}", file=sys.stderr)
            continue
        stream = session.generate(f"{args.user}: {line}{SEPARATOR}{args.assistant}:", args.max_new_tokens,
                                  stream=True, **opts)
        _out(f"{args.assistant}:")
        for chunk in stream:
            _out(chunk)
        _out("\n")
        # Every turn ends with the separator in the state, so that /save keeps whole turns.
        if stream.stop_string != SEPARATOR.encode():
            session.forward(_tokens(session, SEPARATOR))
