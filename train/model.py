"""
A Qwen2-architecture decoder (the layout of Hugging Face's Qwen2ForCausalLM) that takes explicit
position ids and an explicit boolean attention mask, so the same forward pass trains a plain
autoregressive model (causal mask, positions 0..L-1) and a Multiverse model (DESIGN.md §1: sibling
paths hidden from each other, paths restarting at the same position).

Parameter names match the Hugging Face checkpoint (model.embed_tokens.weight, model.layers.0...),
so export is a plain state_dict walk.
"""
from dataclasses import dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ModelConfig:
    vocab_size: int = 512
    hidden_size: int = 128
    intermediate_size: int = 512
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    max_position_embeddings: int = 1024
    tie_word_embeddings: bool = True

    @classmethod
    def from_dict(cls, d):
        """The model fields of a training config (other keys are ignored)."""
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        var = x.pow(2).mean(-1, keepdim=True)
        return self.weight * (x * torch.rsqrt(var + self.eps))


# Debian's torch 1.13 (CI and the CPU recipe) has no scaled_dot_product_attention; PyTorch 2 does.
FUSED_ATTENTION = hasattr(F, "scaled_dot_product_attention")


def rope_cos_sin(positions, head_dim: int, theta: float):
    """cos/sin tables for (B, T) position ids, shaped (B, 1, T, head_dim) for broadcasting over heads."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=positions.device).float() / head_dim))
    freqs = positions.float()[..., None] * inv_freq  # (B, T, head_dim/2)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos()[:, None], emb.sin()[:, None]


# Queries per block of grouped_attention: each block scores only the keys some query of it may see.
QUERY_BLOCK = 128


def key_extents(mask, block=QUERY_BLOCK):
    """For each block of `block` queries of the boolean (B, T, Tk) mask, how many leading keys any of
    them may see: every key after that is masked for the whole block. Under a causal mask (training,
    and decoding: a token never sees one written after it) block i needs only the first (i + 1) * block
    keys, so scoring them alone skips about half of the (T, T) work."""
    T, Tk = mask.shape[1], mask.shape[2]
    seen = mask.any(dim=0)  # (T, Tk)
    last = (seen * torch.arange(1, Tk + 1, device=mask.device)).amax(dim=1)  # 0: sees nothing
    return [max(1, int(last[s:s + block].max())) for s in range(0, T, block)]


def grouped_attention(q, k, v, bias, extents):
    """Attention written for a CPU without a fused kernel: q (B, H, T, d), k and v (B, KV, Tk, d),
    bias (B, T, Tk) additive (0 or -inf), extents from key_extents. The H / KV query heads of a KV head
    share one product, so K and V are not copied per head; the scale goes on q and the mask is one add,
    so no (T, Tk) pass is spent on scaling or masking forward or backward (they were half the CPU step).
    Keys past a block's extent are -inf for all its queries, so leaving them out changes no weight."""
    B, H, T, d = q.shape
    KV = k.shape[1]
    rep = H // KV
    q = (q * d**-0.5).view(B, KV, rep, T, d)
    parts = []
    for s, n in zip(range(0, T, QUERY_BLOCK), extents):
        e = min(T, s + QUERY_BLOCK)
        qb = q[:, :, :, s:e].reshape(B, KV, rep * (e - s), d)
        scores = (qb @ k[:, :, :n].transpose(-2, -1)).view(B, KV, rep, e - s, n) + bias[:, None, None, s:e, :n]
        parts.append((F.softmax(scores, dim=-1).view(B, KV, rep * (e - s), n) @ v[:, :, :n]).view(B, KV, rep, e - s, d))
    return torch.cat(parts, dim=3).view(B, H, T, d)


def additive_mask(mask):
    """The boolean (B, T, Tk) visibility mask as the additive bias grouped_attention takes."""
    return torch.zeros(mask.shape, device=mask.device).masked_fill_(~mask, float("-inf"))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads = cfg.num_attention_heads
        self.n_kv = cfg.num_key_value_heads
        self.head_dim = cfg.hidden_size // cfg.num_attention_heads
        self.q_proj = nn.Linear(cfg.hidden_size, self.n_heads * self.head_dim, bias=True)
        self.k_proj = nn.Linear(cfg.hidden_size, self.n_kv * self.head_dim, bias=True)
        self.v_proj = nn.Linear(cfg.hidden_size, self.n_kv * self.head_dim, bias=True)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, cfg.hidden_size, bias=False)

    def forward(self, x, cos, sin, mask, cache=None):
        """mask: boolean (B, T, Tk) for the fused kernel, else (additive_mask, key_extents) of it (made
        once per forward)."""
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            # Decoding: keys and values of earlier tokens are kept (after RoPE) and extended.
            if "k" in cache:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        if FUSED_ATTENTION:
            # A fused kernel that never stores the (T, T) scores: much faster on a GPU.
            rep = self.n_heads // self.n_kv
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask[:, None])
        else:
            y = grouped_attention(q, k, v, *mask)
        return self.o_proj(y.transpose(1, 2).reshape(B, T, -1))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=False)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.self_attn = Attention(cfg)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, mask, cache=None):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache)
        return x + self.mlp(self.post_attention_layernorm(x))


class Backbone(nn.Module):
    """HF's `model.` prefix: embeddings, layers and the final norm."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_hidden_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)


class Qwen2(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.model = Backbone(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.apply(self._init)
        if cfg.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    def forward(self, ids, positions, mask, caches=None):
        """
        Logits (B, T, vocab) for token ids and position ids (B, T) under mask (B, T, T_keys):
        mask[b, q, k] says whether query q may see key k. With `caches` (one dict per layer, empty at
        first) the keys are the cached tokens followed by these ones, and the cache grows by T.
        """
        head_dim = self.cfg.hidden_size // self.cfg.num_attention_heads
        cos, sin = rope_cos_sin(positions, head_dim, self.cfg.rope_theta)
        x = self.model.embed_tokens(ids)
        if not FUSED_ATTENTION:
            mask = (additive_mask(mask), key_extents(mask))  # once for all layers
        for i, layer in enumerate(self.model.layers):
            x = layer(x, cos, sin, mask, None if caches is None else caches[i])
        return self.lm_head(self.model.norm(x))

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())
