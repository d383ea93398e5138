"""The declaration language of the agent's configuration: value types, `Option`, `Section`,
`ListOf`, the loaded `Settings`, and the one-line `ConfigError`.

Collectors declare their options with these (agent/collectors/); agent/config.py joins them into
the whole schema and loads files against it. This module imports neither, so that the collectors'
registry and the config never import each other in a circle.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from agent.syntax import parse_duration

DEFAULT_PORT = 10713


class ConfigError(Exception):
    """One line naming the file, the line and the key at fault."""

    def __init__(self, message: str, *, source: str = "", line: int | None = None, key: str = ""):
        self.message = message
        self.source = source
        self.line = line
        self.key = key
        super().__init__(str(self))

    def __str__(self) -> str:
        where = self.source or "<config>"
        if self.line is not None:
            where += f":{self.line}"
        if self.key:
            where += f": {self.key}"
        return f"{where}: {self.message}"


# --- value types -------------------------------------------------------------
# Each parser takes the YAML scalar/sequence value and returns the typed value or
# raises ValueError with a short reason.

_BYTES_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$")
_BYTES_UNITS = {
    None: 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
}


def _bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    raise ValueError(f"expected true or false, got {v!r}")


def _int(v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"expected a whole number, got {v!r}")
    return v


def _float(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, got {v!r}")
    return float(v)


def _str(v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise ValueError(f"expected text, got {type(v).__name__}")
    return str(v)


def _duration(v: Any) -> float:
    """Seconds; accepts 15, 1.5, "15s", "500ms", "2m", "1h", "7d"."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    try:
        if not isinstance(v, str):
            raise ValueError(v)
        return parse_duration(v)
    except ValueError:
        raise ValueError(f"expected a duration like 30s, 500ms or 5m, got {v!r}") from None


def _bytes(v: Any) -> int:
    """Bytes; accepts 4294967296, "4GiB", "500 MB"."""
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    m = _BYTES_RE.match(str(v).strip()) if isinstance(v, str) else None
    if not m:
        raise ValueError(f"expected a size like 4GiB or 500MB, got {v!r}")
    return int(float(m.group(1)) * _BYTES_UNITS[m.group(2)])


def _str_list(v: Any) -> list[str]:
    if not isinstance(v, list):
        raise ValueError(f"expected a list of text, got {type(v).__name__}")
    return [_str(x) for x in v]


def _str_map(v: Any) -> dict[str, str]:
    if not isinstance(v, dict):
        raise ValueError(f"expected a mapping of names to text, got {type(v).__name__}")
    return {_str(k): _str(x) for k, x in v.items()}


def _listen(v: Any) -> str:
    s = _str(v)
    host, sep, port = s.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected HOST:PORT like :{DEFAULT_PORT} or 127.0.0.1:{DEFAULT_PORT}, got {s!r}")
    if host.startswith("[") != host.endswith("]"):
        raise ValueError(f"an IPv6 host goes in brackets, like [::1]:{DEFAULT_PORT}; got {s!r}")
    return s


def _regex(v: Any) -> str:
    s = _str(v)
    try:
        re.compile(s)
    except re.error as e:
        raise ValueError(f"not a valid regular expression ({e})") from None
    return s


TYPES: dict[str, tuple[Callable[[Any], Any], str]] = {
    # name: (parser, how it reads in the reference)
    "bool": (_bool, "boolean"),
    "int": (_int, "integer"),
    "float": (_float, "number"),
    "str": (_str, "string"),
    "path": (_str, "path"),
    "duration": (_duration, "duration"),
    "bytes": (_bytes, "size"),
    "list[str]": (_str_list, "list of strings"),
    "map[str]": (_str_map, "mapping of strings"),
    "listen": (_listen, "HOST:PORT"),
    "regex": (_regex, "regex"),
}


@dataclass(frozen=True)
class Option:
    key: str
    type: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    secret: bool = False  # shown as <secret> by print-config (never logged or exported anyway)

    def parse(self, value: Any) -> Any:
        parser, _ = TYPES[self.type]
        out = parser(value)
        if self.choices is not None and out not in self.choices:
            raise ValueError(f"expected one of {', '.join(map(str, self.choices))}; got {out!r}")
        if self.minimum is not None and out < self.minimum:
            raise ValueError(f"must be at least {self.minimum:g}, got {value!r}")
        if self.maximum is not None and out > self.maximum:
            raise ValueError(f"must be at most {self.maximum:g}, got {value!r}")
        return out


class InvalidSettingError(ValueError):
    """Raised by a `Section.check` when options are fine one by one but not together;
    `key` is the option at fault, relative to the section (its line is reported)."""

    def __init__(self, key: str, message: str):
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}")


@dataclass(frozen=True)
class Section:
    key: str
    help: str
    children: tuple[Option | Section | ListOf, ...] = ()
    # Checks across the section's options once each is valid (e.g. "kind: tcp needs a port");
    # raises InvalidSettingError. Reported with the file, the line and the dotted key like any other error.
    check: Callable[[Settings], None] | None = None


@dataclass(frozen=True)
class ListOf:
    """A list of mappings, each validated against `item` (e.g. printers, WAN targets)."""

    key: str
    help: str
    item: Section
    default: tuple[Mapping[str, Any], ...] = ()
    unique: str | None = None  # an item key whose value must differ between items (e.g. "name")


Node = Option | Section | ListOf


class Settings(Mapping[str, Any]):
    """A read-only mapping with attribute access: `cfg.spec.min_memory`."""

    __slots__ = ("_data",)

    def __init__(self, data: dict[str, Any]):
        self._data = data

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __getattr__(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise AttributeError(key) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Settings({self._data!r})"

    def to_plain(self) -> dict[str, Any]:
        return {k: _plain(v) for k, v in self._data.items()}


def _plain(v: Any) -> Any:
    if isinstance(v, Settings):
        return v.to_plain()
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
