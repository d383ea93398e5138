"""`wardwatch-agent run --log-file FILE`: the Windows service's log, rotated by the agent itself
(logging.handlers.RotatingFileHandler: 10 MiB, 5 kept), in UTF-8 whatever the console's code page."""

from __future__ import annotations

import logging
import logging.handlers

import pytest

from agent import cli


@pytest.fixture
def root_logger():
    root = logging.getLogger()
    saved, level = root.handlers[:], root.level
    yield root
    for h in root.handlers:
        h.close()
    root.handlers[:] = saved
    root.setLevel(level)


def test_log_file_rotates_and_keeps_vietnamese(tmp_path, root_logger):
    path = tmp_path / "agent.log"
    cli.setup_logging("info", str(path))
    (handler,) = root_logger.handlers
    assert isinstance(handler, logging.handlers.RotatingFileHandler)
    assert (handler.maxBytes, handler.backupCount) == (10 * 1024 * 1024, 5)
    logging.getLogger("agent.test").info("máy in tầng 1 hết mực")
    logging.getLogger("agent.test").debug("not at info level")
    handler.flush()
    text = path.read_text(encoding="utf-8")
    assert "level=INFO agent.test: máy in tầng 1 hết mực" in text and "not at info" not in text
    handler.maxBytes = 200  # the rotation itself, without writing 10 MiB
    for i in range(10):
        logging.getLogger("agent.test").info("line %d %s", i, "x" * 50)
    handler.flush()
    assert (tmp_path / "agent.log.1").is_file() and path.stat().st_size <= 200


def test_without_a_log_file_the_agent_logs_to_stderr(root_logger):
    cli.setup_logging("warning")
    (handler,) = root_logger.handlers
    assert type(handler) is logging.StreamHandler and root_logger.level == logging.WARNING


def test_an_unwritable_log_file_is_one_line_exit_2(tmp_path, capsys, root_logger):
    rc = cli.main(["run", "--log-file", str(tmp_path / "no" / "such" / "agent.log")])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("wardwatch-agent: --log-file ")
