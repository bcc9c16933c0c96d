"""
Whether a reported Countdown expression solves a problem, judged from the expression itself: numbers,
+ - * / and brackets, each given number used at most once, the value exactly the target, and every
intermediate result a positive integer. The Python twin of src/tasks/countdown/check.ts.
"""
import re

TOKEN = re.compile(r"\s*(\d+|[-+*/()])")


class _Parser:
    def __init__(self, tokens):
        self.tokens, self.at, self.used = tokens, 0, []

    def peek(self):
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self):
        t = self.peek()
        self.at += 1
        return t

    def sum(self):
        return self.level(("+", "-"), self.product)

    def product(self):
        return self.level(("*", "/"), self.atom)

    def level(self, ops, operand):
        """One precedence level: operands from `operand`, joined left to right by any of `ops`."""
        left = operand()
        while left is not None and self.peek() in ops:
            op = self.take()
            left = _apply(left, op, operand())
        return left

    def atom(self):
        t = self.take()
        if t is not None and t.isdigit():
            self.used.append(int(t))
            return int(t)
        if t != "(":
            return None
        value = self.sum()
        return value if self.take() == ")" else None


def _apply(left, op, right):
    if right is None:
        return None
    if op == "/":
        return left // right if right and left % right == 0 and left // right > 0 else None
    value = left + right if op == "+" else left - right if op == "-" else left * right
    return value if value > 0 else None


def solves(numbers, target, expression):
    """Whether `expression` (a string, or None) reaches `target` with `numbers`, each at most once."""
    if expression is None:
        return False
    text = expression.strip()
    tokens, at = [], 0
    while at < len(text):
        m = TOKEN.match(text, at)
        if m is None:
            return False
        tokens.append(m.group(1))
        at = m.end()
    if not tokens:
        return False
    parser = _Parser(tokens)
    if parser.sum() != target or parser.at != len(tokens):
        return False
    left = list(numbers)
    for n in parser.used:
        if n not in left:
            return False
        left.remove(n)
    return True
