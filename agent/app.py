"""Assembles the running agent from a config: collectors, runner, exporters;
reloads on SIGHUP, keeping the last good config when the new one is bad."""

from __future__ import annotations

import logging
import signal
import threading
from dataclasses import dataclass

from agent import config as cfg
from agent.collectors import REGISTRY
from agent.collectors.base import Context
from agent.platform import Platform, current
from agent.runner import Runner
from exporters.exposition import Exposition
from exporters.http import MetricsServer
from exporters.periodic import Periodic
from exporters.push import Pusher
from exporters.remote_write import RemoteWriter
from exporters.textfile import TextfileWriter
from exporters.webconfig import WebConfig, load_web_config

log = logging.getLogger("wardwatch.agent")


def build_runner(settings: cfg.Settings, platform: Platform | None = None, on_change=None) -> Runner:
    platform = (platform or current()).configured(settings)
    context = Context(settings, platform, settings.state_dir or platform.default_state_dir())
    entries = []
    for collector_cls in REGISTRY:
        s = settings.collectors[collector_cls.name]
        if s.enabled:
            entries.append((collector_cls(s, context), s.interval, s.timeout))
    return Runner(entries, on_change)


@dataclass
class _Parts:
    settings: cfg.Settings
    runner: Runner
    web: WebConfig
    loops: list[Periodic | RemoteWriter]  # each has start() and stop()


class Agent:
    def __init__(self, path: str | None, listen: str | None = None, platform: Platform | None = None):
        self.path, self.listen_override, self.platform = path, listen, platform
        self.exposition = Exposition()
        self.server: MetricsServer | None = None
        self.parts: _Parts | None = None
        self._stopped = threading.Event()
        self._reload_lock = threading.Lock()

    def _prepare(self) -> _Parts:
        """Everything a config needs, checked before anything running is touched."""
        settings = cfg.load(self.path)
        source = self.path or "<built-in default>"
        web = load_web_config(settings.web.config_file)
        runner = build_runner(settings, self.platform, self.exposition.update)
        loops: list[Periodic | RemoteWriter] = []
        if settings.push.enabled:
            loops.append(Periodic("push", settings.push.interval,
                                  Pusher(settings.push, self.exposition, source).push, runner.first_round))
        if settings.textfile.enabled:
            loops.append(Periodic("textfile", settings.textfile.interval,
                                  TextfileWriter(settings.textfile, self.exposition, source).write,
                                  runner.first_round))
        if settings.remote_write.enabled:
            state_dir = settings.state_dir or (self.platform or current()).default_state_dir()
            loops.append(RemoteWriter(settings.remote_write, self.exposition, state_dir, source,
                                      after=runner.first_round))
        return _Parts(settings, runner, web, loops)

    def listen_address(self, settings: cfg.Settings) -> str:
        return self.listen_override or settings.web.listen

    def start(self) -> None:
        """Raises ConfigError (bad config) or OSError (cannot listen) before anything runs."""
        parts = self._prepare()
        self.server = MetricsServer(self.listen_address(parts.settings), self.exposition, parts.web)
        self._activate(parts)
        self.server.serve_in_background()
        log.info("serving metrics on %s", self.server.url)

    def _activate(self, parts: _Parts) -> None:
        self.parts = parts
        parts.runner.start()
        for loop in parts.loops:
            loop.start()

    def reload(self) -> bool:
        with self._reload_lock:
            try:
                parts = self._prepare()
            except (cfg.ConfigError, OSError) as e:
                log.error("reload failed, keeping the last good config: %s", e)
                return False
            assert self.server is not None and self.parts is not None
            new_listen = self.listen_address(parts.settings)
            if new_listen != self.listen_address(self.parts.settings):
                try:
                    server = MetricsServer(new_listen, self.exposition, parts.web)
                except OSError as e:
                    log.error("reload failed, keeping the last good config: cannot listen on %s: %s",
                              new_listen, e)
                    return False
                self.server.shutdown()
                self.server.server_close()
                self.server = server
                server.serve_in_background()
            self.server.configure(parts.web)
            self._shutdown_parts()
            self._activate(parts)
            log.info("config reloaded from %s; serving on %s", self.path or "<built-in default>", self.server.url)
            return True

    def _shutdown_parts(self) -> None:
        if self.parts is not None:
            for loop in self.parts.loops:
                loop.stop()
            self.parts.runner.stop()

    def stop(self) -> None:
        self._shutdown_parts()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        self._stopped.set()

    def handle_signals(self) -> None:
        """SIGTERM/SIGINT stop, SIGHUP reloads. Installed before start(): a SIGHUP that arrives
        while the agent is starting must not kill it (its default action) but be ignored."""

        def on_term(signum, frame):  # noqa: ARG001
            threading.Thread(target=self.stop, daemon=True).start()

        def on_hup(signum, frame):  # noqa: ARG001
            if self.server is not None and self.parts is not None:
                threading.Thread(target=self.reload, daemon=True).start()

        signal.signal(signal.SIGTERM, on_term)
        signal.signal(signal.SIGINT, on_term)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, on_hup)

    def run_forever(self) -> None:
        self._stopped.wait()
