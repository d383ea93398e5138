"""wardwatch agent: runs on every ward/commune PC and reports its readiness to Prometheus."""

__version__ = "0.1.0"
