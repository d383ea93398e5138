import datetime as dt

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import load_pem_x509_certificate
from support import self_signed

from agent.wan import x509

UTC = dt.timezone.utc


@pytest.mark.parametrize("not_after", [
    dt.datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC),     # UTCTime (before 2050)
    dt.datetime(2051, 12, 31, 23, 59, 58, tzinfo=UTC),  # GeneralizedTime (2050 and later)
])
def test_validity_read_from_der_matches_the_certificate(tmp_path, not_after):
    not_before = dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    cert = self_signed(tmp_path, not_after=not_after, not_before=not_before)
    der = load_pem_x509_certificate(cert.cert.read_bytes()).public_bytes(Encoding.DER)
    assert x509.validity(der) == (not_before.timestamp(), not_after.timestamp())
    assert x509.not_after(der) == not_after.timestamp()


@pytest.mark.parametrize("junk", [b"", b"\x30", b"\x02\x01\x00", b"\x30\x84\xff\xff\xff\xff", b"\x30\x03\x30\x01\x00"])
def test_garbage_is_a_der_error_not_a_crash(junk):
    with pytest.raises(x509.DERError):
        x509.validity(junk)
