"""The systemd unit runs the agent hardened, as its own unprivileged user."""

import configparser

from support import REPO


def test_systemd_unit_is_hardened():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(REPO / "packaging/systemd/wardwatch-agent.service")
    s = unit["Service"]
    assert s["User"] == "wardwatch" and s["Group"] == "wardwatch"
    assert s["ExecStart"].split()[1:] == ["run", "--config", "/etc/wardwatch/agent.yml"]
    assert s["ExecReload"] == "/bin/kill -HUP $MAINPID"
    for key, value in {"NoNewPrivileges": "true", "ProtectSystem": "strict", "ProtectHome": "true",
                       "PrivateTmp": "true", "CapabilityBoundingSet": "CAP_NET_RAW",
                       "RestrictSUIDSGID": "true", "StateDirectory": "wardwatch"}.items():
        assert s[key] == value, key
