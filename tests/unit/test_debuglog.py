"""``--debug`` logs are redacted before they reach the file."""

from __future__ import annotations

import logging

from aiconsole.cli.debuglog import RedactingFilter, redact
from aiconsole.config import paths


def test_redact_removes_every_kind_of_secret():
    key = "0123456789abcdef0123456789abcdef"
    token = "gw1&202611240000&9A1GR1f5WIhFvFmzQG+abcdefghij/kBeu87DWad3tk=="
    text = (f"Authorization: Bearer eyJhbGciOi.abc.def api-key: {key} "
            f'{{"primaryKey": "{key}", "value": "{token}"}} GatewayKey {token}')
    out = redact(text)
    assert key not in out and token not in out and "eyJhbGciOi" not in out
    assert "<redacted" in out


def test_debug_log_file_is_redacted(tmp_path):
    from aiconsole.cli.debuglog import enable_debug_log

    path = enable_debug_log()
    key = "fedcba9876543210fedcba9876543210"
    logging.getLogger("azure.core").debug("request headers: %s", {"api-key": key})
    for h in logging.getLogger("azure").handlers:
        h.flush()
    text = open(path, encoding="utf-8").read()
    assert "request headers" in text and key not in text
    assert str(paths.state_dir()) in path
    for name in ("aiconsole", "azure", "httpx"):
        logger = logging.getLogger(name)
        for h in list(logger.handlers):
            if any(isinstance(f, RedactingFilter) for f in h.filters):
                logger.removeHandler(h)
                h.close()
