#include "engine/sampling.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>

#include "common/check.h"

namespace mv {
namespace {

// No filter sorts the vocabulary: one pass buckets every token by how far its scaled logit lies
// below the maximum (counts and softmax mass per bucket); a filter's cut-off falls in a bucket
// found from the histogram, and only the tokens in the buckets up to it are sorted.
constexpr int kBucketsPerNat = 4;
constexpr int kBucketNats = 32;
// The last bucket takes every token further below the maximum (and -Infinity ones).
constexpr int kLastBucket = kBucketsPerNat * kBucketNats;

// A number as JavaScript prints it in the common cases: the shortest form that reads back exactly.
std::string js_number(double d) {
  if (std::isnan(d)) return "NaN";
  if (std::isinf(d)) return d > 0 ? "Infinity" : "-Infinity";
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  return buf;
}

void require(bool ok, const char* field, const char* want, double got) {
  MV_CHECK(ok, std::string("sampling ") + field + " must be " + want + ", got " + js_number(got));
}

bool is_whole(double d) { return std::isfinite(d) && d == std::floor(d); }

float max_of(const float* z, int n) {
  float max = -std::numeric_limits<float>::infinity();
  for (int i = 0; i < n; ++i)
    if (z[i] > max) max = z[i];
  return max;
}

// log sum exp(logits), in float64. Throws on NaN, +Infinity or no finite value.
double log_sum_exp(const float* logits, int n) {
  const double max = max_of(logits, n);
  MV_CHECK(std::isfinite(max), "logits must have a finite maximum, got " + js_number(max));
  double sum = 0;
  for (int i = 0; i < n; ++i) {
    MV_CHECK(!std::isnan(logits[i]), "logit " + std::to_string(i) + " is NaN");
    sum += std::exp(double(logits[i]) - max);
  }
  return max + std::log(sum);
}

int argmax(const float* z, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (z[i] > z[best]) best = i;
  return best;
}

// Bucket of a token `nats` (>= 0, as every caller's distance below a maximum is) below the
// maximum: floor(nats * 4) capped at the last bucket, where infinities and NaN go too.
// Truncation is floor for non-negative values, and avoids a libm call per token.
int bucket_of(double nats) {
  const double b = nats * kBucketsPerNat;
  return b < kLastBucket ? int(b) : kLastBucket;
}

struct Histogram {
  double count[kLastBucket + 1] = {};
  double mass[kLastBucket + 1] = {};
};

// Per bucket: token count, and softmax mass when weights `w` are given.
void fill_histogram(const float* z, int n, double zmax, double inv_t, const double* w, Histogram* h) {
  for (int i = 0; i < n; ++i) {
    const int b = bucket_of((zmax - z[i]) * inv_t);
    h->count[b] += 1;
    if (w) h->mass[b] += w[i];
  }
}

// The first bucket where the running sum of `per_bucket` reaches `target`.
int first_reaching(const double* per_bucket, double target) {
  double sum = 0;
  for (int b = 0; b < kLastBucket; ++b) {
    sum += per_bucket[b];
    if (sum >= target) return b;
  }
  return kLastBucket;
}

// Ids of the tokens in buckets 0..bound, by logit descending (ties: lower id first). Only the
// first `ordered` ids are put in order when fewer are needed (top-k, top logprobs), the rest are
// left after them unordered.
std::vector<int32_t> sorted_descending(const float* z, int n, double zmax, double inv_t, int bound, size_t ordered) {
  std::vector<int32_t> ids;
  for (int i = 0; i < n; ++i)
    if (bucket_of((zmax - z[i]) * inv_t) <= bound) ids.push_back(i);
  auto before = [z](int32_t a, int32_t b) { return z[a] > z[b] || (z[a] == z[b] && a < b); };
  // Selection first: O(n) to find the first `ordered`, then only those are sorted.
  if (ordered > 0 && ordered < ids.size()) std::nth_element(ids.begin(), ids.begin() + (ordered - 1), ids.end(), before);
  std::sort(ids.begin(), ids.begin() + std::min(ordered, ids.size()), before);
  return ids;
}

// Inverse CDF over the whole vocab in id order; `u` is uniform in [0, sum w).
int draw_from_all(const std::vector<double>& w, double u) {
  int last = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == 0) continue;
    u -= w[i];
    last = int(i);
    if (u < 0) return int(i);
  }
  return last;  // rounding left u just above zero: the last token with any mass
}

