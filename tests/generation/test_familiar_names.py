"""Names users bring from other libraries: OpenAI's and llama-cpp-python's `max_tokens`, and the
`rwkv` package's PIPELINE_ARGS names (alpha_presence, alpha_frequency, alpha_decay, token_ban,
token_stop), in Python and on the command line; a setting given under both names, or a name that
is neither, is a TypeError that says what to pass."""
from __future__ import annotations

import pytest

import rrwkv_rt

from test_cli import cli

OURS = dict(max_new_tokens=30, presence_penalty=0.4, frequency_penalty=0.3, penalty_decay=0.9, banned_tokens=[32, 101],
            stop_tokens=[10])
THEIRS = dict(max_tokens=30, alpha_presence=0.4, alpha_frequency=0.3, alpha_decay=0.9, token_ban=[32, 101],
              token_stop=[10])


def test_the_aliases_give_what_our_names_give(models):
    s = rrwkv_rt.Session(models["a"], threads=1)
    want = s.generate("def f(x):", seed=5, **OURS)
    s.reset()
    got = s.generate("def f(x):", seed=5, **THEIRS)
    assert got == want and got.tokens == want.tokens and got.usage == want.usage
    assert 32 not in got.tokens and 101 not in got.tokens
    s.reset()  # and through chat(), which passes its keywords on
    assert s.chat([{"role": "user", "content": "hi"}], max_tokens=7, seed=1).usage["completion_tokens"] <= 7


def test_both_names_or_an_unknown_name_is_a_clear_type_error(models):
    s = rrwkv_rt.Session(models["a"], threads=1)
    with pytest.raises(TypeError, match=r"'max_tokens' and 'max_new_tokens', which are the same setting.*pass one"):
        s.generate("x", max_new_tokens=5, max_tokens=6)
    with pytest.raises(TypeError, match=r"'alpha_presence' and 'presence_penalty'.*rwkv package's name"):
        s.generate("x", 5, presence_penalty=0.1, alpha_presence=0.2)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'max_tokns'; did you mean 'max_tokens'"):
        s.generate("x", max_tokns=3)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'top_pp'; did you mean 'top_p'"):
        s.generate("x", top_pp=0.5)
    assert s.pos == 0  # nothing was read


def test_the_command_line_takes_the_same_names(models):
    ours = cli("generate", models["a"], "--prompt", "import", "--seed", 3, "--max-new-tokens", 25, "--presence-penalty",
               0.5, "--frequency-penalty", 0.2, "--penalty-decay", 0.95)
    theirs = cli("generate", models["a"], "--prompt", "import", "--seed", 3, "--max-tokens", 25, "--alpha-presence",
                 0.5, "--alpha-frequency", 0.2, "--alpha-decay", 0.95)
    assert ours.returncode == 0 and theirs.returncode == 0, theirs.stderr
    assert theirs.stdout == ours.stdout and ours.stdout.strip()
