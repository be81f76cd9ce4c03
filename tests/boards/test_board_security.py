"""Every board form is covered by the session, CSRF and role checks (the builder's page
security pattern): no session → the login page; a session without the CSRF token → 400 and
nothing changes; a role that may not → 403 and nothing changes; the allowed role with the token
works. Every board page needs a session, and each staff role may read it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from engine.inventory.models import LedgerEntry
from engine.orders.pipeline_model import OrderPipeline
from engine.storage.models import OutboxMessage, OutboxReplay
from engine.workflow.models import WorkflowTransition
from tests.boards import world as w
from tests.builder.conftest import csrf_of

STAFF = ("admin", "ops", "warehouse", "finance", "cs", "cs_lead")


def _forms(world: w.World) -> list[tuple[str, dict[str, str], tuple[str, ...], str | None, int]]:
    """(path, form, roles allowed, a staff role refused, status for an allowed call)."""
    a = world.tickets["A"]
    return [
        (f"/boards/tickets/{a}/actions/审核通过", {}, ("cs",), "warehouse", 302),
        (f"/orders/{world.orders['DY1000']}/dead-letters/{world.dead_letter}/replay", {}, ("admin",), "cs_lead", 302),
        ("/stock/TEA-COLD/adjust", {"delta": "5", "reason": "到货入库", "nonce": "n1"}, ("warehouse", "admin"), "ops",
         302),
        (f"/warnings/holds/{world.orders['DY1004']}/release", {}, ("cs_lead", "ops", "admin"), "cs", 302),
        (f"/warnings/holds/{world.orders['DY1004']}/cancel", {"reason": "电话核实为黄牛"}, ("cs_lead", "ops", "admin"),
         "cs", 302),
    ]


def _counts(services: Any) -> tuple[int, ...]:
    with services.db.session() as s:
        held = s.scalar(select(func.count()).select_from(OrderPipeline).where(OrderPipeline.hold_reason.is_not(None)))
        return (s.scalar(select(func.count()).select_from(WorkflowTransition)) or 0,
                s.scalar(select(func.count()).select_from(LedgerEntry)) or 0,
                s.scalar(select(func.count()).select_from(OutboxReplay)) or 0, held or 0,
                s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "dead")) or 0)


@pytest.mark.parametrize("which", range(5), ids=["kanban-action", "replay", "stock-adjust", "release-hold",
                                                 "cancel-hold"])
def test_every_board_form_checks_session_csrf_and_role(app: Any, services: Any, signed_in: Any, world: w.World,
                                                       which: int) -> None:
    path, form, allowed, refused_role, ok_status = _forms(world)[which]
    resp = app.test_client().post(path, data=form)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]

    allowed_client = signed_in(allowed[0])
    before = _counts(services)
    resp = allowed_client.post(path, data=form)
    assert resp.status_code == 400 and "CSRF" in resp.get_data(as_text=True)
    assert _counts(services) == before

    if refused_role is not None:
        client = signed_in(refused_role)
        resp = client.post(path, data={**form, "csrf_token": csrf_of(client.get("/").data)})
        assert resp.status_code == 403, resp.get_data(as_text=True)[:300]
        assert "无权" in resp.get_data(as_text=True) or "不能执行" in resp.get_data(as_text=True)
        assert _counts(services) == before

    resp = allowed_client.post(path, data={**form, "csrf_token": csrf_of(allowed_client.get("/").data)})
    assert resp.status_code == ok_status, resp.get_data(as_text=True)[:500]
    assert _counts(services) != before


def test_pages_need_a_session_and_every_staff_role_reads_them(app: Any, signed_in: Any, world: w.World) -> None:
    paths = ["/work", "/boards", "/boards/aftersales", "/orders", f"/orders/{world.orders['DY1000']}", "/stock",
             "/stock/TEA-COLD", "/warnings"]
    for path in paths:
        resp = app.test_client().get(path)
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login?next="), path
    for role in STAFF:
        client = signed_in(role)
        for path in paths:
            assert client.get(path).status_code == 200, (role, path)


def test_buttons_follow_the_role(signed_in: Any, world: w.World) -> None:
    order = f"/orders/{world.orders['DY1000']}"
    assert ">重新投递</button>" in signed_in("admin").get(order).get_data(as_text=True)
    assert ">重新投递</button>" not in signed_in("ops").get(order).get_data(as_text=True)
    assert "调整库存" in signed_in("warehouse").get("/stock/TEA-COLD").get_data(as_text=True)
    assert "调整库存" not in signed_in("finance").get("/stock/TEA-COLD").get_data(as_text=True)
    assert "放行<span" in signed_in("cs_lead").get("/warnings").get_data(as_text=True)
    assert "放行<span" not in signed_in("warehouse").get("/warnings").get_data(as_text=True)
