"""Tables (Markdown) and plots (PNG) from the result files of tools/eval_longrange.py.

Accuracy of a (model, cell, lr, seed) run is its final test accuracy. 1/N is the accuracy of a model
that knows the answer is one of the N values in the context but not which (a plateau RWKV-4 reaches
early). As in Zoology, a model's
score in a cell is its best learning rate; here "best" is the lr with the highest mean over seeds,
and the table shows that mean ± the standard deviation over seeds (n = number of seeds).
"""
from __future__ import annotations

import json
import math
import os
from collections import defaultdict

import numpy as np

from .grids import PUBLISHED_RWKV4

REPRO_GRIDS = ("repro", "repro128", "repro_long")
COMPARE_GRIDS = ("reduced_d64", "reduced", "reduced128", "extension")


def load(path: str) -> list[dict]:
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def _ms(xs) -> str:
    xs = list(xs)
    if len(xs) == 1:
        return f"{xs[0]:.3f}"
    return f"{np.mean(xs):.3f} ± {np.std(xs, ddof=1):.3f}"


def _best_lr(runs: list[dict]) -> tuple[float, list[float]]:
    by_lr = defaultdict(list)
    for r in runs:
        by_lr[r["lr"]].append(r["acc"])
    lr = max(by_lr, key=lambda k: np.mean(by_lr[k]))
    return lr, by_lr[lr]


def repro_table(recs: list[dict]) -> str:
    runs = [r for r in recs if r["grid"] in REPRO_GRIDS]
    if not runs:
        return "_no repro runs yet_\n"
    cells = defaultdict(list)
    for r in runs:
        cells[(r["grid"], r["seq_len"], r["variant"]["d"])].append(r)
    lines = ["| grid | seq / pairs | d | examples seen (Zoology: 6.4M) | acc at lr 1e-4 / 4.6e-4 / 2.2e-3 / 1e-2 | best | "
             "published | 1/N |", "|---|---|---|---|---|---|---|---|"]
    for (g, L, d), rs in sorted(cells.items()):
        by_lr = {round(r["lr"], 6): r["acc"] for r in rs}
        accs = " / ".join(f"{by_lr[k]:.3f}" if k in by_lr else "–" for k in (1e-4, 0.000464, 0.002154, 0.01))
        pub = PUBLISHED_RWKV4.get(L, {}).get(d)
        lines.append(f"| {g} | {L} / {rs[0]['num_pairs']} | {d} | {max(r['examples'] for r in rs):,} | {accs} | "
                     f"{max(by_lr.values()):.3f} | {pub if pub is not None else '–'} | {1 / rs[0]['num_pairs']:.3f} |")
    return "\n".join(lines) + "\n"


def comparison_table(recs: list[dict], grids: tuple) -> str:
    runs = [r for r in recs if r["grid"] in grids]
    if not runs:
        return f"_no {' / '.join(grids)} runs yet_\n"
    cells = defaultdict(lambda: defaultdict(list))
    for r in runs:
        cells[(r["seq_len"], r["num_pairs"], r["variant"]["d"])][r["model"]].append(r)
    lines = ["| seq / pairs (1/N) | d | model | params | best lr | acc (mean ± sd over seeds) | n | "
             "prediction is a context value | per lr (mean) |", "|---|---|---|---|---|---|---|---|---|"]
    for (L, N, d), models in sorted(cells.items()):
        for name, rs in sorted(models.items(), key=lambda kv: (kv[0] != "rwkv4" and not kv[0].startswith("rwkv4"), kv[0])):
            lr, accs = _best_lr(rs)
            per = defaultdict(list)
            for r in rs:
                per[r["lr"]].append(r["acc"])
            per_s = ", ".join(f"{k:.1e}: {np.mean(v):.3f} (n={len(v)})" for k, v in sorted(per.items()))
            ctx = [r["pred_in_context"] for r in rs if r["lr"] == lr and "pred_in_context" in r]
            ctx_s = f"{np.mean(ctx):.3f}" if ctx else "–"
            lines.append(f"| {L} / {N} ({1 / N:.3f}) | {d} | {name} | {rs[0]['n_params']:,} | {lr:.1e} | {_ms(accs)} | "
                         f"{len(accs)} | {ctx_s} | {per_s} |")
    return "\n".join(lines) + "\n"


