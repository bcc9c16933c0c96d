#include "engine/cuda_backend.h"
#include "kernels/cpu/quant.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <vector>

#include "common/check.h"
#include "kernels/cuda/kernels.h"
#include "model/mapped_file.h"

namespace mv {
namespace {

void check(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    cudaGetLastError();  // clear a non-sticky error so the next request starts clean
    throw EngineError(std::string("CUDA error in ") + what + ": " + cudaGetErrorName(e) + " (" +
                      cudaGetErrorString(e) + ")");
  }
}
#define MV_CUDA(call) check((call), #call)

// One device allocation that grows on demand (scratch) or is sized once (weights, KV).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  void* ensure(size_t bytes) {
    if (bytes > bytes_) {
      if (ptr_) cudaFree(ptr_);
      ptr_ = nullptr;
      bytes_ = 0;
      MV_CUDA(cudaMalloc(&ptr_, bytes));
      bytes_ = bytes;
    }
    return ptr_;
  }
  template <class T>
  T* as() const { return static_cast<T*>(ptr_); }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

size_t dtype_bytes(Dtype d) { return d == Dtype::F32 ? 4 : 2; }

cuda::WeightType weight_type(Dtype d) {
  return d == Dtype::F32 ? cuda::WeightType::F32 : d == Dtype::F16 ? cuda::WeightType::F16 : cuda::WeightType::BF16;
}

float widen(const uint8_t* p, Dtype d) {
  if (d == Dtype::F32) {
    float f;
    std::memcpy(&f, p, 4);
    return f;
  }
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  if (d == Dtype::BF16) return __bfloat162float(__nv_bfloat16_raw{bits});
  return __half2float(__half_raw{bits});
}

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

// Reads the spec's tensors straight from their memory-mapped files and uploads them: matrices in
// their own dtype (several stacked into one when a step multiplies them by the same input),
// vectors (norms, biases) widened to f32.
class Uploader {
 public:
  explicit Uploader(const ModelSpec& spec) {
    MV_CHECK(!spec.rope_interleaved, "the CUDA backend has NeoX RoPE only; llama-architecture GGUF files (interleaved RoPE) run on device 'cpu'");
    for (const TensorRef& t : spec.tensors) {
      // Block formats (GGUF Q8_0, Q4_0, Q4_K, Q6_K) have no CUDA kernels yet: refuse by name, never misread.
      MV_CHECK(t.dtype == Dtype::F32 || t.dtype == Dtype::F16 || t.dtype == Dtype::BF16,
               t.file + ": tensor " + t.name + " is " + dtype_name(t.dtype) +
                   "; the CUDA backend loads F32, F16 and BF16 weights (use device 'cpu' for block formats)");
      refs_[t.name] = &t;
    }
  }

  // Rows of the named (rows_i, cols) tensors stacked into one device matrix; all share one dtype.
  cuda::DeviceMatrix matrix(const std::vector<std::string>& names, const std::vector<int64_t>& rows, int64_t cols,
                            std::vector<std::unique_ptr<DeviceBuffer>>* owned) {
    int64_t total = 0;
    for (int64_t r : rows) total += r;
    const Dtype dtype = ref(names[0]).dtype;
    auto buf = std::make_unique<DeviceBuffer>();
    uint8_t* dst = static_cast<uint8_t*>(buf->ensure(size_t(total) * cols * dtype_bytes(dtype)));
    for (size_t i = 0; i < names.size(); ++i) {
      const TensorRef& t = ref(names[i]);
      MV_CHECK(t.dtype == dtype, t.file + ": tensor " + names[i] + " differs in dtype from " + names[0] +
                                     " (the CUDA backend multiplies them as one matrix)");
      const uint8_t* src = bytes(names[i], {rows[i], cols});
      MV_CUDA(cudaMemcpy(dst, src, t.byte_length, cudaMemcpyHostToDevice));
      dst += t.byte_length;
    }
    cuda::DeviceMatrix m{buf->as<void>(), weight_type(dtype), int(total), int(cols)};
    owned->push_back(std::move(buf));
    return m;
  }

  // The named vectors concatenated and widened to f32.
  float* vector(const std::vector<std::string>& names, const std::vector<int64_t>& lengths,
                std::vector<std::unique_ptr<DeviceBuffer>>* owned) {
    std::vector<float> host;
    for (size_t i = 0; i < names.size(); ++i) {
      const uint8_t* src = bytes(names[i], {lengths[i]});
      const Dtype d = ref(names[i]).dtype;
      for (int64_t j = 0; j < lengths[i]; ++j) host.push_back(widen(src + j * dtype_bytes(d), d));
    }
    auto buf = std::make_unique<DeviceBuffer>();
    float* dst = static_cast<float*>(buf->ensure(host.size() * sizeof(float)));
    MV_CUDA(cudaMemcpy(dst, host.data(), host.size() * sizeof(float), cudaMemcpyHostToDevice));
    owned->push_back(std::move(buf));
    return dst;
  }

