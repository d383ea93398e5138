"""The catalogue is well-formed and the README's metric reference is generated from it."""

from support import REPO

from exporters import catalogue


def test_catalogue_is_well_formed():
    metrics = catalogue.load()
    assert len(metrics) >= 19
    for m in metrics.values():
        assert m.name.startswith("wardwatch_"), m.name
        assert m.help.strip() and m.help.endswith("."), m.name
        assert "timestamp" not in m.labels and "serial" not in m.labels or m.name.endswith("_info"), m.name


def test_readme_metric_reference_is_generated():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    begin, end = "<!-- metric-reference:begin -->\n", "<!-- metric-reference:end -->"
    assert readme.split(begin, 1)[1].split(end, 1)[0] == catalogue.reference_markdown(), \
        "README's metric reference is out of date: run python3 scripts/update-readme.py"