def distance_table(recs: list[dict], grids: tuple) -> str:
    """Accuracy by key-to-query distance, per cell and model, at the model's best lr (mean over seeds)."""
    runs = [r for r in recs if r["grid"] in grids and "acc_by_distance" in r]
    if not runs:
        return "_no runs with per-distance accuracy yet_\n"
    cells = defaultdict(lambda: defaultdict(list))
    for r in runs:
        cells[(r["seq_len"], r["num_pairs"], r["variant"]["d"])][r["model"]].append(r)
    lines = []
    for (L, N, d), models in sorted(cells.items()):
        buckets = sorted({(b["lo"], b["hi"]) for rs in models.values() for r in rs for b in r["acc_by_distance"]})
        lines += [f"seq {L} / {N} pairs, d {d} (last row: share of the answers in each bucket):", "",
                  "| model | n | " + " | ".join(f"[{lo}, {hi})" for lo, hi in buckets) + " |",
                  "|---|---|" + "---|" * len(buckets)]
        for name, rs in sorted(models.items()):
            lr, _ = _best_lr(rs)
            best = [r for r in rs if r["lr"] == lr]
            vals = []
            for lo, hi in buckets:
                xs = [b["acc"] for r in best for b in r["acc_by_distance"] if (b["lo"], b["hi"]) == (lo, hi)]
                vals.append(f"{np.mean(xs):.3f}" if xs else "–")
            lines.append(f"| {name} | {len(best)} | " + " | ".join(vals) + " |")
        r0 = next(iter(models.values()))[0]
        tot = sum(b["n"] for b in r0["acc_by_distance"])
        lines.append("| share of answers | | " + " | ".join(
            f"{next((b['n'] for b in r0['acc_by_distance'] if (b['lo'], b['hi']) == k), 0) / tot:.2f}" for k in buckets) + " |")
        lines.append("")
    return "\n".join(lines) + "\n"


def cost_table(recs: list[dict], lm: list[dict]) -> str:
    rows = defaultdict(list)
    meta = {}
    for r in recs:
        if r["grid"] in ("smoke",):
            continue
        k = (r["model"], r["variant"]["d"], r["seq_len"])
        rows[k].append(r["train_tokens_per_s"])
        meta[k] = (r["n_params"], r["state_bytes"])
    lines = ["| task | model | d | seq | training tokens/s (median, 2 threads) | params | state bytes / sequence |",
             "|---|---|---|---|---|---|---|"]
    for (m, d, L), v in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
        lines.append(f"| MQAR | {m} | {d} | {L} | {np.median(v):,.0f} | {meta[(m, d, L)][0]:,} | {meta[(m, d, L)][1]:,} |")
    for r in lm:
        lines.append(f"| LM | {r['model']} | {r['variant']['d']} | {r['setup']['ctx']} | {r['train_tokens_per_s']:,.0f} | "
                     f"{r['n_params']:,} | {r['state_bytes']:,} |")
    return "\n".join(lines) + "\n"


def lm_table(lm: list[dict]) -> str:
    if not lm:
        return "_no LM runs yet_\n"
    edges = lm[0]["setup"]["buckets"]
    heads = [f"[{a}, {b})" for a, b in zip(edges[:-1], edges[1:])]
    lines = ["| model | " + " | ".join(heads) + " | all |", "|---|" + "---|" * (len(heads) + 1)]
    base = next((r for r in lm if r["variant"]["arch"] == "rwkv4"), None)
    for r in lm:
        cells = [f"{m:.3f} ± {s:.3f}" for m, s in zip(r["bucket_bits"], r["bucket_se"])]
        lines.append(f"| {r['model']} | " + " | ".join(cells) + f" | {r['eval_bits']:.3f} |")
    if base is not None:
        lines += ["", "Difference to RWKV-4 (bits/byte, negative = RRWKV better; ± standard error of the paired "
                  "per-window difference):", "",
                  "| model | " + " | ".join(heads) + " |", "|---|" + "---|" * len(heads)]
        b = np.array(base["window_bucket_bits"])
        for r in lm:
            if r is base:
                continue
            diff = np.array(r["window_bucket_bits"]) - b
            se = diff.std(axis=0, ddof=1) / math.sqrt(len(diff))
            lines.append(f"| {r['model']} | " + " | ".join(f"{m:+.3f} ± {s:.3f}" for m, s in zip(diff.mean(0), se)) + " |")
    return "\n".join(lines) + "\n"


