"""
Multiverse positions and path spans computed token by token, for decoding: the Python twin of
multiverseLayout in src/multiverse/attention.ts (same grammar, same positions, same spans), which
produced the training data's fields. Decoding extends the sequence one token at a time and needs
each new token's position and span chain at once.
"""

ROLES = ("parallelOpen", "parallelClose", "goalOpen", "goalClose", "pathOpen", "pathClose", "conclusionOpen", "conclusionClose")


class FormatError(ValueError):
    """The tags break the Multiverse grammar (a model wrote a malformed block)."""


class IncrementalLayout:
    def __init__(self, tag_ids):
        self.role = {tag_ids[r]: r for r in ROLES}
        self.stack = []  # frames: {"kind": "block", ...} or {"kind": "path", "span": s}
        self.open_spans = []
        self.span_block = []
        self.blocks = 0
        self.next = 0

    def push(self, token):
        """Appends a token; returns (position, spans, blocks): the span chain holding it, outermost first, and each span's block."""
        role = self.role.get(token)
        top = self.stack[-1] if self.stack else None
        block = top if top is not None and top["kind"] == "block" else None
        phase = None if block is None else block["phase"]
        pos = self.next
        chain = None

        def require(ok):
            if not ok:
                raise FormatError(f"unexpected {role} at token {self.next}")

        if role == "parallelOpen":
            require(block is None or phase == "conclusion")
            self.stack.append({"kind": "block", "id": self.blocks, "phase": "head", "goal_close": -1, "merge": -1})
            self.blocks += 1
        elif role == "goalOpen":
            require(phase == "head")
            block["phase"] = "goal"
        elif role == "goalClose":
            require(phase == "goal")
            block["phase"] = "paths"
            block["goal_close"] = pos
        elif role == "pathOpen":
            require(phase == "paths")
            pos = block["goal_close"] + 1
            span = len(self.span_block)
            self.span_block.append(block["id"])
            self.open_spans.append(span)
            self.stack.append({"kind": "path", "span": span})
        elif role == "pathClose":
            require(top is not None and top["kind"] == "path")
            chain = list(self.open_spans)  # the closing tag is the span's last token
            self.stack.pop()
            self.open_spans.pop()
            parent = self.stack[-1]
            parent["merge"] = max(parent["merge"], pos + 1)
        elif role == "conclusionOpen":
            require(phase == "paths" and block["merge"] >= 0)
            block["phase"] = "conclusion"
            pos = block["merge"]
        elif role == "conclusionClose":
            require(phase == "conclusion")
            block["phase"] = "tail"
        elif role == "parallelClose":
            require(phase == "tail")
            self.stack.pop()
        if chain is None:
            chain = list(self.open_spans)
        self.next = pos + 1
        return pos, chain, [self.span_block[s] for s in chain]
