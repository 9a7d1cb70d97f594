"""Profile and keyring details for ``aiconsole info``.

Must stay cheap and must not import Textual or an Azure SDK (a hygiene test runs ``info`` in a
fresh interpreter). A broken config is reported here, not raised: ``info`` is what people run
to find out what is wrong.
"""

from __future__ import annotations

import os
from typing import Any


def _profiles() -> dict[str, Any]:
    from aiconsole.config.profiles import describe
    from aiconsole.config.store import load_config
    from aiconsole.domain.errors import AiconsoleError

    try:
        config = load_config()
    except AiconsoleError as exc:
        return {"error": exc.message}
    in_effect = os.environ.get("AICONSOLE_PROFILE") or config.current
    return {
        "current": config.current,
        "in_effect": in_effect,
        "theme": config.theme,
        "items": [describe(n, p, current=config.current) for n, p in sorted(config.profiles.items())],
    }


def extra_info() -> dict[str, Any]:
    from aiconsole.config import paths
    from aiconsole.config.secrets import keyring_status

    return {
        "profiles": _profiles(),
        "keyring": keyring_status(),
        "data_dir": str(paths.data_dir()),
    }
