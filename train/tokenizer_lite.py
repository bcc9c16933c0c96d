"""
Just enough of a byte-level BPE tokenizer.json for evaluation, with no dependency: decoding ids to
text, and encoding the short ASCII labels (`2.1`) that the decoder forces after `<Path>`. Labels
are digits and dots, which the Qwen2 pre-tokenizer splits into one chunk per character, so each
character is one token.
"""
import json


def _byte_to_char():
    """The byte-level alphabet of GPT-2/Qwen2: printable Latin-1 bytes stand for themselves, the rest map from U+0100 up."""
    printable = lambda b: 0x21 <= b <= 0x7E or 0xA1 <= b <= 0xAC or 0xAE <= b <= 0xFF
    table, nxt = {}, 0x100
    for b in range(256):
        if printable(b):
            table[b] = chr(b)
        else:
            table[b] = chr(nxt)
            nxt += 1
    return table


class TokenizerLite:
    def __init__(self, path):
        with open(path) as f:
            spec = json.load(f)
        self.vocab = spec["model"]["vocab"]
        self.added = {t["content"]: t["id"] for t in spec["added_tokens"]}
        char_of = _byte_to_char()
        self.char_to_byte = {c: b for b, c in char_of.items()}
        self.byte_char = char_of
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.id_to_added = {i: t for t, i in self.added.items()}

    def decode(self, ids):
        out = bytearray()
        for i in ids:
            if i in self.id_to_added:
                out += self.id_to_added[i].encode()
            elif i in self.id_to_token:
                out += bytes(self.char_to_byte[c] for c in self.id_to_token[i])
        return out.decode("utf-8", errors="replace")

    def encode_chars(self, text):
        """Ids of an ASCII string whose characters are each a single token (labels, `:`)."""
        return [self.vocab[self.byte_char[ord(c)]] for c in text]