 private:
  const TensorRef& ref(const std::string& name) const {
    auto it = refs_.find(name);
    MV_CHECK(it != refs_.end(), "missing tensor " + name);
    return *it->second;
  }

  // The tensor's bytes in its mapped file, after checking shape, length and bounds.
  const uint8_t* bytes(const std::string& name, const std::vector<int64_t>& shape) {
    const TensorRef& t = ref(name);
    MV_CHECK(t.shape == shape, t.file + ": tensor " + name + " has shape " + shape_str(t.shape) + ", expected " +
                                   shape_str(shape));
    size_t n = 1;
    for (int64_t d : shape) n *= size_t(d);
    MV_CHECK(t.byte_length == n * dtype_bytes(t.dtype),
             t.file + ": tensor " + name + " byte length does not match its shape");
    auto& file = files_[t.file];
    if (!file) file = std::make_unique<MappedFile>(t.file);
    MV_CHECK(t.offset <= file->size() && t.byte_length <= file->size() - t.offset,
             t.file + ": tensor " + name + " extends past the end of the file (truncated?)");
    return file->data() + t.offset;
  }

  std::map<std::string, const TensorRef*> refs_;
  std::map<std::string, std::unique_ptr<MappedFile>> files_;
};

struct DeviceLayer {
  float* input_norm;
  float* post_norm;
  float* qkv_bias;  // null without attention bias
  cuda::DeviceMatrix qkv;      // (q + 2 kv, hidden): q, k, v projections stacked
  cuda::DeviceMatrix o;        // (hidden, q)
  cuda::DeviceMatrix gate_up;  // (2 inter, hidden): gate then up
  cuda::DeviceMatrix down;     // (hidden, inter)
};

