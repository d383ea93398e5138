"""`scanimage -L` parsing and the local-only SANE config."""

from __future__ import annotations

from agent.devices import sane

LISTING = """\
device `test:0' is a Noname frontend-tester virtual device
device `pixma:04A91912_123456' is a CANON Canon PIXMA MG3600 multi-function peripheral
device `genesys:libusb:001:004' is a Canon LiDE 110 flatbed scanner
device `epsonds:libusb:002:003' is a Epson DS-530 ADF scanner
"""
NONE = """
No scanners were identified. If you were expecting something different,
check that the scanner is plugged in, turned on and detected by the
sane-find-scanner tool (if appropriate). Please read the documentation
which came with this software (README, FAQ, manpages).
"""


def test_parse_list():
    devices = sane.parse_list(LISTING)
    assert [(d.name, d.vendor, d.model, d.type) for d in devices] == [
        ("test:0", "Noname", "frontend-tester", "virtual device"),
        ("pixma:04A91912_123456", "CANON", "Canon PIXMA MG3600", "multi-function peripheral"),
        ("genesys:libusb:001:004", "Canon", "LiDE 110", "flatbed scanner"),
        ("epsonds:libusb:002:003", "Epson", "DS-530", "ADF scanner"),
    ]
    assert sane.parse_list(NONE) == []
    assert sane.parse_list("") == []


def test_local_only_config(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    (src / "dll.d").mkdir(parents=True)
    (src / "dll.conf").write_text("# backends\nnet\nescl\ntest\npixma  # canon\nepson2\n")
    (src / "dll.d" / "hplip").write_text("hpaio\nairscan\n")
    (src / "net.conf").write_text("192.0.2.7\n")
    (src / "pixma.conf").write_text("# pixma\nbjnp://192.0.2.9\n")
    (src / "epson2.conf").write_text("usb\nnet autodiscovery\nnet 192.0.2.8\n")
    (src / "test.conf").write_text("number_of_devices 2\n")
    kept = sane.build_local_only_config(src, out)
    assert kept == ["test", "pixma", "epson2", "hpaio"]
    assert (out / "dll.conf").read_text() == "test\npixma\nepson2\nhpaio\n"
    assert not (out / "net.conf").exists()
    assert (out / "pixma.conf").read_text() == "# pixma\nnetworking=no\n"
    assert (out / "epson2.conf").read_text() == "usb\n"
    assert (out / "test.conf").read_text() == "number_of_devices 2\n"


def test_backend_names_that_are_paths_are_skipped(tmp_path):
    # docs/security.md, "paths from config": a dll.conf line is a file name (<name>.conf is read and copied);
    # "../secret" must not read ../secret.conf beside the SANE config dir, nor write outside the private copy
    src, out = tmp_path / "etc" / "sane.d", tmp_path / "out"
    src.mkdir(parents=True)
    (tmp_path / "etc" / "secret.conf").write_text("not SANE's\n")
    (src / "dll.conf").write_text("../secret\n/etc/x\ntest\n.hidden\nsub/dir\n")
    (src / "test.conf").write_text("number_of_devices 1\n")
    assert sane.build_local_only_config(src, out) == ["test"]
    assert sorted(p.name for p in out.iterdir()) == ["dll.conf", "test.conf"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["etc", "out"]
