"""Keys of a Python dict literal, found by tokenising the text: nothing is evaluated.

faceswap writes its face record as ``str(dict)`` and reads it back with ``literal_eval``.
Even ``literal_eval`` can be made to exhaust the parser's stack with deep nesting, and the
record may hold ``array(...)`` reprs it cannot parse; a flat, linear tokeniser reads the two
levels of keys the rules need and the short scalar values under them, whatever the text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_TEXT = 4 << 20
MAX_KEYS = 512

_TOKEN = re.compile(r"""
    (?P<str>[rRbBuU]{0,2}(?:'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"))
  | (?P<open>[\{\[\(])
  | (?P<close>[\}\]\)])
  | (?P<colon>:)
  | (?P<comma>,)
  | (?P<atom>[^\s'"\{\}\[\]\(\):,]+)
  | (?P<space>\s+)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)


@dataclass
class LiteralKeys:
    top: dict[str, dict[str, object]] = field(default_factory=dict)  # key -> nested keys/values
    is_dict: bool = False
    truncated: bool = False

    def nested(self, key: str) -> dict[str, object]:
        return self.top.get(key, {})


def _unquote(token: str) -> str:
    body = token.lstrip("rRbBuU")
    return body[1:-1][:200]


def dict_keys(text: str) -> LiteralKeys:
    """Top-level keys of the dict literal in ``text`` and, for dict values, their keys with
    short scalar values (strings, numbers, booleans)."""
    result = LiteralKeys(truncated=len(text) > MAX_TEXT)
    text = text[:MAX_TEXT].lstrip()
    if not text.startswith("{"):
        return result
    result.is_dict = True
    stack: list[str] = []
    top_key: str | None = None  # the depth-1 key whose value is being read
    pending: str | None = None  # the last string token, which becomes a key if ':' follows
    nested_key: str | None = None
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        token = match.group()
        if kind == "space":
            continue
        if kind == "open":
            stack.append(token)
            pending = None
            continue
        if kind == "close":
            if stack:
                stack.pop()
            if not stack:
                break
            pending = None
            continue
        depth = len(stack)
        if kind == "str":
            if nested_key is not None and depth == 2 and top_key is not None:
                result.top[top_key][nested_key] = _unquote(token)
                nested_key = None
            pending = _unquote(token)
            continue
        if kind == "colon" and pending is not None and stack and stack[-1] == "{":
            if depth == 1 and len(result.top) < MAX_KEYS:
                top_key = pending
                result.top.setdefault(top_key, {})
            elif depth == 2 and top_key is not None and len(result.top[top_key]) < MAX_KEYS:
                nested_key = pending
                result.top[top_key][nested_key] = None
            pending = None
            continue
        if kind == "atom" and nested_key is not None and depth == 2 and top_key is not None:
            result.top[top_key][nested_key] = _atom(token)
        if kind in ("comma", "atom"):
            nested_key = None if kind == "comma" else nested_key
        pending = None
    return result


def _atom(token: str) -> object:
    if token in ("True", "False"):
        return token == "True"
    if token == "None":
        return None
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return float(token)
    except ValueError:
        return token[:100]