def plot_mqar(recs: list[dict], path: str, grids: tuple = COMPARE_GRIDS) -> bool:
    runs = [r for r in recs if r["grid"] in grids]
    if not runs:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    ds = sorted({r["variant"]["d"] for r in runs})
    fig, axes = plt.subplots(1, len(ds), figsize=(5 * len(ds), 4), squeeze=False)
    for ax, d in zip(axes[0], ds):
        models = defaultdict(lambda: defaultdict(list))
        for r in runs:
            if r["variant"]["d"] == d:
                models[r["model"]][r["seq_len"]].append(r)
        for name, by_L in sorted(models.items()):
            Ls = sorted(by_L)
            stats = [_best_lr(by_L[L])[1] for L in Ls]
            ax.errorbar(Ls, [np.mean(a) for a in stats], yerr=[np.std(a, ddof=1) if len(a) > 1 else 0 for a in stats],
                        marker="o", capsize=3, label=name)
        pub = sorted((L, v[d]) for L, v in PUBLISHED_RWKV4.items() if d in v)
        ax.plot([p[0] for p in pub], [p[1] for p in pub], "k--", alpha=0.5, label="RWKV-4, Zoology (6.4M examples)")
        ax.set_xscale("log", base=2)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("sequence length")
        ax.set_ylabel("MQAR accuracy")
        ax.set_title(f"d = {d} (CPU budget; best lr, mean ± sd over seeds)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_curves(recs: list[dict], path: str) -> bool:
    runs = [r for r in recs if r["grid"] in REPRO_GRIDS]
    if not runs:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for r in sorted(runs, key=lambda r: (r["seq_len"], r["variant"]["d"], r["lr"])):
        xs = [c["step"] * r["budget"]["batch"] for c in r["curve"]]
        ax.plot(xs, [c["acc"] for c in r["curve"]], marker=".",
                label=f"{r['grid']} L={r['seq_len']} d={r['variant']['d']} lr={r['lr']:.1e}")
    ax.set_xscale("log")
    ax.set_xlabel("training examples seen (Zoology: 6.4M)")
    ax.set_ylabel("test accuracy")
    ax.set_title("RWKV-4 on MQAR (Zoology setting): learning curves")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_lm(lm: list[dict], path: str) -> bool:
    if not lm:
        return False
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    edges = lm[0]["setup"]["buckets"]
    mids = [math.sqrt(max(a, 1) * b) for a, b in zip(edges[:-1], edges[1:])]
    base = next((r for r in lm if r["variant"]["arch"] == "rwkv4"), None)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for r in lm:
        axes[0].errorbar(mids, r["bucket_bits"], yerr=r["bucket_se"], marker="o", capsize=3, label=r["model"])
        if base is not None and r is not base:
            diff = np.array(r["window_bucket_bits"]) - np.array(base["window_bucket_bits"])
            axes[1].errorbar(mids, diff.mean(0), yerr=diff.std(0, ddof=1) / math.sqrt(len(diff)), marker="o",
                             capsize=3, label=r["model"])
    ctx = lm[0]["setup"]["ctx"]
    for ax in axes:
        ax.set_xscale("log")
        ax.axvline(ctx, color="grey", ls=":", lw=1)
        ax.set_xlabel("position in window (bytes; dotted: training context)")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("loss (bits/byte)")
    axes[0].set_title("validation loss by position (stdlib sources)")
    axes[1].axhline(0, color="k", lw=0.8)
    axes[1].set_ylabel("RRWKV − RWKV-4 (bits/byte)")
    axes[1].set_title("difference to RWKV-4 (paired, ± s.e.)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def report(results_dir: str) -> str:
    recs = load(os.path.join(results_dir, "mqar.jsonl"))
    lm = load(os.path.join(results_dir, "lm.jsonl"))
    plots = []
    if plot_curves(recs, os.path.join(results_dir, "mqar_repro_curves.png")):
        plots.append("mqar_repro_curves.png")
    if plot_mqar(recs, os.path.join(results_dir, "mqar_acc_vs_seq.png")):
        plots.append("mqar_acc_vs_seq.png")
    if plot_mqar(recs, os.path.join(results_dir, "mqar_full_acc_vs_seq.png"), grids=("full",)):
        plots.append("mqar_full_acc_vs_seq.png")
    if plot_lm(lm, os.path.join(results_dir, "lm_loss_vs_position.png")):
        plots.append("lm_loss_vs_position.png")
    parts = [
        "## RWKV-4 reproduction (Zoology setting)\n", repro_table(recs),
        "\n## MQAR: RWKV-4 vs RRWKV (no-MLP blocks, reduced grid)\n", comparison_table(recs, COMPARE_GRIDS),
        "\n### Accuracy by distance from key to query (reduced grid)\n", distance_table(recs, COMPARE_GRIDS),
        "\n## MQAR ablation (full blocks, seq 64 / 4 pairs, d 64)\n", comparison_table(recs, ("ablation",)),
        "\n### Accuracy by distance (ablation)\n", distance_table(recs, ("ablation",)),
        "\n## MQAR full grid (Zoology budget)\n", comparison_table(recs, ("full",)),
        "\n## Language modelling: loss by position (bits/byte ± s.e. over windows)\n", lm_table(lm),
        "\n## Cost\n", cost_table([r for r in recs if r["grid"] != "smoke"], lm),
        "\nPlots: " + ", ".join(plots) + "\n",
    ]
    return "\n".join(parts)
