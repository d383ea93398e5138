"""SNMPv3 with the User-based Security Model (RFC 3414): the messages of agent.devices.snmp
wrapped for v3, authenticated (HMAC-MD5-96, HMAC-SHA-96, HMAC-SHA-256-192 of RFC 7860)
and optionally encrypted (AES-128 CFB, RFC 3826).

`Security` holds one user's keys and what it learned of the printer's SNMP engine (its
ID, boots and time, from the discovery exchange of RFC 3414 §4). Encryption needs the
`cryptography` package (`pip install 'wardwatch[snmpv3]'`); authentication alone does not.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import time
from dataclasses import dataclass, field

from agent.devices.snmp import (
    _OCTETS,
    _SEQUENCE,
    GET,
    OID,
    REPORT,
    RESPONSE,
    Agent,
    BerError,
    Response,
    _expect,
    _int_at,
    _integer,
    _tlv,
    decode_pdu,
    encode_pdu,
    next_request_id,
)

V3 = 3
AUTH_PROTOCOLS = {"MD5": ("md5", 12), "SHA": ("sha1", 12), "SHA256": ("sha256", 24)}  # hash, MAC length
PRIV_PROTOCOLS = ("AES",)
_AUTH, _PRIV, _REPORTABLE = 0x01, 0x02, 0x04
_USM = 3
MAX_MESSAGE = 65507

# usmStats counters a report names (RFC 3414 §5), and what they mean to an operator
_USM_STATS = (1, 3, 6, 1, 6, 3, 15, 1, 1)
NOT_IN_TIME_WINDOW = (*_USM_STATS, 2, 0)
UNKNOWN_ENGINE_ID = (*_USM_STATS, 4, 0)
REPORTS = {
    (*_USM_STATS, 1, 0): "security level not supported by that user (usmStatsUnsupportedSecLevels)",
    NOT_IN_TIME_WINDOW: "message outside the engine's time window (usmStatsNotInTimeWindows)",
    (*_USM_STATS, 3, 0): "unknown user name (usmStatsUnknownUserNames)",
    UNKNOWN_ENGINE_ID: "unknown engine ID (usmStatsUnknownEngineIDs)",
    (*_USM_STATS, 5, 0): "wrong authentication password or protocol (usmStatsWrongDigests)",
    (*_USM_STATS, 6, 0): "wrong privacy password or protocol (usmStatsDecryptionErrors)",
}


class UsmError(Exception):
    """The printer's SNMP engine refused the user: it answered with a report."""


@dataclass(frozen=True)
class Usm:
    user: str
    auth_protocol: str = ""  # "" (noAuthNoPriv), MD5, SHA, SHA256
    auth_password: str = field(default="", repr=False)
    priv_protocol: str = ""  # "" or AES
    priv_password: str = field(default="", repr=False)
    context: str = ""


