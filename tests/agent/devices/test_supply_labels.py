"""Supply labels stay the same when only serial, part or CRUM numbers change: rewritten in every
recording, in every form printers were seen to use (SOURCES.md; the Xerox form from issue 12),
the labels are still exactly those of tests/printer_expectations.py."""

from __future__ import annotations

import functools
import re
import string

from hypothesis import given, settings
from hypothesis import strategies as st
from printer_expectations import EXPECTED
from printing import SNMPREC_DIR
from snmprec import read_snmprec

from agent.devices import snmp_printer as sp

# The numbers the recordings carry (SOURCES.md): HP product numbers, and HP's cartridge family.
PRODUCT = re.compile(r"\b(?:CF\d{3}A|D7H14A|C1P70A|C8091A|CC383A|110V-C1N54A|220V-C1N58A)\b")
FAMILY = re.compile(r"\b82[78]A\b")

# Ways a printer appends a serial (sn) or part (pn) number to a description.
FORMS = (
    lambda d, sn, pn: d,
    lambda d, sn, pn: f"{d} S/N:{sn}",
    lambda d, sn, pn: f"{d} S/N:CRUM-{sn}",
    lambda d, sn, pn: f"{d}, PN {pn};SN{sn}",
    lambda d, sn, pn: f"{d} SN:{sn}",
    lambda d, sn, pn: f"{d} SN#{sn}",
    lambda d, sn, pn: f"{d};SN{sn}",
    lambda d, sn, pn: f"{d} PN {pn}",
    lambda d, sn, pn: f"{d} HP {pn}",
    lambda d, sn, pn: f"{d}\x00\x00  ",
)
NUMBER = st.text(alphabet=string.ascii_uppercase + string.digits + "-", min_size=1, max_size=16)


def hp_decode(value: bytes) -> str:
    """HP JetDirect's layout (SOURCES.md, jetdirect_m880): 16 characters, a line feed, the rest as hex."""
    head, _, rest = value.partition(b"\n")
    return (head + bytes(int(t, 16) for t in rest.split())).decode().rstrip("\x00")


def hp_encode(text: str) -> bytes:
    raw = text.encode() + b"\x00"
    return raw[:16] + b"\n" + b" ".join(b"%02X" % b for b in raw[16:]) + b" "


@functools.cache
def tables(recording: str) -> dict:
    return read_snmprec(SNMPREC_DIR / f"{recording}.snmprec")


def test_the_recordings_as_they_are():
    for recording, want in EXPECTED.items():
        assert sorted(s.name for s in sp.decode(tables(recording)).supplies) == sorted(want["supplies"]), recording


@settings(max_examples=150, deadline=None)
@given(recording=st.sampled_from(sorted(EXPECTED)), form=st.sampled_from(FORMS), sn=NUMBER, pn=NUMBER,
       product=st.from_regex(r"[A-Z0-9]{2,8}", fullmatch=True),
       family=st.from_regex(r"[1-9][0-9]{1,2}[A-Z]{1,2}", fullmatch=True))
def test_rewriting_serial_and_part_numbers_never_changes_a_label(recording, form, sn, pn, product, family):
    t = dict(tables(recording))
    rows = []
    for index, value in t[sp.SUPPLY_DESCR]:
        hp = b"\n" in value
        text = hp_decode(value) if hp else value.decode()
        text = form(FAMILY.sub(family, PRODUCT.sub(product, text)), sn, pn)
        rows.append((index, hp_encode(text) if hp else text.encode()))
    t[sp.SUPPLY_DESCR] = rows
    assert sorted(s.name for s in sp.decode(t).supplies) == sorted(EXPECTED[recording]["supplies"])
