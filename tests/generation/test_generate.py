"""Session.generate on small random byte-level models: greedy equals a manual argmax loop, seeds
reproduce, streams concatenate to the returned text, stop strings and stop tokens, the streaming
decoder's hold-back of incomplete UTF-8 and of partial stop strings, and argument errors."""
from __future__ import annotations

import numpy as np
import pytest

import rrwkv_rt
from rrwkv_rt.runtime.generate import TextStream

PROMPT = "def main():\n    "


def manual_greedy(session, prompt_ids, n):
    logits = session.forward(prompt_ids)
    out = []
    for _ in range(n):
        t = int(np.argmax(logits))
        out.append(t)
        logits = session.step(t)
    return out


@pytest.mark.parametrize("name", ["a", "b"])
def test_greedy_equals_manual_argmax_loop(models, name):
    s = rrwkv_rt.Session(models[name], threads=1)
    stream = s.generate(PROMPT, 40, temperature=0, stream=True)
    text = "".join(stream)
    ref = manual_greedy(rrwkv_rt.Session(models[name], threads=1), list(PROMPT.encode()), 40)
    assert stream.tokens == ref and stream.finish_reason == "length"
    assert text == bytes(ref).decode("utf-8", "replace")
    assert s.pos == len(PROMPT.encode()) + 40  # the state covers every drawn token


def test_continuing_equals_one_long_generation(models):
    """A second generate() continues from the state the first left (chat turns, documents)."""
    a = rrwkv_rt.Session(models["a"], threads=1)
    first = a.generate(PROMPT, 15, temperature=0)
    second = a.generate("x", 15, temperature=0)
    ref = manual_greedy(rrwkv_rt.Session(models["a"], threads=1), list(PROMPT.encode()), 15)
    assert first == bytes(ref).decode("utf-8", "replace")
    ref2 = manual_greedy(rrwkv_rt.Session(models["a"], threads=1), list(PROMPT.encode()) + ref + [ord("x")], 15)
    assert second == bytes(ref2).decode("utf-8", "replace")


def test_seed_reproduces_and_stream_concatenates(models):
    opts = dict(temperature=1.2, top_p=0.95, top_k=100, presence_penalty=0.3, frequency_penalty=0.2)
    s = rrwkv_rt.Session(models["a"], threads=1)
    one = s.generate(PROMPT, 60, seed=7, **opts)
    s.reset()
    chunks = list(s.generate(PROMPT, 60, seed=7, stream=True, **opts))
    s.reset()
    other = s.generate(PROMPT, 60, seed=8, **opts)
    assert "".join(chunks) == one and one != other
    assert len(chunks) > 1 and all(chunks)
    clone = rrwkv_rt.Session(models["a"], threads=1)
    assert clone.generate(PROMPT, 60, seed=7, **opts) == one


def test_stop_strings_are_cut_across_chunks(models):
    s = rrwkv_rt.Session(models["a"], threads=1)
    stream = s.generate(PROMPT, 80, temperature=0, stream=True)
    full = "".join(stream)
    data = bytes(stream.tokens)
    stop = data[20:23]  # three tokens (bytes) from inside the text: it spans chunks
    expect = data[:data.index(stop)].decode("utf-8", "replace")
    s.reset()
    st = s.generate(PROMPT, 80, temperature=0, stream=True, stop=[b"NEVER-SEEN", stop])
    chunks = list(st)
    assert "".join(chunks) == expect and st.finish_reason == "stop" and st.stop_string == stop
    s.reset()
    assert s.generate(PROMPT, 80, temperature=0, stop=stop) == expect
    assert full.startswith(expect)
    s.reset()  # a str stop string made of the text's first ASCII characters after the prompt
    ascii_at = next((i for i in range(5, len(data) - 2) if max(data[i:i + 2]) < 0x80), None)
    if ascii_at is not None:
        word = data[ascii_at:ascii_at + 2].decode()
        text = s.generate(PROMPT, 80, temperature=0, stop=word)
        assert text == data[:data.index(word.encode())].decode("utf-8", "replace") and word not in text


