"""Push mode into a real Pushgateway; textfile mode read by a real node_exporter."""

import os

import psutil
from support import agent, free_port, http_get, need, parse_metrics, process, wait_for


def test_push_mode_delivers_into_pushgateway(tmp_path):
    port = free_port()
    with process([need("prometheus-pushgateway"), f"--web.listen-address=127.0.0.1:{port}",
                  f"--persistence.file={tmp_path / 'pg.data'}"], port=port, log=tmp_path / "pg.log"):
        config = (f"push:\n  enabled: true\n  url: http://127.0.0.1:{port}\n  job: wardwatch\n"
                  f"  instance: ubnd/phuc-xa pc 01\n  interval: 1s\n")
        with agent(tmp_path, config):
            def pushed():
                body = http_get(f"http://127.0.0.1:{port}/metrics")[1].decode()
                return body if "wardwatch_memory_total_bytes" in body else None
            body = wait_for(pushed, timeout=20, what="metrics pushed")
    m = parse_metrics(body)
    key = next(k for k in m if k[0] == "wardwatch_memory_total_bytes")
    labels = dict(key[1])
    assert labels["job"] == "wardwatch"
    assert labels["instance"] == "ubnd/phuc-xa pc 01"  # "/" carried through base64 grouping
    assert m[key] == psutil.virtual_memory().total


def test_textfile_mode_is_read_by_node_exporter(tmp_path):
    textdir = tmp_path / "textfile"
    textdir.mkdir()
    config = f"textfile:\n  enabled: true\n  directory: {textdir}\n  interval: 1s\n"
    with agent(tmp_path, config):
        prom = textdir / "wardwatch.prom"
        wait_for(prom.exists, timeout=20, what="textfile written")
        # the first file is written after the first collection round: it already holds the values
        assert b"wardwatch_memory_total_bytes" in prom.read_bytes()
        assert [p.name for p in textdir.iterdir()] == ["wardwatch.prom"]  # no temporary left behind
        assert oct(os.stat(textdir / "wardwatch.prom").st_mode & 0o777) == "0o644"
    port = free_port()
    with process([need("prometheus-node-exporter"), f"--web.listen-address=127.0.0.1:{port}",
                  f"--collector.textfile.directory={textdir}", "--collector.disable-defaults",
                  "--collector.textfile"], port=port, log=tmp_path / "ne.log"):
        m = parse_metrics(http_get(f"http://127.0.0.1:{port}/metrics")[1].decode())
    assert m[("wardwatch_memory_total_bytes", ())] == psutil.virtual_memory().total
    assert m[("node_textfile_scrape_error", ())] == 0


def test_push_url_that_is_no_url_is_one_config_error():
    # found with the fuzz targets (fuzz/targets.py, config): the agent started, then every push failed
    import pytest

    from agent import config as cfg
    from exporters.exposition import Exposition
    from exporters.push import Pusher

    for url, words in (("http://[pushgw:9091", "http:// or https://"), ("pushgw:9091", "http:// or https://"),
                       ("http://pushgw:port", "http:// or https://"), ("https://u:p@pushgw:9091", "credentials")):
        s = cfg.loads(f"push:\n  enabled: true\n  url: '{url}'\n", "agent.yml").push
        with pytest.raises(cfg.ConfigError) as e:
            Pusher(s, Exposition(), "agent.yml")
        assert str(e.value).startswith("agent.yml: push.url: ") and words in str(e.value), str(e.value)


def test_grouping_key_values_never_move_up_the_url():
    # docs/security.md, "paths from config": job and instance go into the Pushgateway URL's path; "." and ".."
    # would be path segments of their own (another group, or another endpoint), so they go base64-encoded
    from agent import config as cfg
    from exporters.exposition import Exposition
    from exporters.push import Pusher

    for job, instance, tail in (("..", "pc", "/metrics/job@base64/Li4=/instance/pc"),
                                ("wardwatch", ".", "/metrics/job/wardwatch/instance@base64/Lg=="),
                                ("a/../b", "pc 01", "/metrics/job@base64/YS8uLi9i/instance/pc%2001")):
        s = cfg.loads(f"push:\n  enabled: true\n  url: 'http://127.0.0.1:9091/'\n  job: '{job}'\n"
                      f"  instance: '{instance}'\n").push
        assert Pusher(s, Exposition()).url == "http://127.0.0.1:9091" + tail


def test_grouping_labels_join_the_key_and_role_job_instance_cannot():
    # The Pushgateway puts the grouping key's labels on every series pushed (README of prometheus/pushgateway,
    # "URL"): district and commune go there as file_sd puts them on a scraped PC; role not, the WAN series
    # carry their own.
    import pytest

    from agent import config as cfg
    from exporters.exposition import Exposition
    from exporters.push import Pusher

    s = cfg.loads("push:\n  enabled: true\n  url: 'http://127.0.0.1:9091'\n  instance: pc1\n"
                  "  grouping: {district: ba_vi, commune: 'phúc xá', ward: ''}\n").push
    assert Pusher(s, Exposition()).url == ("http://127.0.0.1:9091/metrics/job/wardwatch/instance/pc1"
                                           "/commune/ph%C3%BAc%20x%C3%A1/district/ba_vi/ward@base64/")
    for name in ("role", "job", "instance", "__x", "1st"):
        s = cfg.loads(f"push:\n  enabled: true\n  url: 'http://127.0.0.1:9091'\n  grouping: {{'{name}': x}}\n").push
        with pytest.raises(cfg.ConfigError) as e:
            Pusher(s, Exposition(), "agent.yml")
        assert str(e.value).startswith("agent.yml: push.grouping: "), str(e.value)
