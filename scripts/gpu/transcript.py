"""
A script of engine operations (create, fork, step, merge) that records, for every token, which
earlier tokens its sequence lets it see: the ops file gpu_driver replays, and the dense mask and
position ids under which one PyTorch pass over all tokens must give the same logits. This is the
Multiverse invariant (DESIGN.md §1): a child sees its prefix and its own tokens, a merged sequence
sees the prefix and every child's tokens, and nothing is recomputed.
"""
import torch


class Transcript:
    def __init__(self):
        self.ops = []
        self.ids, self.positions, self.visible = [], [], []
        self.seqs = {}  # name -> token indices of its context, in slot order
        self.rows = []  # token index of each logits row the engine returns, in order
        self.saved = []  # (file, rows of that file)

    def create(self, name):
        self.seqs[name] = []
        self.ops.append(f"create {name}")

    def fork(self, parent, *children):
        for c in children:
            self.seqs[c] = list(self.seqs[parent])
        self.ops.append(f"fork {parent} {' '.join(children)}")

    def merge(self, prefix, children, name):
        base = self.seqs[prefix]
        merged = list(base)
        for c in children:
            assert self.seqs[c][: len(base)] == base, f"{c} does not start with {prefix}"
            merged += self.seqs[c][len(base):]
        self.seqs[name] = merged
        self.ops.append(f"merge {prefix} {' '.join(children)} -> {name}")

    def step(self, *items):
        """items: (name, token ids, position ids, 'none' | 'last' | 'all'), one engine step."""
        words = []
        for name, ids, positions, mode in items:
            assert len(ids) == len(positions) > 0
            new = []
            for tok, pos in zip(ids, positions):
                index = len(self.ids)
                self.ids.append(tok)
                self.positions.append(pos)
                self.seqs[name].append(index)
                self.visible.append(list(self.seqs[name]))
                new.append(index)
            self.rows += new if mode == "all" else new[-1:] if mode == "last" else []
            words.append(f"{name}:{','.join(map(str, ids))}:{','.join(map(str, positions))}:{mode}")
        self.ops.append("step " + " ".join(words))

    def save(self, file):
        """The rows since the last save go to `file`, after a KV integrity check."""
        self.ops.append("check")
        self.ops.append(f"save {file}")
        self.saved.append((file, self.rows))
        self.rows = []

    def dense(self):
        """(ids, positions, mask) for one pass over every token: mask[q, k] = q's sequence showed it k."""
        n = len(self.ids)
        mask = torch.zeros(n, n, dtype=torch.bool)
        for q, keys in enumerate(self.visible):
            mask[q, keys] = True
        return torch.tensor(self.ids), torch.tensor(self.positions), mask

    def text(self):
        return "\n".join(self.ops) + "\n"
