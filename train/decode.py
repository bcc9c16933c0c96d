"""
Greedy decoding in PyTorch with the dense Multiverse mask, scheduled the way the engine schedules
(DESIGN.md §1): after `</Goal>` the decoder reads the outline labels and forces the opener
`<Path>{label}:` of the first path; after each `</Path>` it forces the next path's opener, or
`<Conclusion>` after the last. Paths are decoded one after the other in the flattened order, each
hidden from its siblings by the mask and starting at the same position, which by the engine
invariant gives the same tokens as decoding them in parallel with fork and merge.

All rows of a batch advance one token per step (prompt tokens are fed as forced tokens), so one
KV cache serves the batch.
"""
import re
from collections import deque

import torch

from countdown_check import solves
from data import MAX_DEPTH
from layout import FormatError, IncrementalLayout

OUTLINE_LABEL = re.compile(r"<Outline>(\d+(?:\.\d+)*):")
ANSWER = re.compile(r"Answer: (\d+)")
EXPRESSION_ANSWER = re.compile(r"Answer: ([^\n<]*)")


class Row:
    """One request: its tokens, what is forced next, the open forks, and its layout."""

    def __init__(self, prompt, tag_ids):
        self.forced = deque(prompt)
        self.prompt_len = len(prompt)
        self.tokens = []
        self.layout = IncrementalLayout(tag_ids)
        self.forks = []  # per open block: {"labels": [...], "next": i}
        self.goal_start = -1
        self.done = False
        self.malformed = False
        self.logits = []

    def generated(self):
        return self.tokens[self.prompt_len:]


class Decoder:
    def __init__(self, model, tok, tag_ids, eos_id, pad_id):
        self.model, self.tok, self.tag_ids = model, tok, tag_ids
        self.eos_id, self.pad_id = eos_id, pad_id

    def _opener(self, label):
        return [self.tag_ids["pathOpen"], *self.tok.encode_chars(label + ":")]

    def _observe(self, row, token):
        """Scheduler: what a newly appended token forces next."""
        t = self.tag_ids
        if token == t["goalOpen"]:
            row.goal_start = len(row.tokens) - 1
        elif token == t["goalClose"]:
            labels = OUTLINE_LABEL.findall(self.tok.decode(row.tokens[row.goal_start:]))
            # A goal with no parseable outline is not a fork: the model goes on by itself.
            row.forks.append({"labels": labels, "next": 0})
            if labels:
                row.forced.extend(self._opener(labels[0]))
                row.forks[-1]["next"] = 1
        elif token == t["pathClose"] and row.forks:
            fork = row.forks[-1]
            if fork["next"] < len(fork["labels"]):
                row.forced.extend(self._opener(fork["labels"][fork["next"]]))
                fork["next"] += 1
            elif fork["labels"]:
                row.forced.append(t["conclusionOpen"])
        elif token == t["conclusionOpen"] and row.forks:
            row.forks.pop()

    @torch.no_grad()
    def run(self, prompts, max_new_tokens, device, keep_logits=False):
        """Greedy completions of `prompts` (lists of ids); returns the Rows. With keep_logits, each
        row's `logits` lists the logits after each of its tokens (for checking against a full forward)."""
        rows = [Row(p, self.tag_ids) for p in prompts]
        B = len(rows)
        steps = max(len(p) for p in prompts) + max_new_tokens
        spans = torch.full((B, steps, MAX_DEPTH), -1, device=device)
        blocks = torch.full((B, steps, MAX_DEPTH), -1, device=device)
        alone = torch.zeros((B, steps), dtype=torch.bool, device=device)
        caches = [dict() for _ in self.model.model.layers]
        nxt = [None] * B
        for step in range(steps):
            ids, pos = [], []
            for b, row in enumerate(rows):
                token, p = self.pad_id, 0
                if not row.done:
                    token = row.forced.popleft() if row.forced else nxt[b]
                    row.tokens.append(token)
                    try:
                        p, s, k = row.layout.push(token)
                        spans[b, step, : len(s)] = torch.tensor(s, dtype=torch.long)
                        blocks[b, step, : len(k)] = torch.tensor(k, dtype=torch.long)
                        self._observe(row, token)
                    except FormatError:
                        row.malformed = row.done = True
                    new = len(row.tokens) - row.prompt_len
                    if new >= max_new_tokens or (new > 0 and token == self.eos_id):
                        row.done = True
                # A finished row still feeds a token; it sees only itself so its garbage stays its own.
                alone[b, step] = row.done and token == self.pad_id
                ids.append(token)
                pos.append(p)
            if all(r.done for r in rows):
                break
            sq, bq = spans[:, step : step + 1], blocks[:, step : step + 1]
            sk, bk = spans[:, : step + 1], blocks[:, : step + 1]
            hidden = torch.zeros((B, 1, step + 1), dtype=torch.bool, device=device)
            for d in range(MAX_DEPTH):
                same_block = (bq[:, :, None, d] == bk[:, None, :, d]) & (bq[:, :, None, d] >= 0)
                hidden |= same_block & (sq[:, :, None, d] != sk[:, None, :, d])
            mask = ~hidden
            mask[alone[:, step]] = False
            mask[alone[:, step], :, step] = True
            ids_t = torch.tensor(ids, device=device)[:, None]
            pos_t = torch.tensor(pos, device=device)[:, None]
            logits = self.model(ids_t, pos_t, mask, caches)
            nxt = logits[:, -1].argmax(-1).tolist()
            if keep_logits:
                for b, row in enumerate(rows):
                    if not alone[b, step]:
                        row.logits.append(logits[b, -1])
        return rows


def answer_correct(record, text):
    """Whether `text` states a right answer: the number `answer`, or for a Countdown record (it has
    `numbers`) any expression that reaches `target` with them."""
    if "numbers" in record:
        m = EXPRESSION_ANSWER.search(text)
        return solves(record["numbers"], record["target"], m and m.group(1))
    m = ANSWER.search(text)
    return m is not None and int(m.group(1)) == record["answer"]


def exact_match(decoder, records, max_new_tokens, device, batch_size=64):
    """Whether each record's greedy completion states a right answer, and the completions' texts."""
    correct, texts = [], []
    for at in range(0, len(records), batch_size):
        chunk = records[at : at + batch_size]
        rows = decoder.run([r["ids"][: r["prompt_len"]] for r in chunk], max_new_tokens, device)
        for r, row in zip(chunk, rows):
            text = decoder.tok.decode(row.generated())
            correct.append(not row.malformed and answer_correct(r, text))
            texts.append(text)
    return correct, texts
