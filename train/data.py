"""
Training data: reads the JSONL records of scripts/export-arith-data.ts (schema in
src/tasks/arith/export.ts and train/README.md), packs them into fixed-length rows, and rebuilds the
Multiverse attention mask from the exported span fields.

The mask (DESIGN.md §1): key k is visible to query q when k <= q, both belong to the same packed
example, and the span chains of q and k (innermost path span up through span_parent) never hold two
different spans of the same block at the same depth.
"""
import json
import random

import torch

# Deeper nesting than this is not in the data; chains are padded to this depth with -1.
MAX_DEPTH = 4


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def span_chains(record):
    """Per token, (span, block) at each depth, outermost first, -1 beyond the chain: two (L, MAX_DEPTH) lists."""
    parent, block = record["span_parent"], record["span_block"]
    spans, blocks = [], []
    for s in record["path_span"]:
        chain = []
        while s >= 0:
            chain.append(s)
            s = parent[s]
        chain.reverse()
        if len(chain) > MAX_DEPTH:
            raise ValueError(f"nesting deeper than {MAX_DEPTH} in {record['problem']}")
        pad = [-1] * (MAX_DEPTH - len(chain))
        spans.append(chain + pad)
        blocks.append([block[c] for c in chain] + pad)
    return spans, blocks


def visibility(doc, spans, blocks):
    """Boolean mask (B, Tq, Tk): query tokens (rows) against key tokens, given per-token doc ids (B, T)
    and span/block chains (B, T, MAX_DEPTH) for queries and keys alike; causality is added by the caller."""
    same_doc = doc[:, :, None] == doc[:, None, :]
    conflict = torch.zeros_like(same_doc)
    for d in range(spans.shape[-1]):
        bq, bk = blocks[:, :, None, d], blocks[:, None, :, d]
        sq, sk = spans[:, :, None, d], spans[:, None, :, d]
        conflict |= (bq == bk) & (bq >= 0) & (sq != sk)
    return same_doc & ~conflict


class Example:
    """One record as tensors: inputs, next-token targets (-100 off the answer), positions and chains."""

    def __init__(self, record):
        ids = record["ids"]
        mask = record["loss_mask"]
        spans, blocks = span_chains(record)
        self.length = len(ids)
        self.ids = torch.tensor(ids)
        self.targets = torch.tensor([ids[i + 1] if mask[i + 1] else -100 for i in range(len(ids) - 1)] + [-100])
        self.positions = torch.tensor(record["positions"])
        # Span and block ids are small; int16 keeps tens of thousands of examples in little memory.
        self.spans = torch.tensor(spans, dtype=torch.int16)
        self.blocks = torch.tensor(blocks, dtype=torch.int16)


def pack(examples, block_size, pad_id, rng, window=16):
    """Packs shuffled examples into rows of block_size tokens (first fit among the last `window` open
    rows) and returns the row tensors: ids, targets, positions, doc (-1 on padding), spans, blocks."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    rows, room = [], []
    for i in order:
        n = examples[i].length
        if n > block_size:
            raise ValueError(f"an example of {n} tokens does not fit block_size {block_size}")
        start = max(0, len(rows) - window)
        j = next((r for r in range(start, len(rows)) if room[r] >= n), None)
        if j is None:
            rows.append([])
            room.append(block_size)
            j = len(rows) - 1
        rows[j].append(i)
        room[j] -= n
    R = len(rows)
    out = {
        "ids": torch.full((R, block_size), pad_id),
        "targets": torch.full((R, block_size), -100),
        "positions": torch.zeros((R, block_size), dtype=torch.long),
        "doc": torch.full((R, block_size), -1),
        "spans": torch.full((R, block_size, MAX_DEPTH), -1, dtype=torch.int16),
        "blocks": torch.full((R, block_size, MAX_DEPTH), -1, dtype=torch.int16),
    }
    for r, members in enumerate(rows):
        at = 0
        for doc, i in enumerate(members):
            e = examples[i]
            sl = slice(at, at + e.length)
            out["ids"][r, sl] = e.ids
            out["targets"][r, sl] = e.targets
            out["positions"][r, sl] = e.positions
            out["doc"][r, sl] = doc
            out["spans"][r, sl] = e.spans
            out["blocks"][r, sl] = e.blocks
            at += e.length
    return out


def batch_mask(batch):
    """The (B, T, T) attention mask of packed rows: causal, per example, Multiverse sibling paths hidden."""
    T = batch["ids"].shape[1]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    return causal & visibility(batch["doc"], batch["spans"], batch["blocks"])


class Batches:
    """Endless batches of packed rows, repacked with a fresh shuffle every epoch."""

    def __init__(self, records, block_size, batch_size, pad_id, seed):
        self.examples = [Example(r) for r in records]
        self.block_size, self.batch_size, self.pad_id = block_size, batch_size, pad_id
        self.rng = random.Random(seed)
        self.epoch = 0
        self._rows, self._at = None, 0

    def next(self):
        if self._rows is None or self._at + self.batch_size > self._rows["ids"].shape[0]:
            self._rows = pack(self.examples, self.block_size, self.pad_id, self.rng)
            self._at = 0
            self.epoch += 1
        sl = slice(self._at, self._at + self.batch_size)
        self._at += self.batch_size
        batch = {k: v[sl] for k, v in self._rows.items()}
        batch["mask"] = batch_mask(batch)
        return batch
