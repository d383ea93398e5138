"""SNMPv3 (USM): the key derivation of RFC 3414 on its own test vectors, and requests to a
real SNMPv3 engine (snmpsim, built on pysnmp) with each protocol, the wrong passwords and
the wrong user, and answers tampered with on the way."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import pytest
from printing import free_udp_port, snmpsim

from agent.devices import snmp, snmp_usm
from agent.devices import snmp_printer as sp

AUTH_PASSWORD, PRIV_PASSWORD = "m0t-cua-auth", "m0t-cua-priv"


@pytest.mark.parametrize(("hash_name", "ku", "kul"), [
    # RFC 3414 A.3.1 and A.3.2: password "maplesyrup", engine ID 00...02
    ("md5", "9faf3283884e92834ebc9847d8edd963", "526f5eed9fcce26f8964c2930787d82b"),
    ("sha1", "9fb5cc0381497b3793528939ff788d5d79145211", "6695febc9288e36282235fc7151f128497b38f3f"),
])
def test_rfc3414_key_vectors(hash_name, ku, kul):
    key = snmp_usm.password_to_key(b"maplesyrup", hash_name)
    assert key.hex() == ku
    assert snmp_usm.localize(key, bytes.fromhex("000000000000000000000002"), hash_name).hex() == kul


def v3_args(auth: str, priv: str, user: str = "wardwatch") -> list[str]:
    args = ["--v3-engine-id=auto", f"--v3-user={user}", f"--v3-auth-proto={auth}", f"--v3-auth-key={AUTH_PASSWORD}"]
    if priv:
        args += [f"--v3-priv-proto={priv}", f"--v3-priv-key={PRIV_PASSWORD}"]
    return args


def target(port: int, auth: str, priv: str, *, user: str = "wardwatch", auth_password: str = AUTH_PASSWORD,
           priv_password: str = PRIV_PASSWORD) -> sp.Target:
    usm = snmp_usm.Usm(user, auth, auth_password, priv, priv_password if priv else "", context="public")
    return sp.Target("127.0.0.1", port, version="v3", timeout=1.0, retries=0, usm=usm)


@pytest.mark.parametrize(("auth", "priv"), [("SHA", "AES"), ("SHA256", ""), ("MD5", "AES")])
def test_a_printer_read_over_snmpv3(tmp_path, auth, priv):
    with snmpsim(tmp_path, {"public": "canonprinter_lbp"}, v3=v3_args(auth, priv)) as port:
        st = sp.decode(asyncio.run(sp.fetch(target(port, auth, priv))))
    # what the Canon recording says: hrDeviceDescr, prtGeneralSerialNumber, supply 70 of 100
    assert (st.make_model, st.serial) == ("Canon LBP6670", "MKRA012345")
    assert [(s.name, s.level, s.max_capacity) for s in st.supplies] == [("Canon Cartridge 719/719H", 70, 100)]


def test_refusals_say_why_and_never_show_a_password(tmp_path):
    with snmpsim(tmp_path, {"public": "canonprinter_lbp"}, v3=v3_args("SHA", "AES")) as port:
        cases = {
            "wrong authentication password or protocol (usmStatsWrongDigests)":
                target(port, "SHA", "AES", auth_password="sai-mat-khau-1"),
            "wrong privacy password or protocol (usmStatsDecryptionErrors)":
                target(port, "SHA", "AES", priv_password="sai-mat-khau-2"),
            "unknown user name (usmStatsUnknownUserNames)": target(port, "SHA", "AES", user="khach"),
            "security level not supported by that user (usmStatsUnsupportedSecLevels)": target(port, "SHA", ""),
        }
        for reason, t in cases.items():
            with pytest.raises(sp.SnmpError) as e:
                asyncio.run(sp.fetch(t))
            assert str(e.value).endswith(reason), str(e.value)
            assert "\n" not in str(e.value)
            for secret in ("sai-mat-khau", AUTH_PASSWORD, PRIV_PASSWORD):
                assert secret not in str(e.value) and secret not in repr(t)


def test_an_answer_tampered_with_is_not_taken(tmp_path):
    """A byte changed in an authenticated answer: the MAC fails, the answer is dropped as garbage,
    and the request ends without answer, saying why."""
    with snmpsim(tmp_path, {"public": "canonprinter_lbp"}, v3=v3_args("SHA", "AES")) as port:
        security = snmp_usm.Security(target(port, "SHA", "AES").usm)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.connect(("127.0.0.1", port))
            s.send(security.discovery(1))
            security.decode(s.recv(65536))
            assert security.engine is not None and security.engine.engine_id
            s.send(security.encode(2, snmp.encode_pdu(snmp.GET_NEXT, 2, [sp.SYS_DESCR])))
            answer = s.recv(65536)
    good = security.decode(answer)
    assert good.pdu == snmp.RESPONSE and good.request_id == 2
    assert good.var_binds[0][1].startswith(b"Canon")
    for i in (len(answer) // 2, len(answer) - 1):  # in the encrypted PDU; at the very end
        bad = answer[:i] + bytes((answer[i] ^ 0x01,)) + answer[i + 1:]
        with pytest.raises(snmp.BerError, match="fails authentication"):
            security.decode(bad)

    async def go():
        with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as fake:
            fake.bind(("127.0.0.1", 0))
            fake.setblocking(False)
            agent = await snmp.Agent.open("127.0.0.1", fake.getsockname()[1], snmp_usm.V3, b"", 0.3, 0,
                                          security.decode)
            loop = asyncio.get_running_loop()

            async def tamper() -> None:  # the real answer, its last byte changed
                _, addr = await loop.sock_recvfrom(fake, 65536)
                await loop.sock_sendto(fake, answer[:-1] + bytes((answer[-1] ^ 1,)), addr)
            task = asyncio.create_task(tamper())
            try:
                await agent.exchange(2, security.encode(2, snmp.encode_pdu(snmp.GET_NEXT, 2, [sp.SYS_DESCR])))
            finally:
                agent.close()
                await task
    with pytest.raises(snmp.NoAnswerError, match="malformed answers .an answer that fails authentication"):
        asyncio.run(go())


def test_another_engine_at_the_same_address_is_discovered_again(tmp_path):
    """What was learned of the engine is kept between collections; a new engine there (a printer
    replaced or reset: snmpsim started again, with a new engine ID) is discovered again at once."""
    port = free_udp_port()
    t = target(port, "SHA", "AES")
    with snmpsim(tmp_path / "a", {"public": "canonprinter_lbp"}, port=port, v3=v3_args("SHA", "AES")):
        asyncio.run(sp.fetch(t))
    first = sp._SECURITY[t].engine.engine_id  # noqa: SLF001
    with snmpsim(tmp_path / "b", {"public": "canonprinter_lbp"}, port=port,
                 v3=[f"--v3-engine-id={(b'new printer').hex()}", *v3_args("SHA", "AES")[1:]]):
        st = sp.decode(asyncio.run(sp.fetch(t)))
    assert st.serial == "MKRA012345"
    assert sp._SECURITY[t].engine.engine_id == b"new printer" != first  # noqa: SLF001


@pytest.mark.parametrize(("boots", "engine_time"), [(-1, 0), (0, -5), (2**31, 0), (0, 2**40)])
def test_engine_boots_and_time_out_of_range_are_refused(boots, engine_time):
    security = snmp_usm.Security(snmp_usm.Usm("wardwatch"))
    scoped = snmp._tlv(0x30, snmp._tlv(0x04, b"") + snmp._tlv(0x04, b"")  # noqa: SLF001
                       + snmp.encode_pdu(snmp.REPORT, 1, [snmp_usm.UNKNOWN_ENGINE_ID]))
    message = security._message(1, 0, b"\x80\x00\x1f\x88\x04engine", boots, engine_time, b"", 0, b"", scoped)  # noqa: SLF001
    with pytest.raises(snmp.BerError, match="engine boots or time out of range"):
        security.decode(message)
    assert security.engine is None  # nothing learned from it
    security.decode(security._message(1, 0, b"\x80\x00\x1f\x88\x04engine", 3, 99, b"", 0, b"", scoped))  # noqa: SLF001
    assert (security.engine.boots, security.engine.time) == (3, 99)
