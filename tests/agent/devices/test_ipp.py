"""The IPP/1.1 encoder and decoder (RFC 8010), on hand-built messages."""

from __future__ import annotations

import struct

import pytest

from agent.devices import ipp


def attr(tag: int, name: str, value: bytes) -> bytes:
    n = name.encode()
    return struct.pack(">bh", tag, len(n)) + n + struct.pack(">h", len(value)) + value


def response(*groups: tuple[int, list[bytes]], status: int = 0, request_id: int = 7) -> bytes:
    out = struct.pack(">bbhi", 1, 1, status, request_id)
    for tag, attrs in groups:
        out += bytes([tag]) + b"".join(attrs)
    return out + bytes([ipp.END_OF_ATTRIBUTES])


def test_request_encoding():
    body = ipp.encode_request(ipp.GET_PRINTER_ATTRIBUTES, 42, ipp.operation_attributes(
        "ipp://localhost/printers/Máy_in", ["printer-state", "printer-state-reasons"]))
    assert body[:8] == struct.pack(">bbhi", 1, 1, 0x000B, 42)
    assert body[8] == ipp.OPERATION_ATTRIBUTES and body[-1] == ipp.END_OF_ATTRIBUTES
    assert attr(ipp.URI, "printer-uri", "ipp://localhost/printers/Máy_in".encode()) in body
    # a second value of a 1setOf carries an empty name
    assert attr(ipp.KEYWORD, "requested-attributes", b"printer-state") + attr(
        ipp.KEYWORD, "", b"printer-state-reasons") in body


def test_response_decoding_with_all_value_kinds():
    text_lang = struct.pack(">h", 2) + b"vi" + struct.pack(">h", len("Hết giấy".encode())) + "Hết giấy".encode()
    data = response(
        (ipp.OPERATION_ATTRIBUTES, [attr(ipp.CHARSET, "attributes-charset", b"utf-8")]),
        (ipp.PRINTER_ATTRIBUTES, [
            attr(ipp.NAME, "printer-name", "Máy in một cửa".encode()),
            attr(ipp.ENUM, "printer-state", struct.pack(">i", 5)),
            attr(ipp.KEYWORD, "printer-state-reasons", b"paused"),
            attr(ipp.KEYWORD, "", b"media-empty-error"),
            attr(ipp.BOOLEAN, "printer-is-accepting-jobs", b"\x00"),
            attr(ipp.TEXT_WITH_LANGUAGE, "printer-state-message", text_lang),
            attr(ipp.INTEGER, "marker-levels", struct.pack(">i", -3)),
            attr(ipp.DATE_TIME, "printer-current-time", struct.pack(">HBBBBBBcBB", 2024, 5, 6, 7, 8, 9, 0, b"+", 7, 0)),
            attr(ipp.RANGE_OF_INTEGER, "copies-supported", struct.pack(">ii", 1, 99)),
            attr(0x13, "printer-location", b""),  # no-value
        ]),
    )
    r = ipp.decode_response(data)
    assert r.ok and r.request_id == 7
    p = r.group(ipp.PRINTER_ATTRIBUTES)
    assert p["printer-name"] == ["Máy in một cửa"]
    assert p["printer-state"] == [5]
    assert p["printer-state-reasons"] == ["paused", "media-empty-error"]
    assert p["printer-is-accepting-jobs"] == [False]
    assert p["printer-state-message"] == ["Hết giấy"]
    assert p["marker-levels"] == [-3]
    assert p["printer-current-time"][0].utcoffset().total_seconds() == 7 * 3600
    assert p["copies-supported"] == [(1, 99)]
    assert p["printer-location"] == [None]


def test_collections_are_decoded():
    member = [
        attr(ipp.BEG_COLLECTION, "media-col-ready", b""),
        attr(ipp.MEMBER_ATTR_NAME, "", b"media-size"),
        attr(ipp.BEG_COLLECTION, "", b""),
        attr(ipp.MEMBER_ATTR_NAME, "", b"x-dimension"),
        attr(ipp.INTEGER, "", struct.pack(">i", 21000)),
        attr(ipp.END_COLLECTION, "", b""),
        attr(ipp.MEMBER_ATTR_NAME, "", b"media-source"),
        attr(ipp.KEYWORD, "", b"tray-1"),
        attr(ipp.END_COLLECTION, "", b""),
        attr(ipp.ENUM, "printer-state", struct.pack(">i", 3)),
    ]
    p = ipp.decode_response(response((ipp.PRINTER_ATTRIBUTES, member))).group(ipp.PRINTER_ATTRIBUTES)
    assert p["media-col-ready"] == [{"media-size": [{"x-dimension": [21000]}], "media-source": ["tray-1"]}]
    assert p["printer-state"] == [3]


@pytest.mark.parametrize("cut", [3, 9, 12, 20, -1])
def test_truncated_messages_raise_ipp_error(cut):
    data = response((ipp.PRINTER_ATTRIBUTES, [attr(ipp.NAME, "printer-name", b"abc")]))
    with pytest.raises(ipp.IppError):
        ipp.decode_response(data[:cut])


def test_bad_lengths_raise_ipp_error():
    with pytest.raises(ipp.IppError):
        ipp.decode_response(response((ipp.PRINTER_ATTRIBUTES, [attr(ipp.INTEGER, "x", b"\x00\x01")])))
    with pytest.raises(ipp.IppError):  # an additional value with no attribute before it
        ipp.decode_response(response((ipp.PRINTER_ATTRIBUTES, [attr(ipp.KEYWORD, "", b"x")])))


@pytest.mark.parametrize(("uri", "host", "port", "path", "tls"), [
    ("ipp://192.168.1.20/ipp/print", "192.168.1.20", 631, "/ipp/print", False),
    ("ipps://printer.local:443/ipp/print", "printer.local", 443, "/ipp/print", True),
    ("ipp://[fd00::5]:8631/printers/a", "fd00::5", 8631, "/printers/a", False),
])
def test_endpoints(uri, host, port, path, tls):
    ep = ipp.endpoint_from_uri(uri)
    assert (ep.host, ep.port, ep.path, ep.tls) == (host, port, path, tls)


@pytest.mark.parametrize("bad", ["ftp://x/", "ipp:///nohost", "ipp://x:notaport/",
                                 "ipp://[printer/ipp"])  # found with the fuzz targets: urlsplit's ValueError leaked
def test_bad_uris(bad):
    with pytest.raises(ipp.IppError):
        ipp.endpoint_from_uri(bad)


def test_cups_endpoints():
    assert ipp.cups_endpoint("/run/cups/cups.sock").unix_socket == "/run/cups/cups.sock"
    ep = ipp.cups_endpoint("127.0.0.1:8631")
    assert (ep.host, ep.port) == ("127.0.0.1", 8631)
    assert ipp.cups_endpoint("localhost").port == 631
