from wan_servers import closed_port, tcp_listener

from agent.wan import tcp
from agent.wan.targets import Target


def target(port: int, host: str = "127.0.0.1", timeout: float = 2.0) -> Target:
    return Target("t", "other", "tcp", host, host, port, 10.0, timeout)


def test_connect_to_a_listener_and_to_a_closed_port():
    with tcp_listener() as port:
        r = tcp.probe(target(port))
    assert r.ok and r.sent == r.received == 1 and len(r.rtts) == 1
    assert 0 < r.rtts[0] <= r.finished - r.started
    assert r.answered_at is not None and r.started <= r.answered_at <= r.finished
    r = tcp.probe(target(closed_port()))
    assert (r.ok, r.error, r.received, r.rtts) == (False, "refused", 0, ())


def test_ipv6_loopback():
    with tcp_listener("::1") as port:
        assert tcp.probe(target(port, "::1")).ok
