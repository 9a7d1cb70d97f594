"""The Finding shown for an API (``:auth`` and ``aiconsole auth posture``) explains its verdict:
an absent ("none") layer does not make the verdict and is not the finding shown while another
layer is present; every surface picks the same layer."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from aiconsole.services.posture import ApiPosture, Layer
from aiconsole.tui.rows.posture import posture_row

FINDING = 5  # the Finding column of the :auth table


def api(sub: str, jwt: str, backend: str) -> ApiPosture:
    return ApiPosture("chat", "Chat", "chat", [
        Layer("subscription", sub, f"subscription says {sub}"),
        Layer("jwt", jwt, f"jwt says {jwt}"),
        Layer("backend", backend, f"backend says {backend}"),
    ])


def cli_findings(monkeypatch, postures: list[ApiPosture]) -> list[dict]:
    import aiconsole.services.posture as posture_service
    from aiconsole.cli.commands.auth import run_posture

    monkeypatch.setattr(posture_service.PostureService, "__init__", lambda self, ctx: None)
    monkeypatch.setattr(posture_service.PostureService, "assess", lambda self: postures)
    emitted = []
    ctx = SimpleNamespace(services=None, json=False, args=SimpleNamespace(api=None),
                          emit=lambda rows, columns=None: emitted.extend(rows))
    assert run_posture(ctx) == 0
    return emitted


@pytest.mark.parametrize("layers, verdict, shown", [
    (("ok", "none", "ok"), "ok", "subscription says ok"),  # the absent JWT layer is not the finding
    (("none", "ok", "none"), "ok", "jwt says ok"),
    (("ok", "warn", "none"), "warn", "jwt says warn"),
    (("warn", "none", "fail"), "fail", "backend says fail"),
    (("none", "none", "none"), "none", "subscription says none"),
    (("warn", "ok", "warn"), "warn", "subscription says warn"),  # ties: the first such layer
])
def test_finding_shown_is_the_layer_behind_the_verdict(monkeypatch, layers, verdict, shown):
    p = api(*layers)
    assert p.verdict == verdict
    assert p.worst_layer.verdict == verdict and p.worst_layer.finding == shown
    row = posture_row(p)
    assert row.cells[1].endswith(verdict)
    assert row.cells[FINDING] == shown
    assert cli_findings(monkeypatch, [p])[0]["finding"] == shown


def test_auth_table_sorts_worst_verdict_first():
    rows = [posture_row(api(*layers)) for layers in
            (("ok", "ok", "ok"), ("none", "none", "none"), ("fail", "ok", "ok"), ("warn", "ok", "ok"))]
    verdict_column = 1
    ordered = sorted(rows, key=lambda r: r.sort[verdict_column])
    assert [r.data.verdict for r in ordered] == ["fail", "warn", "none", "ok"]
