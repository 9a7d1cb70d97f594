"""Pure domain helpers: scopes, masking, fingerprints, sanitising, URL rules."""

from __future__ import annotations

import hashlib

import pytest
from pydantic import SecretStr

from aiconsole.backends.urls import check_url, is_loopback_url
from aiconsole.domain.errors import InsecureTransportError, UsageError
from aiconsole.domain.models import KeyPair, PolicyScope, Scope, ScopeKind
from aiconsole.domain.secrets import fingerprint, mask
from aiconsole.domain.text import sanitize

SVC = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.ApiManagement/service/s"


@pytest.mark.parametrize(
    "path,kind,ident,label",
    [
        (f"{SVC}/products/starter", ScopeKind.product, "starter", "product:starter"),
        (f"{SVC}/apis/openai", ScopeKind.api, "openai", "api:openai"),
        (f"{SVC}/apis", ScopeKind.all_apis, None, "all-apis"),
        ("/products/p1", ScopeKind.product, "p1", "product:p1"),
    ],
)
def test_scope_parse(path, kind, ident, label):
    scope = Scope.parse(path)
    assert (scope.kind, scope.id, scope.label) == (kind, ident, label)


def test_mask_and_fingerprint_never_reveal_the_key():
    key = "0123456789abcdef0123456789ab3f9a"
    assert mask(SecretStr(key)) == "••••••••3f9a"
    assert fingerprint(key) == hashlib.sha256(key.encode()).hexdigest()[:8]
    pair = KeyPair(name="s", primary_key=key, secondary_key="x" * 32)
    assert key not in repr(pair) and key not in str(pair)
    assert pair.masked()["primary_key"] == "••••••••3f9a"
    assert pair.revealed()["primary_key"] == key


@pytest.mark.parametrize(
    "text,expected",
    [
        ("plain", "plain"),
        ("\x1b[31mred\x1b[0m", "red"),
        ("title\x1b]0;pwned\x07!", "title!"),
        ("a\u202eevil", "aevil"),
        ("bell\x07tab\there", "belltab here"),
        ("\x9b2Jx", "x"),
    ],
)
def test_sanitize_strips_escapes_and_controls(text, expected):
    assert sanitize(text) == expected


def test_sanitize_keeps_newlines_on_request_and_truncates():
    assert sanitize("a\r\nb", keep_newlines=True) == "a\nb"
    assert sanitize("x" * 10_000, max_length=10) == "x" * 9 + "…"


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:9", "https://example.com"])
def test_allowed_urls(url):
    assert check_url(url + "/") == url


@pytest.mark.parametrize("url", ["http://10.0.0.1:8080", "http://management.azure.com", "http://example.com"])
def test_plain_http_refused_off_loopback(url):
    with pytest.raises(InsecureTransportError) as err:
        check_url(url)
    assert "only loopback" in err.value.message
    assert not is_loopback_url(url)


def test_garbage_url_is_a_usage_error():
    with pytest.raises(UsageError):
        check_url("not a url")


@pytest.mark.parametrize(
    "text,label",
    [("global", "global"), ("product:p", "product:p"), ("api:a", "api:a"), ("operation:a/op", "operation:a/op")],
)
def test_policy_scope_round_trip(text, label):
    assert PolicyScope.parse(text).label == label


@pytest.mark.parametrize("text", ["", "product:", "operation:a", "galaxy:x", "operation:/op"])
def test_policy_scope_rejects_nonsense(text):
    with pytest.raises(UsageError):
        PolicyScope.parse(text)


def test_an_explicit_profile_beats_the_sandbox_environment_variable(monkeypatch):
    from aiconsole.backends.connect import resolve_connection
    from aiconsole.domain.errors import ConfigError

    monkeypatch.setenv("AICONSOLE_SANDBOX", "http://10.9.9.9:1")  # would be refused if it were used
    with pytest.raises(ConfigError, match="no profile named 'nope'"):
        resolve_connection(profile="nope")
    with pytest.raises(InsecureTransportError):
        resolve_connection()


def test_a_bug_in_a_command_is_one_sentence_not_a_traceback(capsys):
    import argparse

    from aiconsole.cli.context import run_command

    def broken(ctx):
        raise KeyError("0123456789abcdef0123456789abcdef")

    code = run_command(argparse.ArgumentParser(), argparse.Namespace(handler=broken, output="json"))
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: unexpected KeyError") and "Traceback" not in err
    assert "0123456789abcdef" not in err


def test_output_cut_short_by_a_closed_pipe_is_not_an_error(capsys, monkeypatch):
    """``aiconsole subs list | head``: the reader leaving early is exit 0, with nothing on stderr."""
    import argparse
    import sys

    from aiconsole.cli.context import run_command

    def piped(ctx):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", sys.stdout)  # run_command points stdout at /dev/null: restored after
    code = run_command(argparse.ArgumentParser(), argparse.Namespace(handler=piped, output="json"))
    err = capsys.readouterr().err
    assert code == 0 and err == ""


def test_only_the_name_localhost_counts_as_loopback():
    assert is_loopback_url("http://localhost:1")
    assert not is_loopback_url("http://evil.localhost:1")
