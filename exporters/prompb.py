"""The remote-write 1.0 messages, encoded by hand (they are four tiny messages):

    message WriteRequest { repeated TimeSeries timeseries = 1; ... }
    message TimeSeries   { repeated Label labels = 1; repeated Sample samples = 2; }
    message Label        { string name = 1; string value = 2; }
    message Sample       { double value = 1; int64 timestamp = 2; }  // ms since epoch

A WriteRequest holding only time series is the concatenation of its
`timeseries` fields, so the buffer stores each snapshot as such a fragment and a
request body is the concatenation of fragments (no re-encoding at send time).
`decode_write_request` is for tests and benchmarks.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable

STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]  # Prometheus's staleness marker
_DOUBLE = struct.Struct("<d")


def varint(n: int) -> bytes:
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(tag: int, payload: bytes) -> bytes:
    return bytes((tag,)) + varint(len(payload)) + payload


def encode_labels(labels: Iterable[tuple[str, str]]) -> bytes:
    """The `labels` fields of a TimeSeries; `labels` sorted by name, none with an empty value."""
    return b"".join(_field(0x0A, _field(0x0A, k.encode()) + _field(0x12, v.encode())) for k, v in labels)


def encode_sample(value: float, timestamp_ms: int) -> bytes:
    """A `samples` field of a TimeSeries."""
    return _field(0x12, b"\x09" + _DOUBLE.pack(value) + b"\x10" + varint(timestamp_ms))


def encode_series(encoded_labels: bytes, samples: bytes) -> bytes:
    """A `timeseries` field of a WriteRequest, from `encode_labels` and `encode_sample` output."""
    return _field(0x0A, encoded_labels + samples)


def is_stale(value: float) -> bool:
    return math.isnan(value) and _DOUBLE.pack(value) == _DOUBLE.pack(STALE_NAN)


# --- decoding (tests, benchmarks) ---------------------------------------------

def _read_varint(buf: bytes, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> Iterable[tuple[int, int, object]]:
    i = 0
    while i < len(buf):
        key, i = _read_varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _read_varint(buf, i)
            yield number, wire, value
        elif wire == 1:
            if i + 8 > len(buf):
                raise ValueError("truncated fixed64")
            yield number, wire, buf[i:i + 8]
            i += 8
        elif wire == 2:
            length, i = _read_varint(buf, i)
            if i + length > len(buf):
                raise ValueError("truncated length-delimited field")
            yield number, wire, buf[i:i + length]
            i += length
        elif wire == 5:
            yield number, wire, buf[i:i + 4]
            i += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")


def decode_write_request(buf: bytes) -> list[tuple[dict[str, str], list[tuple[float, int]]]]:
    """[(labels, [(value, timestamp_ms), ...]), ...] in message order."""
    out = []
    for number, _, ts in _fields(buf):
        if number != 1:
            continue
        labels: dict[str, str] = {}
        samples: list[tuple[float, int]] = []
        for n2, _, part in _fields(ts):  # type: ignore[arg-type]
            if n2 == 1:
                kv = {n3: v for n3, _, v in _fields(part)}  # type: ignore[arg-type]
                labels[kv.get(1, b"").decode()] = kv.get(2, b"").decode()  # type: ignore[union-attr]
            elif n2 == 2:
                value, stamp = 0.0, 0
                for n3, _, v in _fields(part):  # type: ignore[arg-type]
                    if n3 == 1:
                        value = _DOUBLE.unpack(v)[0]  # type: ignore[arg-type]
                    elif n3 == 2:
                        stamp = v - (1 << 64) if v >= 1 << 63 else v  # type: ignore[operator]
                samples.append((value, stamp))
        out.append((labels, samples))
    return out
