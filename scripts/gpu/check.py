"""
The GPU check in one run (scripts/gpu-check.sh builds gpu_driver and calls this): random
checkpoints made here, parity of every scenario on each, speed on the Qwen2.5-shaped models,
and a markdown report.

    python3 scripts/gpu/check.py --driver build-gpu/gpu_driver --out OUT_DIR [--dry-run]

--dry-run: CPU backend, tiny models, no transformers: the whole path minus the GPU, for a
machine without one.
"""
import argparse
import json
import os
import sys
import time
import traceback

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoints  # noqa: E402
import engine_parity  # noqa: E402
import speed  # noqa: E402

TINY = ["tiny-qwen2-f32", "tiny-llama-f32", "tiny-qwen2-bf16"]
FULL = TINY + ["qwen2.5-0.5b-shape-bf16", "llama-1b-width-bf16", "qwen2.5-1.5b-shape-bf16"]


def log(msg, t0):
    print(f"[{time.time() - t0:6.1f}s] {msg}", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default="/tmp/multiverse-gpu-check")
    ap.add_argument("--dry-run", action="store_true")
    args = ap.parse_args()
    t0 = time.time()
    dry = args.dry_run
    engine_device, torch_device = ("cpu", "cpu") if dry else ("cuda", "cuda")
    torch.backends.cuda.matmul.allow_tf32 = False  # the oracle stays f32
    os.makedirs(args.out, exist_ok=True)
    results = {"mode": "dry-run (CPU backend)" if dry else "cuda", "parity": [], "errors": [], "speed": {}}
    if not dry:
        results["gpu"] = torch.cuda.get_device_name(0)

    for name in TINY if dry else FULL:
        model_dir = os.path.join(args.work, name)
        try:
            checkpoints.make(name, model_dir, device=torch_device)
            log(f"made {name}", t0)
            rows = engine_parity.check(args.driver, model_dir, os.path.join(args.work, "parity-" + name), engine_device,
                                torch_device)
            results["parity"] += rows
            log(f"parity {name}: " + ", ".join(f"{r['scenario']} {r['rel_error']:.1e}" for r in rows), t0)
        except Exception:  # one model's failure is reported, the others still run
            results["errors"].append(f"{name}: {traceback.format_exc()}")
            log(f"FAILED {name}", t0)

    bench_models = ["tiny-qwen2-bf16"] if dry else ["qwen2.5-0.5b-shape-bf16", "qwen2.5-1.5b-shape-bf16"]
    if not dry:
        results["copy_bandwidth"] = speed.copy_bandwidth()
    for name in bench_models:
        model_dir = os.path.join(args.work, name)
        try:
            entry = {"engine": speed.engine_bench(args.driver, model_dir, os.path.join(args.work, "bench-" + name),
                                                  engine_device),
                     "weight_bytes": speed.decode_weight_bytes(model_dir)}
            log(f"engine bench {name}: {entry['engine']}", t0)
            if not dry:
                entry["transformers"] = speed.transformers_speed(model_dir)
                log(f"transformers {name}: {entry['transformers']}", t0)
            results["speed"][name] = entry
        except Exception:
            results["errors"].append(f"bench {name}: {traceback.format_exc()}")
            log(f"FAILED bench {name}", t0)

    results["seconds"] = time.time() - t0
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(args.out, "report.md"), "w") as f:
        f.write(report(results))
    print(report(results))
    ok = not results["errors"] and all(r["pass"] for r in results["parity"])
    sys.exit(0 if ok else 1)


