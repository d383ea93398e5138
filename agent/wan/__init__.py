"""WAN link health: probes (icmp, tcp, http, dns, tls), one scheduler for every
target, rolling windows, outage accounting and the state that survives restarts.

    targets.py    the config of one target, its checks, and `auto` targets
    result.py     what one probe round returns; the bounded set of error classes
    resolve.py    name resolution bounded by the probe's deadline
    icmp.py tcp.py http.py dns.py tls.py   one module per probe kind
    icmp_windows.py  icmp on Windows: the IP Helper API (IcmpSendEcho2), no privilege needed
    x509.py       a certificate's expiry read from its DER bytes (no extra dependency)
    health.py     per-target verdicts: windows, consecutive failures, outages
    state.py      counters written atomically to the state dir, and its owner lock
    scheduler.py  every target on its own schedule, probed concurrently by a worker pool
"""