def test_stop_tokens_and_bans(models):
    s = rrwkv_rt.Session(models["a"], threads=1)
    greedy = s.generate(PROMPT, 30, temperature=0, stream=True)
    "".join(greedy)
    toks = greedy.tokens
    stop_tok = toks[5]
    s.reset()
    st = s.generate(PROMPT, 30, temperature=0, stop_tokens=[stop_tok], stream=True)
    text = "".join(st)
    assert st.tokens == toks[:toks.index(stop_tok)] and st.finish_reason == "stop_token"
    assert text == bytes(st.tokens).decode("utf-8", "replace")
    assert s.pos == len(PROMPT) + len(st.tokens)  # a stop token is not fed
    s.reset()
    banned = s.generate(PROMPT, 30, temperature=0, banned_tokens=[stop_tok], stream=True)
    "".join(banned)
    assert stop_tok not in banned.tokens


def test_incomplete_utf8_is_held_back(models):
    """Only the bytes of '€' (E2 82 AC) and 'é' (C3 A9) may be drawn: chunks never end inside a
    character, so they concatenate to the decoding of all the bytes."""
    allowed = {0xE2, 0x82, 0xAC, 0xC3, 0xA9}
    banned = [i for i in range(256) if i not in allowed]
    s = rrwkv_rt.Session(models["a"], threads=1)
    for seed in range(3):
        s.reset()
        st = s.generate("x", 120, temperature=1.0, top_p=1.0, banned_tokens=banned, seed=seed, stream=True)
        chunks = list(st)
        assert "".join(chunks) == bytes(st.tokens).decode("utf-8", "replace")
        assert set(st.tokens) <= allowed


def test_text_stream_unit():
    t = TextStream()
    text = "héllo €uro 😀!".encode()
    out = [t.push(text[i:i + 1]) for i in range(len(text))] + [t.flush()]
    assert "".join(out) == "héllo €uro 😀!" and "\ufffd" not in "".join(out)
    assert out[1] == "" and out[2] == "é"  # held until the character is complete
    t = TextStream([b"STOP", b"\n\n"])
    assert [t.push(b"abcST"), t.push(b"O"), t.push(b"Pxyz"), t.push(b"more")] == ["abc", "", "", ""]
    assert t.stopped and t.stop_string == b"STOP" and t.flush() == ""
    t = TextStream([b"STOP"])
    assert [t.push(b"ST"), t.push(b"AB"), t.flush()] == ["", "STAB", ""]
    t = TextStream([b"ab"])
    assert t.push(b"xxa") == "xx" and t.flush() == "a"  # the end of the generation flushes a held tail
    t = TextStream(["–".encode()])  # a multibyte stop string split over pushes
    assert [t.push(b"a\xe2"), t.push(b"\x80"), t.push(b"\x93z")] == ["a", "", ""] and t.stopped
    t = TextStream()
    assert t.push(b"\xe2\x82") == "" and t.push(b"A") == "\ufffdA"  # an invalid sequence is not held forever
    assert TextStream().push(b"\xff\xfe") == "\ufffd\ufffd"


def test_bad_arguments_raise_before_any_work(models):
    s = rrwkv_rt.Session(models["a"], threads=1)
    for kw, msg in [(dict(temperature=-1), "temperature must be"), (dict(top_p=2), r"top_p must be in \[0, 1\]"),
                    (dict(top_k=-5), "top_k must be >= 0"), (dict(penalty_decay=-0.5), "penalty_decay"),
                    (dict(max_new_tokens=-1), "max_new_tokens must be an integer >= 0"),
                    (dict(stop=[""]), "stop strings must not be empty")]:
        with pytest.raises(ValueError, match=msg):
            s.generate(PROMPT, **kw)
        with pytest.raises(ValueError, match=msg):
            s.generate(PROMPT, stream=True, **kw)  # eagerly, not at the first next()
    with pytest.raises(ValueError, match="prompt is empty"):
        s.generate("")
    with pytest.raises(IndexError, match="prompt token 300"):
        s.generate([1, 300])
    with pytest.raises(IndexError, match="banned token 256"):
        s.generate(PROMPT, banned_tokens=[256])
    assert s.pos == 0
    assert s.generate([1, 2, 3], 0) == "" and s.pos == 3  # token ids work; 0 new tokens ingests the prompt


