"""config.toml: round trips keep comments, broken files are reported by line and never overwritten."""

from __future__ import annotations

import os

import pytest

from aiconsole.config import paths
from aiconsole.config.model import AzureProfile, SandboxProfile, SelfHostedProfile
from aiconsole.config.profiles import add_profile, remove_profile, set_profile_field, use_profile
from aiconsole.config.store import atomic_write, line_for, load_config
from aiconsole.domain.errors import AiconsoleError, ConfigError

AZURE = {
    "kind": "azure",
    "subscription_id": "00000000-0000-0000-0000-000000000001",
    "resource_group": "rg-ai",
    "service": "apim-prod",
    "tenant_id": "contoso.onmicrosoft.com",
}

COMMENTED = """\
# team config: keep this comment
theme = "dark"  # the console theme

[keymap]
"app.quit" = "q"  # tmux eats ctrl-q

# production instance
[profiles.prod]
kind = "azure"
subscription_id = "00000000-0000-0000-0000-000000000001"
resource_group = "rg-ai"   # aligned on purpose
service = "apim-prod"
production = true

[profiles.prod.prices.gpt4o]
prompt = 0.0025
completion = 0.01
"""


def _write(text: str) -> None:
    path = paths.config_file()
    paths.ensure_private_dir(path.parent)
    path.write_text(text)


def test_missing_file_gives_defaults():
    config = load_config()
    assert config.profiles == {} and config.current is None and config.keymap == {} and config.theme is None


def test_round_trip_keeps_comments_and_layout():
    _write(COMMENTED)
    add_profile("dev", {"kind": "sandbox", "url": "http://127.0.0.1:8123", "read_only": True})
    use_profile("dev")
    text = paths.config_file().read_text()
    # every line the user wrote is still there, byte for byte
    for line in COMMENTED.splitlines():
        if not line.startswith("current"):
            assert line in text.splitlines(), line
    config = load_config()
    assert config.current == "dev"
    assert config.theme == "dark" and config.keymap == {"app.quit": "q"}
    prod = config.profiles["prod"]
    assert isinstance(prod, AzureProfile) and prod.production and prod.prices["gpt4o"].completion == 0.01
    assert isinstance(config.profiles["dev"], SandboxProfile) and config.profiles["dev"].read_only
    remove_profile("dev")
    assert "# production instance" in paths.config_file().read_text()
    assert load_config().current is None


def test_first_profile_becomes_current_and_kinds_validate():
    add_profile("prod", AZURE)
    add_profile("edge", {"kind": "self-hosted", "gateway": "gw-1", "of": "prod",
                         "nodes": ["https://gw1.example.com"], "metrics_url": "https://prom.example.com"})
    config = load_config()
    assert config.current == "prod"
    edge = config.profiles["edge"]
    assert isinstance(edge, SelfHostedProfile) and edge.nodes == ["https://gw1.example.com"]


def test_self_hosted_parent_cannot_be_removed():
    add_profile("prod", AZURE)
    add_profile("edge", {"kind": "self-hosted", "gateway": "gw-1", "of": "prod"})
    with pytest.raises(ConfigError, match="used by edge"):
        remove_profile("prod")


@pytest.mark.parametrize(
    "fields, words",
    [
        ({**AZURE, "resource_group": "rg/../other"}, "resource group"),
        ({**AZURE, "service": "has space"}, "service name"),
        ({"kind": "sandbox", "url": "http://10.0.0.5:8000"}, "plain HTTP"),
        ({**AZURE, "auth": "service-principal"}, "client_id"),
        ({**AZURE, "auth": "password"}, "auth"),
        ({"kind": "self-hosted", "gateway": "gw", "of": "nothing"}, "--of must name"),
    ],
)
def test_invalid_profiles_are_refused_and_nothing_is_written(fields, words):
    add_profile("dev", {"kind": "sandbox", "url": "http://127.0.0.1:1"})
    before = paths.config_file().read_bytes()
    with pytest.raises(AiconsoleError) as err:
        add_profile("bad", fields)
    assert words in err.value.message and err.value.exit_code == 2
    assert "config file" not in err.value.message  # the file on disk is fine; the option is not
    assert paths.config_file().read_bytes() == before


def test_syntax_error_names_the_line_and_file_is_not_overwritten():
    broken = COMMENTED + "\n[profiles.dev\nkind = 'sandbox'\n"
    _write(broken)
    bad_line = broken.splitlines().index("[profiles.dev") + 1
    with pytest.raises(ConfigError) as err:
        load_config()
    assert f"line {bad_line}" in err.value.message and str(paths.config_file()) in err.value.message
    with pytest.raises(ConfigError):
        add_profile("dev2", {"kind": "sandbox", "url": "http://127.0.0.1:1"})
    with pytest.raises(ConfigError):
        use_profile("prod")
    assert paths.config_file().read_text() == broken


def test_validation_error_names_the_line_of_the_bad_key():
    text = COMMENTED.replace('service = "apim-prod"', 'service = "apim prod"')
    _write(text)
    with pytest.raises(ConfigError) as err:
        load_config()
    line = text.splitlines().index('service = "apim prod"') + 1
    assert f"line {line}" in err.value.message and "profiles.prod.service" in err.value.message


def test_missing_field_points_at_its_table():
    text = COMMENTED.replace('service = "apim-prod"\n', "")
    _write(text)
    with pytest.raises(ConfigError) as err:
        load_config()
    assert f"line {text.splitlines().index('[profiles.prod]') + 1}" in err.value.message
    assert "Field required" in err.value.message


def test_a_secret_in_the_file_is_an_error_that_does_not_echo_it():
    _write(COMMENTED + 'client_secret = "hunter2-very-secret"\n')
    with pytest.raises(ConfigError) as err:
        load_config()
    assert "secret" in err.value.message and "hunter2" not in str(err.value) + err.value.hint


def test_unknown_top_level_key_and_dangling_current():
    _write('curent = "x"\n')
    with pytest.raises(ConfigError, match="line 1"):
        load_config()
    _write('current = "ghost"\n')
    with pytest.raises(ConfigError, match="names no profile"):
        load_config()


def test_set_profile_field_keeps_comments():
    _write(COMMENTED)
    set_profile_field("prod", "read_only", True)
    text = paths.config_file().read_text()
    assert "# production instance" in text and "aligned on purpose" in text
    assert load_config().profiles["prod"].read_only


def test_atomic_write_follows_symlinks_and_keeps_mode(tmp_path):
    real = tmp_path / "dotfiles" / "config.toml"
    real.parent.mkdir()
    real.write_text('theme = "dark"\n')
    real.chmod(0o640)
    link = paths.config_file()
    paths.ensure_private_dir(link.parent)
    link.symlink_to(real)
    add_profile("dev", {"kind": "sandbox", "url": "http://127.0.0.1:1"})
    assert link.is_symlink()
    assert "[profiles.dev]" in real.read_text() and 'theme = "dark"' in real.read_text()
    assert (real.stat().st_mode & 0o777) == 0o640
    assert not [p for p in real.parent.iterdir() if p.name.endswith(".tmp")]


def test_atomic_write_leaves_no_temp_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "c.toml"
    target.write_text("old\n")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write(target, "new\n")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["c.toml"]


def test_line_for_handles_quoted_and_dotted_keys():
    text = '[profiles."my.prof"]\nkind = "azure"\nprices.gpt.prompt = 1\n'
    assert line_for(text, ("profiles", "my.prof", "kind")) == 2
    assert line_for(text, ("profiles", "my.prof", "prices", "gpt", "prompt")) == 3
    assert line_for(text, ("profiles", "my.prof", "service")) == 1
