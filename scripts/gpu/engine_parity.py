"""
Parity of the engine (through gpu_driver, on the CUDA or CPU backend) against a dense PyTorch pass
of the training model (train/model.py, f32) over the same tokens, mask and position ids: prefill,
decode, a ragged batch, a wide batch (the tensor-core path) and a nested fork/merge transcript.
"""
import json
import os
import subprocess

import numpy as np
import torch

from checkpoints import load_reference
from engine_spec import write_spec
from transcript import Transcript

# ||engine - reference|| / ||reference|| over every row. f32: both sides are f32 arithmetic that
# differs only in summation order (~1e-6 seen on the CPU); 1e-4 leaves room for 30 layers of it.
# bf16 weights: the engine rounds activations to bf16 at the tensor-core matmuls (unit roundoff
# 2^-8 = 3.9e-3 at every layer's input); transformers' own bf16 run is reported beside it as the
# yardstick of what bf16 arithmetic costs on the same weights.
TOLERANCE = {"F32": 1e-4, "BF16": 3e-2, "F16": 1e-2}


def build(vocab, seed=0):
    g = torch.Generator().manual_seed(seed)

    def toks(n):
        return torch.randint(0, vocab, (n,), generator=g).tolist()

    t = Transcript()
    # Prefill of one sequence, then decode steps on it.
    t.create("p")
    t.step(("p", toks(40), list(range(40)), "all"))
    t.save("prefill.f32")
    for i in range(6):
        t.step(("p", toks(1), [40 + i], "last"))
    t.save("decode.f32")
    # A ragged batch: three prompts of different lengths in one step, then their decodes beside a new prompt.
    for name in ("r1", "r2", "r3", "r4"):
        t.create(name)
    t.step(("r1", toks(5), list(range(5)), "all"), ("r2", toks(17), list(range(17)), "all"),
           ("r3", toks(9), list(range(9)), "all"))
    t.step(("r1", toks(1), [5], "last"), ("r2", toks(1), [17], "last"), ("r3", toks(1), [9], "last"),
           ("r4", toks(3), [0, 1, 2], "all"))
    t.save("ragged.f32")
    # A wide batch: 12 sequences step together (more rows than the GEMV path takes).
    wide = [f"w{i}" for i in range(12)]
    for name in wide:
        t.create(name)
    t.step(*[(name, toks(3), [0, 1, 2], "last") for name in wide])
    t.step(*[(name, toks(1), [3], "last") for name in wide])
    t.save("wide.f32")
    # Nested Multiverse: a prefix forks in two paths, the second forks again, inner merge, outer merge.
    t.create("a")
    t.step(("a", toks(12), list(range(12)), "all"))
    t.fork("a", "b", "c")
    t.step(("b", toks(4), list(range(12, 16)), "all"), ("c", toks(6), list(range(12, 18)), "all"))
    t.fork("c", "d", "e")
    t.step(("d", toks(3), [18, 19, 20], "all"), ("e", toks(2), [18, 19], "all"))
    t.merge("c", ["d", "e"], "c2")
    t.step(("c2", toks(1), [21], "all"))
    t.merge("a", ["b", "c2"], "m")
    t.step(("m", toks(3), [22, 23, 24], "all"))
    t.save("multiverse.f32")
    return t


def reference_logits(model_dir, t, device):
    model = load_reference(model_dir, device)
    ids, positions, mask = t.dense()
    with torch.no_grad():
        out = model(ids[None].to(device), positions[None].to(device), mask[None].to(device))[0]
    return out.float().cpu()


def transformers_yardstick(model_dir, t, ref, device):
    """(transformers f32 vs oracle, transformers bf16 vs oracle) on the prefill rows, or None."""
    try:
        from transformers import AutoModelForCausalLM
    except ImportError:
        return None
    rows = t.saved[0][1]
    ids = torch.tensor([t.ids[i] for i in rows])[None].to(device)
    out = []
    for dtype in (torch.float32, torch.bfloat16):
        m = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=dtype).to(device).eval()
        with torch.no_grad():
            logits = m(ids).logits[0].float().cpu()
        out.append(rel_error(logits, ref[rows]))
        del m
    return tuple(out)


def rel_error(x, ref):
    return float(torch.linalg.norm((x - ref).double()) / torch.linalg.norm(ref.double()))


def check(driver, model_dir, work, engine_device, torch_device):
    """One result dict per scenario."""
    os.makedirs(work, exist_ok=True)
    spec = write_spec(model_dir, os.path.join(work, "spec.txt"))

    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    vocab = config["vocab_size"]
    t = build(vocab)
    with open(os.path.join(work, "ops.txt"), "w") as f:
        f.write(t.text())
    subprocess.run([driver, spec, engine_device, "4096", "run", os.path.join(work, "ops.txt"), work], check=True)
    ref = reference_logits(model_dir, t, torch_device)
    dtype = "BF16" if config.get("torch_dtype") == "bfloat16" else "F32"
    yard = transformers_yardstick(model_dir, t, ref, torch_device)
    results = []
    for file, rows in t.saved:
        got = torch.from_numpy(np.fromfile(os.path.join(work, file), dtype=np.float32))
        if got.numel() != len(rows) * vocab:
            raise SystemExit(f"{file}: {got.numel()} floats, expected {len(rows)} rows of {vocab}")
        got = got.reshape(len(rows), vocab)
        want = ref[rows]
        err = rel_error(got, want)
        results.append({
            "model": os.path.basename(model_dir), "scenario": file.split(".")[0], "dtype": dtype, "rows": len(rows),
            "rel_error": err, "max_abs": float((got - want).abs().max()),
            "argmax_agree": float((got.argmax(-1) == want.argmax(-1)).float().mean()),
            "tolerance": TOLERANCE[dtype], "pass": bool(torch.isfinite(got).all()) and err <= TOLERANCE[dtype],
            "transformers": yard,
        })
    return results
