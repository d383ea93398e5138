"""cache/manifest.yml: every file of the district cache with its SHA-256, and its check."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fleet.errors import EXIT_USAGE, FleetError

MANIFEST = "manifest.yml"
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

# What pip cannot provide: the operator downloads each (on a machine with Internet access),
# puts it at `file` inside the cache and writes its published SHA-256. Names are what the
# roles look up (wardwatch_agent: python-embed, nssm). The virtualized client's installers lie at
# the top of the cache, where the virtual_client role fetches them (virtual_client_cache_url/<file>).
OPERATOR_FILES: list[dict[str, str]] = [
    {"name": "python-embed", "file": "files/python-3.11.9-embed-amd64.zip", "sha256": "",
     "source": "https://www.python.org/ftp/python/3.11.9/python-3.11.9-embed-amd64.zip"},
    {"name": "nssm", "file": "files/nssm.exe", "sha256": "",
     "source": "https://nssm.cc/release/nssm-2.24.zip (win64/nssm.exe inside)"},
    # The virtualized client's installers are added from the inventory (fleet.cache.build).
]

TEXT = {
    "missing": {"vi": "{file}: thiếu tệp (mục '{name}' của {manifest})",
                "en": "{file}: file missing (entry '{name}' of {manifest})"},
    "no_sha": {"vi": "{file}: chưa có sha256 hợp lệ (64 ký tự hex) cho mục '{name}' trong {manifest}",
               "en": "{file}: no valid sha256 (64 hex characters) for entry '{name}' in {manifest}"},
    "mismatch": {"vi": "{file}: SHA-256 sai (manifest {want}, tệp {got}): tệp hỏng hoặc bị thay, không dùng",
                 "en": "{file}: wrong SHA-256 (manifest {want}, file {got}): corrupt or replaced, refused"},
    "unlisted": {"vi": "{file}: có trong bộ đệm nhưng không có trong {manifest}",
                 "en": "{file}: in the cache but not listed in {manifest}"},
    "bad_manifest": {"vi": "{manifest}: {why}", "en": "{manifest}: {why}"},
    "outside": {"vi": "{file}: đường dẫn ra ngoài thư mục bộ đệm", "en": "{file}: path leaves the cache directory"},
}


@dataclass(frozen=True)
class Entry:
    name: str
    file: str  # relative to the cache directory, '/' separated
    sha256: str
    source: str = ""


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load(cache: Path, lang: str = "vi") -> tuple[list[Entry], list[Entry]]:
    """(operator files, wheels) of cache/manifest.yml; a malformed manifest is a FleetError."""
    path = cache / MANIFEST
    where = str(path)

    def bad(why: str) -> FleetError:
        return FleetError(TEXT["bad_manifest"][lang].format(manifest=where, why=why), EXIT_USAGE)

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise bad("no such file / không có tệp") from e
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise bad(" ".join(str(e).split())) from e
    if not isinstance(data, dict):
        raise bad("not a mapping with 'files' and 'wheels' / không phải ánh xạ 'files', 'wheels'")
    out: tuple[list[Entry], list[Entry]] = ([], [])
    for key, entries in zip(("files", "wheels"), out, strict=True):
        items = data.get(key) or []
        if not isinstance(items, list):
            raise bad(f"'{key}' is not a list / '{key}' không phải danh sách")
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get("file"), str) or not item["file"]:
                raise bad(f"{key}[{i}]: needs name, file, sha256 / cần name, file, sha256")
            entries.append(Entry(name=str(item.get("name") or item["file"]), file=item["file"],
                                 sha256=str(item.get("sha256") or "").strip().lower(),
                                 source=str(item.get("source") or "")))
    return out


def write(cache: Path, files: list[dict[str, Any]], wheels: list[Entry]) -> Path:
    """Write the manifest: the operator's entries as given, the wheels' as computed."""
    path = cache / MANIFEST
    header = ("# The district cache: every file the roles install, with its SHA-256.\n"
              "# 'files': put each file there and write the SHA-256 its publisher gives; then run\n"
              "#   wardwatch cache check DIR\n"
              "# 'wheels': written by `wardwatch cache build`.\n"
              "# Bộ đệm của quận/huyện: mọi tệp các role cài, kèm SHA-256. Mục 'files' do cán bộ điền.\n")
    body = {"files": files, "wheels": [{"name": w.name, "file": w.file, "sha256": w.sha256} for w in wheels]}
    tmp = path.with_suffix(".yml.tmp")
    tmp.write_text(header + yaml.safe_dump(body, sort_keys=False, allow_unicode=True), encoding="utf-8")
    tmp.replace(path)
    return path


def check(cache: Path, lang: str = "vi", require_files: bool = True) -> list[str]:
    """Every problem of the cache, one line each (empty: every file is there with its SHA-256)."""
    manifest = str(cache / MANIFEST)
    files, wheels = load(cache, lang)
    problems: list[str] = []
    root = cache.resolve()
    for e in [*files, *wheels]:
        path = (cache / e.file).resolve()
        fmt = {"file": str(cache / e.file), "name": e.name, "manifest": manifest}
        if root not in path.parents:
            problems.append(TEXT["outside"][lang].format(**fmt))
            continue
        if not path.is_file():
            if require_files or e in wheels:
                problems.append(TEXT["missing"][lang].format(**fmt))
            continue
        if not SHA256_RE.match(e.sha256):
            problems.append(TEXT["no_sha"][lang].format(**fmt))
            continue
        got = sha256_of(path)
        if got != e.sha256:
            problems.append(TEXT["mismatch"][lang].format(want=e.sha256, got=got, **fmt))
    listed = {(cache / e.file).resolve() for e in [*files, *wheels]}
    for sub in ("wheels", "files"):
        d = cache / sub
        if d.is_dir():
            for p in sorted(d.iterdir()):
                if p.is_file() and p.resolve() not in listed:
                    problems.append(TEXT["unlisted"][lang].format(file=str(p), manifest=manifest))
    return problems
