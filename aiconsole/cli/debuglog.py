"""``--debug``: a redacted log file under the state directory.

Everything that reaches the file passes through ``RedactingFilter`` first: bearer tokens,
``api-key``/subscription-key headers and values, gateway tokens and anything shaped like a
subscription key are replaced before formatting, so turning on ``--debug`` during an incident
never leaves a key on disk.
"""

from __future__ import annotations

import logging
import re

from aiconsole.config import paths

_PATTERNS = [
    # Authorization: Bearer xxx / GatewayKey xxx
    (re.compile(r"(?i)(bearer|gatewaykey)\s+[A-Za-z0-9._~+/=&-]+"), r"\1 <redacted>"),
    # header or JSON fields that carry secrets
    (re.compile(r"(?i)((?:api-key|ocp-apim-subscription-key|subscription-key|primaryKey|secondaryKey|primary|"
                r"secondary|value|client_secret|password)[\"']?\s*[:=]\s*[\"']?)[^\"'\s,}&]{8,}"), r"\1<redacted>"),
    # gateway tokens: id&yyyyMMddHHmm&signature
    (re.compile(r"[\w.-]+&\d{12}&[A-Za-z0-9+/=]{16,}"), "<redacted-token>"),
    # bare 32+ hex keys
    (re.compile(r"\b[0-9a-fA-F]{32,}\b"), "<redacted-key>"),
]


def redact(text: str) -> str:
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not break logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def enable_debug_log() -> str:
    """Send DEBUG logs of aiconsole and the Azure SDK to the state dir's debug.log (0600)."""
    path = paths.debug_log_file()
    paths.ensure_private_dir(path.parent)
    handler = logging.FileHandler(path, encoding="utf-8")
    path.chmod(0o600)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    for name in ("aiconsole", "azure", "httpx"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(handler)
    return str(path)
