#include "addon/kernel_probe.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "addon/js_args.h"
#include "common/check.h"
#include "common/huge_buffer.h"
#include "kernels/cpu/attention.h"
#include "kernels/cpu/kernels.h"
#include "kernels/cpu/quant.h"
#include "kernels/cpu/quantized_rows.h"

namespace mv {
namespace {

const CpuKernels& kernels_arg(const Napi::Value& v) {
  MV_CHECK(v.IsString(), "kernels must be a string");
  const std::string k = v.As<Napi::String>().Utf8Value();
  if (k == "portable") return select_kernels(KernelChoice::Portable);
  if (k == "avx2") return select_kernels(KernelChoice::Avx2);
  if (k == "avx512") return select_kernels(KernelChoice::Avx512);
  MV_CHECK(k == "auto", "kernels must be 'auto', 'portable', 'avx2' or 'avx512'");
  return select_kernels(KernelChoice::Auto);
}

// The weight matrix described by arguments 1-4 (dtype, bytes, rows, cols); its bytes stay in JS.
WeightMatrix matrix_args(const Napi::CallbackInfo& info) {
  MV_CHECK(info.Length() > 2 && info[1].IsString() && info[2].IsTypedArray(), "(kernels, dtype, bytes, rows, cols, ...)");
  const std::string name = info[1].As<Napi::String>().Utf8Value();
  WeightMatrix w;
  bool known = false;
  for (Dtype d : {Dtype::F32, Dtype::F16, Dtype::BF16, Dtype::Q8_0, Dtype::Q4_0, Dtype::Q4_K, Dtype::Q6_K})
    if (name == dtype_name(d)) w.dtype = d, known = true;
  MV_CHECK(known, "unknown dtype " + name);
  const Napi::TypedArray bytes = info[2].As<Napi::TypedArray>();
  w.rows = count_arg(info, 3, "rows");
  w.cols = count_arg(info, 4, "cols");
  w.row_bytes = row_bytes(w.dtype, w.cols);
  MV_CHECK(w.row_bytes != 0, "cols is not a whole number of blocks");
  MV_CHECK(bytes.ByteLength() == w.rows * w.row_bytes, "bytes has the wrong length for rows x cols");
  w.data = static_cast<const uint8_t*>(bytes.ArrayBuffer().Data()) + bytes.ByteOffset();
  return w;
}

}  // namespace

Napi::Value KernelSets(const Napi::CallbackInfo& info) {
  std::vector<std::string> names = {"portable"};
  if (cpu_has_avx2_fma() && cpu_has_f16c()) names.push_back("avx2");
  if (cpu_has_avx512()) names.push_back("avx512");
  Napi::Array out = Napi::Array::New(info.Env(), names.size());
  for (uint32_t i = 0; i < names.size(); ++i) out.Set(i, names[i]);
  return out;
}

Napi::Value DequantizeRows(const Napi::CallbackInfo& info) {
  const CpuKernels& k = kernels_arg(info[0]);
  const WeightMatrix w = matrix_args(info);
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), w.rows * w.cols);
  k.dequantize_rows(w, 0, w.rows, out.Data());
  return out;
}

Napi::Value Matmul(const Napi::CallbackInfo& info) {
  const CpuKernels& k = kernels_arg(info[0]);
  const WeightMatrix w = matrix_args(info);
  MV_CHECK(info.Length() > 5 && info[5].IsTypedArray() &&
               info[5].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array,
           "x must be a Float32Array");
  const Napi::Float32Array x = info[5].As<Napi::Float32Array>();
  const size_t tokens = count_arg(info, 6, "tokens");
  MV_CHECK(x.ElementLength() == tokens * w.cols, "x must hold tokens x cols floats");
  Napi::Float32Array y = Napi::Float32Array::New(info.Env(), tokens * w.rows);
  MatmulInput input{x.Data(), tokens};
  QuantizedRows x8;  // the int8 path's input, by the set's own quantize_q8, as the forward pass makes it
  if (int8_path(w.dtype)) {
    x8.prepare(tokens, w.cols, &input);
    x8.quantize(k, x.Data(), 0, tokens);
  }
  k.matmul(input, w, nullptr, y.Data(), w.rows, 0, w.rows);
  return y;
}

