"""eSCL status parsing, and XML that must be refused."""

from __future__ import annotations

import pytest

from agent.devices import escl

STATUS = b"""<?xml version="1.0" encoding="UTF-8"?>
<scan:ScannerStatus xmlns:scan="http://schemas.hp.com/imaging/escl/2011/05/03"
    xmlns:pwg="http://www.pwg.org/schemas/2010/12/sm">
  <pwg:Version>2.63</pwg:Version>
  <pwg:State>Idle</pwg:State>
  <scan:AdfState>ScannerAdfEmpty</scan:AdfState>
  <scan:Jobs><scan:JobInfo><pwg:JobState>Completed</pwg:JobState></scan:JobInfo></scan:Jobs>
</scan:ScannerStatus>"""


def test_status():
    s = escl.parse_status(STATUS)
    assert (s.state, s.adf_state) == ("Idle", "ScannerAdfEmpty")
    assert escl.problems(s) == set()  # an empty feeder is not a problem
    assert escl.problems(escl.EsclStatus("Down", "ScannerAdfMispick")) == {"down", "adf_jam"}


def test_capabilities_without_manufacturer():
    body = (b'<scan:ScannerCapabilities xmlns:scan="http://schemas.hp.com/imaging/escl/2011/05/03" '
            b'xmlns:pwg="http://www.pwg.org/schemas/2010/12/sm"><pwg:MakeAndModel>HP LaserJet MFP M428fdw'
            b'</pwg:MakeAndModel></scan:ScannerCapabilities>')
    assert escl.parse_capabilities(body) == ("HP", "LaserJet MFP M428fdw")


@pytest.mark.parametrize("body", [
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><ScannerStatus><State>&a;</State></ScannerStatus>',
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    b'<ScannerStatus><State>&e;</State></ScannerStatus>',
    b'<?xml version="1.0"?><!DOCTYPE ScannerStatus SYSTEM "http://192.0.2.1/x.dtd"><ScannerStatus/>',
])
def test_dtds_and_entities_are_refused(body):
    with pytest.raises(escl.EsclError, match="refused XML"):
        escl.parse_status(body)


def test_not_a_status():
    with pytest.raises(escl.EsclError):
        escl.parse_status(b"<html><body>login</body></html>")
    with pytest.raises(escl.EsclError):
        escl.parse_status(b"not xml at all <")


def test_xml_in_an_encoding_the_parser_cannot_read():
    # found with the fuzz targets: expat's ValueError for multi-byte encodings leaked out of the parser
    body = b'<?xml version="1.0" encoding="Shift_JIS"?><ScannerStatus><State>Idle</State></ScannerStatus>'
    with pytest.raises(escl.EsclError, match="not readable XML"):
        escl.parse_status(body)
