// The model's tensors as f32 arrays: f32 data is used in place from the memory map when aligned;
// f16/bf16 (and unaligned f32) are widened once at load, exactly (every f16/bf16 value is an f32).
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/mapped_file.h"
#include "model/model_spec.h"

namespace mv {

struct LayerWeights {
  const float* input_norm;   // (hidden)
  const float* wq;           // (heads*head_dim, hidden)
  const float* wk;           // (kv_heads*head_dim, hidden)
  const float* wv;           // (kv_heads*head_dim, hidden)
  const float* bq;           // (heads*head_dim) or null
  const float* bk;           // (kv_heads*head_dim) or null
  const float* bv;           // (kv_heads*head_dim) or null
  const float* wo;           // (hidden, heads*head_dim)
  const float* post_norm;    // (hidden)
  const float* w_gate;       // (intermediate, hidden)
  const float* w_up;         // (intermediate, hidden)
  const float* w_down;       // (hidden, intermediate)
};

class Weights {
 public:
  // Maps every file, checks every tensor named by the spec (shape, dtype size, bounds) and resolves
  // the per-layer pointers. Throws EngineError naming the file and tensor on any mismatch.
  explicit Weights(const ModelSpec& spec);

  const float* embed() const { return embed_; }      // (vocab, hidden)
  const float* final_norm() const { return final_norm_; }  // (hidden)
  const float* lm_head() const { return lm_head_; }  // (vocab, hidden)
  const LayerWeights& layer(int i) const { return layers_[i]; }
  // Bytes widened into owned memory (0 for an aligned f32 checkpoint).
  size_t owned_bytes() const { return owned_bytes_; }

 private:
  const float* load(const std::string& name, std::vector<int64_t> shape);

  const ModelSpec& spec_;
  std::map<std::string, const TensorRef*> refs_;
  std::map<std::string, std::unique_ptr<MappedFile>> files_;
  std::vector<std::unique_ptr<float[]>> owned_;
  size_t owned_bytes_ = 0;
  const float* embed_ = nullptr;
  const float* final_norm_ = nullptr;
  const float* lm_head_ = nullptr;
  std::vector<LayerWeights> layers_;
};

}  // namespace mv
