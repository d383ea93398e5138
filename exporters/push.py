"""Pushgateway mode: PUT the latest snapshot to /metrics/job/<job>/instance/<instance>."""

from __future__ import annotations

import base64
import re
import socket
import urllib.request
from pathlib import Path
from urllib.parse import quote, urlsplit

from agent.config import ConfigError, Settings
from exporters.exposition import CONTENT_TYPE, Exposition

_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _segment(label: str, value: str) -> str:
    # The Pushgateway's grouping key: a value with "/" (or empty) goes base64url-encoded as label@base64;
    # so do "." and "..", which would otherwise be path segments that move up the URL (another group).
    if not value or "/" in value or value in (".", ".."):
        return f"{label}@base64/" + base64.urlsafe_b64encode(value.encode()).decode()
    return f"{label}/" + quote(value, safe="")


class Pusher:
    def __init__(self, settings: Settings, exposition: Exposition, source: str = "<config>"):
        if not settings.url:
            raise ConfigError("push.enabled needs push.url", source=source, key="push.url")
        try:
            parts = urlsplit(settings.url)
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("expected an http:// or https:// URL with a host", source=source, key="push.url")
        if parts.username or parts.password:
            raise ConfigError("no credentials in the URL: use push.username and push.password_file", source=source,
                              key="push.url")
        instance = settings.instance or socket.gethostname()
        key = [_segment("job", settings.job), _segment("instance", instance)]
        for name, value in sorted(settings.grouping.items()):
            # role is left out too: the WAN series carry a role of their own, which a grouping label would override.
            if not _LABEL_NAME.match(name) or name.startswith("__") or name in ("job", "instance", "role"):
                raise ConfigError(f"{name!r} cannot be a grouping label (a label name, not job, instance or role)",
                                  source=source, key="push.grouping")
            key.append(_segment(name, str(value)))
        self.url = f"{settings.url.rstrip('/')}/metrics/" + "/".join(key)
        self.timeout = settings.timeout
        self.exposition = exposition
        self.auth = ""
        if settings.username:
            try:
                password = Path(settings.password_file).read_text(encoding="utf-8").strip() \
                    if settings.password_file else ""
            except OSError as e:
                raise ConfigError(f"cannot read password file: {e.strerror}", source=source,
                                  key="push.password_file") from None
            token = base64.b64encode(f"{settings.username}:{password}".encode()).decode()
            self.auth = f"Basic {token}"

    def push(self) -> None:
        req = urllib.request.Request(self.url, data=self.exposition.body(), method="PUT",
                                     headers={"Content-Type": CONTENT_TYPE})
        if self.auth:
            req.add_header("Authorization", self.auth)
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - URL from config
            resp.read()
