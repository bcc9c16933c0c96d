"""
Random-weight checkpoints in Hugging Face layout (config.json + model.safetensors) for the GPU
check, made where they are used so that no multi-GB file travels: Qwen2 shapes (with q/k/v biases,
tied embeddings) and a Llama shape (no biases, separate lm_head), in f32 or bf16. The weights are
the training model's own init (train/model.py, std 0.02) with norms and biases perturbed, so a
kernel that drops a norm weight or a bias changes the logits.
"""
import contextlib
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "train"))
from model import ModelConfig, Qwen2  # noqa: E402
from export_hf import write_safetensors  # noqa: E402

# name: (architecture, dtype, ModelConfig fields)
SHAPES = {
    "tiny-qwen2-f32": ("qwen2", torch.float32, dict(vocab_size=512, hidden_size=64, intermediate_size=160,
                                                    num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)),
    "tiny-llama-f32": ("llama", torch.float32, dict(vocab_size=384, hidden_size=96, intermediate_size=200,
                                                    num_hidden_layers=2, num_attention_heads=6, num_key_value_heads=3,
                                                    tie_word_embeddings=False)),
    "tiny-qwen2-bf16": ("qwen2", torch.bfloat16, dict(vocab_size=512, hidden_size=128, intermediate_size=320,
                                                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)),
    "qwen2.5-0.5b-shape-bf16": ("qwen2", torch.bfloat16, dict(vocab_size=151936, hidden_size=896, intermediate_size=4864,
                                                              num_hidden_layers=24, num_attention_heads=14,
                                                              num_key_value_heads=2, rope_theta=1e6)),
    "qwen2.5-1.5b-shape-bf16": ("qwen2", torch.bfloat16, dict(vocab_size=151936, hidden_size=1536, intermediate_size=8960,
                                                              num_hidden_layers=28, num_attention_heads=12,
                                                              num_key_value_heads=2, rope_theta=1e6)),
    # TinyLlama-1.1B's widths with 6 of its 22 layers: the Llama path at real sizes, in less time.
    "llama-1b-width-bf16": ("llama", torch.bfloat16, dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632,
                                                          num_hidden_layers=6, num_attention_heads=32,
                                                          num_key_value_heads=4, tie_word_embeddings=False)),
}

SAFETENSORS_DTYPES = {"F32": torch.float32, "BF16": torch.bfloat16, "F16": torch.float16}


def make(name, out_dir, device="cpu", seed=0):
    """Writes the checkpoint `name` (a key of SHAPES) into out_dir; returns out_dir."""
    arch, dtype, fields = SHAPES[name]
    cfg = ModelConfig(max_position_embeddings=65536, **fields)
    torch.manual_seed(seed)
    # Initialised where it runs: a 1.5B model's init on the GPU takes a fraction of the CPU's time.
    with torch.device(device) if device != "cpu" else contextlib.nullcontext():
        model = Qwen2(cfg)
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.add_(0.1 * torch.randn_like(p))
            elif pname.endswith(".bias"):
                p.copy_(0.1 * torch.randn_like(p))
    state = {k: v.to(dtype) for k, v in model.state_dict().items()}
    if cfg.tie_word_embeddings:
        del state["lm_head.weight"]
    if arch == "llama":
        state = {k: v for k, v in state.items() if not k.endswith(".bias")}
    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, "model.safetensors"), state)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(hf_config(arch, cfg, dtype), f, indent=2)
    return out_dir


def hf_config(arch, cfg, dtype):
    out = {
        "architectures": ["Qwen2ForCausalLM" if arch == "qwen2" else "LlamaForCausalLM"],
        "model_type": arch,
        "hidden_act": "silu",
        "hidden_size": cfg.hidden_size,
        "intermediate_size": cfg.intermediate_size,
        "max_position_embeddings": cfg.max_position_embeddings,
        "num_attention_heads": cfg.num_attention_heads,
        "num_hidden_layers": cfg.num_hidden_layers,
        "num_key_value_heads": cfg.num_key_value_heads,
        "rms_norm_eps": cfg.rms_norm_eps,
        "rope_theta": cfg.rope_theta,
        "tie_word_embeddings": cfg.tie_word_embeddings,
        "torch_dtype": "bfloat16" if dtype == torch.bfloat16 else "float32",
        "vocab_size": cfg.vocab_size,
        "bos_token_id": 0,
        "eos_token_id": 1,
    }
    if arch == "llama":
        out.update(attention_bias=False, mlp_bias=False)
    return out


def read_header(path):
    """(header dict without __metadata__, byte offset where the data starts)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    return header, 8 + n


def read_tensors(path):
    """name -> f32 tensor, from an F32, BF16 or F16 safetensors file."""
    header, start = read_header(path)
    with open(path, "rb") as f:
        f.seek(start)
        data = bytearray(f.read())
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        dtype = SAFETENSORS_DTYPES[h["dtype"]]
        raw = torch.frombuffer(memoryview(data)[a:b], dtype=torch.int16 if dtype != torch.float32 else torch.float32)
        t = raw.view(dtype) if dtype != torch.float32 else raw
        out[name] = t.reshape(h["shape"]).float()
    return out


def load_reference(model_dir, device="cpu"):
    """The checkpoint as the training model in f32: the oracle (Llama = Qwen2 with zero biases)."""
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    with torch.device(device) if device != "cpu" else contextlib.nullcontext():
        model = Qwen2(ModelConfig.from_dict(config))
    state = read_tensors(os.path.join(model_dir, "model.safetensors"))
    missing, unexpected = model.load_state_dict(state, strict=False)
    allowed = {k for k in missing if k.endswith(".bias")} if config["model_type"] == "llama" else set()
    if config["tie_word_embeddings"]:
        allowed.add("lm_head.weight")
    if set(missing) - allowed or unexpected:
        raise SystemExit(f"{model_dir}: missing {sorted(set(missing) - allowed)}, unexpected {sorted(unexpected)}")
    with torch.no_grad():
        for k in allowed:
            if k.endswith(".bias"):
                model.get_parameter(k).zero_()
    return model.to(device).eval()
