"""The adversarial campaign of the reliability review, rerun: mutated model files through the
Python entry points and the C API (ctypes on librrwkv_rt), mutated state blobs and mutated
vocabularies. Every input must end in a clean, specific error or be accepted; a crash, a hang,
another exception type or a message with a NUL in it is a failure. Each batch runs in a child
process, so that a crash is caught and its input kept (in --keep, default build/campaign/).

    python tools/mutation_campaign.py --models 24000 --states 10000 --vocabs 5300

Mutations of a model: raw byte edits (1..8 random bytes, checksums left wrong), and header /
table / data edits with the checksums recomputed (a random word set to an edge value, a random
byte, a cut or an extension), so that most inputs reach the structural checks.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import random
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

SEEDS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fuzz", "corpus")


def fix_checksums(d: bytearray) -> None:
    """Python twin of tests/support/model_bytes.h fix_checksums: lenient, never raises."""
    if len(d) < 64:
        return
    hs = struct.unpack_from("<Q", d, 24)[0]
    if hs > len(d) - 64:
        return
    end, pos = 64 + hs, 64
    try:
        def u(fmt):
            nonlocal pos
            n = struct.calcsize(fmt)
            if pos + n > end:
                raise IndexError
            v = struct.unpack_from(fmt, d, pos)[0]
            pos += n
            return v

        def skip(n):
            nonlocal pos
            if pos + n > end:
                raise IndexError
            pos += n

        for _ in range(u("<I")):
            skip(u("<I"))
            t = u("<B")
            if t in (1, 2, 3):
                skip(8)
            elif t == 4:
                skip(u("<I"))
            elif t == 5:
                skip(u("<Q"))
            else:
                raise IndexError
        for _ in range(u("<I")):
            skip(u("<I"))
            u("<B")
            skip(8 * u("<B"))
            off, nb = u("<Q"), u("<Q")
            if pos + 4 > end:
                raise IndexError
            if off <= len(d) and nb <= len(d) - off:
                struct.pack_into("<I", d, pos, zlib.crc32(bytes(d[off:off + nb])))
            pos += 4
    except IndexError:
        pass
    struct.pack_into("<I", d, 12, zlib.crc32(bytes(d[16:end])))


def mutate_model(seed: bytes, rng: random.Random) -> bytes:
    d = bytearray(seed)
    kind = rng.randrange(6)
    if kind == 0:  # raw byte edits, checksums left as they are
        for _ in range(rng.randint(1, 8)):
            d[rng.randrange(len(d))] = rng.randrange(256)
        return bytes(d)
    hs = struct.unpack_from("<Q", d, 24)[0]
    header_end = min(64 + hs, len(d))
    if kind in (1, 2):  # a header or table word set to an edge value
        at = rng.randrange(16, header_end - 8)
        v = rng.choice([len(d), len(d) + 64, len(d) - len(d) % 64, 2**64 - 1, 2**64 - 64, 2**32, 2**63, 0,
                        rng.randrange(len(d) + 1), rng.randrange(2**16)])
        struct.pack_into("<Q", d, at, v)
    elif kind == 3:  # header bytes
        for _ in range(rng.randint(1, 4)):
            d[rng.randrange(64, header_end)] = rng.choice([0, 0xff, 0x80, 0xc3, rng.randrange(256)])
    elif kind == 4:  # data bytes (the checksum fix makes them "valid": a changed model)
        for _ in range(rng.randint(1, 8)):
            d[rng.randrange(header_end, len(d))] = rng.randrange(256)
    else:  # cut or extended, with file_size updated
        d = d[:rng.randrange(len(d))] if rng.random() < 0.5 else d + bytes(rng.randrange(1, 200))
        if len(d) >= 24:
            struct.pack_into("<Q", d, 16, len(d))
    fix_checksums(d)
    return bytes(d)


# ---- the child: runs a batch and reports --------------------------------------------------------

def child(kind: str, paths_file: str, report: str, keep: str) -> None:
    import rrwkv_rt
    from rrwkv_rt import FormatError, _core
    lib = ctypes.CDLL(os.path.join(rrwkv_rt.get_library_dir(), "librrwkv_rt.so"))
    lib.rrwkv_last_error.restype = ctypes.c_char_p
    lib.rrwkv_model_load.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
    lib.rrwkv_model_free.argtypes = [ctypes.c_void_p]
    counts: dict[str, int] = {}

    def count(k):
        counts[k] = counts.get(k, 0) + 1

    def check_message(msg: str, where: str):
        if "\0" in msg or not msg:
            raise AssertionError(f"{where}: empty or NUL-holding message {msg!r}")

    paths = open(paths_file).read().split("\n")
    model = rrwkv_rt.Model(os.path.join(SEEDS, "model_file", "3_rrwkv_replace_f32.rrwkv")) if kind == "state" else None
    session = rrwkv_rt.Session(model, threads=1) if model else None
    for path in paths:
        with open(os.path.join(keep, f"current_{kind}"), "w") as f:
            f.write(path)  # if this child dies, the parent knows which input did it
        if kind == "model":
            try:
                f = rrwkv_rt.ModelFile(path)
                f.fields, f.tensors, f.config  # noqa: B018 (every accessor must work on accepted files)
                m = rrwkv_rt.Model(path)
                m.info  # noqa: B018
                try:
                    rrwkv_rt.Tokenizer.from_model(f)
                except FormatError as e:
                    check_message(str(e), "tokenizer")
                except ValueError as e:  # carries no tokenizer
                    check_message(str(e), "tokenizer")
                count("accepted")
            except FormatError as e:
                check_message(str(e), "python")
                count("FormatError")
            out = ctypes.c_void_p()
            status = lib.rrwkv_model_load(path.encode(), None, ctypes.byref(out))
            if status == 0:
                lib.rrwkv_model_free(out)
                count("capi ok")
            elif status == 3:
                msg = lib.rrwkv_last_error().decode()
                check_message(msg, "capi")
                count("capi RRWKV_ERR_FORMAT")
            else:
                raise AssertionError(f"C API status {status} for {path}: {lib.rrwkv_last_error()!r}")
        elif kind == "state":
            blob = open(path, "rb").read()
            try:
                session.set_state(blob)
                count("accepted")
            except ValueError as e:
                check_message(str(e), "state")
                count("ValueError")
        else:
            data = open(path, "rb").read()
            try:
                _core.Tokenizer.from_header("world", data, "<vocab>")
                count("accepted")
            except FormatError as e:
                check_message(str(e), "vocab")
                count("FormatError")
    with open(report, "w") as f:
        f.write(repr(counts))


# ---- the parent ----------------------------------------------------------------------------------

def run_kind(kind: str, inputs: list[bytes], keep: str, batch: int = 500) -> dict:
    total: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for start in range(0, len(inputs), batch):
            chunk = inputs[start:start + batch]
            paths = []
            for i, data in enumerate(chunk):
                p = os.path.join(tmp, f"{kind}_{start + i}")
                with open(p, "wb") as f:
                    f.write(data)
                paths.append(p)
            lst, report = os.path.join(tmp, "list"), os.path.join(tmp, "report")
            with open(lst, "w") as f:
                f.write("\n".join(paths))
            r = subprocess.run([sys.executable, __file__, "--child", kind, lst, report, keep],
                               capture_output=True, text=True, timeout=1800)
            if r.returncode != 0:
                bad = open(os.path.join(keep, f"current_{kind}")).read()
                kept = os.path.join(keep, f"failure_{kind}_{os.path.basename(bad)}")
                os.replace(bad, kept)
                raise SystemExit(f"{kind}: the child failed (status {r.returncode}) on an input kept as {kept}:\n"
                                 f"{r.stderr[-3000:]}")
            for k, v in eval(open(report).read()).items():  # our own repr of a dict of ints
                total[k] = total.get(k, 0) + v
            for p in paths:
                os.unlink(p)
    return total


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(*sys.argv[2:6])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=24000)
    ap.add_argument("--states", type=int, default=10000)
    ap.add_argument("--vocabs", type=int, default=5300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", default="build/campaign")
    args = ap.parse_args()
    os.makedirs(args.keep, exist_ok=True)
    rng = random.Random(args.seed)

    def seeds(target):
        folder = os.path.join(SEEDS, target)
        return [open(os.path.join(folder, n), "rb").read() for n in sorted(os.listdir(folder))]

    models = seeds("model_file")
    vocabs = seeds("vocab")
    import rrwkv_rt
    s = rrwkv_rt.Session(rrwkv_rt.Model(os.path.join(SEEDS, "model_file", "3_rrwkv_replace_f32.rrwkv")), threads=1)
    s.forward(np.arange(5))
    state = bytes(s.get_state())

    def mutate_state(rng):
        d = bytearray(state)
        for _ in range(rng.randint(1, 6)):
            r = rng.random()
            if r < 0.5:
                d[rng.randrange(len(d))] = rng.randrange(256)
            elif r < 0.7:
                struct.pack_into("<Q", d, rng.randrange(0, 56, 8), rng.choice([0, 1, 2**63, 2**64 - 1, 3, 8]))
            elif r < 0.85:
                d = d[:rng.randrange(len(d))]
            else:
                d += bytes(rng.randrange(1, 64))
            if len(d) < 64:
                break
        if len(d) >= 64 and rng.random() < 0.8:
            struct.pack_into("<I", d, 56, zlib.crc32(bytes(d[64:])))
        return bytes(d)

    def mutate_vocab(rng):
        d = bytearray(rng.choice(vocabs))
        for _ in range(rng.randint(1, 3)):
            at = rng.randrange(len(d) + 1)
            r = rng.random()
            if r < 0.4 and at < len(d):
                d[at] = rng.choice(b"0123456789 '\"\\bxuU\n\r\x00\xff\xc3")
            elif r < 0.6:
                d[at:at] = rng.choice([b"67108863", b" ", b"\\x", b"\\U0010ffff", b"\\ud800", b"\n", b"'" * 3])
            elif r < 0.8:
                del d[at:at + rng.randint(1, 20)]
            else:
                d[at:at] = b"999 '" + b"a" * rng.choice([10, 256, 257, 5000]) + b"' 257\n"
        if rng.random() < 0.5:  # or, instead, a well-formed new token: mostly accepted
            d = bytearray(rng.choice(vocabs))
            token = bytes(rng.randrange(256) for _ in range(rng.randint(2, 6)))
            lit = "".join(f"\\x{b:02x}" for b in token)
            d += f"{rng.choice([257, 300, 65535, 67108863, 67108864])} b'{lit}' {len(token)}\n".encode()
        return bytes(d)

    results = {}
    t0 = time.time()
    results["model"] = run_kind("model", [mutate_model(rng.choice(models), rng) for _ in range(args.models)], args.keep)
    results["state"] = run_kind("state", [mutate_state(rng) for _ in range(args.states)], args.keep)
    results["vocab"] = run_kind("vocab", [mutate_vocab(rng) for _ in range(args.vocabs)], args.keep)
    for k, v in results.items():
        print(f"{k}: {sum(n for key, n in v.items() if not key.startswith('capi'))} inputs: {v}")
    print(f"every input a clean error or accepted; {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
