"""What counts as the server's own origin (api/origin.py): scheme, host and port, compared the
way browsers write the Origin header."""

from __future__ import annotations

import pytest

from api.origin import origin_of


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("HTTP://Example.COM:80/path?q=1", "http://example.com"),
        ("https://rk.liwan.example:443", "https://rk.liwan.example"),
        ("https://rk.liwan.example:8443/", "https://rk.liwan.example:8443"),
        ("http://[::1]:8000", "http://[::1]:8000"),
        ("null", ""),
        ("file:///etc/passwd", ""),
        ("http://host:notaport", ""),
        ("", ""),
    ],
)
def test_origins_are_scheme_host_and_port_without_the_default_port(url: str, origin: str) -> None:
    assert origin_of(url) == origin


def test_another_port_or_scheme_is_another_origin() -> None:
    own = origin_of("http://tracking.example:8000")
    assert origin_of("http://tracking.example:8001") != own
    assert origin_of("https://tracking.example:8000") != own
    assert origin_of("http://tracking.example.evil.example:8000") != own
