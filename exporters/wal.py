"""The on-disk buffer of store-and-forward: append-only segment files of
checksummed records, and a progress pointer saying what the receiver has
acknowledged.

    <directory>/0000000001.seg   MAGIC, then records: header + zlib(payload)
    <directory>/0000000002.seg   ...
    <directory>/progress         {"segment": 2, "offset": 4711, ...}, replaced atomically

A record header is `<IIqI`: payload length, CRC-32 of everything after the CRC
field (timestamp, sample count, payload), timestamp in ms, sample count. Every
append is fsynced before it is visible to the sender, so what was acknowledged
to the receiver was durable first.

On open every segment is checked record by record. At the first record that is
torn (shorter than its header says) or fails its CRC, the segment is cut there
(truncated) and one corrupt record is counted; the records before it, and every
other segment, are kept. A power cut mid-append therefore costs at most the
record being written.

Disk errors (a full disk, a read-only or vanished directory, an I/O error) never raise out
of `append`, `read` or `advance`: a record that cannot be written is cut off again (the
segment stays a sequence of whole records) and its samples are counted as dropped
(`write_error`); a progress file that cannot be saved is kept in memory and saved at the
next chance (at worst, what was sent meanwhile is sent again after a restart); sent
segments that cannot be deleted are deleted later. Each kind of failure is logged once,
and once more when it works again.

Bounds: the segments never take more than `max_bytes` together (the oldest
segment goes first when a new record would not fit), and records older than
`max_age` are dropped before they are sent. Every sample that leaves the buffer
unsent is counted by reason.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import struct
import threading
import time
import zlib
from array import array
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from agent.files import fsync_dir, write_atomic

log = logging.getLogger("wardwatch.wal")

MAGIC = b"wwrwal01"
HEADER = struct.Struct("<IIqI")  # payload length, crc32, timestamp_ms, samples
_STAMP_COUNT = struct.Struct("<qI")
PROGRESS = "progress"
_SEGMENT_RE = re.compile(r"^(\d{10})\.seg$")
DROP_REASONS = ("max_bytes", "max_age", "rejected", "write_error")
MAX_SEGMENT_BYTES = 4 * 2**20
MIN_SEGMENT_BYTES = 4096


class Position(NamedTuple):
    segment: int
    offset: int


class Entry(NamedTuple):
    start: Position
    end: Position
    timestamp_ms: int
    samples: int
    payload: bytes


@dataclass(frozen=True)
class Stats:
    buffered_samples: int        # not yet acknowledged (nor dropped)
    bytes: int                   # segment files on disk
    dropped: dict[str, int]      # samples that left unsent, by reason (since open)
    corrupt_records: int         # records cut off as torn or corrupt (since open)
    oldest_timestamp_ms: int     # of the oldest unacknowledged record; 0 if none
    last_timestamp_ms: int       # of the newest record ever appended; 0 if none
    records: int                 # unacknowledged records


@dataclass
class _Segment:
    index: int
    path: Path
    size: int
    offsets: array = field(default_factory=lambda: array("q"))
    stamps: array = field(default_factory=lambda: array("q"))
    counts: array = field(default_factory=lambda: array("q"))

    def end_of(self, i: int) -> int:
        return self.offsets[i + 1] if i + 1 < len(self.offsets) else self.size

    def first_at_or_after(self, offset: int) -> int:
        return bisect_left(self.offsets, offset)


def segment_name(index: int) -> str:
    return f"{index:010d}.seg"


def encode_record(timestamp_ms: int, samples: int, payload: bytes, level: int = 6) -> bytes:
    data = zlib.compress(payload, level)
    tail = _STAMP_COUNT.pack(timestamp_ms, samples)
    crc = zlib.crc32(data, zlib.crc32(tail))
    return HEADER.pack(len(data), crc, timestamp_ms, samples) + data


def parse_segment(data: bytes) -> tuple[list[tuple[int, int, int]], int, bool]:
    """Records of a segment's bytes: ([(offset, timestamp_ms, samples)], end of the last good record,
    whether bad bytes follow it). A segment without the magic has no good records."""
    if data[:len(MAGIC)] != MAGIC:
        return [], 0, True
    out = []
    i = len(MAGIC)
    n = len(data)
    while i < n:
        if i + HEADER.size > n:
            return out, i, True
        length, crc, stamp, count = HEADER.unpack_from(data, i)
        end = i + HEADER.size + length
        if end > n:
            return out, i, True
        body = memoryview(data)[i + HEADER.size:end]
        if zlib.crc32(body, zlib.crc32(data[i + 8:i + HEADER.size])) != crc:
            return out, i, True
        out.append((i, stamp, count))
        i = end
    return out, i, False


def scan(directory: str | Path) -> list[tuple[int, int, int, bytes]]:
    """Every good record in `directory`, read only: [(segment, timestamp_ms, samples, payload)].
    For tests and tools; the agent uses `Buffer`."""
    out = []
    for index, path in _segment_files(Path(directory)):
        data = path.read_bytes()
        records, _, _ = parse_segment(data)
        for offset, stamp, count in records:
            length = HEADER.unpack_from(data, offset)[0]
            payload = zlib.decompress(data[offset + HEADER.size:offset + HEADER.size + length])
            out.append((index, stamp, count, payload))
    return out


def _segment_files(directory: Path) -> list[tuple[int, Path]]:
    found = []
    for p in directory.iterdir():
        m = _SEGMENT_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1)), p))
    return sorted(found)


class Buffer:
    """Thread-safe: the recorder appends, the sender reads and advances."""

    def __init__(self, directory: str | Path, max_bytes: int, max_age: float,
                 segment_bytes: int | None = None, clock: Callable[[], float] = time.time, fsync: bool = True):
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.max_age = max_age
        self.segment_bytes = segment_bytes or max(MIN_SEGMENT_BYTES, min(MAX_SEGMENT_BYTES, max_bytes // 8))
        if self.segment_bytes * 2 > max_bytes:
            raise ValueError(f"max_bytes ({max_bytes}) must hold at least two segments of {self.segment_bytes}")
        self.clock = clock
        self.fsync = fsync
        self._lock = threading.Lock()
        self._segments: list[_Segment] = []
        self._file = None
        self._pointer = Position(0, 0)
        self._buffered = 0
        self._dropped = dict.fromkeys(DROP_REASONS, 0)
        self._corrupt = 0
        self._last_stamp = 0
        self._closed = False
        self._tail_dirty = False  # a failed write may have left part of a record at the end of the active segment
        self._failing: set[str] = set()  # what cannot be done on disk right now (each logged once)
        self._open()

    # --- opening -------------------------------------------------------------

    def _open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for left in self.directory.glob(f".{PROGRESS}.*.tmp"):  # a save cut short by a crash
            left.unlink(missing_ok=True)
        files = _segment_files(self.directory)
        for index, path in files:
            data = path.read_bytes()
            records, good_end, bad = parse_segment(data)
            if bad:
                if good_end == 0:
                    if not MAGIC.startswith(data):  # junk; a prefix of the magic is a rotation cut off
                        self._corrupt += 1
                        log.warning("buffer segment %s has no valid header; removed", path.name)
                    path.unlink()
                    continue
                self._corrupt += 1
                log.warning("buffer segment %s: torn or corrupt record at byte %d; cut there, %d records kept",
                            path.name, good_end, len(records))
                with path.open("r+b") as f:
                    f.truncate(good_end)
                    f.flush()
                    if self.fsync:
                        os.fsync(f.fileno())
            seg = _Segment(index, path, good_end)
            for offset, stamp, count in records:
                seg.offsets.append(offset)
                seg.stamps.append(stamp)
                seg.counts.append(count)
            if records:
                self._last_stamp = max(self._last_stamp, records[-1][1])
            self._segments.append(seg)
        progress = self._read_progress()
        if not self._segments:
            self._new_segment(1)
        self._last_stamp = max(self._last_stamp, int(progress.get("last_timestamp_ms", 0)))
        self._pointer = self._normalize(Position(int(progress.get("segment", 0)), int(progress.get("offset", 0))))
        self._delete_acked()
        self._buffered = self._count_from(self._pointer)
        self._file = self._segments[-1].path.open("ab", buffering=0)

    def _read_progress(self) -> dict:
        path = self.directory / PROGRESS
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or not all(isinstance(doc.get(k), int) and not isinstance(doc[k], bool)
                                                    for k in ("segment", "offset")):
                raise ValueError("not a progress document")
            if not isinstance(doc.get("last_timestamp_ms", 0), int):
                raise ValueError("last_timestamp_ms is not a whole number")
            return doc
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, RecursionError) as e:
            log.warning("buffer progress file unreadable (%s); sending everything buffered again", e)
            return {}

    def _normalize(self, p: Position) -> Position:
        """The record boundary at or after `p`, moved past empty ends onto the next segment."""
        segs = self._segments
        first = segs[0]
        if p.segment < first.index:
            return Position(first.index, len(MAGIC))
        for k, seg in enumerate(segs):
            if seg.index < p.segment:
                continue
            offset = p.offset if seg.index == p.segment else len(MAGIC)
            i = seg.first_at_or_after(offset)
            if i < len(seg.offsets):
                return Position(seg.index, seg.offsets[i])
            if k == len(segs) - 1:
                return Position(seg.index, seg.size)
        last = segs[-1]
        return Position(last.index, last.size)

    # --- helpers (lock held) ---------------------------------------------------

    def _seg(self, index: int) -> tuple[int, _Segment]:
        for k, s in enumerate(self._segments):
            if s.index == index:
                return k, s
        raise KeyError(index)

    def _count_from(self, p: Position) -> int:
        total = 0
        for seg in self._segments:
            if seg.index < p.segment:
                continue
            start = seg.first_at_or_after(p.offset) if seg.index == p.segment else 0
            total += sum(seg.counts[start:])
        return total

    def _count_between(self, a: Position, b: Position) -> int:
        return self._count_from(a) - self._count_from(b)

    def _failed(self, what: str, e: OSError) -> None:
        if what not in self._failing:
            log.warning("buffer in %s: cannot %s: %s (logged once, until it works again)", self.directory, what,
                        e.strerror or e)
            self._failing.add(what)

    def _works(self, what: str) -> None:
        if what in self._failing:
            self._failing.discard(what)
            log.info("buffer in %s: can %s again", self.directory, what)

    def _new_segment(self, index: int) -> None:
        """Create the next segment; on a disk error nothing changes (its partial file is removed)."""
        path = self.directory / segment_name(index)
        try:
            with path.open("wb") as f:
                f.write(MAGIC)
                f.flush()
                if self.fsync:
                    os.fsync(f.fileno())
        except OSError:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            raise
        if self.fsync:
            fsync_dir(self.directory)
        self._segments.append(_Segment(index, path, len(MAGIC)))

    def _rotate(self) -> None:
        """Start the next segment; on a disk error the active one stays active, unchanged."""
        self._new_segment(self._segments[-1].index + 1)
        try:
            new_file = self._segments[-1].path.open("ab", buffering=0)
        except OSError:
            with contextlib.suppress(OSError):
                self._segments[-1].path.unlink(missing_ok=True)
            self._segments.pop()
            raise
        if self._file is not None:
            self._file.close()
        self._file = new_file
        self._tail_dirty = False
        if self._pointer.segment == self._segments[-2].index and self._pointer.offset >= self._segments[-2].size:
            self._pointer = Position(self._segments[-1].index, len(MAGIC))

    def _write(self, record: bytes) -> None:
        """Append one record to the active segment, whole or not at all: after a failed (or short)
        write or fsync the segment is cut back to its last whole record."""
        assert self._file is not None
        fd = self._file.fileno()
        active = self._segments[-1]
        if self._tail_dirty:
            os.ftruncate(fd, active.size)
            self._tail_dirty = False
        try:
            view = memoryview(record)
            while view:
                n = self._file.write(view)
                if not n:
                    raise OSError(errno.EIO, "short write")
                view = view[n:]
            if self.fsync:
                os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, active.size)
            except OSError:
                self._tail_dirty = True
            raise

    def _drop_oldest_segment(self, reason: str) -> None:
        seg = self._segments[0]
        seg.path.unlink(missing_ok=True)  # first: if the disk refuses, nothing has changed
        if self._pointer.segment <= seg.index:
            start = seg.first_at_or_after(self._pointer.offset) if self._pointer.segment == seg.index else 0
            lost = sum(seg.counts[start:])
            if lost:
                self._dropped[reason] += lost
                self._buffered -= lost
                log.warning("buffer %s: dropped %d unsent samples (oldest first)", reason, lost)
            self._pointer = Position(self._segments[1].index, len(MAGIC))
            self._pointer = self._normalize(self._pointer)
            self._save_progress()
        self._segments.pop(0)

    def _delete_acked(self) -> None:
        while len(self._segments) > 1 and self._segments[0].index < self._pointer.segment:
            try:
                self._segments[0].path.unlink(missing_ok=True)
            except OSError as e:  # kept (and counted in the bytes on disk) until it can be deleted
                self._failed("delete sent segments", e)
                return
            self._segments.pop(0)
        self._works("delete sent segments")

    def _save_progress(self) -> None:
        """Save the pointer; when the disk refuses, it is kept in memory and saved at the next chance."""
        doc = {"segment": self._pointer.segment, "offset": self._pointer.offset,
               "last_timestamp_ms": self._last_stamp}
        try:
            write_atomic(self.directory / PROGRESS, json.dumps(doc).encode(), mode=None, fsync=self.fsync)
        except OSError as e:
            self._failed("save the progress file", e)
            return
        self._works("save the progress file")

    def _bytes(self) -> int:
        return sum(s.size for s in self._segments)

    def _expire(self) -> None:
        """Drop what is older than max_age: whole old segments, then records at the pointer."""
        cutoff = int((self.clock() - self.max_age) * 1000)
        while len(self._segments) > 1 and (not self._segments[0].stamps or self._segments[0].stamps[-1] < cutoff):
            self._drop_oldest_segment("max_age")
        changed = False
        while True:
            _, seg = self._seg(self._pointer.segment)
            i = seg.first_at_or_after(self._pointer.offset)
            if i >= len(seg.offsets) or seg.stamps[i] >= cutoff:
                break
            self._dropped["max_age"] += seg.counts[i]
            self._buffered -= seg.counts[i]
            self._pointer = self._normalize(Position(seg.index, seg.end_of(i)))
            changed = True
        if changed:
            self._save_progress()
            self._delete_acked()

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("buffer is closed")

    # --- public ----------------------------------------------------------------

    def append(self, timestamp_ms: int, samples: int, payload: bytes) -> bool:
        """Store one record durably. False (and its samples counted as dropped) if it can never fit, or if
        the disk refuses it (full, read-only: `write_error`)."""
        record = encode_record(timestamp_ms, samples, payload)
        with self._lock:
            self._check_open()
            if len(MAGIC) + len(record) > self.max_bytes // 2:
                self._dropped["max_bytes"] += samples
                log.warning("buffer: a record of %d bytes can never fit in max_bytes=%d; dropped",
                            len(record), self.max_bytes)
                return False
            try:
                self._expire()
                active = self._segments[-1]
                if active.offsets and active.size + len(record) > self.segment_bytes:
                    self._rotate()
                while self._bytes() + len(record) > self.max_bytes:
                    if len(self._segments) == 1:
                        self._rotate()
                    self._drop_oldest_segment("max_bytes")
                self._write(record)
            except OSError as e:  # a full or read-only disk: this record is lost, counted, and the buffer goes on
                self._dropped["write_error"] += samples
                self._failed("write records", e)
                return False
            self._works("write records")
            if "save the progress file" in self._failing:  # the disk takes writes again: catch up
                self._save_progress()
            active = self._segments[-1]
            active.offsets.append(active.size)
            active.stamps.append(timestamp_ms)
            active.counts.append(samples)
            active.size += len(record)
            self._buffered += samples
            self._last_stamp = max(self._last_stamp, timestamp_ms)
            return True

    def read(self, max_samples: int) -> list[Entry]:
        """The oldest unacknowledged records, whole, up to `max_samples` (at least one record)."""
        out: list[Entry] = []
        with self._lock:
            self._check_open()
            self._expire()
            p = self._pointer
            total = 0
            k, seg = self._seg(p.segment)
            i = seg.first_at_or_after(p.offset)
            f = None
            try:
                while True:
                    if i >= len(seg.offsets):
                        if k + 1 >= len(self._segments):
                            break
                        k, i = k + 1, 0
                        seg = self._segments[k]
                        if f is not None:
                            f.close()
                            f = None
                        continue
                    count = seg.counts[i]
                    if out and total + count > max_samples:
                        break
                    if f is None:
                        f = seg.path.open("rb")
                    start, end = seg.offsets[i], seg.end_of(i)
                    f.seek(start)
                    raw = f.read(end - start)
                    payload = self._payload(raw)
                    if payload is None:
                        if out:  # send what came before; the next read starts at this record
                            break
                        # Went bad on disk since it was written: cut it out like a torn record.
                        self._corrupt += 1
                        self._buffered -= count
                        log.warning("buffer segment %s: record at byte %d unreadable; skipped", seg.path.name, start)
                        self._pointer = self._normalize(Position(seg.index, end))
                        self._save_progress()
                        i += 1
                        continue
                    out.append(Entry(Position(seg.index, start), Position(seg.index, end),
                                     seg.stamps[i], count, payload))
                    total += count
                    i += 1
            finally:
                if f is not None:
                    f.close()
        return out

    @staticmethod
    def _payload(raw: bytes) -> bytes | None:
        if len(raw) < HEADER.size:
            return None
        length, crc, _, _ = HEADER.unpack_from(raw)
        body = raw[HEADER.size:HEADER.size + length]
        if len(body) != length or zlib.crc32(body, zlib.crc32(raw[8:HEADER.size])) != crc:
            return None
        try:
            return zlib.decompress(body)
        except zlib.error:
            return None

    def advance(self, upto: Position, dropped: str | None = None) -> int:
        """Everything before `upto` has been acknowledged (or, with `dropped`, given up for that reason).
        Saves the pointer atomically; returns how many samples it covered."""
        if dropped is not None and dropped not in DROP_REASONS:
            raise ValueError(f"unknown drop reason {dropped!r}")
        with self._lock:
            if self._closed:
                return 0
            if upto <= self._pointer:  # already passed (e.g. dropped meanwhile by max_bytes)
                return 0
            target = self._normalize(upto)
            n = self._count_between(self._pointer, target)
            self._pointer = target
            self._buffered -= n
            if dropped:
                self._dropped[dropped] += n
            self._save_progress()
            self._delete_acked()
            return n

    def stats(self) -> Stats:
        with self._lock:
            oldest = 0
            records = 0
            for seg in self._segments:
                if seg.index < self._pointer.segment:
                    continue
                start = seg.first_at_or_after(self._pointer.offset) if seg.index == self._pointer.segment else 0
                if start < len(seg.stamps):
                    if not oldest:
                        oldest = seg.stamps[start]
                    records += len(seg.stamps) - start
            return Stats(self._buffered, self._bytes(), dict(self._dropped), self._corrupt, oldest,
                         self._last_stamp, records)

    @property
    def last_timestamp_ms(self) -> int:
        """Of the newest record ever appended (kept across restarts); 0 if none."""
        with self._lock:
            return self._last_stamp

    @property
    def pointer(self) -> Position:
        with self._lock:
            return self._pointer

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._file is not None:
                self._file.close()
                self._file = None
