// The model's tensors as the kernels read them. Weight matrices stay in their stored format in the
// memory map (f32, f16, bf16 or a ggml block format; nothing is widened or copied); the small
// vectors (norms, biases) are widened once to f32 unless already aligned f32.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/kernels.h"
#include "model/mapped_file.h"
#include "model/model_spec.h"

namespace mv {

struct LayerWeights {
  const float* input_norm;  // (hidden)
  WeightMatrix wq;          // (heads*head_dim, hidden)
  WeightMatrix wk;          // (kv_heads*head_dim, hidden)
  WeightMatrix wv;          // (kv_heads*head_dim, hidden)
  const float* bq;          // (heads*head_dim) or null
  const float* bk;          // (kv_heads*head_dim) or null
  const float* bv;          // (kv_heads*head_dim) or null
  WeightMatrix wo;          // (hidden, heads*head_dim)
  const float* post_norm;   // (hidden)
  WeightMatrix w_gate;      // (intermediate, hidden)
  WeightMatrix w_up;        // (intermediate, hidden)
  WeightMatrix w_down;      // (hidden, intermediate)
};

class Weights {
 public:
  // Maps every file, checks every tensor named by the spec (shape, dtype, byte length, bounds) and
  // resolves the per-layer views. Throws EngineError naming the file and tensor on any mismatch.
  explicit Weights(const ModelSpec& spec);

  const WeightMatrix& embed() const { return embed_; }      // (vocab, hidden)
  const float* final_norm() const { return final_norm_; }    // (hidden)
  const WeightMatrix& lm_head() const { return lm_head_; }  // (vocab, hidden)
  const LayerWeights& layer(int i) const { return layers_[i]; }
  // Reads every weight file into memory (MappedFile::populate). Slow on a cold page cache, so
  // called from the first step, which runs off the JavaScript thread and reads every weight anyway.
  void populate() const;
  // Bytes widened into owned memory (norms and biases only).
  size_t owned_bytes() const { return owned_bytes_; }

 private:
  // The one place a tensor's raw bytes are first seen: checks name, shape, dtype and byte length
  // against the file, and returns the mapped bytes.
  const uint8_t* tensor_bytes(const std::string& name, const std::vector<int64_t>& shape, const TensorRef** ref);
  WeightMatrix matrix(const std::string& name, int64_t rows, int64_t cols);
  const float* vector(const std::string& name, int64_t n);

  const ModelSpec& spec_;
  std::map<std::string, const TensorRef*> refs_;
  std::map<std::string, std::unique_ptr<MappedFile>> files_;
  std::vector<std::unique_ptr<float[]>> owned_;
  size_t owned_bytes_ = 0;
  WeightMatrix embed_;
  const float* final_norm_ = nullptr;
  WeightMatrix lm_head_;
  std::vector<LayerWeights> layers_;
};

}  // namespace mv
