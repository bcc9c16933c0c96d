"""
The oracle side of the engine parity test: logits of the PyTorch training model (model.py) for
one transcript under an explicit attention mask and explicit position ids, from a Hugging Face
checkpoint folder (f32 safetensors, as export_hf.py writes and the engine loads).

    /usr/bin/python3 train/parity.py MODEL_DIR IN.json OUT.bin

IN.json: {"ids": [...], "positions": [...], "mask": [[0/1 per key] per query]}.
OUT.bin: float32 little-endian logits, (len(ids), vocab_size), row-major.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import ModelConfig, Qwen2  # noqa: E402
from export_hf import load_hf_weights  # noqa: E402


def load(model_dir):
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    return load_hf_weights(Qwen2(ModelConfig.from_dict(config)), model_dir).eval()


def main():
    model_dir, in_path, out_path = sys.argv[1:4]
    with open(in_path) as f:
        spec = json.load(f)
    ids = torch.tensor([spec["ids"]])
    positions = torch.tensor([spec["positions"]])
    mask = torch.tensor([spec["mask"]], dtype=torch.bool)
    with torch.no_grad():
        logits = load(model_dir)(ids, positions, mask)[0]
    with open(out_path, "wb") as f:
        f.write(logits.to(torch.float32).contiguous().numpy().astype("<f4").tobytes())


if __name__ == "__main__":
    main()
