"""The on-disk buffer: durable appends, torn and corrupt records cut off (and counted)
without losing the rest, progress kept across reopen, bounds by size and age."""

from __future__ import annotations

import json
import os
import zlib

import pytest

from exporters import wal
from exporters.wal import HEADER, MAGIC, Buffer, Position


class Clock:
    def __init__(self, t: float = 1_700_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


def payload(i: int, size: int = 200) -> bytes:
    # Distinct per record, partly compressible, like a snapshot.
    return (f"record {i:06d} ".encode() * (size // 14 + 1))[:size] + os.urandom(120)


def fill(buf: Buffer, clock: Clock, n: int, samples: int = 10, start: int = 0) -> list[tuple[int, bytes]]:
    out = []
    for i in range(start, start + n):
        p = payload(i)
        stamp = int(clock.t * 1000)
        assert buf.append(stamp, samples, p)
        out.append((stamp, p))
        clock.t += 15
    return out


def drain(buf: Buffer, max_samples: int = 10**9) -> list[tuple[int, bytes]]:
    got = []
    while True:
        entries = buf.read(max_samples)
        if not entries:
            return got
        got += [(e.timestamp_ms, e.payload) for e in entries]
        buf.advance(entries[-1].end)


def segments(d) -> list:
    return sorted(p for p in d.iterdir() if p.suffix == ".seg")


def test_append_read_ack_round_trip_and_progress_survives_reopen(tmp_path):
    clock = Clock()
    buf = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    written = fill(buf, clock, 20)
    assert buf.stats().buffered_samples == 200
    first = buf.read(35)  # whole records only: 3 of 10 samples, not 4
    assert [(e.timestamp_ms, e.payload) for e in first] == written[:3]
    assert [e.samples for e in first] == [10, 10, 10]
    assert buf.advance(first[-1].end) == 30
    assert buf.stats().buffered_samples == 170
    buf.close()

    again = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    assert again.stats().buffered_samples == 170
    assert again.stats().corrupt_records == 0
    assert drain(again, 50) == written[3:]
    assert again.stats().buffered_samples == 0
    assert again.stats().oldest_timestamp_ms == 0
    assert again.last_timestamp_ms == written[-1][0]
    again.close()
    assert not list(tmp_path.glob(".progress.*.tmp"))
    doc = json.loads((tmp_path / "progress").read_text())
    assert doc["last_timestamp_ms"] == written[-1][0]


def test_read_returns_at_least_one_record_even_if_bigger_than_the_batch(tmp_path):
    clock = Clock()
    buf = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    fill(buf, clock, 2, samples=500)
    assert [e.samples for e in buf.read(100)] == [500]


@pytest.mark.parametrize("cut", [1, HEADER.size - 1, HEADER.size, HEADER.size + 5, -1])
def test_torn_last_record_is_cut_off_and_counted_the_rest_kept(tmp_path, cut):
    clock = Clock()
    buf = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    written = fill(buf, clock, 6)
    buf.close()
    seg = segments(tmp_path)[-1]
    data = seg.read_bytes()
    records, end, bad = wal.parse_segment(data)
    assert len(records) == 6 and end == len(data) and not bad
    last_start = records[-1][0]
    cut_at = last_start + (cut if cut > 0 else (len(data) - last_start) + cut)
    seg.write_bytes(data[:cut_at])  # the power went out in the middle of the last append

    again = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    st = again.stats()
    assert st.corrupt_records == 1
    assert st.buffered_samples == 50
    assert seg.stat().st_size == last_start  # cut exactly at the last good record
    # Appending goes on right after the good records, and everything reads back in order.
    more = fill(again, clock, 2, start=100)
    assert drain(again) == written[:5] + more
    again.close()
    # Reopening once more finds nothing wrong.
    assert Buffer(tmp_path, 1 << 20, 86400, clock=clock).stats().corrupt_records == 0


def test_crc_mismatch_in_last_record_is_dropped(tmp_path):
    clock = Clock()
    buf = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    written = fill(buf, clock, 4)
    buf.close()
    seg = segments(tmp_path)[-1]
    data = bytearray(seg.read_bytes())
    data[-3] ^= 0xFF  # one flipped byte in the last record's payload
    seg.write_bytes(bytes(data))
    again = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    assert again.stats().corrupt_records == 1
    assert drain(again) == written[:3]


def test_garbage_after_the_last_record_is_cut(tmp_path):
    clock = Clock()
    buf = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    written = fill(buf, clock, 3)
    buf.close()
    seg = segments(tmp_path)[-1]
    with seg.open("ab") as f:
        f.write(b"\0" * 4096)  # what some filesystems leave after a crash: zeros past the end
    again = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    assert again.stats().corrupt_records == 1
    assert drain(again) == written


def test_corruption_in_an_older_segment_loses_only_the_rest_of_that_segment(tmp_path):
    clock = Clock()
    buf = Buffer(tmp_path, 1 << 20, 86400, segment_bytes=4096, clock=clock)
    written = fill(buf, clock, 100)
    buf.close()
    segs = segments(tmp_path)
    assert len(segs) >= 3
    victim = segs[1]
    data = bytearray(victim.read_bytes())
    records, _, _ = wal.parse_segment(bytes(data))
    assert len(records) >= 3
    # Damage the second record of the second segment.
    data[records[1][0] + HEADER.size + 2] ^= 0x55
    victim.write_bytes(bytes(data))
    in_first = len(wal.parse_segment(segs[0].read_bytes())[0])
    lost = len(records) - 1

    again = Buffer(tmp_path, 1 << 20, 86400, segment_bytes=4096, clock=clock)
    assert again.stats().corrupt_records == 1
    got = drain(again)
    assert got == written[:in_first + 1] + written[in_first + 1 + lost:]


def test_empty_segment_from_a_cut_off_rotation_is_not_counted(tmp_path):
    clock = Clock()
    buf = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    written = fill(buf, clock, 2)
    buf.close()
    (tmp_path / wal.segment_name(2)).write_bytes(MAGIC[:3])
    again = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    assert again.stats().corrupt_records == 0
    assert drain(again) == written


@pytest.mark.parametrize("progress", [
    "{not json",
    # found with the fuzz targets (fuzz/targets.py, wal_open): these raised ValueError, TypeError or RecursionError
    # out of Buffer(), so remote write never started
    '{"segment": 1, "offset": 8, "last_timestamp_ms": "x"}',
    '{"segment": 1, "offset": 8, "last_timestamp_ms": [1]}',
    '{"a":' * 50000,
    '{"segment": true, "offset": 8}',
])
def test_unreadable_progress_file_sends_everything_again(tmp_path, progress):
    clock = Clock()
    buf = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    written = fill(buf, clock, 5)
    entries = buf.read(20)
    buf.advance(entries[-1].end)
    buf.close()
    (tmp_path / "progress").write_text(progress)
    again = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    assert drain(again) == written  # duplicates are better than a hole


def test_max_bytes_drops_oldest_first_counts_them_and_bounds_disk(tmp_path):
    clock = Clock()
    max_bytes = 64 * 1024
    buf = Buffer(tmp_path, max_bytes, 86400, segment_bytes=8192, clock=clock)
    written = []
    for i in range(400):
        written += fill(buf, clock, 1, start=i)
        on_disk = sum(p.stat().st_size for p in segments(tmp_path))
        assert on_disk <= max_bytes
        assert buf.stats().bytes == on_disk
    st = buf.stats()
    kept = drain(buf)
    assert 0 < len(kept) < 400
    assert kept == written[-len(kept):]  # the newest, contiguous: the oldest went first
    assert st.dropped["max_bytes"] == (400 - len(kept)) * 10
    assert st.buffered_samples == len(kept) * 10
    assert st.dropped["max_age"] == 0 and st.dropped["rejected"] == 0


def test_max_bytes_drop_moves_the_pointer_of_a_partly_sent_segment(tmp_path):
    clock = Clock()
    buf = Buffer(tmp_path, 32 * 1024, 86400, segment_bytes=8192, clock=clock)
    written = fill(buf, clock, 10)
    entries = buf.read(30)
    buf.advance(entries[-1].end)  # 3 records sent
    written += fill(buf, clock, 300, start=10)
    st = buf.stats()
    kept = drain(buf)
    assert kept == written[-len(kept):]
    assert st.dropped["max_bytes"] == (310 - 3 - len(kept)) * 10


def test_max_age_drops_old_records_before_sending(tmp_path):
    clock = Clock()
    buf = Buffer(tmp_path, 1 << 20, 600, clock=clock)
    written = fill(buf, clock, 60)  # 15 min of records, 15 s apart
    # Now 600 s after the last record: only records newer than now - 600 s are kept.
    clock.t = written[-1][0] / 1000 + 300
    cutoff = (clock.t - 600) * 1000
    expected = [w for w in written if w[0] >= cutoff]
    assert 0 < len(expected) < 60
    assert drain(buf) == expected
    st = buf.stats()
    assert st.dropped["max_age"] == (60 - len(expected)) * 10
    assert st.buffered_samples == 0


def test_sent_segments_are_deleted(tmp_path):
    clock = Clock()
    buf = Buffer(tmp_path, 1 << 20, 86400, segment_bytes=4096, clock=clock)
    fill(buf, clock, 100)
    assert len(segments(tmp_path)) > 3
    drain(buf)
    assert len(segments(tmp_path)) == 1  # the one being appended to


def test_rejected_records_are_counted_as_dropped(tmp_path):
    clock = Clock()
    buf = Buffer(tmp_path, 1 << 20, 86400, clock=clock)
    fill(buf, clock, 3, samples=7)
    entries = buf.read(7)
    assert buf.advance(entries[-1].end, dropped="rejected") == 7
    assert buf.stats().dropped["rejected"] == 7
    assert buf.stats().buffered_samples == 14


def test_record_that_can_never_fit_is_refused_and_counted(tmp_path):
    clock = Clock()
    buf = Buffer(tmp_path, 16 * 1024, 86400, segment_bytes=4096, clock=clock)
    big = os.urandom(12 * 1024)  # incompressible, more than half the buffer
    assert not buf.append(int(clock.t * 1000), 99, big)
    assert buf.stats().dropped["max_bytes"] == 99
    assert buf.stats().buffered_samples == 0


def test_record_format_is_length_crc_and_zlib(tmp_path):
    rec = wal.encode_record(1234, 5, b"hello")
    length, crc, stamp, count = HEADER.unpack_from(rec)
    assert (stamp, count) == (1234, 5)
    assert zlib.decompress(rec[HEADER.size:HEADER.size + length]) == b"hello"
    assert crc == zlib.crc32(rec[HEADER.size:], zlib.crc32(rec[8:HEADER.size]))


def test_pointer_is_normalized_past_the_end_of_a_segment(tmp_path):
    clock = Clock()
    buf = Buffer(tmp_path, 1 << 20, 86400, segment_bytes=4096, clock=clock)
    written = fill(buf, clock, 30)
    first_seg_records = len(wal.parse_segment(segments(tmp_path)[0].read_bytes())[0])
    entries = buf.read(first_seg_records * 10)
    assert len(entries) == first_seg_records
    buf.advance(entries[-1].end)
    assert buf.pointer == Position(2, len(MAGIC))
    assert drain(buf) == written[first_seg_records:]


@pytest.fixture
def small_disk(tmp_path):
    """A 256 KiB tmpfs: a disk that really fills up (ENOSPC), unmounted afterwards."""
    import subprocess

    mnt = tmp_path / "disk"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "wardwatch-test", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill_disk(mnt) -> None:
    with open(mnt / "filler", "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def test_full_disk_loses_only_the_records_it_refused_and_counts_them(small_disk, caplog):
    # The fault-injection run (tests/integration/test_faults.py) showed what a full disk did: a failed write
    # left part of a record in the segment (every later record was then unreadable), a failed rotation left
    # the buffer writing to a closed file for good, and a progress file that could not be saved stopped sending.
    clock = Clock()
    d = small_disk / "buf"
    buf = Buffer(d, 128 * 1024, 86400, segment_bytes=16 * 1024, clock=clock)
    before = fill(buf, clock, 10)
    sent = buf.read(50)  # five records
    fill_disk(small_disk)
    with caplog.at_level("WARNING", "wardwatch.wal"):
        refused = 0
        for _ in range(60):
            # incompressible and over a page: what is left of the active segment's last tmpfs page cannot
            # take one, so none gets through until the disk has room (a smaller record sometimes did, and
            # the failure was then rightly logged a second time)
            p = os.urandom(5000)
            refused += not buf.append(int(clock.t * 1000), 10, p)
            clock.t += 15
        assert buf.advance(sent[-1].end) == 50  # acknowledged although the progress file cannot be saved
    assert refused >= 1
    assert buf.stats().dropped["write_error"] == 10 * refused
    assert caplog.text.count("cannot write records") == 1  # once, not at every record
    assert caplog.text.count("cannot save the progress file") == 1
    (small_disk / "filler").unlink()
    after = fill(buf, clock, 5, start=2000)  # the disk has room again: rotation and writes work
    assert buf.stats().dropped["write_error"] == 10 * refused
    buf.close()
    again = Buffer(d, 128 * 1024, 86400, segment_bytes=16 * 1024, clock=clock)
    assert again.stats().corrupt_records == 0  # every segment holds whole records only
    got = drain(again)
    assert got[:5] == before[5:] and got[-5:] == after  # nothing written before or after the episode lost


def test_only_its_own_file_names_are_read_or_deleted(tmp_path):
    # docs/security.md, "paths from config": in remote_write.directory the buffer touches only names it makes
    # itself (ten digits + .seg, progress, .progress.*.tmp); anything else there is left alone
    others = {"notes.txt": b"x", "1.seg": b"y", "00000000001.seg": b"z", "0000000001.seg.bak": b"w"}
    for name, data in others.items():
        (tmp_path / name).write_bytes(data)
    (tmp_path / ".progress.k3j2.tmp").write_bytes(b'{"segm')  # a save cut short by a crash: removed
    clock = Clock()
    buf = Buffer(tmp_path, 1 << 20, 86400, segment_bytes=4096, clock=clock)
    fill(buf, clock, 40)
    drain(buf)
    buf.close()
    assert {n: (tmp_path / n).read_bytes() for n in others} == others
    assert all(p.name in others or p.name == "progress" or wal._SEGMENT_RE.match(p.name) for p in tmp_path.iterdir())
