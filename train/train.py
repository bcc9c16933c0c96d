"""
Trains a small Qwen2 on the arithmetic task's JSONL export, with the Multiverse mask and position
ids taken from the data (a sequential export trains the autoregressive twin the same way), then
writes a Hugging Face checkpoint.

    /usr/bin/python3 train/train.py --data_dir=train/out/data --format=multiverse --out_dir=train/out/mv

Every CONFIG key can be overridden as --key=value (nanoGPT style). See train/README.md.
"""
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from allocator import keep_freed_memory  # noqa: E402
from data import Batches, read_jsonl  # noqa: E402
from decode import Decoder, exact_match  # noqa: E402
from export_hf import export_hf, load_hf_weights  # noqa: E402
from model import ModelConfig, Qwen2  # noqa: E402
from tokenizer_lite import TokenizerLite  # noqa: E402

CONFIG = dict(
    data_dir="train/out/data",
    format="multiverse",  # or "sequential": the subfolder of data_dir to train on
    out_dir="train/out/mv",
    hf_dir="",  # where the final HF checkpoint goes; default out_dir/hf
    init_from="",  # weights to start from (training further): a ckpt.pt or a Hugging Face folder; empty: random init
    # Continue an interrupted run exactly where its out_dir/state.pt left it (weights, optimizer, step,
    # data order, random state), so a long CPU run can stop and go on and still follow one schedule.
    resume=False,
    state_interval=100,  # steps between state.pt saves (0: never)
    stop_at_step=0,  # > 0: save state.pt and stop when this step is reached (a long run in sittings); 0: run to max_steps
    seed=1,
    threads=2,
    # model
    vocab_size=512,
    hidden_size=128,
    intermediate_size=512,
    num_hidden_layers=4,
    num_attention_heads=4,
    num_key_value_heads=2,
    tie_word_embeddings=True,
    # optimisation
    batch_tokens=8192,  # padded tokens per batch (examples of similar length batched together)
    max_steps=1400,
    # > 0: at the end of warmup, lower max_steps to what fits in this many seconds of training. The rate
    # is measured once, over the warmup: if the machine gets busier later (a second run sharing the GPU
    # finishes loading), training overruns; evaluations are not counted either.
    time_budget_s=0.0,
    lr=3e-3,
    min_lr=1e-4,
    warmup_steps=50,
    weight_decay=0.1,
    grad_clip=1.0,
    # evaluation
    eval_interval=350,
    eval_loss_batches=2,
    eval_problems=48,  # validation problems decoded greedily at each eval
    final_eval_problems=300,
    max_new_tokens=640,
    log_interval=20,
)


def parse_overrides(argv, config):
    for arg in argv:
        if not arg.startswith("--") or "=" not in arg:
            raise SystemExit(f"expected --key=value, got {arg}")
        key, value = arg[2:].split("=", 1)
        if key not in config:
            raise SystemExit(f"unknown config key {key}")
        default = config[key]
        if isinstance(default, bool):
            config[key] = value.lower() in ("1", "true", "yes")
        else:
            config[key] = type(default)(value)
    return config


def lr_at(step, c):
    """Linear warmup, then cosine decay to min_lr at max_steps."""
    if step < c["warmup_steps"]:
        return c["lr"] * (step + 1) / c["warmup_steps"]
    t = (step - c["warmup_steps"]) / max(1, c["max_steps"] - c["warmup_steps"])
    return c["min_lr"] + 0.5 * (c["lr"] - c["min_lr"]) * (1 + math.cos(math.pi * min(1.0, t)))


def fit_to_time_budget(c, step, elapsed, seconds_per_step, log):
    """Lowers max_steps so training ends within time_budget_s, at the rate of the warmup steps. Called
    once, when warmup ends, so the cosine schedule only ever sees the final max_steps; the logged
    value reproduces the run with --max_steps alone."""
    fits = step + int((c["time_budget_s"] - elapsed) / seconds_per_step)
    if fits < c["max_steps"]:
        c["max_steps"] = max(step + 1, fits)
    log(f"time budget {c['time_budget_s']:.0f}s: {seconds_per_step * 1000:.1f} ms a step, max_steps {c['max_steps']}")