// Draws from softmax(z / temperature) after top-k, top-p and min-p.
int draw(const float* z, int n, const SamplingParams& p, double uniform) {
  const double inv_t = 1 / p.temperature;
  const double zmax = max_of(z, n);
  // Softmax numerators in (0, 1], 1 at the maximum.
  std::vector<double> w(n);
  double total = 0;
  for (int i = 0; i < n; ++i) total += w[i] = std::exp((z[i] - zmax) * inv_t);
  const int64_t top_k = p.top_k > 0 && p.top_k < n ? int64_t(p.top_k) : 0;
  if (top_k == 0 && p.top_p == 1 && p.min_p == 0) return draw_from_all(w, uniform * total);

  // The kept set is a prefix of the tokens sorted by logit, so sorting the buckets that hold the
  // shortest filter's cut-off is enough. Top-p after top-k measures mass within the top-k set, so
  // with top-k on the whole top-k set is collected. One spare bucket absorbs rounding at the edges.
  Histogram hist;
  fill_histogram(z, n, zmax, inv_t, w.data(), &hist);
  int bound = kLastBucket;
  if (top_k > 0) {
    bound = first_reaching(hist.count, double(top_k));
  } else {
    if (p.top_p < 1) bound = std::min(bound, first_reaching(hist.mass, p.top_p * total) + 1);
    if (p.min_p > 0) bound = std::min(bound, bucket_of(-std::log(p.min_p)) + 1);
  }
  // With top-k only the k first and the tokens tied with the k-th are ever read: order those.
  std::vector<int32_t> ids = sorted_descending(z, n, zmax, inv_t, bound, top_k > 0 ? size_t(top_k) : size_t(n));
  const size_t size = ids.size();
  auto weight = [&](size_t i) { return w[ids[i]]; };

  size_t kept = size;
  double kept_mass = total;
  if (top_k > 0) {
    const float kth = z[ids[size_t(top_k) - 1]];
    // Ties with the k-th come next in id order (equal logits sort by id).
    const auto ties_end = std::partition(ids.begin() + top_k, ids.end(), [&](int32_t id) { return z[id] == kth; });
    std::sort(ids.begin() + top_k, ties_end);
    kept = size_t(top_k);
    while (kept < size && z[ids[kept]] == kth) ++kept;
    kept_mass = 0;
    for (size_t i = 0; i < kept; ++i) kept_mass += weight(i);
  }
  if (p.top_p < 1) {
    // HF: drop a token when the mass ranked strictly above it already reaches top_p.
    double above = 0;
    for (size_t i = 0; i < kept; ++i) {
      if (above >= p.top_p * kept_mass) {
        kept = i;
        break;
      }
      above += weight(i);
    }
  }
  if (p.min_p > 0) {
    for (size_t i = 1; i < kept; ++i) {
      if (weight(i) < p.min_p) {
        kept = i;
        break;
      }
    }
  }

  double mass = 0;
  for (size_t i = 0; i < kept; ++i) mass += weight(i);
  double u = uniform * mass;
  for (size_t i = 0; i + 1 < kept; ++i) {
    u -= weight(i);
    if (u < 0) return ids[i];
  }
  return ids[kept - 1];
}

// Raw log-softmax of the n most likely tokens (fewer when the vocab is smaller).
std::vector<TopLogprob> top_logprobs_of(const float* logits, int vocab, double lse, double n) {
  const double max = max_of(logits, vocab);
  Histogram hist;
  fill_histogram(logits, vocab, max, 1, nullptr, &hist);
  const std::vector<int32_t> ids = sorted_descending(logits, vocab, max, 1, first_reaching(hist.count, n), size_t(n));
  std::vector<TopLogprob> top;
  for (size_t i = 0; i < ids.size() && double(i) < n; ++i) top.push_back({ids[i], logits[ids[i]] - lse});
  return top;
}

}  // namespace

void validate_sampling_params(const SamplingParams& p) {
  require(p.temperature >= 0 && std::isfinite(p.temperature), "temperature", "a finite number >= 0", p.temperature);
  require(is_whole(p.top_k) && p.top_k >= 0, "topK", "an integer >= 0", p.top_k);
  require(p.top_p > 0 && p.top_p <= 1, "topP", "in (0, 1]", p.top_p);
  require(p.min_p >= 0 && p.min_p <= 1, "minP", "in [0, 1]", p.min_p);
  require(p.repetition_penalty > 0 && std::isfinite(p.repetition_penalty), "repetitionPenalty", "a finite number > 0",
          p.repetition_penalty);
  require(is_whole(p.top_logprobs) && p.top_logprobs >= 0, "topLogprobs", "an integer >= 0", p.top_logprobs);
}

ScoredToken sample_token(const float* logits, int vocab, const SamplingParams& p, double uniform,
                         const int32_t* history, size_t history_len) {
  validate_sampling_params(p);
  MV_CHECK(vocab > 0, "logits must have at least one value");
  // HF's repetition penalty on a copy; each history id reads the raw logit, so repeats count once.
  std::vector<float> penalised;
  const float* z = logits;
  if (p.repetition_penalty != 1) {
    penalised.assign(logits, logits + vocab);
    for (size_t i = 0; i < history_len; ++i) {
      const int32_t id = history[i];
      MV_CHECK(id >= 0 && id < vocab,
               "history token " + std::to_string(id) + " is outside the vocab (size " + std::to_string(vocab) + ")");
      const double raw = logits[id];
      penalised[id] = float(raw > 0 ? raw / p.repetition_penalty : raw * p.repetition_penalty);
    }
    z = penalised.data();
  }
  // Non-finite logits fail before any pick (the reference fails after it, with the same message).
  const double lse = log_sum_exp(logits, vocab);
  const int token = p.temperature == 0 ? argmax(z, vocab) : draw(z, vocab, p, uniform);
  ScoredToken out;
  out.token = token;
  out.logprob = logits[token] - lse;
  if (p.top_logprobs > 0) out.top = top_logprobs_of(logits, vocab, lse, std::min(p.top_logprobs, double(vocab)));
  return out;
}

ScoredToken score_token(const float* logits, int vocab, double token, double top_logprobs) {
  MV_CHECK(vocab > 0, "logits must have at least one value");
  MV_CHECK(is_whole(token) && token >= 0 && token < vocab,
           "token " + js_number(token) + " is outside the vocab (size " + std::to_string(vocab) + ")");
  require(is_whole(top_logprobs) && top_logprobs >= 0, "topLogprobs", "an integer >= 0", top_logprobs);
  const double lse = log_sum_exp(logits, vocab);
  ScoredToken out;
  out.token = int32_t(token);
  out.logprob = logits[out.token] - lse;
  if (top_logprobs > 0) out.top = top_logprobs_of(logits, vocab, lse, std::min(top_logprobs, double(vocab)));
  return out;
}

}  // namespace mv
