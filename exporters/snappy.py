"""Snappy block compression (the raw format remote write uses, not the framed one).

Two encoders, one format:
- `compress_python`: a pure-Python block encoder (literal runs plus 4-byte hash
  matching within 64 KiB, copies with 1- or 2-byte offsets). It needs nothing
  installed, which keeps the agent's install small; remote-write bodies are
  label sets repeated over and over, so even this simple matcher packs them well.
- `cramjam` (PyPI, Rust wheels for Windows and Linux): used when installed
  (`pip install wardwatch[remote-write]`); several times faster, same format.

`compress` is the one the agent uses: cramjam if importable, else pure Python.
Format: https://github.com/google/snappy/blob/main/format_description.txt
"""

from __future__ import annotations

from collections.abc import Callable

from exporters.prompb import varint

_MAX_OFFSET = 65535      # 2-byte-offset copies reach back this far
_MIN_INPUT_FOR_MATCHING = 16


def _emit_literal(out: bytearray, data: bytes, start: int, end: int) -> None:
    n = end - start
    if n <= 0:
        return
    m = n - 1
    if m < 60:
        out.append(m << 2)
    elif m < 1 << 8:
        out.append(60 << 2)
        out.append(m)
    elif m < 1 << 16:
        out.append(61 << 2)
        out += m.to_bytes(2, "little")
    elif m < 1 << 24:
        out.append(62 << 2)
        out += m.to_bytes(3, "little")
    else:
        out.append(63 << 2)
        out += m.to_bytes(4, "little")
    out += data[start:end]


def _emit_copy_upto64(out: bytearray, offset: int, length: int) -> None:
    # 4 <= length <= 64
    if length < 12 and offset < 2048:
        out.append(((offset >> 8) << 5) | ((length - 4) << 2) | 1)
        out.append(offset & 0xFF)
    else:
        out.append(((length - 1) << 2) | 2)
        out += offset.to_bytes(2, "little")


def _emit_copy(out: bytearray, offset: int, length: int) -> None:
    # As the reference encoder: 64-byte copies, keeping the last one at least 4 long.
    while length >= 68:
        _emit_copy_upto64(out, offset, 64)
        length -= 64
    if length > 64:
        _emit_copy_upto64(out, offset, 60)
        length -= 60
    _emit_copy_upto64(out, offset, length)


def _match_length(data: bytes, a: int, b: int, n: int) -> int:
    """How many bytes data[a:] and data[b:] share (a < b), compared in growing then shrinking chunks."""
    length = 0
    room = n - b
    step = 8
    while step:
        if length + step <= room and data[a + length:a + length + step] == data[b + length:b + length + step]:
            length += step
            if step < 4096:
                step <<= 1
        else:
            step >>= 1
    return length


def compress_python(data: bytes) -> bytes:
    data = bytes(data)
    n = len(data)
    out = bytearray(varint(n))
    if n < _MIN_INPUT_FOR_MATCHING:
        _emit_literal(out, data, 0, n)
        return bytes(out)
    table: dict[bytes, int] = {}
    limit = n - 4
    i = lit = 0
    skip = 32  # the reference encoder's heuristic: skip faster through data that does not match
    while i <= limit:
        key = data[i:i + 4]
        candidate = table.get(key)
        table[key] = i
        if candidate is not None and i - candidate <= _MAX_OFFSET:
            length = 4 + _match_length(data, candidate + 4, i + 4, n)
            _emit_literal(out, data, lit, i)
            _emit_copy(out, i - candidate, length)
            i += length
            lit = i
            skip = 32
            if i - 1 <= limit:  # let the next match start right behind this one
                table[data[i - 1:i + 3]] = i - 1
        else:
            i += skip >> 5
            skip += 1
    _emit_literal(out, data, lit, n)
    return bytes(out)


def _cramjam() -> Callable[[bytes], bytes] | None:
    try:
        import cramjam
    except ImportError:
        return None

    def compress_cramjam(data: bytes) -> bytes:
        return bytes(cramjam.snappy.compress_raw(data))

    return compress_cramjam


compress_cramjam = _cramjam()
compress: Callable[[bytes], bytes] = compress_cramjam or compress_python
IMPLEMENTATION = "cramjam" if compress_cramjam else "python"
