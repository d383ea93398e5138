import json
import logging
import os
import subprocess
import sys

from support import REPO

from agent.wan.health import Counters
from agent.wan.state import FILE_NAME, OwnerLock, StateStore


def test_round_trip_and_no_temporary_files_left(tmp_path):
    store = StateStore(tmp_path / "state")
    counters = {"portal": Counters(12.5, 2, True, 4), "dns": Counters()}
    store.save(counters)
    assert StateStore(tmp_path / "state").load() == counters
    assert sorted(p.name for p in (tmp_path / "state").iterdir()) == [FILE_NAME]
    doc = json.loads((tmp_path / "state" / FILE_NAME).read_text())
    assert doc["targets"]["portal"] == {"outage_seconds_total": 12.5, "outages_total": 2, "down": True,
                                        "consecutive_failures": 4}


def test_missing_file_counts_from_zero_with_a_log_line(tmp_path, caplog):
    caplog.set_level(logging.INFO, "wardwatch.wan")
    assert StateStore(tmp_path).load() == {}
    assert "no saved state" in caplog.text


def test_corrupt_file_is_set_aside_and_counting_starts_from_zero(tmp_path, caplog):
    for i, junk in enumerate([b"{not json", b'{"version": 1, "targets": {"a": {"outage_seconds_total": -5, '
                              b'"outages_total": 1, "down": false, "consecutive_failures": 0}}}',
                              b'{"version": 99, "targets": {}}', b"\xff\xfe", b'[1, 2]',
                              b'{"version": 1, "targets": {"a": {}}}',
                              b"[" * 100000]):  # fuzz targets: RecursionError stopped the agent
        d = tmp_path / str(i)
        d.mkdir()
        (d / FILE_NAME).write_bytes(junk)
        caplog.clear()
        with caplog.at_level(logging.WARNING, "wardwatch.wan"):
            assert StateStore(d).load() == {}
        assert "corrupt" in caplog.text and "start from zero" in caplog.text
        assert (d / (FILE_NAME + ".corrupt")).read_bytes() == junk
        StateStore(d).save({"a": Counters(1.0, 1)})  # and the next save works
        assert StateStore(d).load() == {"a": Counters(1.0, 1)}


def test_lock_is_exclusive_while_its_holder_lives_and_taken_over_when_it_is_gone(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", f"""
import sys, time
sys.path.insert(0, {str(REPO)!r})
from agent.wan.state import OwnerLock
assert OwnerLock({str(tmp_path)!r}).acquire()
print("held", flush=True)
time.sleep(60)
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        mine = OwnerLock(tmp_path)
        assert mine.holder() == holder.pid
        assert mine.acquire() is False
    finally:
        holder.kill()
        holder.wait(10)
    assert mine.holder() is None  # a dead holder's lock is stale
    assert mine.acquire() is True and mine.holder() == os.getpid()
    mine.release()
    assert not mine.path.exists()


def test_lock_file_of_garbage_is_a_stale_lock(tmp_path):
    # found with the fuzz targets: a lock file nested too deep raised RecursionError instead of counting as stale
    (tmp_path / "wan-state.lock").write_bytes(b"[" * 100000)
    lock = OwnerLock(tmp_path)
    assert lock.holder() is None
    assert lock.acquire() and json.loads((tmp_path / "wan-state.lock").read_text())["pid"] == os.getpid()
    lock.release()
