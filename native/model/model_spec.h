// What the native engine is told about a model: the normalised config (parsed and validated in
// TypeScript, src/model/parse-config.ts) and where each tensor's bytes are.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mv {

// Weight storage formats. The ggml block formats (Q8_0 ... Q6_K) store a row as whole blocks; their
// layouts are in kernels/cpu/quant.h.
enum class Dtype { F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K };

// How the KV cache stores K and V: f16 halves the bytes a long context streams per step.
enum class KvDtype { F16, F32 };

struct TensorRef {
  std::string name;
  std::string file;
  uint64_t offset = 0;
  uint64_t byte_length = 0;
  Dtype dtype = Dtype::F32;
  std::vector<int64_t> shape;
};

struct ModelSpec {
  int hidden = 0;
  int intermediate = 0;
  int layers = 0;
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  int vocab = 0;
  float rope_theta = 10000.0f;
  // RoPE rotates (j, j + head_dim/2) as Hugging Face does (NeoX), or adjacent pairs (2j, 2j+1) as
  // llama.cpp's llama-architecture GGUF files expect (their q/k rows are permuted for it).
  bool rope_interleaved = false;
  float rms_eps = 1e-6f;
  bool tie_embeddings = false;
  bool attention_bias = false;
  std::vector<TensorRef> tensors;
};

}  // namespace mv