Napi::Value Attention(const Napi::CallbackInfo& info) {
  const CpuKernels& k = kernels_arg(info[0]);
  MV_CHECK(info.Length() >= 10 && info[1].IsString() && info[2].IsTypedArray() && info[5].IsTypedArray() &&
               info[6].IsTypedArray() && info[8].IsTypedArray() && info[9].IsNumber(),
           "(kernels, kvDtype, q, nq, d, keys, values, stride, rows, scale)");
  const std::string dtype = info[1].As<Napi::String>().Utf8Value();
  MV_CHECK(dtype == "f16" || dtype == "f32", "kvDtype must be 'f16' or 'f32'");
  const KvDtype kv = dtype == "f16" ? KvDtype::F16 : KvDtype::F32;
  const size_t elem = kv == KvDtype::F16 ? 2 : 4;
  const Napi::TypedArray q = info[2].As<Napi::TypedArray>();
  MV_CHECK(q.TypedArrayType() == napi_float32_array, "q must be a Float32Array");
  const size_t nq = count_arg(info, 3, "nq"), d = count_arg(info, 4, "d"), stride = count_arg(info, 7, "stride");
  MV_CHECK(q.ElementLength() == nq * d, "q must hold nq x d floats");
  MV_CHECK(stride >= d, "stride must be at least d");
  const Napi::TypedArray keys = info[5].As<Napi::TypedArray>(), values = info[6].As<Napi::TypedArray>();
  const Napi::TypedArray rows = info[8].As<Napi::TypedArray>();
  MV_CHECK(rows.TypedArrayType() == napi_int32_array && rows.ElementLength() >= 1, "rows must be a non-empty Int32Array");
  const int32_t* r = static_cast<const int32_t*>(rows.ArrayBuffer().Data()) + rows.ByteOffset() / 4;
  const size_t n = rows.ElementLength();
  for (size_t i = 0; i < n; ++i)
    MV_CHECK(r[i] >= 0 && (size_t(r[i]) * stride + d) * elem <= std::min(keys.ByteLength(), values.ByteLength()),
             "row " + std::to_string(i) + " lies outside keys or values");
  const auto bytes = [](const Napi::TypedArray& a) { return static_cast<const uint8_t*>(a.ArrayBuffer().Data()) + a.ByteOffset(); };
  std::vector<float> scores(nq * n);
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), nq * d);
  attend(k, reinterpret_cast<const float*>(bytes(q)), nq, bytes(keys), bytes(values), kv, stride, r, n, d,
         float(info[9].As<Napi::Number>().DoubleValue()), scores.data(), out.Data());
  return out;
}

Napi::Value SiluMul(const Napi::CallbackInfo& info) {
  const CpuKernels& k = kernels_arg(info[0]);
  const auto floats = [&](size_t i, const char* what) {
    MV_CHECK(info.Length() > i && info[i].IsTypedArray() && info[i].As<Napi::TypedArray>().TypedArrayType() == napi_float32_array,
             std::string(what) + " must be a Float32Array");
    return info[i].As<Napi::Float32Array>();
  };
  const Napi::Float32Array gate = floats(1, "gate"), up = floats(2, "up");
  MV_CHECK(gate.ElementLength() == up.ElementLength(), "gate and up must have the same length");
  Napi::Float32Array out = Napi::Float32Array::New(info.Env(), gate.ElementLength());
  std::copy(gate.Data(), gate.Data() + gate.ElementLength(), out.Data());
  k.silu_mul(out.Data(), up.Data(), out.ElementLength());
  return out;
}

Napi::Value MemoryBandwidth(const Napi::CallbackInfo& info) {
  const size_t n = count_arg(info, 0, "megabytes") * (size_t(1) << 20) / 4;  // floats per array
  // On 2 MB pages, as the weights are (huge_buffer.h): first touching three 128 MiB arrays of 4 KB
  // pages took 1.1-1.4 s of each probe's 1.3-1.6, against 60 ms on 2 MB pages.
  HugeBuffer arrays[3] = {HugeBuffer(n * 4), HugeBuffer(n * 4), HugeBuffer(n * 4)};
  float* a = reinterpret_cast<float*>(arrays[0].data());
  float* b = reinterpret_cast<float*>(arrays[1].data());
  float* c = reinterpret_cast<float*>(arrays[2].data());
  std::fill(a, a + n, 1.0f);
  std::fill(b, b + n, 2.0f);
  std::fill(c, c + n, 0.5f);
  // The engine's thread count, so decode is set against what the same number of cores can stream.
  const size_t threads = info.Length() > 1 && !info[1].IsUndefined() ? count_arg(info, 1, "threads")
                                                                     : std::max(1u, std::thread::hardware_concurrency());
  // Best of five passes of `body` over every thread's share of the arrays, in seconds.
  const auto best = [&](auto body) {
    double fastest = 1e30;
    for (int pass = 0; pass < 5; ++pass) {
      const auto start = std::chrono::steady_clock::now();
      std::vector<std::thread> pool;
      for (size_t t = 0; t < threads; ++t) pool.emplace_back([&, t] { body(n * t / threads, n * (t + 1) / threads); });
      for (std::thread& th : pool) th.join();
      fastest = std::min(fastest, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    }
    return fastest;
  };
  const double copy = best([&](size_t i0, size_t i1) { std::memcpy(&a[i0], &b[i0], (i1 - i0) * 4); });
  const double triad = best([&](size_t i0, size_t i1) {
    for (size_t i = i0; i < i1; ++i) a[i] = b[i] + 3.0f * c[i];
  });
  // Reading alone, as decode reads its weights: one array summed (integer adds, so the compiler
  // vectorises them), each sum published so the loop cannot be dropped.
  std::atomic<uint32_t> sink{0};
  const double read = best([&](size_t i0, size_t i1) {
    uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    const uint32_t* u = reinterpret_cast<const uint32_t*>(b);
    size_t i = i0;
    for (; i + 4 <= i1; i += 4) {
      s0 += u[i];
      s1 += u[i + 1];
      s2 += u[i + 2];
      s3 += u[i + 3];
    }
    for (; i < i1; ++i) s0 += u[i];
    sink.fetch_add(s0 + s1 + s2 + s3, std::memory_order_relaxed);
  });
  Napi::Object out = Napi::Object::New(info.Env());
  // STREAM's convention: copy moves 2 arrays, triad 3 (write-allocate traffic not counted).
  out.Set("copy", 2.0 * n * 4 / copy);
  out.Set("read", 1.0 * n * 4 / read);
  out.Set("triad", 3.0 * n * 4 / triad);
  return out;
}

}  // namespace mv