class CudaBackend : public Backend {
 public:
  CudaBackend(const ModelSpec& spec, KvPool& kv) : s_(spec), kv_shape_(kv.shape()) {
    MV_CHECK(spec.head_dim <= 256, "the CUDA backend supports head_dim up to 256");
    int device = 0;
    MV_CUDA(cudaGetDevice(&device));
    cudaDeviceProp prop{};
    MV_CUDA(cudaGetDeviceProperties(&prop, device));
    name_ = std::string("cuda-sm") + std::to_string(prop.major) + std::to_string(prop.minor);
    multiprocessors_ = prop.multiProcessorCount;
    upload(spec);
    const size_t kv_floats = size_t(kv_shape_.layers) * kv_shape_.slots * kv_shape_.kv_dim;
    // Zeroed so that a slot read before it is written (never, by the engine's contract) is finite.
    MV_CUDA(cudaMemset(k_cache_.ensure(kv_floats * sizeof(float)), 0, kv_floats * sizeof(float)));
    MV_CUDA(cudaMemset(v_cache_.ensure(kv_floats * sizeof(float)), 0, kv_floats * sizeof(float)));
    // The uploads and memsets ran on the legacy stream, which the step's non-blocking stream does
    // not wait for: finish them here.
    MV_CUDA(cudaDeviceSynchronize());
    MV_CUDA(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));  // last: nothing after it throws
  }

  ~CudaBackend() override {
    if (stream_) cudaStreamDestroy(stream_);
  }

  std::string name() const override { return name_; }

  void step(const std::vector<StepInput>& batch, LogitsRows* logits) override {
    const int h = s_.hidden, qd = s_.heads * s_.head_dim, kvd = s_.kv_heads * s_.head_dim;
    const int inter = s_.intermediate, qkv_dim = qd + 2 * kvd;
    const Meta m = upload_meta(batch);
    const int T = m.tokens;
    MV_CHECK(T <= 65535, "the CUDA backend takes at most 65535 tokens in one step");  // attention's grid.z
    float* x = x_.as<float>();
    float* xn = xn_.as<float>();
    float* qkv = qkv_.as<float>();
    float* att = att_.as<float>();
    float* gu = gu_.as<float>();
    float* act = act_.as<float>();
    void* conv = conv_.as<void>();
    const int chunks = cuda::attention_chunks(T, s_.heads, m.attention.max_context, multiprocessors_);
    float* part = static_cast<float*>(
        part_.ensure(cuda::attention_scratch_floats(T, s_.heads, s_.head_dim, chunks) * sizeof(float)));
    const size_t layer_floats = size_t(kv_shape_.slots) * kvd;

    cuda::embed_rows(embed_, m.tokens_dev, T, x, stream_);
    for (int l = 0; l < s_.layers; ++l) {
      const DeviceLayer& w = layers_[l];
      float* k_layer = k_cache_.as<float>() + l * layer_floats;
      float* v_layer = v_cache_.as<float>() + l * layer_floats;
      cuda::rms_norm(x, nullptr, T, h, w.input_norm, s_.rms_eps, xn, stream_);
      cuda::matmul(xn, T, w.qkv, w.qkv_bias, qkv, false, conv, stream_);
      // q and k heads sit side by side in each row: one RoPE pass covers both.
      cuda::rope(qkv, T, qkv_dim, s_.heads + s_.kv_heads, s_.head_dim, m.positions_dev, inv_freq_.as<double>(),
                 stream_);
      // New keys and values go into their slots before attention, so a token sees itself.
      cuda::store_kv(qkv + qd, qkv + qd + kvd, qkv_dim, T, m.new_slots_dev, kvd, k_layer, v_layer, stream_);
      cuda::attention(qkv, qkv_dim, k_layer, v_layer, m.attention, s_.heads, s_.kv_heads, s_.head_dim, chunks, part,
                      att, stream_);
      cuda::matmul(att, T, w.o, nullptr, x, true, conv, stream_);
      cuda::rms_norm(x, nullptr, T, h, w.post_norm, s_.rms_eps, xn, stream_);
      cuda::matmul(xn, T, w.gate_up, nullptr, gu, false, conv, stream_);
      cuda::silu_mul(gu, T, inter, act, stream_);
      cuda::matmul(act, T, w.down, nullptr, x, true, conv, stream_);
    }
    // Only the rows asked for pay for the final norm and the vocabulary projection.
    // No fill: the copy below writes every element (the vector may be a recycled buffer, addon/logits_recycler.h).
    logits->resize(size_t(m.rows) * s_.vocab);
    if (m.rows > 0) {
      cuda::rms_norm(x, m.picked_dev, m.rows, h, final_norm_, s_.rms_eps, xn, stream_);
      float* out = static_cast<float*>(logits_.ensure(logits->size() * sizeof(float)));
      cuda::matmul(xn, m.rows, lm_head_, nullptr, out, false, conv, stream_);
      MV_CUDA(cudaGetLastError());
      MV_CUDA(cudaMemcpyAsync(logits->data(), out, logits->size() * sizeof(float), cudaMemcpyDeviceToHost, stream_));
    }
    MV_CUDA(cudaGetLastError());
    MV_CUDA(cudaStreamSynchronize(stream_));
  }

 private:
  // The step's per-token tables on the device (one copy), and the scratch sized for it.
  struct Meta {
    int tokens = 0, rows = 0;
    const int32_t* tokens_dev = nullptr;
    const int32_t* positions_dev = nullptr;
    const int32_t* new_slots_dev = nullptr;
    const int32_t* picked_dev = nullptr;  // (rows) which token rows want logits
    cuda::AttentionBatch attention;
  };

  Meta upload_meta(const std::vector<StepInput>& batch) {
    std::vector<int32_t> tokens, positions, new_slots, begin, context, picked, slot_list;
    int max_context = 0;
    for (const StepInput& s : batch) {
      const int n = int(s.tokens.size()), before = int(s.slots.size()) - n;
      const int list_begin = int(slot_list.size()), first = int(tokens.size());
      slot_list.insert(slot_list.end(), s.slots.begin(), s.slots.end());
      for (int j = 0; j < n; ++j) {
        tokens.push_back(s.tokens[j]);
        positions.push_back(s.positions[j]);
        new_slots.push_back(s.slots[before + j]);
        begin.push_back(list_begin);
        context.push_back(before + j + 1);
      }
      max_context = std::max(max_context, int(s.slots.size()));
      if (s.logits == LogitsMode::All)
        for (int j = 0; j < n; ++j) picked.push_back(first + j);
      else if (s.logits == LogitsMode::Last && n > 0)
        picked.push_back(first + n - 1);
    }
    const int T = int(tokens.size());
    std::vector<int32_t> host;
    std::vector<size_t> at;
    for (const std::vector<int32_t>* part : {&tokens, &positions, &new_slots, &begin, &context, &picked, &slot_list}) {
      at.push_back(host.size());
      host.insert(host.end(), part->begin(), part->end());
    }
    int32_t* dev = static_cast<int32_t*>(meta_.ensure(std::max<size_t>(1, host.size()) * sizeof(int32_t)));
    MV_CUDA(cudaMemcpyAsync(dev, host.data(), host.size() * sizeof(int32_t), cudaMemcpyHostToDevice, stream_));

    const size_t h = s_.hidden, qd = size_t(s_.heads) * s_.head_dim, kvd = size_t(s_.kv_heads) * s_.head_dim;
    const size_t inter = s_.intermediate, widest_in = std::max({h, qd, inter});
    x_.ensure(T * h * sizeof(float));
    xn_.ensure(T * h * sizeof(float));
    qkv_.ensure(T * (qd + 2 * kvd) * sizeof(float));
    att_.ensure(T * qd * sizeof(float));
    gu_.ensure(T * 2 * inter * sizeof(float));
    act_.ensure(T * inter * sizeof(float));
    conv_.ensure(cuda::matmul_scratch_bytes(T, int(widest_in)));

    Meta m;
    m.tokens = T;
    m.rows = int(picked.size());
    m.tokens_dev = dev + at[0];
    m.positions_dev = dev + at[1];
    m.new_slots_dev = dev + at[2];
    m.attention = cuda::AttentionBatch{T, dev + at[3], dev + at[4], dev + at[6], max_context};
    m.picked_dev = dev + at[5];
    // The copy above reads `host` synchronously (pageable memory), so it may go out of scope now.
    return m;
  }

  void upload(const ModelSpec& spec) {
    Uploader up(spec);
    const int64_t h = spec.hidden, q = int64_t(spec.heads) * spec.head_dim, kv = int64_t(spec.kv_heads) * spec.head_dim;
    const int64_t inter = spec.intermediate, vocab = spec.vocab;
    embed_ = up.matrix({"model.embed_tokens.weight"}, {vocab}, h, &owned_);
    final_norm_ = up.vector({"model.norm.weight"}, {h}, &owned_);
    lm_head_ = spec.tie_embeddings ? embed_ : up.matrix({"lm_head.weight"}, {vocab}, h, &owned_);
    for (int i = 0; i < spec.layers; ++i) {
      const std::string p = "model.layers." + std::to_string(i) + ".";
      DeviceLayer l{};
      l.input_norm = up.vector({p + "input_layernorm.weight"}, {h}, &owned_);
      l.post_norm = up.vector({p + "post_attention_layernorm.weight"}, {h}, &owned_);
      l.qkv = up.matrix({p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight"},
                        {q, kv, kv}, h, &owned_);
      if (spec.attention_bias)
        l.qkv_bias = up.vector({p + "self_attn.q_proj.bias", p + "self_attn.k_proj.bias", p + "self_attn.v_proj.bias"},
                               {q, kv, kv}, &owned_);
      l.o = up.matrix({p + "self_attn.o_proj.weight"}, {h}, q, &owned_);
      l.gate_up = up.matrix({p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight"}, {inter, inter}, h, &owned_);
      l.down = up.matrix({p + "mlp.down_proj.weight"}, {h}, inter, &owned_);
      layers_.push_back(l);
    }
    std::vector<double> inv_freq;
    for (int j = 0; j < spec.head_dim / 2; ++j)
      inv_freq.push_back(std::pow(double(spec.rope_theta), -2.0 * j / spec.head_dim));
    MV_CUDA(cudaMemcpy(inv_freq_.ensure(inv_freq.size() * sizeof(double)), inv_freq.data(),
                       inv_freq.size() * sizeof(double), cudaMemcpyHostToDevice));
  }

  const ModelSpec& s_;
  const KvShape kv_shape_;
  std::string name_;
  int multiprocessors_ = 1;
  cudaStream_t stream_ = nullptr;
  std::vector<std::unique_ptr<DeviceBuffer>> owned_;  // weights
  cuda::DeviceMatrix embed_, lm_head_;
  float* final_norm_ = nullptr;
  std::vector<DeviceLayer> layers_;
  DeviceBuffer inv_freq_, k_cache_, v_cache_;
  DeviceBuffer meta_, x_, xn_, qkv_, att_, gu_, act_, conv_, part_, logits_;
};

}  // namespace

bool cuda_usable(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    *why = std::string("CUDA_UNAVAILABLE: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
    return false;
  }
  if (count == 0) {
    *why = "CUDA_UNAVAILABLE: no CUDA device";
    return false;
  }
  int major = 0;
  if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0) != cudaSuccess || major < 8) {
    cudaGetLastError();
    *why = "CUDA_UNAVAILABLE: the CUDA backend needs compute capability 8.0 or newer";
    return false;
  }
  return true;
}

std::unique_ptr<Backend> make_cuda_backend(const ModelSpec& spec, KvPool& kv) {
  std::string why;
  MV_CHECK(cuda_usable(&why), why);
  return std::make_unique<CudaBackend>(spec, kv);
}

}  // namespace mv
