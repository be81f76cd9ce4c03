"""Ruleset versions and machines, the SVG diagram, the DingTalk callback crypto and the
templates library."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET

import pytest
from click.testing import CliRunner

from connectors.dingtalk import (
    DingTalkCallbackError,
    DingTalkCrypto,
    callback_signature,
)
from dsl.parser import parse_text
from engine.templates import catalogue, find_template
from engine.workflow import service
from engine.workflow.diagram import render_svg
from engine.workflow.versions import apply_machine_migrations, check_machine_migration
from tests.conftest import auth
from tests.workflow.helpers import fire, publish_template, publish_text

V1 = """
machine intake "收件" {
    data { order_id: text }
    initial 待审核
    state 待审核 owner 客服
    state 待质检 owner 仓储 deadline 2d
    state 已关闭 final
    action 通过 from 待审核 to 待质检 by 客服
    action 合格 from 待质检 to 已关闭 by 仓储
}
"""
V2_DROPS_QC = V1.replace("    state 待质检 owner 仓储 deadline 2d\n", "    state 待复核 owner 客服组长 deadline 1d\n") \
    .replace("action 通过 from 待审核 to 待质检", "action 通过 from 待审核 to 待复核") \
    .replace("action 合格 from 待质检 to 已关闭 by 仓储", "action 合格 from 待复核 to 已关闭 by 客服组长")
V2_MAPPED = V2_DROPS_QC.replace("    initial 待审核\n", "    initial 待审核\n    migrate 待质检 to 待复核\n")


def test_running_tickets_stay_on_their_version_and_removed_states_need_a_mapping(client, services, tokens,
                                                                                 clock) -> None:
    assert publish_text(client, tokens, "intake_rules", V1)["status"] == 201
    old = client.post("/api/v1/machines/intake/instances", json={"data": {"order_id": "V-1"}},
                      headers=auth(tokens["cs"])).get_json()["id"]
    waiting = client.post("/api/v1/machines/intake/instances", json={"data": {"order_id": "V-2"}},
                          headers=auth(tokens["cs"])).get_json()["id"]
    assert fire(client, tokens["cs"], old, "通过").status_code == 200  # now in 待质检

    with services.db.session() as s:
        problems = check_machine_migration(s, "intake_rules", parse_text(V2_DROPS_QC))
        assert [p.message for p in problems] == [
            "machine intake: state 待质检 is removed but 1 open ticket(s) are in it; add `migrate 待质检 to <state>`"]
        assert check_machine_migration(s, "intake_rules", parse_text(V2_MAPPED)) == []
        assert check_machine_migration(s, "intake_rules", parse_text(V1)) == []
        gone = check_machine_migration(s, "intake_rules", parse_text("channel x wecom { key env K }"))
        assert "machine intake is removed but 2 open ticket(s)" in gone[0].message

    # publishing a version that drops 待质检 while a ticket is in it is refused, and changes nothing
    refused = publish_text(client, tokens, "intake_rules", V2_DROPS_QC)
    assert refused["status"] == 422
    assert refused["body"]["error"]["code"] == "open_tickets_in_removed_state"
    assert refused["body"]["error"]["message"] == (
        "ruleset 'intake_rules' cannot be published: machine intake: state 待质检 is removed but 1 open "
        "ticket(s) are in it; add `migrate 待质检 to <state>`")
    versions = client.get("/api/v1/rulesets/intake_rules/versions", headers=auth(tokens["ops"])).get_json()
    assert [v["version"] for v in versions] == [1]
    assert service.get_instance(services, old, "cs")["state"] == "待质检"

    # with the mapping, publish moves the ticket in the same transaction
    assert publish_text(client, tokens, "intake_rules", V2_MAPPED)["status"] == 201
    with services.db.transaction() as s:
        again = apply_machine_migrations(s, "intake_rules", 2, parse_text(V2_MAPPED), actor="ops", now=clock.now())
    assert again == 0  # already moved by publish
    moved_ticket = service.get_instance(services, old, "cs_lead")
    assert (moved_ticket["state"], moved_ticket["ruleset_version"]) == ("待复核", 2)
    assert moved_ticket["history"][-1]["action"] == "migrate" and moved_ticket["allowed_actions"] == ["合格"]
    stayed = service.get_instance(services, waiting, "cs")
    assert (stayed["state"], stayed["ruleset_version"]) == ("待审核", 1)
    # the ticket left on v1 still runs v1's machine: 通过 leads to v1's 待质检
    assert fire(client, tokens["cs"], waiting, "通过").get_json()["state"] == "待质检"
    new = client.post("/api/v1/machines/intake/instances", json={"data": {"order_id": "V-3"}},
                      headers=auth(tokens["cs"])).get_json()
    assert new["ruleset_version"] == 2


def test_diagram_colours_states_by_owner_and_shows_deadlines(client, tokens) -> None:
    decl = parse_text(find_template("aftersales_standard").content()).machines[0]
    svg = render_svg(decl)
    root = ET.fromstring(svg)
    ns = {"s": "http://www.w3.org/2000/svg"}
    states = {g.get("data-state"): g for g in root.iterfind(".//s:g[@class='state']", ns)}
    assert set(states) == {s.name for s in decl.states}
    fill = {name: g.find("s:rect", ns).get("fill") for name, g in states.items()}
    assert fill["待审核"] != fill["待质检"] != fill["待退款"]
    assert fill["待质检"] == fill["已补发"]  # both owned by 仓储
    texts = {name: "".join(g.itertext()) for name, g in states.items()}
    assert "⏱ 48h" in texts["待质检"] and "仓储" in texts["待质检"] and "⏱ 7d" in texts["待退货"]
    assert len(root.findall(".//s:g[@class='action']", ns)) == len(decl.actions)
    publish_template(client, tokens, "aftersales_standard")
    resp = client.get("/api/v1/machines/aftersales/diagram.svg", headers=auth(tokens["cs"]))
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    assert resp.get_data(as_text=True) == svg


def test_dingtalk_callback_signature_matches_the_reference_vector() -> None:
    assert callback_signature("token", "1700000000", "nonce123", "ENCRYPTED") == \
        "24ddbc41ed058dcb8e37a8766d26f69987838644"


def test_dingtalk_crypto_round_trips_multibyte_text_and_checks_the_owner() -> None:
    key = base64.b64encode(b"k" * 32).decode().rstrip("=")
    crypto = DingTalkCrypto("tok", key, "dingappkey")
    message = json.dumps({"title": "退款审批：售后单 42 ✓"}, ensure_ascii=False)
    encrypted = crypto.encrypt(message)
    assert len(base64.b64decode(encrypted)) % 32 == 0
    assert crypto.decrypt(encrypted) == message
    with pytest.raises(DingTalkCallbackError) as err:
        DingTalkCrypto("tok", key, "another-app").decrypt(encrypted)
    assert err.value.reason == "wrong_owner"
    reply = crypto.reply("1700000000123", "n1")
    assert reply["msg_signature"] == callback_signature("tok", "1700000000123", "n1", reply["encrypt"])
    assert crypto.decrypt(reply["encrypt"]) == "success"


def test_catalogue_lists_every_template_and_each_file_loads(client, tokens) -> None:
    names = [t.name for t in catalogue()]
    for expected in ("aftersales_standard", "aftersales_refund_only", "aftersales_return_refund",
                     "aftersales_exchange", "aftersales_reship", "order_lifecycle", "order_presale", "invoice",
                     "return_reasons"):
        assert expected in names
    for t in catalogue():
        assert t.content()
    listed = client.get("/api/v1/templates", headers=auth(tokens["cs"])).get_json()
    assert [t["name"] for t in listed] == names
    reasons = client.get("/api/v1/templates/return_reasons", headers=auth(tokens["cs"])).get_json()
    labels = [r["label"] for r in reasons["content"]["reasons"]]
    assert len(labels) == 12 and {"面料问题", "尺码偏差", "物流破损"} <= set(labels)
    refused = client.post("/api/v1/templates/return_reasons/import", json={}, headers=auth(tokens["ops"]))
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "not_importable"
    assert client.post("/api/v1/templates/nope/import", json={}, headers=auth(tokens["ops"])).status_code == 404
    assert client.post("/api/v1/templates/invoice/import", json={}, headers=auth(tokens["cs"])).status_code == 403


def test_import_creates_an_editable_draft_and_publishes_nothing(client, tokens) -> None:
    resp = client.post("/api/v1/templates/order_presale/import", json={"ruleset": "my_presale"},
                       headers=auth(tokens["ops"]))
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["ruleset"] == "my_presale" and body["draft"]["content"].startswith("# 预售订单")
    versions = client.get("/api/v1/rulesets/my_presale/versions", headers=auth(tokens["ops"])).get_json()
    assert versions == []
    missing = client.post("/api/v1/machines/presale_order/instances", json={"data": {}}, headers=auth(tokens["ops"]))
    assert missing.status_code == 404


def test_cli_lists_and_imports_templates(services, monkeypatch) -> None:
    from engine.cli import main

    monkeypatch.setenv("ORDERPULSE_DATABASE_URL", services.settings.database_url)
    runner = CliRunner()
    listed = runner.invoke(main, ["templates", "list"])
    assert listed.exit_code == 0 and "aftersales_standard" in listed.output and "return_reasons" in listed.output
    imported = runner.invoke(main, ["templates", "import", "invoice"])
    assert imported.exit_code == 0, imported.output
    assert "created ruleset invoice" in imported.output
    again = runner.invoke(main, ["templates", "import", "return_reasons"])
    assert again.exit_code == 1 and "data list" in again.output


def test_a_machine_published_in_json_form_runs_like_its_dsl(client, tokens) -> None:
    from dsl.json_io import to_json

    content = json.dumps(to_json(parse_text(V1)), ensure_ascii=False)
    created = client.post("/api/v1/rulesets", json={"name": "intake_json", "content": content, "format": "json"},
                          headers=auth(tokens["ops"]))
    assert created.status_code == 201, created.get_json()
    assert client.post("/api/v1/rulesets/intake_json/publish", json={}, headers=auth(tokens["ops"])).status_code == 201
    tid = client.post("/api/v1/machines/intake/instances", json={"data": {"order_id": "J-1"}},
                      headers=auth(tokens["cs"])).get_json()["id"]
    assert fire(client, tokens["cs"], tid, "通过").get_json()["state"] == "待质检"
