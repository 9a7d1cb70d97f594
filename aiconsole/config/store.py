"""Reading and rewriting ``config.toml`` without losing what the user wrote.

The file is edited as a tomlkit document, so comments, ordering and formatting survive our
rewrites. Every write is validated first, written to a temporary file in the same directory,
fsynced and moved over the old file with ``os.replace``: a crash leaves either the old or the
new file, never half of one. A file that does not parse or validate is reported with its line
and is never overwritten: the user's hand edits are worth more than our change.
"""

from __future__ import annotations

import fcntl
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiconsole.config import paths
from aiconsole.domain.errors import ConfigError

#: keys that must never live in the config file; we say where they belong instead
_SECRET_KEYS = re.compile(r"(secret|password|passphrase|api[_-]?key|subscription[_-]?key|token)$", re.I)

_FIX_BY_HAND = "Fix the file by hand (aiconsole does not overwrite a broken config), or move it aside."


def config_path(path: Path | None = None) -> Path:
    return Path(path) if path is not None else paths.config_file()


def read_text(path: Path) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise ConfigError(f"The config file {path} is not UTF-8 text.", _FIX_BY_HAND) from None
    except OSError as exc:
        raise ConfigError(f"The config file {path} cannot be read ({exc.strerror}).") from None


def parse(text: str, path: Path):
    """Parse TOML into a tomlkit document, or raise ConfigError naming the line."""
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        reason = re.sub(r" at line \d+ col \d+$", "", str(exc)).replace("'\\x00'", "end of file").replace("'\\n'", "end of line")
        raise ConfigError(
            f"The config file {path} is broken at line {exc.line}, column {exc.col}: {reason}.", _FIX_BY_HAND
        ) from None


def validate(data: dict[str, Any], text: str, path: Path):
    """Turn plain data into a ``Config``, or raise ConfigError naming the first bad line."""
    from pydantic import ValidationError

    from aiconsole.config.model import Config, reference_problems

    secret = _find_secret_key(data)
    if secret is not None:
        line = line_for(text, secret)
        raise ConfigError(
            f"The config file {path} holds a secret at line {line} ({'.'.join(secret)}); secrets do not belong there.",
            "Remove it, then store it with `aiconsole profile secret set NAME` or the AICONSOLE_CLIENT_SECRET variable.",
        )
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        err = exc.errors(include_input=False, include_url=False)[0]
        keys = _data_path(data, err["loc"])
        line = line_for(text, keys)
        where = ".".join(keys) or "top level"
        msg = str(err["msg"]).removeprefix("Value error, ").rstrip(".")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"The config file {path} is invalid at line {line} ({where}): {msg}{more}.", _FIX_BY_HAND) from None
    problems = reference_problems(config)
    if problems:
        keys, msg = problems[0]
        msg = msg.rstrip(".")
        raise ConfigError(f"The config file {path} is invalid at line {line_for(text, keys)}: {msg}.", _FIX_BY_HAND)
    return config


def _find_secret_key(data: Any, prefix: tuple[str, ...] = ()) -> tuple[str, ...] | None:
    if isinstance(data, dict):
        for key, value in data.items():
            here = prefix + (str(key),)
            # keymap values are key names, not secrets; its ids may contain "token"
            if here[:1] == ("keymap",):
                continue
            if _SECRET_KEYS.search(str(key)) and not isinstance(value, dict):
                return here
            found = _find_secret_key(value, here)
            if found:
                return found
    return None


def _data_path(data: Any, loc: tuple[Any, ...]) -> tuple[str, ...]:
    """Keep the parts of a pydantic error location that are keys in the data.

    Discriminated unions add the tag (``"azure"``) to the location; it is not a key in the file.
    """
    out: list[str] = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            out.append(str(part))
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif isinstance(node, dict) and node.get("kind") == part:
            continue  # the discriminator's tag, not a key
        elif i == len(loc) - 1 and isinstance(part, str):
            out.append(part)  # a missing field: point at its table
    return tuple(out)


_HEADER = re.compile(r"^\s*\[\[?\s*(.+?)\s*\]\]?\s*(#.*)?$")
_KEYVAL = re.compile(r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*=")
_PART = re.compile(r"[A-Za-z0-9_-]+|\"([^\"]*)\"|'([^']*)'")


def _split_key(key: str) -> tuple[str, ...]:
    parts = []
    for m in _PART.finditer(key):
        parts.append(m.group(1) if m.group(1) is not None else m.group(2) if m.group(2) is not None else m.group(0))
    return tuple(parts)


def line_for(text: str, keys: tuple[str, ...]) -> int:
    """The 1-based line where the key path ``keys`` is defined (best effort; 1 if unknown).

    tomlkit does not keep line numbers, so we scan headers and ``key =`` lines and pick the
    one that matches the longest prefix of the path: for a missing field that is its table.
    """
    best_line, best_len = 1, 0
    table: tuple[str, ...] = ()
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("#"):
            table = _split_key(header.group(1))
            candidate = table
        else:
            kv = _KEYVAL.match(line)
            if not kv:
                continue
            candidate = table + _split_key(kv.group(1))
        common = 0
        for a, b in zip(candidate, keys):
            if a != b:
                break
            common += 1
        if common == len(candidate) and common > best_len:
            best_line, best_len = number, common
    return best_line


def load_document(path: Path | None = None):
    """(tomlkit document, text, Config) of the file; an empty document when it does not exist."""
    import tomlkit

    path = config_path(path)
    text = read_text(path)
    if text is None:
        doc = tomlkit.document()
        return doc, "", validate({}, "", path)
    doc = parse(text, path)
    return doc, text, validate(doc.unwrap(), text, path)


def load_config(path: Path | None = None):
    """The validated configuration (defaults when the file does not exist).

    Raises ``ConfigError`` naming the line when the file is broken. The TUI reads ``theme``
    and ``keymap`` from here; the CLI resolves profiles from it.
    """
    return load_document(path)[2]


@contextmanager
def edit_config(path: Path | None = None) -> Iterator[Any]:
    """Edit the config as a tomlkit document; on a clean exit, validate and write atomically.

    A lock file serialises concurrent ``aiconsole profile`` runs, so two edits cannot lose each
    other's change. The file must be valid before the edit and after it; otherwise nothing is
    written and ConfigError says why.
    """
    path = config_path(path)
    paths.ensure_private_dir(path.parent)
    lock_fd = os.open(path.parent / ".config.toml.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        doc, _text, _config = load_document(path)
        yield doc
        new_text = doc.as_string()
        validate(doc.unwrap(), new_text, path)
        atomic_write(path, new_text)
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
        os.close(lock_fd)


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: temp file in the same directory, fsync, rename, fsync dir.

    A symlinked config (dotfile managers) is followed, so the link survives and its target
    is what changes.
    """
    target = Path(os.path.realpath(path))
    directory = target.parent
    mode = 0o600
    try:
        mode = target.stat().st_mode & 0o777
    except FileNotFoundError:
        pass
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
