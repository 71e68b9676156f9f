"""Helpers the Python test and benchmark scripts share: loopback ports and dbt's signature.

Imported by test/ui/ui_test.py, test/reliability/crash_harness.py and bench/bench.py (each adds
this folder to sys.path). Standard library only.
"""

import hashlib
import hmac
import socket
import time


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, timeout=10):
    """True once something accepts connections on 127.0.0.1:port; False after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return True
        except OSError:
            time.sleep(0.01)
    return False


def sign(body, secret):
    """dbt Cloud's Authorization header value: hex HMAC-SHA256 of the exact body bytes."""
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
