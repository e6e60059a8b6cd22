"""A benchmark worker: one model of one runtime in its own process, driven over stdin/stdout with
one JSON object per line. Workers let one run compare several installations of rrwkv_rt (say,
before and after a change: each worker runs with its installation's interpreter) and the official
rwkv package, all interleaved on the same machine at the same time.

Run by file (measure.Worker), so that another installation's interpreter runs it with its own
rrwkv_rt; it imports nothing of this one but what that interpreter finds.

Commands: {"op": "open", "kind": "ours"|"pkg", "path": ..., "threads": n, "device": "cpu"|"cuda"|...,
"read_into_memory": bool},
{"op": "decode", "n": k, "seed": s}, {"op": "prefill", "n": t, "seed": s, "exact": bool},
{"op": "batch", "size": b, "steps": k, "seed": s, "exact": bool}, {"op": "quit"}; each answers one JSON line.
"""
import json
import os
import sys
import time

import numpy as np


def macs_per_token(rrwkv_rt, path) -> dict:
    """Multiply-adds of the matrices a decode step runs per token (every matrix but the embedding,
    which is one row read), by the family of the fast path's kernels: "bf16" for float weights,
    "int8" for quantized ones."""
    f = rrwkv_rt.ModelFile(path, verify_checksums=False)
    out = {"bf16": 0, "int8": 0}
    for t in f.tensors:
        if len(t["shape"]) == 2 and t["name"] != "emb.weight":
            out["int8" if t["dtype"] in ("q8_0", "q4_1") else "bf16"] += int(np.prod(t["shape"]))
    return out


class Ours:
    def __init__(self, path, threads, device="cpu", read_into_memory=False):
        import rrwkv_rt
        self.rrwkv_rt = rrwkv_rt
        # an installation before read_into_memory raises TypeError: asked for, it must not be ignored
        self.model = rrwkv_rt.Model(path, read_into_memory=True) if read_into_memory else rrwkv_rt.Model(path)
        self.device = device
        # an installation before devices knows no device= (and runs on the CPU only)
        self.session = (rrwkv_rt.Session(self.model, threads=threads) if device == "cpu" else
                        rrwkv_rt.Session(self.model, threads=threads, device=device))
        self.threads = threads
        info = self.model.info
        self.vocab = info["vocab_size"]
        self.out = np.empty(self.vocab, np.float32)
        self.info = {"vocab": self.vocab, "bytes_per_token": info["decode_bytes_per_token"],
                     "version": rrwkv_rt.__version__, "module": os.path.dirname(rrwkv_rt.__file__),
                     "file_size": info["file_size"],
                     "blas": getattr(rrwkv_rt._core, "blas_info", lambda: "?")(),  # RRWKV_BLAS=0: built-in kernels
                     "macs_per_token": macs_per_token(rrwkv_rt, path),
                     "device": getattr(self.session, "device", "cpu"),
                     "emulated": device != "cpu" and rrwkv_rt._core.gpu_emulated(),
                     "fast_kernels": getattr(rrwkv_rt._core, "fast_kernels", lambda: {})()}
        self.batches = {}
        self.fast_session = None

    def step(self, token):
        self.session.step(int(token), out=self.out)

    def prefill(self, tokens, exact=True):
        session = self.session
        if not exact:
            if self.fast_session is None:
                try:
                    self.fast_session = self.rrwkv_rt.Session(self.model, threads=self.threads, exact=False)
                except TypeError:  # an installation without the fast path
                    return False
            session = self.fast_session
        session.reset()
        session.forward(tokens)
        return True

    def batch_step_times(self, size, steps, rng, exact=True):
        if not hasattr(self.rrwkv_rt, "Batch"):
            return None
        key = (size, exact)
        if key not in self.batches:
            if self.device != "cpu" and not exact:
                return None  # the fast path is the CPU's
            kw = {} if self.device == "cpu" else {"device": self.device}
            try:
                b = self.rrwkv_rt.Batch(self.model, capacity=size, threads=self.threads, exact=exact, **kw)
            except TypeError:  # an installation without the option
                return None
            rows = [b.add() for _ in range(size)]
            for r in rows:  # rows at different positions, as in serving
                b.forward(r, rng.integers(0, self.vocab, 1 + r % 7))
            self.batches[key] = (b, rows, np.empty((size, self.vocab), np.float32))
        b, rows, out = self.batches[key]
        times = []
        for _ in range(steps + 1):
            toks = rng.integers(0, self.vocab, size)
            t0 = time.perf_counter()
            b.step(rows, toks, out=out)
            times.append(time.perf_counter() - t0)
        return times[1:]


