"""Benchmark: rrwkv_rt's World tokenizer vs the `rwkv` package's TRIE_TOKENIZER, same corpus,
same run. Prints MB/s and tokens/s (medians of several runs) and the ratio; checks the ids agree.

    python tools/bench_tokenizer.py [--scale 1.0] [--runs 5] [--ref-runs 3]

The corpus is tests/tokenizer/tok_corpus.py's (stdlib source, mixed scripts, all of Unicode,
every vocabulary token, invalid UTF-8); per-part figures follow the totals.
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


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scale", type=float, default=1.0, help="corpus size factor (1.0: about 3.7 MB)")
    p.add_argument("--runs", type=int, default=5, help="timed runs of ours (median reported)")
    p.add_argument("--ref-runs", type=int, default=3, help="timed runs of TRIE_TOKENIZER (median reported)")
    args = p.parse_args()
    try:
        from rwkv.rwkv_tokenizer import TRIE_TOKENIZER
    except ImportError:
        print("the reference needs the `rwkv` package: pip install rwkv==0.8.32", file=sys.stderr)
        return 1
    import rwkv.rwkv_tokenizer as rt
    ref_vocab = os.path.join(os.path.dirname(rt.__file__), "rwkv_vocab_v20230424.txt")

    t0 = time.perf_counter()
    ours = Tokenizer.from_file(ref_vocab)
    t_build_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref = TRIE_TOKENIZER(ref_vocab)
    t_build_ref = time.perf_counter() - t0

    docs = tok_corpus.corpus([ours.token_bytes(i) for i in range(1, ours.vocab_size)], scale=args.scale)
    data = [d for _, d, _ in docs]
    n_bytes = sum(map(len, data))
    ids = [ours.encode(d) for d in data]
    n_tokens = sum(map(len, ids))
    same = all(ref.encodeBytes(d) == i for d, i in zip(data, ids))

    rows = [
        ("rrwkv_rt encode -> list", median_time(lambda: [ours.encode(d) for d in data], args.runs)),
        ("rrwkv_rt encode_array -> int64", median_time(lambda: [ours.encode_array(d) for d in data], args.runs)),
        ("TRIE_TOKENIZER encodeBytes", median_time(lambda: [ref.encodeBytes(d) for d in data], args.ref_runs)),
    ]
    t_dec_ours = median_time(lambda: [ours.decode_bytes(i) for i in ids], args.runs)
    t_dec_ref = median_time(lambda: [ref.decodeBytes(i) for i in ids], args.ref_runs)

    print(f"corpus: {len(docs)} documents, {n_bytes / 1e6:.2f} MB, {n_tokens} tokens "
          f"({n_bytes / n_tokens:.2f} bytes/token); ids identical to TRIE_TOKENIZER: {same}")
    print(f"build from the vocabulary file: rrwkv_rt {t_build_ours * 1e3:.0f} ms, TRIE_TOKENIZER {t_build_ref * 1e3:.0f} ms")
    print(f"{'encode':<32} {'MB/s':>9} {'Mtokens/s':>10} {'median s':>9}")
    for name, t in rows:
        print(f"{name:<32} {n_bytes / t / 1e6:>9.2f} {n_tokens / t / 1e6:>10.3f} {t:>9.3f}")
    print(f"ratio encode (list) / TRIE_TOKENIZER: {rows[2][1] / rows[0][1]:.1f}x, "
          f"(int64 array): {rows[2][1] / rows[1][1]:.1f}x")
    print(f"decode: rrwkv_rt {n_tokens / t_dec_ours / 1e6:.2f} Mtokens/s, TRIE_TOKENIZER "
          f"{n_tokens / t_dec_ref / 1e6:.2f} Mtokens/s, ratio {t_dec_ref / t_dec_ours:.1f}x")

    print(f"\nper part (encode -> list, median of {args.runs} / {args.ref_runs}):")
    print(f"{'part':<24} {'MB':>6} {'B/token':>8} {'ours MB/s':>10} {'ref MB/s':>9} {'ratio':>7}")
    for (name, d, _), i in zip(docs, ids):
        t_o = median_time(lambda: ours.encode(d), args.runs)
        t_r = median_time(lambda: ref.encodeBytes(d), args.ref_runs)
        print(f"{name:<24} {len(d) / 1e6:>6.2f} {len(d) / len(i):>8.2f} {len(d) / t_o / 1e6:>10.1f} "
              f"{len(d) / t_r / 1e6:>9.2f} {t_r / t_o:>6.0f}x")
    return 0 if same else 2


if __name__ == "__main__":
    sys.exit(main())
