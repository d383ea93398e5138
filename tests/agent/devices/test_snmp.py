"""The SNMP v1/v2c codec against pysnmp (the oracle: pysnmp encodes what we decode and
decodes what we encode), its refusals of malformed datagrams, and the asyncio requests
against sockets that misbehave on purpose."""

from __future__ import annotations

import asyncio
import socket

import pytest
from pyasn1.codec.ber import decoder as ber_decoder
from pyasn1.codec.ber import encoder as ber_encoder
from pysnmp.proto import api, rfc1902, rfc1905

from agent.devices import snmp

SYS_DESCR = (1, 3, 6, 1, 2, 1, 1, 1)
SUPPLY_LEVEL = (1, 3, 6, 1, 2, 1, 43, 11, 1, 1, 9)


def pysnmp_response(version: int, community: str, request_id: int, var_binds: list, error_status: int = 0,
                    error_index: int = 0) -> bytes:
    mod = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C if version == snmp.V2C else api.SNMP_VERSION_1]
    pdu = mod.GetResponsePDU()
    mod.apiPDU.set_defaults(pdu)
    mod.apiPDU.set_request_id(pdu, request_id)
    mod.apiPDU.set_error_status(pdu, error_status)
    mod.apiPDU.set_error_index(pdu, error_index)
    mod.apiPDU.set_varbinds(pdu, var_binds)
    msg = mod.Message()
    mod.apiMessage.set_defaults(msg)
    mod.apiMessage.set_community(msg, community)
    mod.apiMessage.set_pdu(msg, pdu)
    return ber_encoder.encode(msg)


def pysnmp_decode(data: bytes, version: int):
    mod = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C if version == snmp.V2C else api.SNMP_VERSION_1]
    msg, rest = ber_decoder.decode(data, asn1Spec=mod.Message())
    assert rest == b""
    return mod, msg


@pytest.mark.parametrize("request_id", [0, 1, 127, 128, 255, 256, 0x7FFFFFFF])
def test_getbulk_request_as_pysnmp_reads_it(request_id):
    oids = [SYS_DESCR, SUPPLY_LEVEL, (1, 3, 6, 1, 4, 1, 2435, 2, 3, 9, 4, 2, 1, 5, 5, 8), (2, 999, 1)]
    data = snmp.encode_request(snmp.V2C, b"c\xf4ng c\xf4ng", request_id, snmp.GET_BULK, oids, 24)
    mod, msg = pysnmp_decode(data, snmp.V2C)
    assert int(msg["version"]) == 1
    assert bytes(mod.apiMessage.get_community(msg)) == b"c\xf4ng c\xf4ng"
    pdu = mod.apiMessage.get_pdu(msg)
    assert pdu.isSameTypeWith(rfc1905.GetBulkRequestPDU())
    assert int(mod.apiBulkPDU.get_request_id(pdu)) == request_id
    assert int(mod.apiBulkPDU.get_non_repeaters(pdu)) == 0
    assert int(mod.apiBulkPDU.get_max_repetitions(pdu)) == 24
    assert [tuple(o) for o, _ in mod.apiBulkPDU.get_varbinds(pdu)] == oids


def test_v1_getnext_request_as_pysnmp_reads_it():
    data = snmp.encode_request(snmp.V1, b"public", 4242, snmp.GET_NEXT, [SYS_DESCR])
    mod, msg = pysnmp_decode(data, snmp.V1)
    assert int(msg["version"]) == 0
    pdu = mod.apiMessage.get_pdu(msg)
    assert pdu.isSameTypeWith(mod.GetNextRequestPDU())
    assert int(mod.apiPDU.get_request_id(pdu)) == 4242
    assert [tuple(o) for o, _ in mod.apiPDU.get_varbinds(pdu)] == [SYS_DESCR]


def test_requests_refused_when_they_cannot_be_said():
    with pytest.raises(ValueError, match="GETBULK needs SNMP v2c"):
        snmp.encode_request(snmp.V1, b"public", 1, snmp.GET_BULK, [SYS_DESCR], 4)
    for bad in [(1,), (3, 1), (1, 40), (1, 3, -1)]:
        with pytest.raises(ValueError, match="not an object identifier"):
            snmp.encode_oid(bad)


def test_every_value_type_pysnmp_sends_decodes_to_plain_python():
    big_oid = (1, 3, 6, 1, 4, 1, 2**32 - 1, 0, 127, 128, 16383, 16384)
    values = [
        (rfc1902.Integer32(-2), -2),                       # prtMarkerSuppliesLevel "unknown"
        (rfc1902.Integer32(-2**31), -2**31),
        (rfc1902.Integer32(2**31 - 1), 2**31 - 1),
        (rfc1902.OctetString(b"\x80\x00"), b"\x80\x00"),  # hrPrinterDetectedErrorState
        (rfc1902.OctetString("Máy in tầng 1".encode()), "Máy in tầng 1".encode()),
        (rfc1902.OctetString(b""), b""),
        (rfc1902.ObjectIdentifier((1, 3, 6, 1, 2, 1, 25, 3, 1, 5)), (1, 3, 6, 1, 2, 1, 25, 3, 1, 5)),
        (rfc1902.ObjectIdentifier(big_oid), big_oid),
        (rfc1902.ObjectIdentifier((2, 100, 3)), (2, 100, 3)),
        (rfc1902.IpAddress("192.0.2.7"), bytes([192, 0, 2, 7])),
        (rfc1902.Counter32(2**32 - 1), 2**32 - 1),
        (rfc1902.Gauge32(2**32 - 1), 2**32 - 1),
        (rfc1902.TimeTicks(123456), 123456),
        (rfc1902.Counter64(2**64 - 1), 2**64 - 1),
        (rfc1902.Opaque(b"\x9f\x78\x04"), b"\x9f\x78\x04"),
        (rfc1902.Null(""), None),
        (rfc1905.NoSuchObject(""), None),
        (rfc1905.NoSuchInstance(""), None),
        (rfc1905.EndOfMibView(""), None),
    ]
    var_binds = [((*SUPPLY_LEVEL, 1, i), v) for i, (v, _) in enumerate(values)]
    r = snmp.decode_response(pysnmp_response(snmp.V2C, "public", 99, var_binds))
    assert (r.version, r.community, r.request_id, r.error_status, r.error_index) == (snmp.V2C, b"public", 99, 0, 0)
    assert r.var_binds == [((*SUPPLY_LEVEL, 1, i), want) for i, (_, want) in enumerate(values)]