def loss_of(model, batch):
    logits = model(batch["ids"], batch["positions"], batch["mask"])
    return F.cross_entropy(logits.view(-1, logits.shape[-1]), batch["targets"].view(-1), ignore_index=-100)


@torch.no_grad()
def validation_loss(model, val_batches):
    model.eval()
    losses = [loss_of(model, b).item() for b in val_batches]
    model.train()
    return sum(losses) / len(losses)


# Keys that may differ between an interrupted run and its resumption: where it runs, not what it trains.
RESUMABLE_CHANGES = {"resume", "threads", "state_interval", "stop_at_step", "log_interval"}


def save_state(path, model, opt, step, train, c):
    """Everything the next step depends on, written to a temporary file first so that a run killed
    mid-save leaves the previous state intact."""
    state = {"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "config": c,
             "batches": train.state(), "torch_rng": torch.get_rng_state(), "py_rng": random.getstate()}
    torch.save(state, path + ".tmp")
    os.replace(path + ".tmp", path)


def load_state(path, model, opt, train, c):
    """Restores a save_state file; returns the step to continue from. Refuses a state written under
    another training config, since the schedule and data order would silently change."""
    state = torch.load(path, map_location="cpu")
    changed = sorted(k for k in c if k not in RESUMABLE_CHANGES and state["config"].get(k) != c[k])
    if changed:
        raise SystemExit(f"{path} was written with other settings ({', '.join(changed)}); resume with the same ones")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    train.restore(state["batches"])
    torch.set_rng_state(state["torch_rng"])
    random.setstate(state["py_rng"])
    return state["step"]


