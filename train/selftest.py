"""
Checks the recipe's pieces against each other (run by smoke.sh):
1. the Python layout twin (layout.py) gives the exported positions and span chains;
2. decoding with the KV cache and per-step masks gives the logits of one full forward pass under the
   training mask, on teacher-forced Multiverse and sequential examples (the engine invariant, in
   PyTorch);
3. a written checkpoint's model.safetensors reads back to the trained weights;
4. for Countdown data, the answer checker accepts every record's reported expression and rejects it
   for another target, a number used twice, and a number not given;
5. the CPU attention, which scores each block of queries only against the keys it may see, gives
   the values and gradients of plain attention over every key under the same training mask.

    /usr/bin/python3 train/selftest.py DATA_DIR [CKPT_DIR]   (CKPT_DIR: a train.py out_dir)
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from countdown_check import solves  # noqa: E402
from data import Example, batch_mask, collate, read_jsonl, span_chains  # noqa: E402
from decode import Decoder  # noqa: E402
from export_hf import load_hf_weights, read_safetensors  # noqa: E402
from layout import IncrementalLayout  # noqa: E402
from model import QUERY_BLOCK, ModelConfig, Qwen2, additive_mask, grouped_attention, key_extents  # noqa: E402
from tokenizer_lite import TokenizerLite  # noqa: E402


def check_layout(records, tag_ids):
    for r in records:
        layout = IncrementalLayout(tag_ids)
        spans, blocks = span_chains(r)
        for i, token in enumerate(r["ids"]):
            pos, s, b = layout.push(token)
            assert pos == r["positions"][i], f"{r['problem']}: position of token {i}"
            assert s == [x for x in spans[i] if x >= 0] and b == [x for x in blocks[i] if x >= 0], f"{r['problem']}: chain of token {i}"


def check_decode_parity(records, meta, tok):
    torch.manual_seed(0)
    model = Qwen2(ModelConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2)).eval()
    decoder = Decoder(model, tok, meta["tag_ids"], meta["eos_token_id"], meta["pad_token_id"])
    rows = decoder.run([r["ids"] for r in records], max_new_tokens=1, device="cpu", keep_logits=True)
    for r, row in zip(records, rows):
        e = Example(r)
        batch = collate([e], meta["pad_token_id"])
        with torch.no_grad():
            full = model(batch["ids"], batch["positions"], batch_mask(batch))[0]
        cached = torch.stack(row.logits[: e.length])
        err = (cached - full).abs().max().item()
        assert err < 1e-4, f"{r['problem']}: cached decoding differs from the full forward by {err}"


def check_countdown_answers(records):
    for r in records:
        numbers, target, answer = r["numbers"], r["target"], r["answer"]
        assert solves(numbers, target, answer), f"{r['problem']}: {answer} rejected"
        assert not solves(numbers, target + 1, answer), f"{r['problem']}: {answer} accepted for {target + 1}"
        assert not solves(numbers, target * 2, f"({answer})*2") or 2 in numbers, f"{r['problem']}: a 2 not given accepted"
        assert not solves(numbers, numbers[0] * 3, f"{numbers[0]}+{numbers[0]}+{numbers[0]}"), f"{r['problem']}: a number used three times accepted"


def check_checkpoint(ckpt_dir):
    state = torch.load(os.path.join(ckpt_dir, "ckpt.pt"), map_location="cpu")["model"]
    written = read_safetensors(os.path.join(ckpt_dir, "hf", "model.safetensors"))
    with open(os.path.join(ckpt_dir, "hf", "config.json")) as f:
        config = json.load(f)
    expected = {k for k in state if not (config["tie_word_embeddings"] and k == "lm_head.weight")}
    assert set(written) == expected, f"tensor names differ: {sorted(set(written) ^ expected)}"
    for name, t in written.items():
        assert torch.equal(t, state[name].float()), f"{name} does not read back"
    assert config["architectures"] == ["Qwen2ForCausalLM"] and config["model_type"] == "qwen2"
    # Reading the folder back (train.py --init_from=DIR) gives the trained weights, the tied head included.
    reread = load_hf_weights(Qwen2(ModelConfig.from_dict(config)), os.path.join(ckpt_dir, "hf")).state_dict()
    for name, t in state.items():
        assert torch.equal(reread[name], t.float()), f"{name} differs after load_hf_weights"


def check_blocked_attention(records):
    """Blocked grouped attention against dense attention (every key, K/V copied per head), values and
    gradients, on a training batch's mask long enough to take several query blocks."""
    examples = [Example(r) for r in sorted(records, key=lambda r: -len(r["ids"]))[:3]]
    batch = collate(examples, 0)
    mask = batch_mask(batch)
    B, T = mask.shape[:2]
    assert T > 2 * QUERY_BLOCK, f"the longest examples ({T} tokens) do not span three query blocks"
    extents = key_extents(mask)
    assert extents[0] < T, f"the first query block scores all {T} keys: nothing is skipped"
    gen = torch.Generator().manual_seed(3)
    H, KV, d = 4, 2, 16
    q, k, v = (torch.randn(B, n, T, d, generator=gen, dtype=torch.float64, requires_grad=True) for n in (H, KV, KV))
    w = torch.randn(B, H, T, d, generator=gen, dtype=torch.float64)

    def dense():
        kk, vv = k.repeat_interleave(H // KV, 1), v.repeat_interleave(H // KV, 1)
        scores = (q @ kk.transpose(-2, -1) / d**0.5).masked_fill(~mask[:, None], float("-inf"))
        return torch.softmax(scores, -1) @ vv

    results = []
    for attend in (dense, lambda: grouped_attention(q, k, v, additive_mask(mask).double(), extents)):
        y = attend()
        grads = torch.autograd.grad((y * w).sum(), (q, k, v))
        results.append((y, *grads))
    for name, want, got in zip(("values", "dq", "dk", "dv"), *results):
        err = (want - got).abs().max().item()
        assert err < 1e-12, f"blocked attention's {name} differ from dense attention's by {err}"


def main():
    data_dir = sys.argv[1]
    with open(os.path.join(data_dir, "meta.json")) as f:
        meta = json.load(f)
    tok = TokenizerLite(os.path.join(data_dir, "tokenizer.json"))
    for fmt in ("multiverse", "sequential"):
        records = read_jsonl(os.path.join(data_dir, fmt, "validation.jsonl"))
        check_layout(records, meta["tag_ids"])
        # The longest nested example exercises the mask the most; a short one checks the plain case.
        ranked = sorted(records, key=lambda r: (r["nested"], len(r["ids"])))
        sample = [ranked[0], ranked[-1]]
        check_decode_parity(sample, meta, tok)
        if meta.get("task") == "countdown":
            check_countdown_answers(records)
        check_blocked_attention(records)
    if len(sys.argv) > 2:
        check_checkpoint(sys.argv[2])
    print("selftest ok")


if __name__ == "__main__":
    main()
