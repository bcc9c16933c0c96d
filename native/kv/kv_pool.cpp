#include "kv/kv_pool.h"

#include <string>

#include "common/check.h"

namespace mv {

KvPool::KvPool(const KvShape& shape) : shape_(shape), elem_bytes_(shape.dtype == KvDtype::F16 ? 2 : 4) {
  MV_CHECK(shape.layers > 0 && shape.kv_dim > 0 && shape.slots > 0 && shape.kv_heads > 0 && shape.kv_dim % shape.kv_heads == 0,
           "KV pool shape must be positive, kv_dim a multiple of kv_heads");
  const size_t n = static_cast<size_t>(shape.layers) * shape.slots * shape.kv_dim * elem_bytes_;
  if (shape.host_storage) {
    k_ = HugeBuffer(n);
    v_ = HugeBuffer(n);
  }
  slot_pos_.assign(shape.slots, 0);
  free_slots_.reserve(shape.slots);
  // Hand out low slot indices first: keeps a small workload's KV compact in memory.
  for (int s = shape.slots - 1; s >= 0; --s) free_slots_.push_back(s);
}

const KvPool::Sequence& KvPool::seq_ref(int seq) const {
  MV_CHECK(has_sequence(seq), "unknown sequence id " + std::to_string(seq));
  return sequences_[seq];
}

KvPool::Sequence& KvPool::seq_ref(int seq) {
  MV_CHECK(has_sequence(seq), "unknown sequence id " + std::to_string(seq));
  return sequences_[seq];
}

bool KvPool::has_sequence(int seq) const {
  return seq >= 0 && static_cast<size_t>(seq) < sequences_.size() && sequences_[seq].live;
}

namespace {
// Reuses a freed index when there is one, else grows the table: ids stay small and dense.
template <class T>
int take_index(std::vector<T>* table, std::vector<int>* free_ids) {
  if (!free_ids->empty()) {
    const int id = free_ids->back();
    free_ids->pop_back();
    return id;
  }
  table->emplace_back();
  return static_cast<int>(table->size()) - 1;
}
}  // namespace

int KvPool::new_sequence_id() {
  const int id = take_index(&sequences_, &free_sequence_ids_);
  sequences_[id] = Sequence{};
  sequences_[id].live = true;
  ++live_sequences_;
  return id;
}

int KvPool::new_segment() {
  const int id = take_index(&segments_, &free_segment_ids_);
  segments_[id].slots.clear();
  segments_[id].refs = 0;
  ++live_segments_;
  return id;
}

void KvPool::unref_segment(int id) {
  Segment& seg = segments_[id];
  if (--seg.refs > 0) return;
  for (int32_t s : seg.slots) free_slots_.push_back(s);
  seg.slots.clear();
  seg.slots.shrink_to_fit();
  free_segment_ids_.push_back(id);
  --live_segments_;
}

int KvPool::create_sequence() { return new_sequence_id(); }

std::vector<int> KvPool::fork(int seq, int n) {
  MV_CHECK(n >= 1, "fork needs at least one child");
  seq_ref(seq);  // validates before any mutation
  std::vector<int> children;
  children.reserve(n);
  for (int i = 0; i < n; ++i) {
    const int child = new_sequence_id();
    const Sequence& parent = sequences_[seq];  // re-read: new_sequence_id may grow the vector
    sequences_[child].segments = parent.segments;
    sequences_[child].length = parent.length;
    for (int s : parent.segments) ++segments_[s].refs;
    children.push_back(child);
  }
  return children;
}

int KvPool::merge(int prefix, const std::vector<int>& children) {
  MV_CHECK(!children.empty(), "merge needs at least one child");
  const size_t p = seq_ref(prefix).segments.size();
  for (int c : children) {
    const Sequence& child = seq_ref(c);
    const Sequence& pre = sequences_[prefix];
    bool ok = child.segments.size() >= p;
    for (size_t i = 0; ok && i < p; ++i) ok = child.segments[i] == pre.segments[i];
    MV_CHECK(ok, "merge: sequence " + std::to_string(c) + " does not start with the segments of sequence " +
                     std::to_string(prefix));
  }
  const int out = new_sequence_id();
  std::vector<int> segs = sequences_[prefix].segments;
  size_t length = sequences_[prefix].length;
  for (int c : children) {
    const Sequence& child = sequences_[c];
    segs.insert(segs.end(), child.segments.begin() + p, child.segments.end());
    length += child.length - sequences_[prefix].length;
  }
  for (int s : segs) ++segments_[s].refs;
  sequences_[out].segments = std::move(segs);
  sequences_[out].length = length;
  return out;
}

void KvPool::release(int seq) {
  Sequence& s = seq_ref(seq);
  for (int id : s.segments) unref_segment(id);
  s = Sequence{};
  free_sequence_ids_.push_back(seq);
  --live_sequences_;
}

size_t KvPool::sequence_length(int seq) const { return seq_ref(seq).length; }

void KvPool::flatten(int seq, std::vector<int32_t>* slots) const {
  const Sequence& s = seq_ref(seq);
  slots->clear();
  slots->reserve(s.length);
  for (int id : s.segments) slots->insert(slots->end(), segments_[id].slots.begin(), segments_[id].slots.end());
}

void KvPool::append(int seq, const int32_t* positions, size_t n) {
  Sequence& s = seq_ref(seq);
  MV_CHECK(n <= free_slots_.size(), "KV pool exhausted: need " + std::to_string(n) + " slots, " +
                                        std::to_string(free_slots_.size()) + " free");
  if (n == 0) return;
  if (s.segments.empty() || segments_[s.segments.back()].refs > 1) {
    const int id = new_segment();
    segments_[id].refs = 1;
    sequences_[seq].segments.push_back(id);
  }
  Segment& tail = segments_[sequences_[seq].segments.back()];
  for (size_t i = 0; i < n; ++i) {
    const int32_t slot = free_slots_.back();
    free_slots_.pop_back();
    slot_pos_[slot] = positions[i];
    tail.slots.push_back(slot);
  }
  sequences_[seq].length += n;
}

void KvPool::check_integrity() const {
  auto fail = [](const std::string& what) { throw EngineError("KV integrity: " + what); };
  std::vector<int> refs(segments_.size(), 0);
  int live_seqs = 0;
  for (size_t q = 0; q < sequences_.size(); ++q) {
    const Sequence& s = sequences_[q];
    if (!s.live) {
      if (!s.segments.empty()) fail("released sequence " + std::to_string(q) + " still lists segments");
      continue;
    }
    ++live_seqs;
    size_t len = 0;
    for (size_t i = 0; i < s.segments.size(); ++i) {
      const int id = s.segments[i];
      if (id < 0 || static_cast<size_t>(id) >= segments_.size()) fail("sequence lists a bad segment id");
      for (size_t j = 0; j < i; ++j)
        if (s.segments[j] == id) fail("sequence " + std::to_string(q) + " lists a segment twice");
      ++refs[id];
      len += segments_[id].slots.size();
    }
    if (len != s.length) fail("sequence " + std::to_string(q) + " length disagrees with its segments");
  }
  if (live_seqs != live_sequences_) fail("live sequence count is wrong");
  std::vector<char> owner(shape_.slots, 0);
  int live_segs = 0;
  for (size_t id = 0; id < segments_.size(); ++id) {
    if (segments_[id].refs != refs[id])
      fail("segment " + std::to_string(id) + " refcount " + std::to_string(segments_[id].refs) + " but " +
           std::to_string(refs[id]) + " sequences hold it");
    if (refs[id] == 0) {
      if (!segments_[id].slots.empty()) fail("free segment " + std::to_string(id) + " still holds slots");
      continue;
    }
    ++live_segs;
    for (int32_t slot : segments_[id].slots) {
      if (slot < 0 || slot >= shape_.slots) fail("segment holds an out-of-range slot");
      if (owner[slot]) fail("slot " + std::to_string(slot) + " is in two segments");
      owner[slot] = 1;
    }
  }
  if (live_segs != live_segments_) fail("live segment count is wrong");
  for (int32_t slot : free_slots_) {
    if (slot < 0 || slot >= shape_.slots) fail("free list holds an out-of-range slot");
    if (owner[slot]) fail("slot " + std::to_string(slot) + " is both free and in use");
    owner[slot] = 1;
  }
  for (int s = 0; s < shape_.slots; ++s)
    if (!owner[s]) fail("slot " + std::to_string(s) + " is neither free nor in a segment (leaked)");
}

}  // namespace mv
