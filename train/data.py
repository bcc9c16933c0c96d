"""
Training data: reads the JSONL records of scripts/export-task-data.ts (schema in
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


def collate(members, pad_id):
    """Row tensors for `members`, one example per row, padded to the longest: ids, targets,
    positions, doc (0 on tokens, -1 on padding), spans, blocks."""
    R, T = len(members), max(e.length for e in members)
    out = {
        "ids": torch.full((R, T), pad_id),
        "targets": torch.full((R, T), -100),
        "positions": torch.zeros((R, T), dtype=torch.long),
        "doc": torch.full((R, T), -1),
        "spans": torch.full((R, T, MAX_DEPTH), -1, dtype=torch.int16),
        "blocks": torch.full((R, T, MAX_DEPTH), -1, dtype=torch.int16),
    }
    for r, e in enumerate(members):
        sl = slice(0, e.length)
        out["ids"][r, sl] = e.ids
        out["targets"][r, sl] = e.targets
        out["positions"][r, sl] = e.positions
        out["doc"][r, sl] = 0
        out["spans"][r, sl] = e.spans
        out["blocks"][r, sl] = e.blocks
    return out


def length_batches(examples, batch_tokens, rng, pool=4096):
    """Shuffled example indices cut into batches of about `batch_tokens` padded tokens. Each pool of
    shuffled examples is sorted by length before cutting, so a batch holds examples of similar length:
    attention then costs each example about its own length squared, not a long packed row's."""
    order = list(range(len(examples)))
    rng.shuffle(order)
    batches = []
    for at in range(0, len(order), pool):
        chunk = sorted(order[at : at + pool], key=lambda i: examples[i].length)
        current = []
        for i in chunk:
            # The chunk is sorted, so the example being added is the batch's longest.
            if current and examples[i].length * (len(current) + 1) > batch_tokens:
                batches.append(current)
                current = []
            current.append(i)
        if current:
            batches.append(current)
    rng.shuffle(batches)
    return batches


def batch_mask(batch):
    """The (B, T, T) attention mask of a batch (on the batch's device): causal, padding hidden,
    Multiverse sibling paths hidden."""
    T = batch["ids"].shape[1]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool, device=batch["ids"].device))
    return causal & visibility(batch["doc"], batch["spans"], batch["blocks"])


class Batches:
    """Endless batches of similar-length examples, reshuffled every epoch."""

    def __init__(self, records, batch_tokens, pad_id, seed):
        self.examples = [Example(r) for r in records]
        self.batch_tokens, self.pad_id = batch_tokens, pad_id
        self.rng = random.Random(seed)
        self.epoch = 0
        self._batches, self._at = [], 0

    def state(self):
        """Where the endless iteration stands: the rest of this epoch and the shuffler's state."""
        return {"rng": self.rng.getstate(), "epoch": self.epoch, "batches": self._batches, "at": self._at}

    def restore(self, state):
        self.rng.setstate(state["rng"])
        self.epoch, self._batches, self._at = state["epoch"], state["batches"], state["at"]

    def next(self, device="cpu"):
        """The next batch on `device`; its mask is built there (on a GPU, building the (B, T, T) mask
        on the CPU would take longer than the training step)."""
        if self._at >= len(self._batches):
            self._batches = length_batches(self.examples, self.batch_tokens, self.rng)
            self._at = 0
            self.epoch += 1
        batch = collate([self.examples[i] for i in self._batches[self._at]], self.pad_id)
        batch = {k: v.to(device) for k, v in batch.items()}
        self._at += 1
        batch["mask"] = batch_mask(batch)
        return batch
