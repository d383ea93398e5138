from agent.platform.linux import LinuxPlatform, parse_cpu_model, parse_os_release


def test_os_release_quoting():
    text = 'NAME="Ubuntu"\nVERSION_ID="22.04"\n# comment\nPRETTY_NAME="Ubuntu 22.04.4 LTS"\nID=ubuntu\n' \
           "VARIANT='Desk \\\"top\\\"'\n"
    osr = parse_os_release(text)
    assert osr["NAME"] == "Ubuntu"
    assert osr["VERSION_ID"] == "22.04"
    assert osr["ID"] == "ubuntu"
    assert osr["VARIANT"] == 'Desk "top"'


def test_cpu_model_x86_and_arm():
    assert parse_cpu_model("processor\t: 0\nmodel name\t: Intel(R) Core(TM) i5-7500 CPU @ 3.40GHz\n") == \
        "Intel(R) Core(TM) i5-7500 CPU @ 3.40GHz"
    assert parse_cpu_model("Processor\t: ARMv7 Processor rev 4 (v7l)\n") == "ARMv7 Processor rev 4 (v7l)"
    assert parse_cpu_model("") == ""


def test_system_info_from_a_tree(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text('NAME="Linux Mint"\nVERSION_ID="21.3"\n')
    dmi = tmp_path / "sys/class/dmi/id"
    dmi.mkdir(parents=True)
    (dmi / "sys_vendor").write_text("HP\n")
    (dmi / "product_name").write_text("ProDesk 400 G7\n")
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text("model name\t: Intel(R) Pentium(R) Gold G6400\n")
    info = LinuxPlatform(str(tmp_path)).system_info()
    assert (info.os_name, info.os_version, info.vendor, info.model) == ("Linux Mint", "21.3", "HP", "ProDesk 400 G7")
    assert info.serial == ""  # product_serial absent (root-only on real PCs)
    assert info.cpu_model == "Intel(R) Pentium(R) Gold G6400"
    assert info.os_string == "Linux Mint 21.3"
