"""The metric names and label names a PromQL expression uses, by a small tokenizer.

promtool has no parser API; this reads what a test needs and nothing more: every vector
selector (metric name and the label names of its matchers), every label list of `by`,
`without`, `on`, `ignoring`, `group_left`, `group_right`, and the label arguments of
`label_replace` / `label_join` (destination: a label made; sources: labels read) and of
Grafana's `label_values(selector, label)`. Strings, numbers, durations, range and subquery
brackets and Grafana variables ($district, ${commune}, $__rate_interval) are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(r"""
    (?P<space>\s+|\#[^\n]*)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<var>\$\{[^}]*\}|\$\w+)
  | (?P<number>(?:\d+(?:ms|[smhdwy]))+|0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}@])
""", re.VERBOSE)

GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end"})
# Aggregations may put `by (...)` / `without (...)` between their name and their parenthesis.
AGGREGATIONS = frozenset({"sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk",
                          "quantile", "count_values", "limitk", "limit_ratio"})
# Functions whose string arguments name labels: argument index -> made (True) or read (False).
LABEL_ARGS = {"label_replace": {1: True, 3: False}, "label_join": {1: True}}


@dataclass
class Names:
    selectors: list[tuple[str | None, tuple[str, ...]]] = field(default_factory=list)  # (metric, matcher labels)
    labels_read: set[str] = field(default_factory=set)   # in grouping lists and label function arguments
    labels_made: set[str] = field(default_factory=set)   # label_replace / label_join destinations


def tokens(expr: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read PromQL at {expr[pos:pos + 30]!r}")
        if m.lastgroup != "space":
            out.append((m.lastgroup, m[0]))
        pos = m.end()
    return out


def _unquote(s: str) -> str:
    return s[1:-1]


def names(expr: str) -> Names:
    """The metric and label names `expr` uses."""
    toks = tokens(expr)
    out = Names()
    calls: list[tuple[str, int]] = []  # open function calls: (name, argument index)
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "ident" and text in GROUPING:
            if nxt == "(":
                j = i + 2
                while toks[j][1] != ")":
                    if toks[j][0] == "ident":
                        out.labels_read.add(toks[j][1])
                    j += 1
                i = j + 1
                continue
        elif kind == "ident" and nxt == "(":
            calls.append((text, 0))
            i += 2
            continue
        elif kind == "ident" and (text.lower() in KEYWORDS or text in AGGREGATIONS):
            pass
        elif kind == "ident" and calls and calls[-1][0] == "label_values" and calls[-1][1] == 1:
            out.labels_read.add(text)  # Grafana: label_values(selector, label)
        elif kind == "ident" or text == "{":
            metric = text if kind == "ident" else None
            labels: list[str] = []
            j = i + 1 if kind == "ident" else i
            if j < len(toks) and toks[j][1] == "{":
                j += 1
                while toks[j][1] != "}":
                    if toks[j][0] == "ident":
                        labels.append(toks[j][1])
                    j += 1
                j += 1
            out.selectors.append((metric, tuple(labels)))
            i = j
            continue
        elif text == "(":
            calls.append(("", 0))
        elif text == ")":
            calls.pop()
        elif text == "," and calls:
            name, arg = calls[-1]
            calls[-1] = (name, arg + 1)
        elif kind == "string" and calls and calls[-1][0] in LABEL_ARGS:
            name, arg = calls[-1]
            made = LABEL_ARGS[name].get(arg)
            if made is None and name == "label_join" and arg >= 3:
                made = False
            label = _unquote(text)
            if made is True:
                out.labels_made.add(label)
            elif made is False and label:  # label_replace(v, "dst", "value", "", "") reads no label
                out.labels_read.add(label)
        i += 1
    return out