def main():
    c = parse_overrides(sys.argv[1:], dict(CONFIG))
    if c["time_budget_s"] > 0 and c["warmup_steps"] < 2:
        raise SystemExit("time_budget_s needs warmup_steps >= 2: the step rate is measured over the warmup")
    if c["time_budget_s"] > 0 and c["resume"]:
        raise SystemExit("resume needs a fixed max_steps, not time_budget_s: the schedule must not change on the way")
    if c["final_eval_problems"] < 1 or (c["eval_interval"] > 0 and c["eval_problems"] < 1):
        raise SystemExit("final_eval_problems and eval_problems must be >= 1 (eval_interval=0 turns the periodic evaluation off)")
    torch.set_num_threads(c["threads"])
    keep_freed_memory()
    torch.manual_seed(c["seed"])
    random.seed(c["seed"])
    device = "cuda" if torch.cuda.is_available() else "cpu"
    # TF32 matrix products on NVIDIA GPUs: several times the fp32 rate, ample precision for training.
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    os.makedirs(c["out_dir"], exist_ok=True)
    log_file = open(os.path.join(c["out_dir"], "log.txt"), "a")

    def log(msg):
        print(msg, flush=True)
        log_file.write(msg + "\n")
        log_file.flush()

    with open(os.path.join(c["data_dir"], "meta.json")) as f:
        meta = json.load(f)
    val_records = read_jsonl(os.path.join(c["data_dir"], c["format"], "validation.jsonl"))
    pad_id, eos_id = meta["pad_token_id"], meta["eos_token_id"]
    train = Batches(read_jsonl(os.path.join(c["data_dir"], c["format"], "train.jsonl")), c["batch_tokens"], pad_id, c["seed"])
    val = Batches(val_records, c["batch_tokens"], pad_id, c["seed"])
    val_batches = [val.next(device) for _ in range(c["eval_loss_batches"])]

    model = Qwen2(ModelConfig.from_dict(c)).to(device)
    if os.path.isdir(c["init_from"]):
        load_hf_weights(model, c["init_from"])
    elif c["init_from"]:
        model.load_state_dict(torch.load(c["init_from"], map_location=device)["model"])
    # Matrices decay; norms and biases do not.
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": c["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
        lr=c["lr"],
        betas=(0.9, 0.95),
    )
    tok = TokenizerLite(os.path.join(c["data_dir"], "tokenizer.json"))
    decoder = Decoder(model, tok, meta["tag_ids"], eos_id, pad_id)

    def evaluate(step, n_problems):
        model.eval()
        records = val_records[:n_problems]
        correct, texts = exact_match(decoder, records, c["max_new_tokens"], device)
        model.train()
        loss = validation_loss(model, val_batches)
        acc = sum(correct) / len(records)
        by_parts = {}
        for r, ok in zip(records, correct):
            by_parts.setdefault(r["parts"], []).append(ok)
        breakdown = {n: round(sum(v) / len(v), 3) for n, v in sorted(by_parts.items())}
        log(f"step {step}: val loss {loss:.4f}, exact match {acc:.3f} on {len(records)} (by parts {breakdown})")
        log(f"  sample: {records[0]['problem']} -> {texts[0]!r}")
        return acc, loss, breakdown

    log(f"config {json.dumps(c)}")
    log(f"{model.num_params() / 1e6:.2f}M parameters, {len(train.examples)} training examples, device {device}")
    state_path = os.path.join(c["out_dir"], "state.pt")
    step = 0
    if c["resume"] and os.path.exists(state_path):
        step = load_state(state_path, model, opt, train, c)
        log(f"resumed at step {step} from {state_path}")
    started = time.time()
    first_step = step
    while step < c["max_steps"]:
        if c["stop_at_step"] > 0 and step == c["stop_at_step"]:
            save_state(state_path, model, opt, step, train, c)
            log(f"stopped at step {step}; state in {state_path} (go on with --resume=true)")
            return
        if step == first_step + 1:
            first_done = time.time()  # the first step pays one-off costs (CUDA start-up); the rate leaves it out
        if step == c["warmup_steps"] and c["time_budget_s"] > 0:
            now = time.time()
            fit_to_time_budget(c, step, now - started, (now - first_done) / (step - 1), log)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, c)
        loss = loss_of(model, train.next(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), c["grad_clip"])
        opt.step()
        if step % c["log_interval"] == 0:
            log(f"step {step}: loss {loss.item():.4f}, lr {lr_at(step, c):.2e}, epoch {train.epoch}, {time.time() - started:.0f}s")
        if c["eval_interval"] > 0 and step > 0 and step % c["eval_interval"] == 0:
            evaluate(step, c["eval_problems"])
            torch.save({"model": model.state_dict(), "config": c}, os.path.join(c["out_dir"], "ckpt.pt"))
        step += 1
        if c["state_interval"] > 0 and step % c["state_interval"] == 0 and step < c["max_steps"]:
            save_state(state_path, model, opt, step, train, c)
    train_seconds = time.time() - started
    torch.save({"model": model.state_dict(), "config": c}, os.path.join(c["out_dir"], "ckpt.pt"))
    acc, loss, breakdown = evaluate(c["max_steps"], min(c["final_eval_problems"], len(val_records)))
    hf_dir = c["hf_dir"] or os.path.join(c["out_dir"], "hf")
    export_hf(model, hf_dir, c["data_dir"], meta)
    result = {"exact_match": acc, "exact_match_by_parts": breakdown, "val_loss": round(loss, 4), "problems": min(c["final_eval_problems"], len(val_records)), "train_seconds": round(train_seconds),
              "params": model.num_params(), "steps": c["max_steps"], "format": c["format"]}
    with open(os.path.join(c["out_dir"], "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    log(f"done: {json.dumps(result)}; checkpoint in {hf_dir}")


if __name__ == "__main__":
    main()
