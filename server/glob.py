"""Redis glob patterns (util.c stringmatchlen): KEYS, SCAN MATCH, CONFIG GET, PSUBSCRIBE...

Design note
-----------
Redis's matcher walks pattern and string together. Everything it does with the pattern
except ``*`` consumes exactly one byte of the string, and where a ``[...]`` class ends does
not depend on the string, so a pattern can be compiled once into single-byte tokens:
a literal, ``?``, a class (the exact set of the 256 bytes Redis's loop would accept,
including its quirks: ``\\`` escapes, ``^`` negation, ranges of *signed* chars in either
order, an unclosed ``[`` that runs to the end), and ``*``.

Tokens become a Python regex (C speed for KEYS over a large keyspace) when the pattern has
at most two stars. More stars could make a backtracking regex exponential, so those run on
a two-pointer matcher that is O(len(pattern) * len(string)), which also bounds what a
hostile ``*a*a*a*a*b`` pattern can cost, like Redis's skipLongerMatches.

One quirk falls outside the tokens: Redis's main loop runs only while both the pattern and
the string have bytes left, so the empty string matches the empty pattern and nothing
else -- not even ``*``.
"""

from __future__ import annotations

import re
from functools import lru_cache

_STAR = "star"
_ANY = "any"


def _signed(b: int) -> int:
    return b - 256 if b >= 128 else b


def _lower(b: int) -> int:
    return b + 32 if 65 <= b <= 90 else b


def _class_accepts(body: bytes, nocase: bool) -> tuple[frozenset[int], int]:
    """Simulate Redis's bracket loop for every possible string byte.

    ``body`` starts right after '['. Returns (accepted bytes, bytes of pattern consumed
    including the closing ']' if any).
    """
    n = len(body)
    i = 0
    negate = n > 0 and body[0] == 94  # '^'
    if negate:
        i = 1
    # Each item: ("lit", byte) or ("range", start, end); computed once.
    items = []
    while True:
        if i < n and body[i] == 92 and n - i >= 2:  # backslash escape
            items.append(("lit", body[i + 1], False))
            i += 2
            continue
        if i < n and body[i] == 93:  # ']'
            i += 1
            break
        if i >= n:
            break  # unclosed: Redis steps back and ends the class at the pattern's end
        if n - i >= 3 and body[i + 1] == 45:  # 'x-y'
            items.append(("range", body[i], body[i + 2]))
            i += 3
            continue
        items.append(("lit", body[i], nocase))
        i += 1
    accepted = set()
    for c in range(256):
        match = False
        for item in items:
            if item[0] == "lit":
                lit = item[1]
                if item[2]:
                    if _lower(lit) == _lower(c):
                        match = True
                elif lit == c:
                    match = True
            else:
                start, end, ch = _signed(item[1]), _signed(item[2]), _signed(c)
                if start > end:
                    start, end = end, start
                if nocase:
                    start = _lower(start) if start >= 0 else start
                    end = _lower(end) if end >= 0 else end
                    ch = _lower(ch) if ch >= 0 else ch
                if start <= ch <= end:
                    match = True
        if match != negate:
            accepted.add(c)
    return frozenset(accepted), i + 1


def _tokenize(pattern: bytes, nocase: bool) -> list:
    tokens: list = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        if ch == 42:  # '*'
            if not tokens or tokens[-1] is not _STAR:
                tokens.append(_STAR)
            i += 1
        elif ch == 63:  # '?'
            tokens.append(_ANY)
            i += 1
        elif ch == 91:  # '['
            accepted, used = _class_accepts(pattern[i + 1 :], nocase)
            tokens.append(accepted)
            i += used
        else:
            if ch == 92 and n - i >= 2:  # '\\x'
                i += 1
                ch = pattern[i]
            if nocase and (65 <= ch <= 90 or 97 <= ch <= 122):
                tokens.append(frozenset((ch | 32, ch & ~32)))
            else:
                tokens.append(ch)
            i += 1
    return tokens


def _class_regex(accepted: frozenset[int]) -> bytes:
    if not accepted:
        return b"(?!)"
    if len(accepted) == 256:
        return b"."
    return b"[" + b"".join(b"\\x%02x" % c for c in sorted(accepted)) + b"]"


def _to_regex(tokens: list) -> re.Pattern[bytes]:
    parts = []
    for t in tokens:
        if t is _STAR:
            parts.append(b".*")
        elif t is _ANY:
            parts.append(b".")
        elif isinstance(t, int):
            parts.append(re.escape(bytes((t,))))
        else:
            parts.append(_class_regex(t))
    return re.compile(b"".join(parts), re.DOTALL)


def _two_pointer(tokens: list, s: bytes) -> bool:
    """Classic wildcard matching with backtracking to the last star only."""
    ti = si = 0
    star_ti = -1
    star_si = 0
    nt, ns = len(tokens), len(s)
    while si < ns:
        if ti < nt:
            t = tokens[ti]
            if t is _STAR:
                star_ti = ti
                star_si = si
                ti += 1
                continue
            c = s[si]
            if t is _ANY or (t == c if isinstance(t, int) else c in t):
                ti += 1
                si += 1
                continue
        if star_ti < 0:
            return False
        ti = star_ti + 1
        star_si += 1
        si = star_si
    while ti < nt and tokens[ti] is _STAR:
        ti += 1
    return ti == nt


@lru_cache(maxsize=512)
def compile_pattern(pattern: bytes, nocase: bool = False):
    """A function bytes -> bool implementing ``stringmatchlen(pattern, ., nocase)``."""
    tokens = _tokenize(pattern, nocase)
    if tokens == [_STAR]:
        # Redis's loop never runs for an empty string, so only the empty pattern matches
        # it: "*" and "**" do not (KEYS * and SCAN MATCH * skip matching altogether).
        return bool
    stars = sum(1 for t in tokens if t is _STAR)
    if stars <= 2:
        rx = _to_regex(tokens)
        fullmatch = rx.fullmatch
        return lambda s: fullmatch(s) is not None
    return lambda s: _two_pointer(tokens, s)


def stringmatch(pattern: bytes, string: bytes, nocase: bool = False) -> bool:
    return compile_pattern(pattern, nocase)(string)
