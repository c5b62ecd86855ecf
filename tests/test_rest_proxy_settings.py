"""A tracking server behind a proxy the environment names is reached through the proxy: the
client's own kept connections (store/rest_connections.py) are only for servers no proxy
applies to, and deciding that must read the same variables urllib does."""

from __future__ import annotations

import os

import pytest

from notebook_tracker.store.rest_connections import usable


@pytest.fixture(autouse=True)
def no_proxy_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)


def test_a_plain_http_server_with_no_proxy_configured_is_called_directly() -> None:
    assert usable("http://127.0.0.1:5000")


def test_https_goes_through_the_http_library() -> None:
    assert not usable("https://tracking.example.com")


@pytest.mark.parametrize("name", ["http_proxy", "HTTP_PROXY"])
def test_a_proxy_for_http_in_the_environment_is_honoured(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv(name, "http://proxy.internal:3128")
    assert not usable("http://tracking.example.com:5000")


def test_a_host_the_proxy_settings_exclude_is_called_directly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("http_proxy", "http://proxy.internal:3128")
    monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")
    assert usable("http://127.0.0.1:5000")
    assert not usable("http://tracking.example.com:5000")


def test_a_proxy_for_other_schemes_only_leaves_http_direct(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("https_proxy", "http://proxy.internal:3128")
    assert usable("http://127.0.0.1:5000")