def password_to_key(password: bytes, hash_name: str) -> bytes:
    """RFC 3414 A.2: the digest of one megabyte of the password repeated."""
    if not password:
        raise ValueError("empty password")
    stream = password * (1048576 // len(password) + 1)
    return hashlib.new(hash_name, stream[:1048576]).digest()


def localize(key: bytes, engine_id: bytes, hash_name: str) -> bytes:
    """RFC 3414 A.2: the key for one engine."""
    return hashlib.new(hash_name, key + engine_id + key).digest()


def _aes(key: bytes, iv: bytes, data: bytes, encrypt: bool) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    try:
        from cryptography.hazmat.decrepit.ciphers.modes import CFB  # where cryptography keeps it from 47 on
    except ImportError:
        from cryptography.hazmat.primitives.ciphers.modes import CFB

    cipher = Cipher(algorithms.AES(key[:16]), CFB(iv))
    op = cipher.encryptor() if encrypt else cipher.decryptor()
    return op.update(data) + op.finalize()


@dataclass
class _Engine:
    engine_id: bytes
    boots: int
    time: int
    learned_at: float  # monotonic

    def now(self) -> int:
        return self.time + int(time.monotonic() - self.learned_at)


class Security:
    """One USM user towards one SNMP engine: builds requests, checks and opens answers."""

    def __init__(self, usm: Usm):
        self.usm = usm
        self.engine: _Engine | None = None
        self._keys: tuple[bytes, bytes] | None = None  # localized (auth, priv) for self.engine
        self._master = None
        if usm.auth_protocol:
            hash_name = AUTH_PROTOCOLS[usm.auth_protocol][0]
            self._master = (password_to_key(usm.auth_password.encode(), hash_name),
                            password_to_key(usm.priv_password.encode(), hash_name) if usm.priv_protocol else b"")
        self._salt = itertools.count(secrets.randbits(63))

    @property
    def flags(self) -> int:
        return (_AUTH if self.usm.auth_protocol else 0) | (_PRIV if self.usm.priv_protocol else 0)

    def _learn(self, engine_id: bytes, boots: int, engine_time: int) -> None:
        if self.engine is None or self.engine.engine_id != engine_id:
            self._keys = None
        self.engine = _Engine(engine_id, boots, engine_time, time.monotonic())
        if self._master and self._keys is None:
            hash_name = AUTH_PROTOCOLS[self.usm.auth_protocol][0]
            self._keys = (localize(self._master[0], engine_id, hash_name),
                          localize(self._master[1], engine_id, hash_name) if self.usm.priv_protocol else b"")

    # --- requests ---------------------------------------------------------------------

    def discovery(self, msg_id: int) -> bytes:
        """The probe that makes an engine tell its ID, boots and time (in a report)."""
        scoped = _tlv(_SEQUENCE, _tlv(_OCTETS, b"") + _tlv(_OCTETS, b"") + encode_pdu(GET, msg_id, []))
        return self._message(msg_id, _REPORTABLE, b"", 0, 0, b"", 0, b"", scoped)

    def encode(self, msg_id: int, pdu: bytes) -> bytes:
        assert self.engine is not None, "discovery first"
        e = self.engine
        boots, now = e.boots, e.now()
        scoped = _tlv(_SEQUENCE, _tlv(_OCTETS, e.engine_id) + _tlv(_OCTETS, self.usm.context.encode()) + pdu)
        priv_params = b""
        if self.usm.priv_protocol:
            assert self._keys is not None
            priv_params = (next(self._salt) & (2**64 - 1)).to_bytes(8, "big")
            iv = boots.to_bytes(4, "big") + now.to_bytes(4, "big") + priv_params
            scoped = _tlv(_OCTETS, _aes(self._keys[1], iv, scoped, encrypt=True))
        mac_len = AUTH_PROTOCOLS[self.usm.auth_protocol][1] if self.usm.auth_protocol else 0
        return self._message(msg_id, self.flags | _REPORTABLE, e.engine_id, boots, now, self.usm.user.encode(),
                             mac_len, priv_params, scoped)

    def _message(self, msg_id: int, flags: int, engine_id: bytes, boots: int, now: int, user: bytes,
                 mac_len: int, priv_params: bytes, scoped: bytes) -> bytes:
        head = _integer(V3) + _tlv(_SEQUENCE, _integer(msg_id) + _integer(MAX_MESSAGE)
                                   + _tlv(_OCTETS, bytes((flags,))) + _integer(_USM))
        before_mac = _tlv(_OCTETS, engine_id) + _integer(boots) + _integer(now) + _tlv(_OCTETS, user)
        usm_body = before_mac + _tlv(_OCTETS, bytes(mac_len)) + _tlv(_OCTETS, priv_params)
        usm = _tlv(_SEQUENCE, usm_body)
        params = _tlv(_OCTETS, usm)
        body = head + params + scoped
        message = bytearray(_tlv(_SEQUENCE, body))
        if mac_len:
            # the MAC's place: past the headers of the message, the parameters, the USM sequence and the MAC
            at = ((len(message) - len(body)) + len(head) + (len(params) - len(usm)) + (len(usm) - len(usm_body))
                  + len(before_mac) + 2)
            message[at:at + mac_len] = self._mac(bytes(message))
        return bytes(message)

    def _mac(self, message: bytes) -> bytes:
        hash_name, mac_len = AUTH_PROTOCOLS[self.usm.auth_protocol]
        assert self._keys is not None
        return hmac.new(self._keys[0], message, hash_name).digest()[:mac_len]

    # --- answers ----------------------------------------------------------------------

    def decode(self, data: bytes) -> Response:
        """An answer from the engine, its MAC checked and its PDU decrypted; BerError if malformed,
        including one that fails authentication (the agent ignores it as it ignores any garbage)."""
        end = len(data)
        start, stop = _expect(data, 0, end, _SEQUENCE)
        if stop != end:
            raise BerError("trailing bytes after the message")
        version, pos = _int_at(data, start, stop)
        if version != V3:
            raise BerError(f"SNMP version {version} where 3 belongs")
        g_start, g_stop = _expect(data, pos, stop, _SEQUENCE)
        msg_id, p = _int_at(data, g_start, g_stop)
        _, p = _int_at(data, p, g_stop)
        f_start, f_stop = _expect(data, p, g_stop, _OCTETS)
        flags = data[f_start] if f_stop > f_start else 0
        model, _ = _int_at(data, f_stop, g_stop)
        if model != _USM:
            raise BerError(f"security model {model} is not USM")
        u_start, u_stop = _expect(data, g_stop, stop, _OCTETS)
        s_start, s_stop = _expect(data, u_start, u_stop, _SEQUENCE)
        e_start, e_stop = _expect(data, s_start, s_stop, _OCTETS)
        engine_id = bytes(data[e_start:e_stop])
        boots, p = _int_at(data, e_stop, s_stop)
        engine_time, p = _int_at(data, p, s_stop)
        if not (0 <= boots < 2**31 and 0 <= engine_time < 2**31):  # RFC 3414: 0..2147483647
            raise BerError("engine boots or time out of range")
        n_start, n_stop = _expect(data, p, s_stop, _OCTETS)
        a_start, a_stop = _expect(data, n_stop, s_stop, _OCTETS)
        v_start, v_stop = _expect(data, a_stop, s_stop, _OCTETS)
        authenticated = bool(flags & _AUTH)
        if authenticated:
            if self._keys is None or self.engine is None or engine_id != self.engine.engine_id:
                raise BerError("an authenticated answer from an engine not discovered")
            zeroed = data[:a_start] + bytes(a_stop - a_start) + data[a_stop:]
            if not hmac.compare_digest(self._mac(zeroed), data[a_start:a_stop]):
                raise BerError("an answer that fails authentication (wrong digest)")
        if authenticated or self.engine is None:
            self._learn(engine_id, boots, engine_time)  # trusted, or the discovery answer
        if flags & _PRIV:
            if not authenticated or not self.usm.priv_protocol:
                raise BerError("an encrypted answer this user cannot open")
            c_start, c_stop = _expect(data, u_stop, stop, _OCTETS)
            assert self._keys is not None
            iv = boots.to_bytes(4, "big") + engine_time.to_bytes(4, "big") + bytes(data[v_start:v_stop])
            if len(iv) != 16:
                raise BerError("privacy parameters are not 8 octets")
            scoped = _aes(self._keys[1], iv, bytes(data[c_start:c_stop]), encrypt=False)
            s_pos, s_end = 0, len(scoped)
        else:
            scoped, s_pos, s_end = data, u_stop, stop
        sc_start, sc_stop = _expect(scoped, s_pos, s_end, _SEQUENCE)
        _, ce_stop = _expect(scoped, sc_start, sc_stop, _OCTETS)
        _, cn_stop = _expect(scoped, ce_stop, sc_stop, _OCTETS)
        pdu, _, error_status, error_index, var_binds = decode_pdu(scoped, cn_stop, sc_stop, (RESPONSE, REPORT))
        if pdu == RESPONSE and self.flags & _AUTH and not authenticated:
            raise BerError("an unauthenticated answer to an authenticated request")
        return Response(V3, bytes(data[n_start:n_stop]), msg_id, error_status, error_index, var_binds, pdu)


def report_reason(response: Response) -> str:
    """What a report says, in words."""
    oid: OID = response.var_binds[0][0] if response.var_binds else ()
    return REPORTS.get(oid, f"report {'.'.join(map(str, oid)) or 'without a binding'}")


async def discover(agent: Agent, security: Security) -> None:
    """Learn the engine's ID, boots and time from its answer (a report) to the discovery probe."""
    security.engine = None  # whatever was known: the answer to the probe is what counts
    msg_id = next_request_id()
    await agent.exchange(msg_id, security.discovery(msg_id))  # read by security.decode, which learns
    if security.engine is None or not security.engine.engine_id:
        raise UsmError("the engine did not tell its ID (discovery)")


async def request(agent: Agent, security: Security, pdu: int, oids: list[OID] | tuple[OID, ...],
                  max_repetitions: int = 0) -> Response:
    """One v3 request through `agent` (opened with `decode=security.decode`): the engine is
    discovered first; a report that the clocks drifted apart is answered by one resend; any
    other report is UsmError."""
    if security.engine is None:
        await discover(agent, security)
    for attempt in range(2):
        msg_id = next_request_id()
        answer = await agent.exchange(msg_id, security.encode(msg_id, encode_pdu(pdu, msg_id, oids, max_repetitions)))
        if answer.pdu != REPORT:
            return answer
        if attempt == 0 and answer.var_binds and answer.var_binds[0][0] == NOT_IN_TIME_WINDOW:
            continue  # its boots and time, just learned from the report: try again once
        break
    raise UsmError(f"SNMPv3 user {security.usm.user!r} refused: {report_reason(answer)}")