def test_long_answers_and_error_status():
    # a few hundred bytes: two- and three-octet lengths on the message, the PDU and the list
    var_binds = [((*SUPPLY_LEVEL, 1, i), rfc1902.OctetString(b"x" * 200)) for i in range(300)]
    data = pysnmp_response(snmp.V1, "public", 7, var_binds, error_status=2, error_index=3)
    assert len(data) > 65536 // 2
    r = snmp.decode_response(data)
    assert (r.version, r.error_status, r.error_index, len(r.var_binds)) == (snmp.V1, 2, 3, 300)
    assert r.var_binds[-1] == ((*SUPPLY_LEVEL, 1, 299), b"x" * 200)


def test_every_truncation_and_corruption_is_refused_with_berror_only():
    good = pysnmp_response(snmp.V2C, "public", 5, [((*SUPPLY_LEVEL, 1, 1), rfc1902.Integer32(70)),
                                                    (SYS_DESCR, rfc1902.OctetString(b"Canon LBP6670"))])
    assert snmp.decode_response(good).var_binds[0] == ((*SUPPLY_LEVEL, 1, 1), 70)
    for n in range(len(good)):
        with pytest.raises(snmp.BerError):
            snmp.decode_response(good[:n])
    with pytest.raises(snmp.BerError, match="trailing bytes"):
        snmp.decode_response(good + b"\x00")
    refused = 0
    for i in range(len(good)):  # every single byte flipped: refused, or read as some other valid answer
        for flip in (0x01, 0x80, 0xFF):
            bad = good[:i] + bytes((good[i] ^ flip,)) + good[i + 1:]
            try:
                snmp.decode_response(bad)
            except snmp.BerError:
                refused += 1
    assert refused > len(good)  # most corruptions are caught, none raises anything else


@pytest.mark.parametrize(("data", "message"), [
    (bytes.fromhex("3080"), "indefinite"),
    (bytes.fromhex("3f00"), "multi-octet tag"),
    (bytes.fromhex("3003020103"), "version 3"),
    (bytes.fromhex("300b020101040170a103020100"), "tag 0xa1"),  # a request, not a response
])
def test_refusals_name_the_problem(data, message):
    with pytest.raises(snmp.BerError, match=message):
        snmp.decode_response(data)


# --- requests over UDP ------------------------------------------------------------------

class Responder:
    """A UDP socket on loopback playing an SNMP agent badly: `script` says what to do with each request."""

    def __init__(self, script, host: str = "127.0.0.1"):
        self.host = host
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.script, self.seen = script, 0

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        for _ in range(10):
            data, addr = await loop.sock_recvfrom(self.sock, 65536)
            mod, msg = pysnmp_decode(data, snmp.V2C)
            request_id = int(mod.apiPDU.get_request_id(mod.apiMessage.get_pdu(msg)))
            self.seen += 1
            for answer in self.script(self.seen, request_id):
                await loop.sock_sendto(self.sock, answer, addr)


def ask(responder: Responder, timeout: float = 0.3, retries: int = 1):
    async def go():
        server = asyncio.create_task(responder.serve())
        agent = await snmp.Agent.open(responder.host, responder.port, snmp.V2C, b"public", timeout, retries)
        try:
            return await agent.request(snmp.GET_BULK, [SYS_DESCR], 4)
        finally:
            agent.close()
            server.cancel()
    return asyncio.run(asyncio.wait_for(go(), 10))


def answer(request_id: int, text: bytes = b"Canon") -> bytes:
    return pysnmp_response(snmp.V2C, "public", request_id, [(SYS_DESCR, rfc1902.OctetString(text))])


def test_the_answer_to_the_retry_is_taken_after_a_lost_one_and_strays_are_ignored():
    def script(n, request_id):
        if n == 1:
            return []  # the first request is lost
        return [b"\x30\x03garbage", answer(request_id + 1, b"someone else's"), answer(request_id)]
    r = ask(Responder(script))
    assert r.var_binds == [(SYS_DESCR, b"Canon")]


def test_a_printer_on_ipv6():
    r = ask(Responder(lambda n, request_id: [answer(request_id, b"HP on ::1")], host="::1"))
    assert r.var_binds == [(SYS_DESCR, b"HP on ::1")]


def test_no_answer_after_every_retry_says_so_and_mentions_malformed_ones():
    responder = Responder(lambda n, rid: [b"\x30\x01"])
    with pytest.raises(snmp.NoAnswerError, match=r"no answer in 0.2 s × 3; malformed answers \(length beyond the end"):
        ask(responder, timeout=0.2, retries=2)
    assert responder.seen == 3


def test_nothing_listening_is_told_at_once():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def go():
        agent = await snmp.Agent.open("127.0.0.1", port, snmp.V2C, b"public", 30, 3)
        try:
            return await asyncio.wait_for(agent.request(snmp.GET_BULK, [SYS_DESCR], 4), 5)
        finally:
            agent.close()
    with pytest.raises(snmp.UnreachableError, match="Connection refused"):
        asyncio.run(go())