def test_model_without_tokenizer(tmp_path):
    pytest.importorskip("torch")
    from gen_helpers import write_random_model
    from rrwkv_rt.config import ModelConfig
    cfg = ModelConfig(arch="rwkv4", n_layer=1, n_embd=16, vocab_size=256)
    path = write_random_model(tmp_path / "nt.rrwkv", cfg, 0, tokenizer=None)
    s = rrwkv_rt.Session(path, threads=1)
    with pytest.raises(ValueError, match="carries no tokenizer"):
        s.generate("hi")
    assert len(s.generate("hi", 5, tokenizer=rrwkv_rt.Tokenizer.bytes(), temperature=0).encode("utf-8", "replace")) > 0


def test_banning_every_token_fails_before_the_prompt_is_read(models):
    s = rrwkv_rt.Session(models["a"], threads=1)
    s.generate(PROMPT, 3, temperature=0)
    before, pos = bytes(s.get_state()), s.pos
    with pytest.raises(ValueError, match="bans all 256 tokens"):
        s.generate(PROMPT, 3, banned_tokens=list(range(256)))
    assert bytes(s.get_state()) == before and s.pos == pos


def test_an_empty_prompt_continues_the_last_generation(models):
    s = rrwkv_rt.Session(models["a"], threads=1)
    whole = s.generate(PROMPT, 24, temperature=0)
    s.reset()
    first = s.generate(PROMPT, 10, temperature=0)
    rest = s.generate("", 14, temperature=0)
    assert first + rest == whole  # greedy: the same 24 tokens, split in two calls
    s.step(5)  # the state moved on: nothing to continue from
    with pytest.raises(ValueError, match="nothing to continue"):
        s.generate("", 3)
    with pytest.raises(ValueError, match="nothing to continue"):
        rrwkv_rt.Session(models["a"]).generate([], 3)


def test_result_object_logprobs_and_logits_processor(models):
    s = rrwkv_rt.Session(models["a"], threads=1)
    r = s.generate(PROMPT, 12, temperature=0, logprobs=True)
    assert isinstance(r, str) and r.text == str(r) and r.finish_reason in ("length", "stop_token")
    assert r.usage == {"prompt_tokens": len(PROMPT), "completion_tokens": len(r.tokens),
                       "total_tokens": len(PROMPT) + len(r.tokens)}
    # log-probabilities recomputed by hand from the logits before each greedy draw
    s.reset()
    logits, want = s.forward(list(PROMPT.encode())), []
    for t in r.tokens:
        z = logits.astype(np.float64)
        want.append(z[t] - z.max() - np.log(np.exp(z - z.max()).sum()))
        logits = s.step(t)
    np.testing.assert_allclose(r.logprobs, want, rtol=0, atol=1e-6)
    # a processor that allows only byte 65: every drawn token is 65, and it sees the tokens so far
    seen = []

    def only_a(tokens, z):
        seen.append(len(tokens))
        z[:] = -np.inf
        z[65] = 0.0

    s.reset()
    forced = s.generate(PROMPT, 5, temperature=0, logits_processor=only_a)
    assert forced.tokens == [65] * 5 and str(forced) == "AAAAA" and seen == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="stop must be"):
        s.generate(PROMPT, 3, stop=5)
    with pytest.raises(ValueError, match="logits_processor"):
        s.generate(PROMPT, 3, logits_processor=3)


def test_chat_renders_the_template_and_strips_the_reply(models):
    from rrwkv_rt.runtime.chat import WORLD
    s = rrwkv_rt.Session(models["a"], threads=1)
    msgs = [{"role": "user", "content": "Hi there"}]
    reply = s.chat(msgs, 20, temperature=0)
    t = rrwkv_rt.Session(models["a"], threads=1)
    expected = t.generate(WORLD.render(msgs), 20, temperature=0, stop=list(WORLD.stop))
    assert str(reply) == str(expected).lstrip() and reply.tokens == expected.tokens