class Package:
    """The official package with its default settings (TorchScript on), strategy 'cpu fp32', or
    'cuda fp16' on a GPU (its own CUDA kernel off unless RWKV_CUDA_ON=1 is set in the environment:
    the kernel compiles at import, with nvcc and ninja);
    RWKV-7 is its RWKV_x070 class, which the package selects by RWKV_V7_ON=1 at import."""

    def __init__(self, pth, threads, arch="rwkv4", device="cpu"):
        os.environ.setdefault("RWKV_JIT_ON", "1")
        os.environ.setdefault("RWKV_CUDA_ON", "0")
        os.environ["RWKV_V7_ON"] = "1" if arch == "rwkv7" else "0"
        import torch
        torch.set_num_threads(threads)
        from rwkv.model import RWKV
        self.torch, self.state = torch, None
        self.strategy = "cpu fp32" if device == "cpu" else "cuda fp16"  # the runtime's GPU is cuda:0 too
        self.cuda = device != "cpu"
        if arch == "rwkv7":
            self.model = RWKV(pth[:-4], self.strategy)
            self.vocab = self.model.z["emb.weight"].shape[0]
        else:
            self.model = RWKV(pth[:-4], self.strategy, verbose=False)
            self.vocab = self.model.w["emb.weight"].shape[0]
        self.info = {"vocab": self.vocab, "version": "rwkv package", "strategy": self.strategy}

    def _sync(self):
        if self.cuda:  # the logits stay on the GPU: wait for the work, as our host logits do
            self.torch.cuda.synchronize()

    def step(self, token):
        with self.torch.no_grad():
            _, self.state = self.model.forward([int(token)], self.state)
        self._sync()

    def prefill(self, tokens, exact=True):
        with self.torch.no_grad():
            self.model.forward(tokens.tolist(), None)
        self._sync()

    def batch_step_times(self, size, steps, rng, exact=True):
        return None


def main():
    # replies go to the original stdout; anything else printed (the package announces itself) to stderr
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    runner = None
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        rng = np.random.default_rng(cmd.get("seed", 0))
        if op == "open":
            device = cmd.get("device", "cpu")
            try:
                if cmd["kind"] == "ours":
                    runner = Ours(cmd["path"], cmd["threads"], device, cmd.get("read_into_memory", False))
                else:
                    runner = Package(cmd["path"], cmd["threads"], cmd.get("arch", "rwkv4"), device)
                reply = runner.info
            except ValueError as e:  # the runtime's one-line reason (a bad device, no usable GPU)
                reply = {"error": f"--device {device}: {e}"}
            except TypeError as e:  # an installation without read_into_memory
                if not cmd.get("read_into_memory"):
                    raise
                reply = {"error": f"--read-into-memory: {e}"}
        elif op == "decode":
            runner.step(0)  # another process's threads may still be spinning
            times = []
            for t in rng.integers(0, runner.vocab, cmd["n"]):
                t0 = time.perf_counter()
                runner.step(t)
                times.append(time.perf_counter() - t0)
            reply = {"times": times}
        elif op == "prefill":
            tokens = rng.integers(0, runner.vocab, cmd["n"])
            t0 = time.perf_counter()
            ran = runner.prefill(tokens, cmd.get("exact", True))
            reply = {"times": [time.perf_counter() - t0] if ran is not False else None}
        elif op == "batch":
            reply = {"times": runner.batch_step_times(cmd["size"], cmd["steps"], rng, cmd.get("exact", True))}
        elif op == "quit":
            return
        else:
            reply = {"error": f"unknown op {op!r}"}
        print(json.dumps(reply), file=replies, flush=True)


if __name__ == "__main__":
    main()
