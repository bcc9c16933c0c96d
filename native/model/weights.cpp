#include "model/weights.h"

#include <cstring>

#include "common/check.h"
#include "kernels/cpu/quant.h"

namespace mv {
namespace {

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
  embed_ = matrix("model.embed_tokens.weight", vocab, h);
  final_norm_ = vector("model.norm.weight", h);
  lm_head_ = spec.tie_embeddings ? embed_ : matrix("lm_head.weight", vocab, h);
  for (int i = 0; i < spec.layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights l{};
    l.input_norm = vector(p + "input_layernorm.weight", h);
    l.wq = matrix(p + "self_attn.q_proj.weight", q, h);
    l.wk = matrix(p + "self_attn.k_proj.weight", kv, h);
    l.wv = matrix(p + "self_attn.v_proj.weight", kv, h);
    if (spec.attention_bias) {
      l.bq = vector(p + "self_attn.q_proj.bias", q);
      l.bk = vector(p + "self_attn.k_proj.bias", kv);
      l.bv = vector(p + "self_attn.v_proj.bias", kv);
    }
    l.wo = matrix(p + "self_attn.o_proj.weight", h, q);
    l.post_norm = vector(p + "post_attention_layernorm.weight", h);
    l.w_gate = matrix(p + "mlp.gate_proj.weight", inter, h);
    l.w_up = matrix(p + "mlp.up_proj.weight", inter, h);
    l.w_down = matrix(p + "mlp.down_proj.weight", h, inter);
    layers_.push_back(l);
  }
}

const uint8_t* Weights::tensor_bytes(const std::string& name, const std::vector<int64_t>& shape, const TensorRef** ref) {
  auto it = refs_.find(name);
  MV_CHECK(it != refs_.end(), "missing tensor " + name);
  const TensorRef& t = *it->second;
  const std::string where = t.file + ": tensor " + name;
  MV_CHECK(t.shape == shape, where + " has shape " + shape_str(t.shape) + ", expected " + shape_str(shape));
  // Rows of the last dimension; a block format must fill each row with whole blocks.
  const size_t cols = size_t(shape.back()), rows_bytes = row_bytes(t.dtype, cols);
  MV_CHECK(rows_bytes != 0, where + ": a row of " + std::to_string(cols) + " weights is not a whole number of " +
                                dtype_name(t.dtype) + " blocks (" + std::to_string(block_elems(t.dtype)) + " weights)");
  size_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= size_t(shape[i]);
  MV_CHECK(t.byte_length == rows * rows_bytes, where + " byte length " + std::to_string(t.byte_length) +
                                                   " does not match its shape and dtype " + dtype_name(t.dtype) +
                                                   " (expected " + std::to_string(rows * rows_bytes) + ")");
  auto& file = files_[t.file];
  if (!file) file = std::make_unique<MappedFile>(t.file);
  MV_CHECK(t.offset <= file->size() && t.byte_length <= file->size() - t.offset,
           where + " extends past the end of the file (truncated?)");
  *ref = &t;
  return file->data() + t.offset;
}

WeightMatrix Weights::matrix(const std::string& name, int64_t rows, int64_t cols) {
  const TensorRef* t = nullptr;
  WeightMatrix m;
  m.data = tensor_bytes(name, {rows, cols}, &t);
  m.dtype = t->dtype;
  m.rows = size_t(rows);
  m.cols = size_t(cols);
  m.row_bytes = row_bytes(t->dtype, m.cols);
  return m;
}

const float* Weights::vector(const std::string& name, int64_t n) {
  const TensorRef* t = nullptr;
  const uint8_t* src = tensor_bytes(name, {n}, &t);
  MV_CHECK(!is_block_format(t->dtype), t->file + ": tensor " + name + " is " + dtype_name(t->dtype) +
                                           "; norms and biases must be F32, F16 or BF16");
  if (t->dtype == Dtype::F32 && reinterpret_cast<uintptr_t>(src) % alignof(float) == 0)
    return reinterpret_cast<const float*>(src);
  std::unique_ptr<float[]> out(new float[n]);
  dequantize_row_reference(t->dtype, src, size_t(n), out.get());
  owned_bytes_ += size_t(n) * 4;
  owned_.push_back(std::move(out));
  return owned_.back().get();
}

void Weights::populate() const {
  for (const auto& [path, file] : files_) file->populate();
}

}  // namespace mv
