"""``aiconsole auth posture`` against the sandbox's seeded APIs: every layer's verdict, no secrets."""

from __future__ import annotations

import contextlib
import io
import json

import pytest

from aiconsole.cli.main import main
from tests.sandbox_fixture import start_sandbox


@pytest.fixture(scope="module")
def posture():
    info, stop = start_sandbox(subscriptions=12, seed=5, traffic=False)
    try:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["--sandbox", info["management_url"], "-o", "json", "auth", "posture"])
        assert code == 0, err.getvalue()
        yield {row["api"]: row for row in json.loads(out.getvalue())}, out.getvalue()
    finally:
        stop()


def verdicts(row):
    return row["subscription"]["verdict"], row["jwt"]["verdict"], row["backend"]["verdict"]


def test_every_layer_present(posture):
    rows, _ = posture
    row = rows["chat-pool"]
    assert verdicts(row) == ("ok", "ok", "ok") and row["verdict"] == "ok"
    assert row["jwt"]["validations"][0]["audiences"] == ["api://contoso-ai-gateway"]
    assert row["jwt"]["validations"][0]["roles"] == ["AI.Chat", "AI.Admin"]
    assert row["backend"]["managed_identity"][0]["resource"] == "https://cognitiveservices.azure.com"
    assert row["subscription"]["query_accepted"] is False


def test_absent_and_misconfigured_layers(posture):
    rows, _ = posture
    assert verdicts(rows["playground"]) == ("fail", "fail", "warn")
    hr = rows["hr-assistant"]  # JWT and managed identity on the API; one operation drops both
    assert verdicts(hr) == ("none", "fail", "warn") and hr["verdict"] == "fail"
    assert [o["operation"] for o in hr["jwt"]["operations"]] == ["list-models"]
    assert "skips the API's validate-jwt" in hr["jwt"]["finding"]
    assert hr["jwt"]["finding"].startswith("Operation 'list-models'")  # the problem first, then the rest
    assert "Rest of the API: validate-jwt demands audience api://hr-assistant" in hr["jwt"]["finding"]
    legacy = rows["legacy-completions"]
    assert verdicts(legacy) == ("warn", "warn", "fail") and legacy["verdict"] == "fail"
    assert "plain text" in legacy["backend"]["finding"] and "legacy-aoai-key" in legacy["backend"]["finding"]
    assert "query string 'subscription-key'" in rows["azure-openai"]["subscription"]["finding"]
    assert rows["azure-openai"]["jwt"]["verdict"] == "none"


def test_no_named_value_content_in_output(posture):
    _, text = posture
    assert "0f1e2d3c4b5a69788796a5b4c3d2e1f0" not in text
    assert "sandbox-playground-token" not in text
