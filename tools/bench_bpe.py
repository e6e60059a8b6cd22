"""Benchmark: the native byte-level BPE (a Hugging Face tokenizer.json, csrc/tokenizer/) vs the
`tokenizers` library on the same file and corpus, same run. Prints MB/s (medians of several
runs) and the ratio, and checks that the ids agree.

    python tools/bench_bpe.py [--tokenizer-json 20B_tokenizer.json] [--scale 1.0] [--runs 3]

Without --tokenizer-json it trains a GPT-NeoX-structured tokenizer (NFC, ByteLevel, special and
whitespace added tokens; --vocab-size merges) on the corpus first. The corpus is the valid text
of tests/tokenizer/tok_corpus.py (stdlib source, mixed scripts, all of Unicode). Both encode one
document per call on one thread, as `generate` does; the library's encode_batch, which spreads
documents over threads, is shown beside for reference.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "tokenizer"))

import tok_corpus  # noqa: E402
from benchlib.timing import median_time  # noqa: E402
from rrwkv_rt import Tokenizer  # noqa: E402


def neox_like(texts: list[str], vocab_size: int):
    from tokenizers import AddedToken, Tokenizer as HF, decoders, models, normalizers, pre_tokenizers, trainers
    hf = HF(models.BPE())
    hf.normalizer = normalizers.NFC()
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    hf.train_from_iterator(texts, trainer=trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|endoftext|>", "<|padding|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    hf.add_tokens([AddedToken(" " * k, normalized=True) for k in range(24, 1, -1)])
    return hf


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tokenizer-json", default=None, metavar="PATH", help="a byte-level BPE tokenizer.json "
                   "(default: one trained here with GPT-NeoX's structure)")
    p.add_argument("--vocab-size", type=int, default=20000, help="merges of the trained tokenizer")
    p.add_argument("--scale", type=float, default=1.0, help="corpus size factor (1.0: about 3.3 MB of text)")
    p.add_argument("--runs", type=int, default=3, help="timed runs of each (median reported)")
    args = p.parse_args()
    try:
        from tokenizers import Tokenizer as HF
    except ImportError:
        print("the reference needs the `tokenizers` package: pip install tokenizers", file=sys.stderr)
        return 1
    texts = [d.decode("utf-8") for _, d, is_text in tok_corpus.corpus([], args.scale) if is_text]
    if args.tokenizer_json:
        ref = HF.from_file(args.tokenizer_json)
        source = args.tokenizer_json
    else:
        t0 = time.perf_counter()
        ref = neox_like(texts, args.vocab_size)
        source = f"trained here, GPT-NeoX structure, {ref.get_vocab_size()} ids ({time.perf_counter() - t0:.0f} s)"
    t0 = time.perf_counter()
    ours = Tokenizer.from_header("hf", ref.to_str().encode("utf-8"))
    t_build = time.perf_counter() - t0
    if type(ours) is not Tokenizer:
        print(f"the native encoder does not cover this file (Python runs it with the library): {source}",
              file=sys.stderr)
        return 1
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    same = all(ours.encode(t) == ref.encode(t, add_special_tokens=False).ids for t in texts)
    rows = [
        ("rrwkv_rt encode -> list", median_time(lambda: [ours.encode(t) for t in texts], args.runs)),
        ("rrwkv_rt encode_array -> int64", median_time(lambda: [ours.encode_array(t) for t in texts], args.runs)),
        ("tokenizers encode(...).ids", median_time(
            lambda: [ref.encode(t, add_special_tokens=False).ids for t in texts], args.runs)),
        ("tokenizers encode_batch (threads)", median_time(
            lambda: [e.ids for e in ref.encode_batch(texts, add_special_tokens=False)], args.runs)),
    ]
    print(f"tokenizer: {source}; native build {t_build * 1e3:.0f} ms")
    print(f"corpus: {len(texts)} documents, {n_bytes / 1e6:.2f} MB; ids identical to the tokenizers library: {same}; "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print(f"{'encode':<36} {'MB/s':>8} {'median s':>9}")
    for name, t in rows:
        print(f"{name:<36} {n_bytes / t / 1e6:>8.2f} {t:>9.3f}")
    print(f"native / tokenizers, one document per call: {rows[2][1] / rows[0][1]:.1f}x the speed "
          f"(encode_batch: {rows[3][1] / rows[0][1]:.1f}x)")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
