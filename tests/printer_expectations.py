"""What every recording in ../shared/fixtures/snmprec must yield, LibreNMS-style: one entry
per real printer, written from SOURCES.md (the levels and flags it lists) and the rules of
docs/printers-scanners.md (RFC 3805, RFC 2790), never from the agent's output.

A new vendor quirk is a new recording plus its entry here.

supplies: label -> (kind, state, ratio, fill)   ratio: level / max for consumables (None when
          RFC 3805 gives no number); fill: how full a waste receptacle is (None when not known).
inputs:   name -> (state, ratio, manual)
With the default thresholds: supply low at 0.1, waste nearly full at 0.9.
"""

from __future__ import annotations

from typing import Any

T, W, P = "toner", "waste", "part"
OK, LOW, EMPTY, SOME, UNKNOWN = "ok", "low", "empty", "some_remaining", "unknown"
NO_ALERTS = {"critical": 0, "warning": 0, "other": 0}

EXPECTED: dict[str, dict[str, Any]] = {
    "brother-nc7700w": {
        # hrDeviceStatus 2, error state 00, hrPrinterStatus 1 (other): no state
        "up": 1, "problems": set(), "state": set(), "reasons": set(),
        "make_model": "Brother MFC-9970CDW", "serial": "U62513L0J132946",
        "message": "Sleep",  # the console; the alert row (severity 255) is not the printer's complaint
        "alerts": {"critical": 0, "warning": 0, "other": 1},
        "supplies": {
            "Black Toner Cartridge": (T, SOME, None, None), "Cyan Toner Cartridge": (T, SOME, None, None),
            "Magenta Toner Cartridge": (T, SOME, None, None), "Yellow Toner Cartridge": (T, SOME, None, None),
            "Waste Toner Box": (W, SOME, None, None),  # class 4, -2 / -3: some space remaining
            "Belt Unit": (P, OK, 39442 / 50000, None), "Drum Unit": (P, OK, 16805 / 25000, None),
        },
        "inputs": {"MP TRAY": (SOME, None, True), "TRAY1": (SOME, None, False)},
    },
    "brother_hl5370dw": {
        # a toner row at 0 (max -2): empty whatever the capacity; the printer's flags (status 2, no bits)
        # do not say it stopped, so it is reported, not called down
        "up": 1, "problems": {"toner_empty"}, "state": set(), "reasons": set(),
        "make_model": "Brother HL-5370DW series", "serial": "", "message": "", "alerts": NO_ALERTS,
        "supplies": {
            "Black Toner Cartridge": (T, EMPTY, 0.0, None),
            "Black Toner Cartridge #2": (T, SOME, None, None),  # the same description, second row
            "Drum Unit": (P, OK, 17208 / 25000, None),
        },
        "inputs": {"MP TRAY": (EMPTY, 0.0, True), "TRAY1": (SOME, None, False)},
    },
    "canonprinter_lbp": {
        "up": 1, "problems": set(), "state": set(), "reasons": set(),
        "make_model": "Canon LBP6670", "serial": "MKRA012345", "message": "", "alerts": NO_ALERTS,
        "supplies": {"Canon Cartridge 719/719H": (T, OK, 0.7, None)},  # no type column: "Cartridge" says toner
        "inputs": {},
    },
    "samsungprinter_m4080fx": {
        # hrDeviceStatus 3 (warning) explained by lowPaper (0x8000)
        "up": 1, "problems": {"media_low"}, "state": set(), "reasons": {"lowPaper"},
        "make_model": "Samsung M408x Series", "serial": "", "message": "", "alerts": NO_ALERTS,
        "supplies": {
            "Black Toner Cartridge": (T, OK, 17600 / 20000, None), "Fuser": (P, OK, 67066 / 90000, None),
            "Transfer Roller": (P, OK, 127066 / 150000, None), "ADF Roller": (P, OK, 95643 / 100000, None),
            "MP Roller": (P, OK, 99959 / 100000, None), "Tray 1 Roller": (P, OK, 181069 / 200000, None),
            "Tray 1 Retard Roller Life": (P, OK, 181069 / 200000, None),
        },
        "inputs": {"Tray 1": (OK, 55 / 550, False), "MP Tray": (EMPTY, 0.0, True)},
    },
    "ricoh_mpc3002": {
        # warning(3), one cassette empty among loaded ones: that tray's problem, not "down"
        "up": 1, "problems": {"input_empty"}, "state": set(), "reasons": set(),
        "make_model": "RICOH Aficio MP C3002", "serial": "W492KB03439", "message": "", "alerts": NO_ALERTS,
        "supplies": {
            "Black Toner": (T, OK, 0.4, None), "Cyan Toner": (T, OK, 0.2, None),
            "Magenta Toner": (T, OK, 0.5, None), "Yellow Toner": (T, OK, 0.5, None),
            "Waste Toner": (W, UNKNOWN, None, None),  # 100 / 100, type 4 without a class: empty or full?
        },
        "inputs": {"Tray 1": (OK, 0.1, False), "Tray 2": (OK, 0.1, False), "Tray 3": (OK, 0.1, False),
                   "Tray 4": (EMPTY, 0.0, False), "Bypass Tray": (EMPTY, 0.0, True)},
    },
    "okilan_9450g": {
        "up": 1, "problems": set(), "state": set(), "reasons": set(),
        "serial": "", "message": "", "alerts": NO_ALERTS,
        "supplies": {  # "OKI DATA CORP" is the maker, not the supply
            "Black Toner Cartridge": (T, OK, 0.59, None), "Cyan Toner Cartridge": (T, OK, 0.69, None),
            "Magenta Toner Cartridge": (T, OK, 0.69, None), "Yellow Toner Cartridge": (T, OK, 0.69, None),
            "Black Image Drum Unit": (P, OK, 28407 / 30000, None), "Cyan Image Drum Unit": (P, OK, 28771 / 30000, None),
            "Magenta Image Drum Unit": (P, OK, 28771 / 30000, None),
            "Yellow Image Drum Unit": (P, OK, 28771 / 30000, None),
            "Belt Unit": (P, OK, 78392 / 80000, None), "Fuser Unit": (P, OK, 98842 / 100000, None),
        },
        "inputs": {"TRAY1": (SOME, None, False), "MPTRAY": (SOME, None, True), "TRAY2": (SOME, None, False)},
    },
    "fujifilmprinter_c7580": {
        # no host-resources rows at all: no flags; Tray 5 (unnamed) empty among loaded ones
        "up": 1, "problems": {"input_empty"}, "state": set(), "reasons": set(),
        "make_model": "FUJIFILM Apeos C7580", "serial": "TC101642170085", "message": "", "alerts": NO_ALERTS,
        "supplies": {
            "Yellow Toner": (T, OK, 1.0, None), "Magenta Toner": (T, OK, 1.0, None), "Cyan Toner": (T, OK, 1.0, None),
            "Waste Toner Container": (W, SOME, None, None),
            "Black Drum Cartridge": (P, OK, 287100 / 290000, None), "Yellow Drum Cartridge": (P, OK, 1.0, None),
            "Magenta Drum Cartridge": (P, OK, 1.0, None), "Cyan Drum Cartridge": (P, OK, 1.0, None),
            "Black Toner 1": (T, OK, 1.0, None), "Black Toner 2": (T, OK, 20700 / 23000, None),
        },
        "inputs": {"Tray 1": (OK, 0.75, False), "Tray 2": (OK, 0.75, False), "Tray 3": (OK, 0.75, False),
                   "Tray 4": (OK, 0.5, False), "Tray 5": (EMPTY, 0.0, False)},
    },
    "jetdirect_m880": {
        # Tray 1: status 9 = unavailable and on request (+ non-critical alerts): HP's multipurpose tray
        "up": 1, "problems": set(), "state": set(), "reasons": set(),
        "make_model": "HP Color LaserJet flow MFP M880", "serial": "", "message": "", "alerts": NO_ALERTS,
        "supplies": {
            "Black Cartridge": (T, OK, 0.92, None), "Cyan Cartridge": (T, OK, 0.16, None),
            "Magenta Cartridge": (T, OK, 1.0, None), "Yellow Cartridge": (T, OK, 0.7, None),
            "Black Drum": (P, OK, 0.53, None), "Cyan Drum": (P, OK, 0.58, None),
            "Magenta Drum": (P, OK, 0.58, None), "Yellow Drum": (P, OK, 0.58, None),
            "Transfer Kit": (P, OK, 0.89, None), "Fuser Kit": (P, OK, 0.84, None),
            "Document Feeder Kit": (P, OK, 0.99, None), "Clean Rollers": (P, OK, 0.97, None),
            "Stapler 1": (P, SOME, None, None), "Stapler 2": (P, SOME, None, None), "Stapler 3": (P, SOME, None, None),
        },
        "inputs": {"Tray 1": (EMPTY, 0.0, True), "Tray 2": (OK, 0.4, False), "Tray 3": (OK, 0.2, False),
                   "Tray 4": (OK, 0.2, False)},
    },
    "jetdirect_m130nw": {
        "up": 1, "problems": set(), "state": set(), "reasons": set(),
        "make_model": "HP LaserJet MFP M130nw", "serial": "VNCRC48198", "message": "", "alerts": NO_ALERTS,
        "supplies": {"Black Cartridge": (T, OK, 0.28, None), "Imaging Drum": (P, OK, 0.71, None)},
        "inputs": {"Tray 1": (SOME, None, False)},
    },
    "konica_c250i": {
        # warning(3) + serviceRequested: a non-critical alert while the device runs (RFC 3805 §2.2.13.2)
        "up": 1, "problems": {"service_requested", "input_empty"}, "state": set(), "reasons": {"serviceRequested"},
        "make_model": "KONICA MINOLTA bizhub C250i", "serial": "AA2M021115700", "message": "", "alerts": NO_ALERTS,
        "supplies": {
            "Toner (Cyan)": (T, OK, 0.76, None), "Toner (Magenta)": (T, OK, 0.78, None),
            "Toner (Yellow)": (T, OK, 0.77, None), "Toner (Black)": (T, OK, 0.86, None),
            "Waste Toner Box": (W, SOME, None, None),
        },
        "inputs": {"Tray 1": (OK, 1.0, False), "Tray 2": (OK, 1.0, False), "Tray 7": (EMPTY, 0.0, False)},
    },
    "dell-laser_s5830dn": {
        "up": 1, "problems": set(), "state": set(), "reasons": set(),
        "make_model": "Dell S5830dn 7XQ1R92 LW62.DN4.P636", "serial": "7XQ1R92-132-13", "message": "",
        "alerts": NO_ALERTS,
        "supplies": {"Black Toner": (T, OK, 0.49, None), "Imaging Unit": (P, OK, 0.72, None),
                     "Maintenance Kit": (P, OK, 0.83, None), "Roller Kit": (P, OK, 0.89, None)},
        "inputs": {"Tray 1": (OK, 1.0, False), "Manual Envelope": (SOME, None, True),
                   "Manual Paper": (SOME, None, True), "MP Tray": (EMPTY, 0.0, True)},
    },
    "sharp_mxm266nv": {
        "up": 1, "problems": {"input_empty"}, "state": set(), "reasons": set(),
        "make_model": "SHARP MX-M266NV", "serial": "0505571100", "message": "", "alerts": NO_ALERTS,
        "supplies": {
            "Black Toner": (T, OK, 0.75, None),
            "Waste Toner": (W, UNKNOWN, None, None),  # level 100, max -2, no class: no way to read it
            "Black Photoconductive Drum": (P, SOME, None, None),  # level 9 of an unknown capacity
            "Black Developer": (P, SOME, None, None), "Fusing Unit": (P, UNKNOWN, None, None),
        },
        "inputs": {"Bypass Tray": (EMPTY, 0.0, True), "Tray 1": (SOME, None, False), "Tray 2": (EMPTY, 0.0, False),
                   "Auto Select": (UNKNOWN, None, False)},
    },
    "utax": {
        "up": 1, "problems": set(), "state": set(), "reasons": set(),
        "make_model": "P-4532DN", "serial": "", "message": "", "alerts": NO_ALERTS,
        # "PK-3010S" is the toner kit's model (the same for every cartridge of this printer), the whole name
        "supplies": {"PK-3010S": (T, OK, 5340 / 6000, None), "Waste Toner Box": (W, SOME, None, None)},
        "inputs": {},
    },
    "toshiba-tec": {
        # no host-resources rows; yellow 300 / 6000 = 5 % <= 10 %: low
        "up": 1, "problems": {"toner_low"}, "state": set(), "reasons": set(),
        "serial": "1234567890ABC", "message": "", "alerts": NO_ALERTS,
        "supplies": {
            "Black Cartridge": (T, OK, 6570 / 9000, None), "Cyan Cartridge": (T, OK, 5100 / 6000, None),
            "Magenta Cartridge": (T, OK, 780 / 6000, None), "Yellow Cartridge": (T, LOW, 300 / 6000, None),
            "Transfer Module": (P, OK, 1.0, None), "Imaging Kit": (P, OK, 85000 / 125000, None),
            "Maintenance Kit": (P, OK, 97500 / 125000, None),
            "Waste Toner Bottle": (W, UNKNOWN, None, None),  # 25000 / 25000 without a class
        },
        "inputs": {},
    },
    "zebra": {
        # no Printer-MIB; hrPrinterStatus idle; its hrDeviceID rows never reach the agent (snmpsim cannot send
        # them): the printer answers without them
        "up": 1, "problems": set(), "state": {"idle"}, "reasons": set(),
        "make_model": "ZebraNet Wired PS", "serial": "", "message": "", "alerts": NO_ALERTS,
        "supplies": {}, "inputs": {},
    },
}
