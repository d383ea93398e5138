"""Textfile mode: write the latest snapshot where node_exporter's (or
windows_exporter's) textfile collector reads it; written to a temporary file in
the same directory and renamed, so the collector never sees half a file."""

from __future__ import annotations

from pathlib import Path

from agent.config import ConfigError, Settings
from agent.files import write_atomic
from exporters.exposition import Exposition

FILE_NAME = "wardwatch.prom"


class TextfileWriter:
    def __init__(self, settings: Settings, exposition: Exposition, source: str = "<config>"):
        if not settings.directory:
            raise ConfigError("textfile.enabled needs textfile.directory", source=source, key="textfile.directory")
        self.directory = Path(settings.directory)
        if not self.directory.is_dir():
            raise ConfigError("directory does not exist", source=source, key="textfile.directory")
        self.path = self.directory / FILE_NAME
        self.exposition = exposition

    def write(self) -> None:
        write_atomic(self.path, self.exposition.body())
