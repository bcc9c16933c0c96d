// The KV cache as a tree of segments over one pool of token slots (DESIGN.md §2).
//
// A slot holds one token's K and V for every layer plus the token's position id. A segment is an
// ordered run of slots owned by one or more sequences (reference counted). A sequence is an ordered
// list of segments; its context is the concatenation of their slots.
//
// Contract:
//  - fork/merge/release touch metadata only: their cost is O(number of segments), never O(tokens).
//  - A sequence appends only to its last segment, and only while no other sequence holds that
//    segment; otherwise append opens a fresh segment. So a shared slot's KV never changes.
//  - A slot returns to the pool when the last segment holding it is freed; a segment is freed when
//    its last sequence is released.
//  - Every method throws mv::EngineError on a bad id or bad argument and then changes nothing.
//  - check_integrity() throws a description of the first broken invariant; tests call it after
//    every operation.
//  - Not thread-safe: the engine never mutates it while a step reads it.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/huge_buffer.h"
#include "model/model_spec.h"

namespace mv {

struct KvShape {
  int layers = 0;
  int kv_dim = 0;  // num_kv_heads * head_dim
  int slots = 0;
  KvDtype dtype = KvDtype::F16;  // how K and V are stored (the step converts new rows to it)
  // False when a device backend keeps the K/V storage itself: then k() and v() must not be used.
  bool host_storage = true;
  int kv_heads = 1;  // kv_dim = kv_heads * head_dim
};

class KvPool {
 public:
  explicit KvPool(const KvShape& shape);

  const KvShape& shape() const { return shape_; }

  int create_sequence();
  // n children; each = parent's segments + (on first append) a fresh segment. Parent unchanged.
  std::vector<int> fork(int seq, int n);
  // prefix's segments + each child's segments after the prefix, in order. Children must start with
  // exactly prefix's segments.
  int merge(int prefix, const std::vector<int>& children);
  void release(int seq);

  bool has_sequence(int seq) const;
  size_t sequence_length(int seq) const;
  // Slot indices of the sequence in context order: the flat layout a step (CPU or CUDA) reads.
  void flatten(int seq, std::vector<int32_t>* slots) const;

  size_t free_slots() const { return free_slots_.size(); }
  int live_sequences() const { return live_sequences_; }
  int live_segments() const { return live_segments_; }

  // Appends n new slots to the sequence (opening a fresh segment if its last one is shared) and
  // records their position ids. Throws if the pool has fewer than n free slots.
  void append(int seq, const int32_t* positions, size_t n);

  int32_t position(int32_t slot) const { return slot_pos_[slot]; }
  // K/V storage of one KV head of one slot in one layer: head_dim elements of shape().dtype. Layout
  // (layer, KV head, slot, head_dim), so slot s of a head is head_dim * s elements after its slot 0:
  // attention, one KV head per unit of work, reads its rows of a context as one stream. With (layer,
  // slot, kv_dim) it read head_dim of every kv_dim elements: decode at one sequence and a 4096-token
  // context is 1.2x (Q8_0) and 1.3x (f16) faster with this layout.
  void* k(int layer, int head, int32_t slot) { return k_.data() + offset(layer, head, slot); }
  void* v(int layer, int head, int32_t slot) { return v_.data() + offset(layer, head, slot); }

  void check_integrity() const;

 private:
  struct Segment {
    std::vector<int32_t> slots;
    int refs = 0;  // number of sequences whose list holds this segment
  };
  struct Sequence {
    std::vector<int> segments;
    size_t length = 0;
    bool live = false;
  };

  size_t offset(int layer, int head, int32_t slot) const {
    const size_t head_dim = size_t(shape_.kv_dim / shape_.kv_heads);
    return ((size_t(layer) * shape_.kv_heads + head) * shape_.slots + slot) * head_dim * elem_bytes_;
  }
  const Sequence& seq_ref(int seq) const;
  Sequence& seq_ref(int seq);
  int new_segment();
  int new_sequence_id();
  void unref_segment(int id);

  KvShape shape_;
  size_t elem_bytes_;                 // 2 (f16) or 4 (f32)
  HugeBuffer k_, v_;                  // (layer, KV head, slot, head_dim) elements of shape_.dtype
  std::vector<int32_t> slot_pos_;     // (slot) position id
  std::vector<int32_t> free_slots_;   // stack of free slot indices
  std::vector<Segment> segments_;
  std::vector<int> free_segment_ids_;
  std::vector<Sequence> sequences_;
  std::vector<int> free_sequence_ids_;
  int live_sequences_ = 0;
  int live_segments_ = 0;
};

}  // namespace mv
