#include "engine/forward.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/quant.h"

namespace mv {

CpuForward::CpuForward(const ModelSpec& spec, const Weights& weights, KvPool& kv, ThreadPool& pool,
                       const CpuKernels& k, size_t parallel_min_work)
    : spec_(spec), w_(weights), kv_(kv), pool_(pool), k_(k), parallel_min_work_(parallel_min_work) {
  const int half = spec.head_dim / 2;
  for (int j = 0; j < half; ++j) inv_freq_.push_back(std::pow(double(spec.rope_theta), -2.0 * j / spec.head_dim));
}

size_t CpuForward::logit_rows(StepSpan batch) const {
  size_t rows = 0;
  for (const StepInput& s : batch)
    rows += s.logits == LogitsMode::All ? s.tokens.size() : s.logits == LogitsMode::Last ? 1 : 0;
  return rows;
}

size_t CpuForward::attention_work(const StepInput& item) const {
  const size_t qd = size_t(spec_.heads) * spec_.head_dim;
  // Token j of n new ones sees the context before them plus j + 1 slots: a dot and an axpy each.
  const size_t n = item.tokens.size(), before = item.slots.size() - n;
  return (n * before + n * (n + 1) / 2) * qd * 2;
}

size_t CpuForward::attention_work(StepSpan batch) const {
  size_t work = 0;
  for (const StepInput& s : batch) work += attention_work(s);
  return work;
}

size_t CpuForward::layer_weights() const {
  const size_t h = spec_.hidden, qd = size_t(spec_.heads) * spec_.head_dim;
  const size_t kvd = size_t(spec_.kv_heads) * spec_.head_dim;
  return h * (qd + 2 * kvd) + qd * h + 3 * h * size_t(spec_.intermediate);
}

size_t CpuForward::item_work(const StepInput& item) const {
  const size_t n = item.tokens.size();
  const size_t rows = item.logits == LogitsMode::All ? n : item.logits == LogitsMode::Last ? 1 : 0;
  return size_t(spec_.layers) * (n * layer_weights() + attention_work(item)) + rows * spec_.vocab * size_t(spec_.hidden);
}

bool CpuForward::runs_alone(StepSpan batch, size_t limit) const {
  const size_t h = spec_.hidden, qd = size_t(spec_.heads) * spec_.head_dim;
  const size_t widest = std::max({h * qd, h * size_t(spec_.intermediate), h * size_t(spec_.vocab)});
  size_t tokens = 0;
  for (const StepInput& s : batch) tokens += s.tokens.size();
  return tokens * widest < limit && attention_work(batch) < limit;
}

// Values below which a matmul's input is quantized on one thread.
constexpr size_t kParallelQuantize = size_t(1) << 16;

void CpuForward::matmuls(const float* x, size_t tokens, std::initializer_list<MatmulJob> jobs) {
  // Units of 4 output rows match the kernels' tile; each thread streams its own slice of W once.
  constexpr size_t kUnit = 4;
  size_t work = 0, units = 0;
  bool q8 = false;
  for (const MatmulJob& j : jobs) {
    work += tokens * j.w->cols * j.w->rows;
    units += (j.w->rows + kUnit - 1) / kUnit;
    q8 = q8 || int8_path(j.w->dtype);
  }
  MatmulInput input{x, tokens};
  if (q8) {  // once here, not once per chunk of rows in every kernel call
    x8_.prepare(tokens, jobs.begin()->w->cols, &input);
    const auto quantize = [&](size_t t0, size_t t1) { x8_.quantize(k_, x, t0, t1); };
    // A prompt's rows are quantized by all threads: on one, it was 5% of a Q8_0 prefill with the
    // other thread waiting. A decode step's few rows take about a microsecond.
    if (tokens * jobs.begin()->w->cols >= kParallelQuantize) {
      pool_.parallel_for(tokens, quantize);
    } else {
      quantize(0, tokens);
    }
  }
  // Unit range [u0, u1) of the concatenated jobs: each job gets the part that falls in its own units.
  const auto run = [&](size_t u0, size_t u1) {
    size_t first = 0;
    for (const MatmulJob& j : jobs) {
      const size_t n = (j.w->rows + kUnit - 1) / kUnit, lo = std::max(u0, first), hi = std::min(u1, first + n);
      if (lo < hi)
        k_.matmul(input, *j.w, j.b, j.y, j.w->rows, (lo - first) * kUnit, std::min(j.w->rows, (hi - first) * kUnit));
      first += n;
    }
  };
  if (work < parallel_min_work_) {
    run(0, units);
  } else {
    pool_.parallel_for(units, run);
  }
}

void CpuForward::rms_norm(const float* x, const float* w, float* y, size_t tokens) {
  const size_t h = spec_.hidden;
  // Eight running sums, not one: a single chain of double adds waits out the add's latency at every
  // value (a microsecond a norm at hidden 768, two norms a layer, on the decode step's critical path).
  constexpr size_t kSums = 8;
  for (size_t t = 0; t < tokens; ++t) {
    const float* xr = x + t * h;
    double sums[kSums] = {};
    size_t i = 0;
    for (; i + kSums <= h; i += kSums)
      for (size_t j = 0; j < kSums; ++j) sums[j] += double(xr[i + j]) * xr[i + j];
    for (; i < h; ++i) sums[0] += double(xr[i]) * xr[i];
    double ss = 0;
    for (const double s : sums) ss += s;
    const float scale = float(1.0 / std::sqrt(ss / h + spec_.rms_eps));
    for (size_t i = 0; i < h; ++i) y[t * h + i] = xr[i] * scale * w[i];
  }
}

// cos and sin of every token's angles, once a step: every layer turns q and k by the same angles, and
// a libm sincos per pair per layer per tensor was several percent of a small model's decode step.
void CpuForward::rope_table(size_t tokens) {
  const size_t half = size_t(spec_.head_dim) / 2;
  rope_cos_.resize(tokens * half);
  rope_sin_.resize(tokens * half);
  for (size_t t = 0; t < tokens; ++t) {
    for (size_t j = 0; j < half; ++j) {
      const double a = double(pos_[t]) * inv_freq_[j];
      rope_cos_[t * half + j] = float(std::cos(a));
      rope_sin_[t * half + j] = float(std::sin(a));
    }
  }
}

// Rotate-half RoPE (the Hugging Face convention): dims j and j + d/2 form a pair.
void CpuForward::rope(float* x, size_t tokens, int heads) {
  const int d = spec_.head_dim, half = d / 2;
  for (size_t t = 0; t < tokens; ++t) {
    const float* c = &rope_cos_[t * half];
    const float* s = &rope_sin_[t * half];
    // Pair j is (j, j + half) in NeoX style, (2j, 2j + 1) interleaved; both turn by pos * inv_freq[j].
    const int stride = spec_.rope_interleaved ? 2 : 1, partner = spec_.rope_interleaved ? 1 : half;
    for (int h = 0; h < heads; ++h) {
      float* v = x + (t * heads + h) * d;
      for (int j = 0; j < half; ++j) {
        float* p = v + j * stride;
        const float a = p[0], b = p[partner];
        p[0] = a * c[j] - b * s[j];
        p[partner] = b * c[j] + a * s[j];
      }
    }
  }
}

// One unit per (token, KV head): the `group` query heads that share a KV head read its K and V rows
// once between them.
void CpuForward::attention(int layer, StepSpan batch, size_t tokens, bool split) {
  const int heads = spec_.heads, kv_heads = spec_.kv_heads, d = spec_.head_dim, group = heads / kv_heads;
  const float scale = 1.0f / std::sqrt(float(d));
  const KvDtype kv = kv_.shape().dtype;
  const auto run = [&](size_t u0, size_t u1) {
    std::vector<float> scores;  // (group, n)
    for (size_t u = u0; u < u1; ++u) {
      const size_t t = u / kv_heads;
      const int kvh = int(u % kv_heads);
      const std::vector<int32_t>& slots = batch[tok_item_[t]].slots;
      const size_t n = tok_ctx_[t], first = (t * heads + size_t(kvh) * group) * d;
      scores.resize(group * n);
      attend(k_, &q_[first], group, kv_.k(layer, kvh, 0), kv_.v(layer, kvh, 0), kv, size_t(d), slots.data(), n, d, scale,
             scores.data(), &att_[first]);
    }
  };
  if (split) {
    pool_.parallel_for(tokens * kv_heads, run);
  } else {
    run(0, tokens * kv_heads);
  }
}

void CpuForward::run(StepSpan batch, LogitsRows* logits) {
  logits->resize(logit_rows(batch) * size_t(spec_.vocab));
  run(batch, logits->data());
}

void CpuForward::run(StepSpan batch, float* logits) {
  const size_t h = spec_.hidden, qd = size_t(spec_.heads) * spec_.head_dim;
  const size_t kvd = size_t(spec_.kv_heads) * spec_.head_dim, inter = spec_.intermediate;
  size_t T = 0;
  for (const StepInput& s : batch) T += s.tokens.size();

  x_.resize(T * h);
  xn_.resize(T * h);
  q_.resize(T * qd);
  kn_.resize(T * kvd);
  vn_.resize(T * kvd);
  att_.resize(T * qd);
  gate_.resize(T * inter);
  up_.resize(T * inter);
  pos_.resize(T);
  tok_item_.resize(T);
  tok_ctx_.resize(T);

  size_t t = 0;
  for (size_t i = 0; i < batch.size(); ++i) {
    const StepInput& s = batch[i];
    const size_t before = s.slots.size() - s.tokens.size();
    for (size_t j = 0; j < s.tokens.size(); ++j, ++t) {
      k_.dequantize_rows(w_.embed(), size_t(s.tokens[j]), 1, &x_[t * h]);
      pos_[t] = s.positions[j];
      tok_item_[t] = int32_t(i);
      tok_ctx_[t] = int32_t(before + j + 1);
    }
  }

  rope_table(T);
  // The same for every layer: whether attention is big enough to split across the pool.
  const bool split_attention = attention_work(batch) >= parallel_min_work_;
  for (int l = 0; l < spec_.layers; ++l) {
    const LayerWeights& lw = w_.layer(l);
    rms_norm(x_.data(), lw.input_norm, xn_.data(), T);
    matmuls(xn_.data(), T, {{&lw.wq, lw.bq, q_.data()}, {&lw.wk, lw.bk, kn_.data()}, {&lw.wv, lw.bv, vn_.data()}});
    rope(q_.data(), T, spec_.heads);
    rope(kn_.data(), T, spec_.kv_heads);
    // New keys and values go into their slots before attention, so a token sees itself.
    t = 0;
    for (const StepInput& s : batch) {
      const size_t before = s.slots.size() - s.tokens.size();
      for (size_t j = 0; j < s.tokens.size(); ++j, ++t) {
        for (int kvh = 0; kvh < spec_.kv_heads; ++kvh) {
          const size_t at = t * kvd + size_t(kvh) * spec_.head_dim;
          k_.store_kv(&kn_[at], kv_.k(l, kvh, s.slots[before + j]), kv_.shape().dtype, spec_.head_dim);
          k_.store_kv(&vn_[at], kv_.v(l, kvh, s.slots[before + j]), kv_.shape().dtype, spec_.head_dim);
        }
      }
    }
    attention(l, batch, T, split_attention);
    matmuls(att_.data(), T, {{&lw.wo, nullptr, xn_.data()}});
    for (size_t i = 0; i < T * h; ++i) x_[i] += xn_[i];

    rms_norm(x_.data(), lw.post_norm, xn_.data(), T);
    matmuls(xn_.data(), T, {{&lw.w_gate, nullptr, gate_.data()}, {&lw.w_up, nullptr, up_.data()}});
    k_.silu_mul(gate_.data(), up_.data(), T * inter);
    matmuls(gate_.data(), T, {{&lw.w_down, nullptr, xn_.data()}});
    for (size_t i = 0; i < T * h; ++i) x_[i] += xn_[i];
  }

  // Only the rows asked for pay for the final norm and the vocabulary projection.
  const size_t rows = logit_rows(batch);
  picked_.resize(rows * h);
  picked_norm_.resize(rows * h);
  size_t r = 0;
  t = 0;
  for (const StepInput& s : batch) {
    const size_t n = s.tokens.size();
    if (s.logits == LogitsMode::All) {
      for (size_t j = 0; j < n; ++j) std::memcpy(&picked_[(r++) * h], &x_[(t + j) * h], sizeof(float) * h);
    } else if (s.logits == LogitsMode::Last && n > 0) {
      std::memcpy(&picked_[(r++) * h], &x_[(t + n - 1) * h], sizeof(float) * h);
    }
    t += n;
  }
  rms_norm(picked_.data(), w_.final_norm(), picked_norm_.data(), rows);
  matmuls(picked_norm_.data(), rows, {{&w_.lm_head(), nullptr, logits}});
}

}  // namespace mv
