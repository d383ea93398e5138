"""Fuzz targets: every parser of outside input, with the errors it is allowed to raise.

A target takes bytes. A parser may refuse input only with its documented error
(a one-line message for the operator); any other exception is a bug the fuzzer reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from agent import config as cfg
from agent.platform import windows
from exporters import webconfig


@dataclass(frozen=True)
class Target:
    parse: Callable[[bytes], object]
    allowed: tuple[type[BaseException], ...]


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _config(data: bytes) -> object:
    s = cfg.loads(_text(data), "fuzz.yml")
    assert isinstance(s, cfg.Settings)
    return s


def _webconfig(data: bytes) -> object:
    return cfg.loads(_text(data), "web.yml", webconfig.SCHEMA)


def _windows_system_info(data: bytes) -> object:
    info = windows.parse_system_info(_text(data))
    assert all(isinstance(v, str) for v in vars(info).values())
    return info


TARGETS: dict[str, Target] = {
    "config": Target(_config, (cfg.ConfigError,)),
    "webconfig": Target(_webconfig, (cfg.ConfigError,)),
    "windows_system_info": Target(_windows_system_info, (windows.WindowsParseError,)),
}
