"""A certificate's validity period, read from its DER bytes.

`ssl` hands out the peer certificate as DER (`getpeercert(binary_form=True)`)
whether or not it was verified; only the verified form comes decoded. Reading
`notAfter` needs a few lines of DER (X.509, RFC 5280 4.1), not a dependency:

    Certificate  ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }
    TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature,
                                  issuer, validity, ... }
    Validity ::= SEQUENCE { notBefore Time, notAfter Time }
    Time ::= CHOICE { utcTime (0x17) YYMMDDHHMMSSZ, generalTime (0x18) YYYYMMDDHHMMSSZ }
"""

from __future__ import annotations

import calendar
import time


class DERError(ValueError):
    pass


def _tlv(data: bytes, i: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the element at i."""
    if i + 2 > len(data):
        raise DERError("truncated")
    tag, length = data[i], data[i + 1]
    i += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or i + n > len(data):
            raise DERError("bad length")
        length = int.from_bytes(data[i:i + n], "big")
        i += n
    if i + length > len(data):
        raise DERError("truncated")
    return tag, i, i + length


def _time(tag: int, raw: bytes) -> float:
    text = raw.decode("ascii")
    if not text.endswith("Z"):
        raise DERError("time is not in UTC")
    if tag == 0x17:  # UTCTime: two-digit year, 50..99 are 19xx (RFC 5280 4.1.2.5.1)
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif tag != 0x18:
        raise DERError(f"unexpected time tag 0x{tag:02x}")
    st = time.strptime(text[:14], "%Y%m%d%H%M%S")
    return float(calendar.timegm(st))


def validity(der: bytes) -> tuple[float, float]:
    """(notBefore, notAfter) as unix times; raises DERError."""
    tag, start, _ = _tlv(der, 0)
    if tag != 0x30:
        raise DERError("not a certificate")
    tag, i, _ = _tlv(der, start)  # tbsCertificate
    if tag != 0x30:
        raise DERError("no tbsCertificate")
    tag, _, end = _tlv(der, i)
    if tag == 0xA0:  # explicit version
        i = end
    for _ in range(3):  # serialNumber, signature, issuer
        _, _, i = _tlv(der, i)
    tag, i, _ = _tlv(der, i)
    if tag != 0x30:
        raise DERError("no validity")
    tag, s, e = _tlv(der, i)
    not_before = _time(tag, der[s:e])
    tag, s2, e2 = _tlv(der, e)
    return not_before, _time(tag, der[s2:e2])


def not_after(der: bytes) -> float:
    return validity(der)[1]
