"""
The spec file gpu_driver reads (native/tools/gpu_driver.cpp): the engine's model fields from
config.json, normalised as src/model/parse-config.ts does, and each tensor's byte range in
model.safetensors.
"""
import json
import os

from checkpoints import read_header


def write_spec(model_dir, path):
    with open(os.path.join(model_dir, "config.json")) as f:
        c = json.load(f)
    arch = c["model_type"]
    lines = [
        f"hidden {c['hidden_size']}",
        f"intermediate {c['intermediate_size']}",
        f"layers {c['num_hidden_layers']}",
        f"heads {c['num_attention_heads']}",
        f"kv_heads {c.get('num_key_value_heads', c['num_attention_heads'])}",
        f"head_dim {c.get('head_dim') or c['hidden_size'] // c['num_attention_heads']}",
        f"vocab {c['vocab_size']}",
        f"rope_theta {c.get('rope_theta', 10000.0)}",
        f"rms_eps {c.get('rms_norm_eps', 1e-6)}",
        f"tie_embeddings {int(bool(c.get('tie_word_embeddings', False)))}",
        f"attention_bias {int(arch == 'qwen2' or bool(c.get('attention_bias', False)))}",
    ]
    st = os.path.abspath(os.path.join(model_dir, "model.safetensors"))
    header, start = read_header(st)
    for name, h in sorted(header.items()):
        a, b = h["data_offsets"]
        dims = " ".join(str(d) for d in h["shape"])
        lines.append(f"tensor {name} {st} {start + a} {b - a} {h['dtype']} {dims}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path
