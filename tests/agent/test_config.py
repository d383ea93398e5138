"""The config is declared once: bad input gets one line with file, line and key, exit 2."""

import subprocess
import sys
import textwrap

import pytest
from support import REPO, agent_cmd

from agent import config as cfg

GOOD = """\
language: en
web:
  listen: 127.0.0.1:9999
spec:
  min_memory: 8GiB
  min_disk_free: 500MB
  min_cpu_cores: 4
  allowed_os: ["Windows 10", "Windows 11"]
collectors:
  hardware:
    interval: 2m
    timeout: 1500ms
"""


def test_good_config_is_typed_and_filled_with_defaults():
    s = cfg.loads(GOOD, "good.yml")
    assert s.language == "en"
    assert s.web.listen == "127.0.0.1:9999"
    assert s.web.config_file == ""  # default filled in
    assert s.spec.min_memory == 8 * 2**30
    assert s.spec.min_disk_free == 500_000_000
    assert s.spec.min_cpu_cores == 4
    assert s.spec.allowed_os == ["Windows 10", "Windows 11"]
    assert s.collectors.hardware.interval == 120.0
    assert s.collectors.hardware.timeout == 1.5
    assert s.collectors.hardware.enabled is True
    assert s.push.enabled is False


def test_empty_file_is_the_default_config():
    assert cfg.loads("", "empty.yml").to_plain() == cfg.defaults().to_plain()


# (name, yaml text, expected line, expected key, words the message must contain)
BAD = [
    ("unknown key", "langauge: vi\n", 1, "langauge", "unknown key (did you mean 'language'?)"),
    ("unknown nested key", "spec:\n  min_ram: 4GiB\n", 2, "spec.min_ram", "unknown key"),
    ("wrong type int", "spec:\n  min_cpu_cores: two\n", 2, "spec.min_cpu_cores", "expected a whole number"),
    ("wrong type bool", "collectors:\n  hardware:\n    enabled: maybe\n", 3, "collectors.hardware.enabled",
     "expected true or false"),
    ("out of range", "spec:\n  min_cpu_cores: 0\n", 2, "spec.min_cpu_cores", "must be at least 1"),
    ("bad duration", "collectors:\n  hardware:\n    interval: soon\n", 3, "collectors.hardware.interval",
     "expected a duration"),
    ("duration too short", "collectors:\n  hardware:\n    interval: 10ms\n", 3, "collectors.hardware.interval",
     "must be at least 1"),
    ("bad size", "spec:\n  min_memory: lots\n", 2, "spec.min_memory", "expected a size"),
    ("bad choice", "language: fr\n", 1, "language", "expected one of vi, en"),
    ("bad listen", "web:\n  listen: localhost\n", 2, "web.listen", "expected HOST:PORT"),
    ("bad regex", "collectors:\n  hardware:\n    interfaces_exclude: '(['\n", 3,
     "collectors.hardware.interfaces_exclude", "not a valid regular expression"),
    ("section not a mapping", "spec: 5\n", 1, "spec", "expected a mapping"),
    ("list expected", "spec:\n  allowed_os: Windows 10\n", 2, "spec.allowed_os", "expected a list"),
    ("duplicate key", "language: vi\nlanguage: en\n", 2, "language", "duplicate key (first at line 1)"),
    ("malformed yaml", "spec:\n  min_memory: [4GiB\n", 3, "", "malformed YAML"),
    ("tab indentation", "spec:\n\tmin_memory: 4GiB\n", 2, "", "malformed YAML"),
    ("control character", "language: vi\nspec: \x00\n", 2, "", "malformed YAML: character U+0000 is not allowed"),
    ("top level not a mapping", "- a\n- b\n", 1, "(top level)", "expected a mapping"),
]


@pytest.mark.parametrize("name,text,line,key,words", BAD, ids=[b[0] for b in BAD])
def test_bad_config_names_file_line_and_key(name, text, line, key, words):
    with pytest.raises(cfg.ConfigError) as e:
        cfg.loads(text, "/etc/wardwatch/agent.yml")
    err = e.value
    assert err.source == "/etc/wardwatch/agent.yml"
    assert err.line == line
    assert err.key == key
    assert words in err.message
    assert "\n" not in str(err)
    prefix = f"/etc/wardwatch/agent.yml:{line}" + (f": {key}" if key else "")
    assert str(err).startswith(prefix + ": ")


@pytest.mark.parametrize("case", ["missing file", "directory", "not utf-8", "bad value"])
def test_cli_bad_config_is_one_line_exit_2(tmp_path, case):
    path = tmp_path / "agent.yml"
    expected = {"missing file": f"{path}: file not found",
                "directory": f"{tmp_path}: is a directory",
                "not utf-8": f"{path}: not UTF-8 text",
                "bad value": f"{path}:3: spec.min_cpu_cores: must be at least 1"}[case]
    if case == "directory":
        path = tmp_path
    elif case == "not utf-8":
        path.write_bytes(b"language: \xff\xfe\n")
    elif case == "bad value":
        path.write_text("language: vi\nspec:\n  min_cpu_cores: -3\n")
    for command in ("check", "print-config", "run"):
        p = subprocess.run(agent_cmd(command, "--config", str(path)), capture_output=True, text=True,
                           timeout=60, cwd=REPO)
        assert p.returncode == 2, (command, p.stderr)
        assert p.stdout == ""
        lines = p.stderr.strip().splitlines()
        assert len(lines) == 1, p.stderr
        assert lines[0] == f"wardwatch-agent: config error: {expected}" or lines[0].startswith(
            f"wardwatch-agent: config error: {expected}"), lines[0]
        assert "Traceback" not in p.stderr


def test_cli_bad_listen_flag_exit_2():
    p = subprocess.run(agent_cmd("run", "--listen", "nowhere"), capture_output=True, text=True, timeout=60, cwd=REPO)
    assert p.returncode == 2
    assert p.stderr.strip() == ("wardwatch-agent: --listen: expected HOST:PORT like :10713 or "
                                "127.0.0.1:10713, got 'nowhere'")


def test_print_config_round_trips(tmp_path):
    path = tmp_path / "agent.yml"
    path.write_text(GOOD)
    p = subprocess.run(agent_cmd("print-config", "--config", str(path)), capture_output=True, text=True,
                       timeout=60, cwd=REPO, check=True)
    again = tmp_path / "again.yml"
    again.write_text(p.stdout)
    assert cfg.load(again).to_plain() == cfg.load(path).to_plain()


def test_every_option_is_documented_with_a_default():
    for dotted, node in cfg.walk():
        assert node.help.strip(), f"{dotted} has no help"
        if isinstance(node, cfg.Option):
            node.parse(node.default)  # the default itself passes validation


def test_readme_config_reference_is_generated_from_the_declaration():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    begin, end = "<!-- config-reference:begin -->\n", "<!-- config-reference:end -->"
    assert begin in readme and end in readme
    documented = readme.split(begin, 1)[1].split(end, 1)[0]
    assert documented == cfg.reference_markdown(), textwrap.dedent("""\
        README's config reference is out of date: regenerate it with
        python3 scripts/update-readme.py""")


def test_collectors_and_config_do_not_import_each_other_in_a_circle():
    """The collectors declare their options with agent.options; agent.config joins them into the schema."""
    code = ("import sys, agent.collectors; assert 'agent.config' not in sys.modules, 'collectors import config'; "
            "import agent.config")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert p.returncode == 0, p.stderr
