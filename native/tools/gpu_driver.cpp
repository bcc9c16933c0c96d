// A C++ driver of the engine for machines without Node (the GPU machine): loads a checkpoint
// described by a spec file, then either replays a script of engine operations and saves the
// logits for Python to compare (run), or times decode, prefill and fork/merge (bench).
//
//   gpu_driver SPEC DEVICE KV_SLOTS run OPS OUT_DIR
//   gpu_driver SPEC DEVICE KV_SLOTS bench OUT.json
//
// SPEC (scripts/gpu/engine_spec.py writes it): one "key value" per line for the ModelSpec fields,
// and "tensor NAME FILE OFFSET BYTES DTYPE DIM..." per tensor. DEVICE: cpu, cuda or auto.
// OPS, one operation per line ('#' starts a comment):
//   create A | fork A B C | merge A B C -> D | release A | check
//   step A:TOK,TOK:POS,POS:MODE [B:...]...   (MODE none, last or all; logits rows are kept)
//   save FILE                                (kept rows as raw little-endian f32, then cleared)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/check.h"
#include "engine/engine.h"

namespace mv {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  std::istringstream in(s);
  while (std::getline(in, cur, sep)) out.push_back(cur);
  return out;
}

std::vector<int32_t> ints(const std::string& s) {
  std::vector<int32_t> out;
  for (const std::string& p : split(s, ',')) out.push_back(std::stoi(p));
  return out;
}

ModelSpec read_spec(const std::string& path) {
  std::ifstream in(path);
  MV_CHECK(in, "cannot read spec " + path);
  ModelSpec s;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string key;
    if (!(f >> key)) continue;
    if (key == "tensor") {
      TensorRef t;
      std::string dtype;
      f >> t.name >> t.file >> t.offset >> t.byte_length >> dtype;
      t.dtype = dtype == "F32" ? Dtype::F32 : dtype == "F16" ? Dtype::F16 : Dtype::BF16;
      MV_CHECK(dtype == "F32" || dtype == "F16" || dtype == "BF16", "spec: unsupported dtype " + dtype);
      for (int64_t d; f >> d;) t.shape.push_back(d);
      s.tensors.push_back(t);
      continue;
    }
    double v = 0;
    MV_CHECK(static_cast<bool>(f >> v), "spec: no value for " + key);
    if (key == "hidden") s.hidden = int(v);
    else if (key == "intermediate") s.intermediate = int(v);
    else if (key == "layers") s.layers = int(v);
    else if (key == "heads") s.heads = int(v);
    else if (key == "kv_heads") s.kv_heads = int(v);
    else if (key == "head_dim") s.head_dim = int(v);
    else if (key == "vocab") s.vocab = int(v);
    else if (key == "rope_theta") s.rope_theta = float(v);
    else if (key == "rms_eps") s.rms_eps = float(v);
    else if (key == "tie_embeddings") s.tie_embeddings = v != 0;
    else if (key == "attention_bias") s.attention_bias = v != 0;
    else throw EngineError("spec: unknown key " + key);
  }
  return s;
}

// One engine step over the items; returns the logits rows asked for.
LogitsRows step(Engine& e, const std::vector<StepRequest>& items) {
  std::vector<StepInput> batch = e.prepare(items);
  LogitsRows logits;
  try {
    e.execute(batch, &logits);
  } catch (...) {
    e.finish();
    throw;
  }
  e.finish();
  return logits;
}