def report(r):
    out = [f"# GPU check ({r['mode']})", ""]
    if "gpu" in r:
        out += [f"Device: {r['gpu']}; device-to-device copy bandwidth {r['copy_bandwidth'] / 1e9:.0f} GB/s "
                "(bytes read + written, median of 20 copies of 2 GiB).", ""]
    out += ["## Parity vs a dense f32 PyTorch pass (train/model.py) with the same mask and positions", "",
            "| model | scenario | rows | rel. error | max abs | argmax agree | tolerance | pass | transformers f32 / bf16 vs oracle |",
            "|---|---|---|---|---|---|---|---|---|"]
    for p in r["parity"]:
        yard = "-" if not p["transformers"] else f"{p['transformers'][0]:.1e} / {p['transformers'][1]:.1e}"
        out.append(f"| {p['model']} | {p['scenario']} | {p['rows']} | {p['rel_error']:.2e} | {p['max_abs']:.2e} | "
                   f"{p['argmax_agree']:.3f} | {p['tolerance']:g} | {'yes' if p['pass'] else '**NO**'} | {yard} |")
    for name, s in r["speed"].items():
        e = s["engine"]
        out += ["", f"## Speed: {name} (engine backend {e['backend']})", "",
                f"Weights read per decode step: {s['weight_bytes'] / 1e9:.3f} GB.", ""]
        bound = r["copy_bandwidth"] / s["weight_bytes"] if "copy_bandwidth" in r else None
        out += ["| sequences | engine tok/s | per sequence | vs 1 sequence | transformers generate tok/s | engine / transformers | HBM bound (steps/s) | steps/s share of bound |",
                "|---|---|---|---|---|---|---|---|"]
        one = e["decode_tok_s"]["1"]
        for n, rate in e["decode_tok_s"].items():
            hf = s.get("transformers", {}).get("decode_tok_s", {}).get(n)
            out.append(f"| {n} | {rate:.1f} | {rate / int(n):.1f} | {rate / one:.2f}x | "
                       f"{'-' if hf is None else f'{hf:.1f}'} | {'-' if hf is None else f'{rate / hf:.2f}x'} | "
                       f"{'-' if bound is None else f'{bound:.1f}'} | "
                       f"{'-' if bound is None else f'{rate / int(n) / bound:.0%}'} |")
        hf_prefill = s.get("transformers", {}).get("prefill_tok_s", {})
        out += ["", "| prefill tokens | engine tok/s | transformers forward tok/s |", "|---|---|---|"]
        out += [f"| {n} | {rate:.0f} | {hf_prefill[n]:.0f} |" if n in hf_prefill else f"| {n} | {rate:.0f} | - |"
                for n, rate in e["prefill_tok_s"].items()]
        out += ["", "| prefix | fork (4) | merge (4) | release | 4-child decode step |", "|---|---|---|---|---|"]
        out += [f"| {n} | {t['fork_us']:.1f} us | {t['merge_us']:.1f} us | {t['release_us']:.1f} us | {t['child_step_ms']:.2f} ms |"
                for n, t in e["fork_merge"].items()]
    out += criteria(r)
    if r["errors"]:
        out += ["", "## Errors", ""] + ["```\n" + e + "```" for e in r["errors"]]
    out += ["", f"Total {r['seconds']:.0f} s.", ""]
    return "\n".join(out)


def criteria(r):
    """Issue 13's must-shows, computed from this run (1.5B-shaped bf16 model)."""
    s = r["speed"].get("qwen2.5-1.5b-shape-bf16")
    if not s or "copy_bandwidth" not in r:
        return []
    e, hf = s["engine"], s.get("transformers", {}).get("decode_tok_s", {})
    one, four = e["decode_tok_s"]["1"], e["decode_tok_s"]["4"]
    bound = r["copy_bandwidth"] / s["weight_bytes"]
    fm = e["fork_merge"]
    small, large = fm["1024"], fm["32768"]
    meta = lambda t: t["fork_us"] + t["merge_us"] + t["release_us"]  # noqa: E731
    rows = [
        ("decode x1 >= 50% of the HBM bound (goal 70%)", f"{one / bound:.0%}", one / bound >= 0.5),
        ("decode x1 >= 2x transformers generate", f"{one / hf['1']:.2f}x" if "1" in hf else "-", "1" in hf and one >= 2 * hf["1"]),
        ("decode x4 >= 3.2x the tokens/s of x1", f"{four / one:.2f}x", four >= 3.2 * one),
        ("fork+merge+release at 32k within 2x of 1k", f"{meta(large):.1f} us vs {meta(small):.1f} us", meta(large) <= 2 * meta(small)),
    ]
    return ["", "## Issue 13 criteria (1.5B-shaped bf16)", "", "| criterion | measured | met |", "|---|---|---|"] + [
        f"| {c} | {m} | {'yes' if ok else '**no**'} |" for c, m, ok in rows]


if __name__ == "__main__":
    main()
