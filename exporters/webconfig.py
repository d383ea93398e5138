"""Prometheus-style web config (the exporter-toolkit format): TLS and basic auth
for /metrics. Validated by the same machinery as the agent's config, so a bad
file gets the same one-line error with file, line and key.

    tls_server_config:
      cert_file: server.crt          # relative paths are relative to this file
      key_file: server.key
      client_auth_type: RequireAndVerifyClientCert   # optional mTLS
      client_ca_file: ca.crt
      min_version: TLS12
    basic_auth_users:
      prometheus: $2y$10$...         # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass
from pathlib import Path

from agent.config import ConfigError, Option, Section, Settings, loads

CLIENT_AUTH = ("NoClientCert", "RequestClientCert", "RequireAnyClientCert",
               "VerifyClientCertIfGiven", "RequireAndVerifyClientCert")
# Modular crypt format of bcrypt: $2a$, $2b$ or $2y$, the cost, $, 22 characters of salt and 31 of hash.
_BCRYPT = re.compile(r"^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110 token
TLS_VERSIONS = {"TLS10": ssl.TLSVersion.TLSv1, "TLS11": ssl.TLSVersion.TLSv1_1,
                "TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}

SCHEMA = Section("", "web config", (
    Section("tls_server_config", "TLS for the endpoint.", (
        Option("cert_file", "path", "", "Server certificate (PEM)."),
        Option("key_file", "path", "", "Server private key (PEM)."),
        Option("client_auth_type", "str", "NoClientCert", "Client certificate policy.", choices=CLIENT_AUTH),
        Option("client_ca_file", "path", "", "CA that signs client certificates."),
        Option("min_version", "str", "TLS12", "Lowest TLS version accepted.", choices=tuple(TLS_VERSIONS)),
        Option("max_version", "str", "TLS13", "Highest TLS version accepted.", choices=tuple(TLS_VERSIONS)),
    )),
    Section("http_server_config", "HTTP options.", (
        Option("headers", "map[str]", {}, "Extra response headers."),
    )),
    Option("basic_auth_users", "map[str]", {}, "User name to bcrypt hash."),
))


@dataclass(frozen=True)
class WebConfig:
    tls: ssl.SSLContext | None
    users: dict[str, bytes]
    headers: dict[str, str]


def load_web_config(path: str) -> WebConfig:
    if not path:
        return WebConfig(None, {}, {})
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError(e.strerror or str(e), source=path) from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"not UTF-8 text (byte {e.start})", source=path) from None
    s = loads(text, path, SCHEMA)
    base = Path(path).parent
    users = {}
    for user, h in s.basic_auth_users.items():
        m = _BCRYPT.match(h)
        if not m or not 4 <= int(m.group(1)) <= 31:
            raise ConfigError("not a bcrypt hash (expected $2y$ + cost 04-31 + $ + 53 characters, e.g. from "
                              "htpasswd -nBC 10)", source=path, key=f"basic_auth_users.{user}")
        users[user] = h.encode()
    headers = dict(s.http_server_config.headers)
    for name, value in headers.items():
        # Sent as they are in every answer: a line break would split the answer (response splitting).
        if not _HEADER_NAME.match(name):
            raise ConfigError("not an HTTP header name (letters, digits and !#$%&'*+-.^_`|~ only)", source=path,
                              key=f"http_server_config.headers.{name}")
        if any(ord(c) < 0x20 and c != "\t" or ord(c) == 0x7F for c in value):
            raise ConfigError("a header value cannot hold line breaks or control characters", source=path,
                              key=f"http_server_config.headers.{name}")
    return WebConfig(_tls_context(s.tls_server_config, base, path), users, headers)


def _tls_context(t: Settings, base: Path, source: str) -> ssl.SSLContext | None:
    if not t.cert_file and not t.key_file:
        return None
    if not (t.cert_file and t.key_file):
        raise ConfigError("cert_file and key_file go together", source=source, key="tls_server_config")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[t.min_version]
    ctx.maximum_version = TLS_VERSIONS[t.max_version]
    try:
        ctx.load_cert_chain(base / t.cert_file, base / t.key_file)
    except (OSError, ssl.SSLError) as e:
        raise ConfigError(f"cannot load certificate/key: {e}", source=source,
                          key="tls_server_config.cert_file") from None
    if t.client_auth_type != "NoClientCert":
        if t.client_ca_file:
            try:
                ctx.load_verify_locations(base / t.client_ca_file)
            except (OSError, ssl.SSLError) as e:
                raise ConfigError(f"cannot load client CA: {e}", source=source,
                                  key="tls_server_config.client_ca_file") from None
        elif t.client_auth_type in ("VerifyClientCertIfGiven", "RequireAndVerifyClientCert"):
            raise ConfigError(f"{t.client_auth_type} needs client_ca_file", source=source,
                              key="tls_server_config.client_ca_file")
        ctx.verify_mode = (ssl.CERT_REQUIRED if t.client_auth_type in ("RequireAnyClientCert",
                                                                      "RequireAndVerifyClientCert")
                           else ssl.CERT_OPTIONAL)
    return ctx
