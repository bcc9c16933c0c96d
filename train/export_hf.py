"""
Writes a trained model as a Hugging Face Qwen2ForCausalLM checkpoint folder that the engine (and
transformers) load unchanged: model.safetensors, config.json, generation_config.json, and the
tokenizer files of the data export. Run on its own, it re-exports a training run's ckpt.pt:

    /usr/bin/python3 train/export_hf.py OUT_DIR HF_DIR     (OUT_DIR: a train.py out_dir)
 The safetensors file is written by hand (Debian has no
`safetensors` package): an 8-byte little-endian header length, a JSON header of name -> dtype,
shape and byte range, then the raw little-endian tensor bytes.
"""
import json
import os
import shutil
import struct
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import ModelConfig, Qwen2  # noqa: E402

TRANSFORMERS_VERSION = "4.45.0"
DTYPES = {torch.float32: ("F32", "float32"), torch.bfloat16: ("BF16", "bfloat16")}


def write_safetensors(path, tensors):
    """tensors: name -> CPU tensor (f32 or bf16)."""
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        # numpy has no bf16: write its bits through an int16 view.
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype][0], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    head = json.dumps(header, separators=(",", ":")).encode()
    head += b" " * (-len(head) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(head)))
        f.write(head)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    """name -> f32 tensor, from a safetensors file this module (or any f32 writer) wrote."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    out = {}
    for name, h in header.items():
        assert h["dtype"] == "F32", f"{name}: {h['dtype']}"
        start, end = h["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[start:end]), dtype=torch.float32).reshape(h["shape"])
    return out


def load_hf_weights(model, model_dir):
    """Loads a Hugging Face folder's model.safetensors into `model` (a Qwen2 of the same shape);
    a tied checkpoint has no lm_head, which the module already shares with the embedding."""
    state = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    allowed = {"lm_head.weight"} if model.cfg.tie_word_embeddings else set()
    if set(missing) - allowed or unexpected:
        raise SystemExit(f"{model_dir}: missing {sorted(set(missing) - allowed)}, unexpected {sorted(unexpected)}")
    return model


def hf_config(cfg, dtype, bos_id, eos_id):
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "attention_dropout": 0.0,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "hidden_act": "silu",
        "hidden_size": cfg.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": cfg.intermediate_size,
        "max_position_embeddings": cfg.max_position_embeddings,
        "max_window_layers": cfg.num_hidden_layers,
        "num_attention_heads": cfg.num_attention_heads,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_key_value_heads": cfg.num_key_value_heads,
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope_scaling": None,
        "rope_theta": cfg.rope_theta,
        "sliding_window": cfg.max_position_embeddings,
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "torch_dtype": DTYPES[dtype][1],
        "transformers_version": TRANSFORMERS_VERSION,
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": cfg.vocab_size,
    }


def export_hf(model, out_dir, data_dir, meta, dtype=torch.float32):
    """Writes the checkpoint folder `out_dir` for `model`, with the tokenizer files from `data_dir`."""
    os.makedirs(out_dir, exist_ok=True)
    state = {k: v.to(dtype) for k, v in model.state_dict().items()}
    if model.cfg.tie_word_embeddings:
        del state["lm_head.weight"]  # HF ties it back to model.embed_tokens.weight
    write_safetensors(os.path.join(out_dir, "model.safetensors"), state)
    bos, eos = meta["pad_token_id"], meta["eos_token_id"]
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(hf_config(model.cfg, dtype, bos, eos), f, indent=2)
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        # Greedy by default: exact arithmetic is what the model was trained for.
        gen = {"bos_token_id": bos, "do_sample": False, "eos_token_id": [eos, bos], "max_new_tokens": 512,
               "pad_token_id": bos, "temperature": 0.0, "transformers_version": TRANSFORMERS_VERSION}
        json.dump(gen, f, indent=2)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copyfile(os.path.join(data_dir, name), os.path.join(out_dir, name))


def main():
    out_dir, hf_dir = sys.argv[1:3]
    ckpt = torch.load(os.path.join(out_dir, "ckpt.pt"), map_location="cpu")
    c = ckpt["config"]
    model = Qwen2(ModelConfig.from_dict(c))
    model.load_state_dict(ckpt["model"])
    with open(os.path.join(c["data_dir"], "meta.json")) as f:
        meta = json.load(f)
    export_hf(model, hf_dir, c["data_dir"], meta)


if __name__ == "__main__":
    main()