void run_ops(Engine& e, const std::string& ops_path, const std::string& out_dir) {
  std::ifstream in(ops_path);
  MV_CHECK(in, "cannot read ops " + ops_path);
  std::map<std::string, int> seqs;
  const auto seq = [&](const std::string& name) {
    auto it = seqs.find(name);
    MV_CHECK(it != seqs.end(), "ops: unknown sequence " + name);
    return it->second;
  };
  std::vector<float> kept;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    line = line.substr(0, line.find('#'));
    std::vector<std::string> w;
    for (const std::string& p : split(line, ' '))
      if (!p.empty()) w.push_back(p);
    if (w.empty()) continue;
    const std::string& op = w[0];
    if (op == "create") {
      seqs[w.at(1)] = e.kv().create_sequence();
    } else if (op == "fork") {
      const std::vector<int> kids = e.kv().fork(seq(w.at(1)), int(w.size()) - 2);
      for (size_t i = 0; i < kids.size(); ++i) seqs[w[i + 2]] = kids[i];
    } else if (op == "merge") {
      MV_CHECK(w.size() >= 4 && w[w.size() - 2] == "->", "ops line " + std::to_string(lineno) + ": merge P C... -> M");
      std::vector<int> kids;
      for (size_t i = 2; i + 2 < w.size(); ++i) kids.push_back(seq(w[i]));
      seqs[w.back()] = e.kv().merge(seq(w[1]), kids);
    } else if (op == "release") {
      e.kv().release(seq(w.at(1)));
      seqs.erase(w[1]);
    } else if (op == "check") {
      e.kv().check_integrity();
    } else if (op == "step") {
      std::vector<StepRequest> items;
      for (size_t i = 1; i < w.size(); ++i) {
        const std::vector<std::string> f = split(w[i], ':');
        MV_CHECK(f.size() == 4, "ops line " + std::to_string(lineno) + ": step item is NAME:TOKENS:POSITIONS:MODE");
        StepRequest r;
        r.seq = seq(f[0]);
        r.tokens = ints(f[1]);
        r.positions = ints(f[2]);
        r.logits = f[3] == "all" ? LogitsMode::All : f[3] == "last" ? LogitsMode::Last : LogitsMode::None;
        items.push_back(r);
      }
      const LogitsRows rows = step(e, items);
      kept.insert(kept.end(), rows.begin(), rows.end());
    } else if (op == "save") {
      const std::string path = out_dir + "/" + w.at(1);
      FILE* f = std::fopen(path.c_str(), "wb");
      MV_CHECK(f != nullptr, "cannot write " + path);
      const size_t wrote = std::fwrite(kept.data(), sizeof(float), kept.size(), f);
      std::fclose(f);
      MV_CHECK(wrote == kept.size(), "short write to " + path);
      kept.clear();
    } else {
      throw EngineError("ops line " + std::to_string(lineno) + ": unknown operation " + op);
    }
  }
}

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int32_t argmax(const float* row, int vocab) { return int32_t(std::max_element(row, row + vocab) - row); }

std::vector<int32_t> iota(int from, int n) {
  std::vector<int32_t> v(n);
  for (int i = 0; i < n; ++i) v[i] = from + i;
  return v;
}

// Decode tokens/s with `n` sequences after a `prompt`-token prefill each: greedy, timed over `steps`.
double decode_rate(Engine& e, int n, int prompt, int steps, std::mt19937& rng) {
  const int vocab = e.spec().vocab;
  std::uniform_int_distribution<int32_t> tok(0, vocab - 1);
  std::vector<StepRequest> items(n);
  for (int i = 0; i < n; ++i) {
    items[i].seq = e.kv().create_sequence();
    for (int j = 0; j < prompt; ++j) items[i].tokens.push_back(tok(rng));
    items[i].positions = iota(0, prompt);
  }
  LogitsRows logits = step(e, items);
  const auto decode_once = [&](int pos) {
    for (int i = 0; i < n; ++i) {
      items[i].tokens = {argmax(&logits[size_t(i) * vocab], vocab)};
      items[i].positions = {pos};
    }
    logits = step(e, items);
  };
  for (int s = 0; s < 3; ++s) decode_once(prompt + s);  // warm-up
  const Clock::time_point t0 = Clock::now();
  for (int s = 0; s < steps; ++s) decode_once(prompt + 3 + s);
  const double secs = seconds_since(t0);
  for (const StepRequest& r : items) e.kv().release(r.seq);
  return n * steps / secs;
}

double prefill_rate(Engine& e, int tokens, std::mt19937& rng) {
  std::uniform_int_distribution<int32_t> tok(0, e.spec().vocab - 1);
  std::vector<double> times;
  for (int rep = 0; rep < 4; ++rep) {
    StepRequest r;
    r.seq = e.kv().create_sequence();
    for (int j = 0; j < tokens; ++j) r.tokens.push_back(tok(rng));
    r.positions = iota(0, tokens);
    const Clock::time_point t0 = Clock::now();
    step(e, {r});
    if (rep > 0) times.push_back(seconds_since(t0));  // the first run warms up
    e.kv().release(r.seq);
  }
  return tokens / median(times);
}

struct ForkMergeTimes {
  double fork_us, merge_us, release_us, child_step_ms;
};

