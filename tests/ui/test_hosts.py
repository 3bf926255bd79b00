"""The Host check's rules (moodlab/ui/hosts.py), without a server; the real one is
tested over sockets in tests/e2e/test_server_bounds.py and in chromium."""

from __future__ import annotations

import pytest

from moodlab.core.config import Settings
from moodlab.core.errors import ConfigError
from moodlab.ui.hosts import HostPolicy, split_host

LOOPBACK = ("127.0.0.1", 8501)


def policy(**env: str) -> HostPolicy:
    return HostPolicy.from_settings(Settings.from_env(env))


@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8501", True),
        ("localhost:8501", True),
        ("LOCALHOST:8501", True),
        ("[::1]:8501", True),
        ("localhost:8502", False),  # another port: another site
        ("localhost", False),  # port 80
        ("rebind.example:8501", False),  # DNS rebinding: a name of the attacker's
        ("127.0.0.1.nip.io:8501", False),
        ("", False),
        ("localhost:8501:1", False),
        ("[::1:8501", False),
        ("user@localhost:8501", False),
    ],
)
def test_loopback_names_on_the_listening_port_only(host, allowed):
    assert policy().allows(host, server=LOOPBACK, scheme="http") is allowed


def test_the_listening_address_and_a_typed_ip_address_are_served():
    served = policy(MOODLAB_HOST="lab.example")
    assert served.allows("lab.example:8501", server=("192.168.1.5", 8501), scheme="http")
    # Listening on every interface, a browser that typed this machine's address gets in;
    # a name still needs MOODLAB_ALLOWED_HOSTS.
    every = policy(MOODLAB_HOST="0.0.0.0")  # noqa: S104
    assert every.allows("192.168.1.5:8501", server=("192.168.1.5", 8501), scheme="http")
    assert not every.allows("192.168.1.6:8501", server=("192.168.1.5", 8501), scheme="http")
    assert not every.allows("lab.example:8501", server=("192.168.1.5", 8501), scheme="http")
    assert not policy(MOODLAB_HOST="::").allows("[::]:8501", server=LOOPBACK, scheme="http")
    # On "::" an IPv4 connection's local address is IPv4-mapped.
    mapped = ("::ffff:192.168.1.5", 8501)
    assert policy(MOODLAB_HOST="::").allows("192.168.1.5:8501", server=mapped, scheme="http")
    # 127.0.0.2 is loopback too, and the address itself is what it is served under.
    assert policy(MOODLAB_HOST="127.0.0.2").allows(
        "127.0.0.2:8501", server=("127.0.0.2", 8501), scheme="http"
    )


def test_allowed_hosts_add_names_with_or_without_a_port():
    served = policy(MOODLAB_ALLOWED_HOSTS="moodlab.example.org, lab.local:9000")
    # A reverse proxy passes its own Host, without the app's port.
    assert served.allows("moodlab.example.org", server=LOOPBACK, scheme="http")
    assert served.allows("moodlab.example.org:443", server=LOOPBACK, scheme="http")
    assert served.allows("lab.local:9000", server=LOOPBACK, scheme="http")
    assert not served.allows("lab.local:9001", server=LOOPBACK, scheme="http")
    assert not served.allows("other.example.org", server=LOOPBACK, scheme="http")


@pytest.mark.parametrize("entry", ["http://lab.example", "lab example", "lab.example:port", "a/b"])
def test_a_malformed_allowed_host_is_named(entry):
    with pytest.raises(ConfigError, match="MOODLAB_ALLOWED_HOSTS"):
        Settings.from_env({"MOODLAB_ALLOWED_HOSTS": entry})


def test_split_host():
    assert split_host("[::1]:8501") == ("::1", 8501)
    assert split_host("Example.ORG.") == ("example.org", None)
    assert split_host("host:0") is None
    assert split_host("host:99999") is None
