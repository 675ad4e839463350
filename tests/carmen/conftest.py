"""Fixtures for the composition root's tests."""

import socket

import pytest

from carmen.demo import Ports


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def unused_ports() -> Ports:
    """Loopback ports nobody listens on, for a demo run inside the tests."""
    return Ports(host="127.0.0.1", nodes=0, hub=0)  # 0: the servers pick free ports
