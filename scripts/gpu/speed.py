"""
Speed of the engine (gpu_driver bench) beside transformers' own generate on the same weights and
device, and beside the HBM bound: weight bytes one decode step must read, over the measured
device-to-device copy bandwidth.
"""
import json
import os
import subprocess
import time

import torch

from checkpoints import read_header
from engine_spec import write_spec

# 32k-token prefix for fork/merge, plus the decode runs' sequences (released before it).
BENCH_KV_SLOTS = 36000


def engine_bench(driver, model_dir, work, engine_device):
    os.makedirs(work, exist_ok=True)
    spec = write_spec(model_dir, os.path.join(work, "spec.txt"))
    out = os.path.join(work, "bench.json")
    subprocess.run([driver, spec, engine_device, str(BENCH_KV_SLOTS), "bench", out], check=True)
    with open(out) as f:
        return json.load(f)


def decode_weight_bytes(model_dir):
    """Bytes a decode step streams: every tensor, less an untied embedding table (one row is read)."""
    header, _ = read_header(os.path.join(model_dir, "model.safetensors"))
    total = sum(h["data_offsets"][1] - h["data_offsets"][0] for h in header.values())
    if "lm_head.weight" in header:
        a, b = header["model.embed_tokens.weight"]["data_offsets"]
        total -= b - a
    return total


def copy_bandwidth(gib=2, reps=20):
    """Device-to-device copy bandwidth in bytes/s (bytes read + bytes written), median of reps."""
    n = gib * (1 << 30) // 4
    src = torch.randn(n, device="cuda")
    dst = torch.empty_like(src)
    times = []
    for _ in range(reps + 2):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        dst.copy_(src)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    del src, dst
    times = sorted(times[2:])
    return 2 * n * 4 / times[len(times) // 2]


def transformers_speed(model_dir, batches=(1, 4, 16), prompt=128, new_tokens=64, prefills=(512, 2048)):
    """Tokens/s of transformers on the same weights in bf16: greedy `generate` at each batch size
    (its prefill included, as one call does) and one forward over a prompt of each prefill length."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.bfloat16).to("cuda").eval()
    vocab = model.config.vocab_size
    decode, prefill = {}, {}
    for b in batches:
        ids = torch.randint(2, vocab, (b, prompt), device="cuda")
        kwargs = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False,
                      attention_mask=torch.ones_like(ids), pad_token_id=0)
        model.generate(ids, **dict(kwargs, max_new_tokens=4, min_new_tokens=4))  # warm-up
        decode[str(b)] = b * new_tokens / timed(lambda: model.generate(ids, **kwargs))
    with torch.no_grad():
        for n in prefills:
            ids = torch.randint(2, vocab, (1, n), device="cuda")
            model(ids)  # warm-up
            prefill[str(n)] = n / sorted(timed(lambda: model(ids)) for _ in range(3))[1]
    del model
    torch.cuda.empty_cache()
    return {"decode_tok_s": decode, "prefill_tok_s": prefill}


def timed(fn):
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return time.perf_counter() - t0