// Fork 4 children off a `prefix`-slot sequence, step each child one token, merge, release. The
// prefix's slots are appended without computing them (their K/V stay as the pool holds them): what
// is timed is the metadata and the children's step, whose attention reads the whole prefix.
ForkMergeTimes fork_merge(Engine& e, int prefix) {
  StepRequest fill;
  fill.seq = e.kv().create_sequence();
  fill.tokens.assign(prefix, 0);
  fill.positions = iota(0, prefix);
  e.prepare({fill});
  e.finish();
  std::vector<double> f, m, r, s;
  for (int rep = 0; rep < 7; ++rep) {
    Clock::time_point t0 = Clock::now();
    const std::vector<int> kids = e.kv().fork(fill.seq, 4);
    f.push_back(seconds_since(t0) * 1e6);
    std::vector<StepRequest> items(kids.size());
    for (size_t i = 0; i < kids.size(); ++i) {
      items[i].seq = kids[i];
      items[i].tokens = {int32_t(i + 1)};
      items[i].positions = {prefix};
    }
    t0 = Clock::now();
    step(e, items);
    s.push_back(seconds_since(t0) * 1e3);
    t0 = Clock::now();
    const int merged = e.kv().merge(fill.seq, kids);
    m.push_back(seconds_since(t0) * 1e6);
    t0 = Clock::now();
    e.kv().release(merged);
    for (int k : kids) e.kv().release(k);
    r.push_back(seconds_since(t0) * 1e6);
  }
  e.kv().release(fill.seq);
  return {median(f), median(m), median(r), median(s)};
}

void bench(Engine& e, const std::string& out_path) {
  std::mt19937 rng(1234);
  std::ostringstream json;
  json << "{\n  \"backend\": \"" << e.backend_name() << "\",\n  \"decode_tok_s\": {";
  const int sizes[] = {1, 4, 16};
  for (int i = 0; i < 3; ++i) {
    const double rate = decode_rate(e, sizes[i], 128, 64, rng);
    std::cout << "decode x" << sizes[i] << ": " << rate << " tok/s" << std::endl;
    json << (i ? ", " : "") << "\"" << sizes[i] << "\": " << rate;
  }
  json << "},\n  \"prefill_tok_s\": {";
  const int prefills[] = {512, 2048};
  for (int i = 0; i < 2; ++i) {
    const double rate = prefill_rate(e, prefills[i], rng);
    std::cout << "prefill " << prefills[i] << ": " << rate << " tok/s" << std::endl;
    json << (i ? ", " : "") << "\"" << prefills[i] << "\": " << rate;
  }
  json << "},\n  \"fork_merge\": {";
  const int prefixes[] = {1024, 32768};
  for (int i = 0; i < 2; ++i) {
    const ForkMergeTimes t = fork_merge(e, prefixes[i]);
    std::cout << "prefix " << prefixes[i] << ": fork " << t.fork_us << " us, merge " << t.merge_us << " us, release "
              << t.release_us << " us, 4-child step " << t.child_step_ms << " ms" << std::endl;
    json << (i ? ", " : "") << "\"" << prefixes[i] << "\": {\"fork_us\": " << t.fork_us << ", \"merge_us\": "
         << t.merge_us << ", \"release_us\": " << t.release_us << ", \"child_step_ms\": " << t.child_step_ms << "}";
  }
  json << "}\n}\n";
  std::ofstream(out_path) << json.str();
}

int main_checked(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::cerr << "usage: gpu_driver SPEC DEVICE KV_SLOTS run OPS OUT_DIR | bench OUT.json\n";
    return 2;
  }
  const std::string device = argv[2], mode = argv[4];
  MV_CHECK(device == "cpu" || device == "cuda" || device == "auto", "DEVICE must be cpu, cuda or auto");
  // An f32 KV cache: the parity checks compare with f32 references.
  Engine e(read_spec(argv[1]), std::stoi(argv[3]), KvDtype::F32, CpuOptions{},
           device == "cuda" ? Device::Cuda : device == "auto" ? Device::Auto : Device::Cpu);
  std::cerr << "backend " << e.backend_name() << std::endl;
  if (mode == "run" && argc == 7) {
    run_ops(e, argv[5], argv[6]);
  } else if (mode == "bench" && argc == 6) {
    bench(e, argv[5]);
  } else {
    std::cerr << "unknown mode " << mode << "\n";
    return 2;
  }
  return 0;
}

}  // namespace
}  // namespace mv

int main(int argc, char** argv) {
  try {
    return mv::main_checked(argc, argv);
  } catch (const std::exception& ex) {
    std::cerr << "gpu_driver: " << ex.what() << std::endl;
    return 1;
  }
}
