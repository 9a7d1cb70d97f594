"""Hostile policy XML (issue #10 item 3): DTDs, billion laughs, external entities and absurd
nesting are refused — never expanded, never fetched, never a crash — by the console's policy
parser (hypothesis puts a declaration anywhere in every reference-like document) and by the
sandbox's policy PUT through the real SDK (400, stored policy unchanged)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aiconsole.policy.errors import PolicySyntaxError
from aiconsole.policy.limits import find_limits
from aiconsole.policy.tree import parse
from tests.sandbox_fixture import sdk_client, start_sandbox

BASE = """<policies>
    <inbound>
        <base />
        <llm-token-limit counter-key="@(context.Subscription.Id)" tokens-per-minute="1000" estimate-prompt-tokens="true" />
    </inbound>
    <backend><base /></backend>
    <outbound><base /></outbound>
    <on-error><base /></on-error>
</policies>"""

LAUGHS = ('<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
          '<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>')
EXTERNAL = '<!DOCTYPE policies [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
PARAMETER = '<!DOCTYPE policies [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>'
DECLARATIONS = [LAUGHS, EXTERNAL, PARAMETER, "<!DOCTYPE policies>", '<!ENTITY x "y">', "<!ELEMENT a ANY>",
                "<!ATTLIST a b CDATA #IMPLIED>", '<!NOTATION n SYSTEM "x">']
HYPOTHESIS_EXAMPLES = 60


def _case_variant(text: str, flags: list[bool]) -> str:
    """Change the case of the declaration keyword (XML is case-sensitive; a lenient parser is not)."""
    head, rest = text[:9], text[9:]
    return "".join(c.lower() if f else c for c, f in zip(head, flags + [False] * 9)) + rest


@settings(max_examples=HYPOTHESIS_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(declaration=st.sampled_from(DECLARATIONS), where=st.integers(min_value=0),
       flags=st.lists(st.booleans(), min_size=9, max_size=9), reference=st.sampled_from(["&lol2;", "&xxe;", ""]))
def test_a_declaration_anywhere_between_tags_is_refused(declaration, where, flags, reference):
    gaps = [i for i, c in enumerate(BASE) if c == "<"] + [len(BASE)]
    at = gaps[where % len(gaps)]
    text = BASE[:at] + _case_variant(declaration, flags) + BASE[at:]
    text = text.replace("<base />\n        <llm", f"<base />{reference}\n        <llm", 1)
    for parse_it in (parse, find_limits):
        with pytest.raises(PolicySyntaxError) as refused:
            parse_it(text)
        assert "lol" * 20 not in str(refused.value) and "root:" not in str(refused.value)


@pytest.mark.parametrize("depth", [300, 5000])
def test_absurd_nesting_is_a_clear_error_not_a_crash(depth):
    text = ("<policies><inbound>" + '<choose><when condition="@(true)">' * depth
            + "</when></choose>" * depth + "</inbound></policies>")
    with pytest.raises(PolicySyntaxError, match="nested"):
        find_limits(text)


@pytest.fixture(scope="module")
def sandbox():
    info, stop = start_sandbox(seed=29, subscriptions=5, traffic=False)
    yield info
    stop()


@pytest.mark.parametrize("prefix", [LAUGHS, EXTERNAL, PARAMETER, "<!DOCTYPE policies>"],
                         ids=["billion laughs", "external entity", "parameter entity", "doctype"])
@pytest.mark.parametrize("fmt", ["xml", "rawxml"])
def test_the_sandbox_refuses_a_dtd_in_a_policy_put(sandbox, prefix, fmt):
    from azure.core.exceptions import HttpResponseError
    from azure.mgmt.apimanagement.models import PolicyContract

    client = sdk_client(sandbox)
    rg, svc = sandbox["resource_group"], sandbox["service_name"]
    before = client.product_policy.get(rg, svc, "starter", "policy", format="xml")
    body = prefix + BASE.replace("<base />", "<base />&lol2;&xxe;", 1)
    with pytest.raises(HttpResponseError) as refused:
        client.product_policy.create_or_update(rg, svc, "starter", "policy",
                                               PolicyContract(value=body, format=fmt), if_match="*")
    assert refused.value.status_code == 400
    assert "lol" * 20 not in str(refused.value) and "root:" not in str(refused.value)
    after = client.product_policy.get(rg, svc, "starter", "policy", format="xml")
    assert after.value == before.value


def test_the_console_reading_an_absurdly_nested_policy_says_so(sandbox, tmp_path):
    """Whatever the server stores, the console reading it gives one sentence, not a RecursionError."""
    from azure.mgmt.apimanagement.models import PolicyContract

    from tests.hardening.conftest import run_cli_inproc

    client = sdk_client(sandbox)
    rg, svc = sandbox["resource_group"], sandbox["service_name"]
    before = client.product_policy.get(rg, svc, "premium", "policy", format="xml").value
    depth = 2000
    body = ("<policies><inbound><base />" + '<choose><when condition="@(true)">' * depth
            + "</when></choose>" * depth + "</inbound><backend><base /></backend><outbound><base /></outbound>"
            "<on-error><base /></on-error></policies>")
    client.product_policy.create_or_update(rg, svc, "premium", "policy", PolicyContract(value=body, format="xml"),
                                           if_match="*")
    try:
        out = run_cli_inproc(tmp_path, "-o", "json", "limits", "show", "--product", "premium", sandbox=sandbox)
        assert "Traceback" not in out.stderr and "RecursionError" not in out.stderr
        assert out.returncode == 1, (out.returncode, out.stdout, out.stderr)
        assert out.stdout == ""
        lines = out.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
        assert "elements are nested more than 256 deep; a policy is never this deep." in lines[0], out.stderr
    finally:
        client.product_policy.create_or_update(rg, svc, "premium", "policy",
                                               PolicyContract(value=before, format="xml"), if_match="*")
