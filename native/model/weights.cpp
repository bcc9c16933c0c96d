#include "model/weights.h"

#include <cstring>

#include "common/check.h"

namespace mv {
namespace {

float bf16_to_f32(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000 | (mant << 13);
  } else if (exp != 0) {
    u = sign | ((exp + 112) << 23) | (mant << 13);
  } else if (mant == 0) {
    u = sign;
  } else {  // subnormal: normalise
    int e = -1;
    do {
      ++e;
      mant <<= 1;
    } while ((mant & 0x400) == 0);
    u = sign | ((112 - e) << 23) | ((mant & 0x3ff) << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

Weights::Weights(const ModelSpec& spec) : spec_(spec) {
  for (const TensorRef& t : spec.tensors) refs_[t.name] = &t;
  const int64_t h = spec.hidden, q = int64_t(spec.heads) * spec.head_dim, kv = int64_t(spec.kv_heads) * spec.head_dim;
  const int64_t inter = spec.intermediate, vocab = spec.vocab;
  embed_ = load("model.embed_tokens.weight", {vocab, h});
  final_norm_ = load("model.norm.weight", {h});
  lm_head_ = spec.tie_embeddings ? embed_ : load("lm_head.weight", {vocab, h});
  for (int i = 0; i < spec.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights l{};
    l.input_norm = load(p + "input_layernorm.weight", {h});
    l.wq = load(p + "self_attn.q_proj.weight", {q, h});
    l.wk = load(p + "self_attn.k_proj.weight", {kv, h});
    l.wv = load(p + "self_attn.v_proj.weight", {kv, h});
    if (spec.attention_bias) {
      l.bq = load(p + "self_attn.q_proj.bias", {q});
      l.bk = load(p + "self_attn.k_proj.bias", {kv});
      l.bv = load(p + "self_attn.v_proj.bias", {kv});
    }
    l.wo = load(p + "self_attn.o_proj.weight", {h, q});
    l.post_norm = load(p + "post_attention_layernorm.weight", {h});
    l.w_gate = load(p + "mlp.gate_proj.weight", {inter, h});
    l.w_up = load(p + "mlp.up_proj.weight", {inter, h});
    l.w_down = load(p + "mlp.down_proj.weight", {h, inter});
    layers_.push_back(l);
  }
}

const float* Weights::load(const std::string& name, std::vector<int64_t> shape) {
  auto it = refs_.find(name);
  MV_CHECK(it != refs_.end(), "missing tensor " + name);
  const TensorRef& t = *it->second;
  MV_CHECK(t.shape == shape, t.file + ": tensor " + name + " has shape " + shape_str(t.shape) + ", expected " +
                                 shape_str(shape));
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  const size_t elem = t.dtype == Dtype::F32 ? 4 : 2;
  MV_CHECK(t.byte_length == n * elem, t.file + ": tensor " + name + " byte length does not match its shape");
  auto& file = files_[t.file];
  if (!file) file = std::make_unique<MappedFile>(t.file);
  MV_CHECK(t.offset <= file->size() && t.byte_length <= file->size() - t.offset,
           t.file + ": tensor " + name + " extends past the end of the file (truncated?)");
  const uint8_t* src = file->data() + t.offset;
  if (t.dtype == Dtype::F32 && reinterpret_cast<uintptr_t>(src) % alignof(float) == 0)
    return reinterpret_cast<const float*>(src);
  std::unique_ptr<float[]> out(new float[n]);
  if (t.dtype == Dtype::F32) {
    std::memcpy(out.get(), src, n * 4);
  } else {
    for (size_t i = 0; i < n; ++i) {
      uint16_t bits;
      std::memcpy(&bits, src + 2 * i, 2);
      out[i] = t.dtype == Dtype::BF16 ? bf16_to_f32(bits) : f16_to_f32(bits);
    }
  }
  owned_bytes_ += n * 4;
  owned_.push_back(std::move(out));
  return owned_.back().get();
}

}  // namespace mv
