"""A platform that refuses the write-back — HTTP 5xx, an answer that never comes in time, a
business error — sees the attempts at the times the source declares (``retry 30s, 2m, 5m``:
at 0, 30, 150 and 450 seconds), then the write-back is a dead letter shown on the order;
a replay delivers it once. A write-back whose answer was lost is not sent twice."""

from __future__ import annotations

from typing import Any

from connectors.fakes.order_scenario import REFUND_CLOSED
from tests.conftest import auth
from tests.shipping.conftest import bring_in, client_of, dispatch, outbox_rows, timeline_kinds

DECLARED = (30, 120, 300)  # retry 30s, 2m, 5m of templates_library/sources_six_channels.op


def ship(client: Any, tokens: dict[str, str], pk: int, tracking_no: str) -> None:
    answer = client.post(f"/api/v1/orders/{pk}/ship", json={"courier": "中通", "tracking_no": tracking_no},
                         headers=auth(tokens["warehouse"]))
    assert answer.status_code == 201, answer.get_json()


def accepted_ships(fake: Any) -> list[dict[str, Any]]:
    return [m for m in fake.messages if m.get("tracking_no")]


def run_the_declared_schedule(services: Any) -> list[float]:
    """Dispatch at once, then at each declared delay (and one second before it, when nothing
    may happen); return the times of the attempts made."""
    start = services.clock.now().timestamp()
    attempts = [start] if dispatch(services) == 1 else []
    for delay in DECLARED:
        services.clock.advance(delay - 1)
        assert dispatch(services) == 0, "an attempt came before its declared time"
        services.clock.advance(1)
        if dispatch(services) == 1:
            attempts.append(services.clock.now().timestamp())
    return [t - start for t in attempts]


def test_a_platform_answering_5xx_sees_the_declared_retries_then_a_dead_letter_replayed_once(
        services: Any, platforms: Any, client: Any, tokens: dict[str, str]) -> None:
    fake = platforms["pdd"]
    pk, order_id, _ = bring_in(services, fake, "pdd", [("TEA-PE-357", 1)])
    ship(client, tokens, pk, "7531000002")
    seen = len(fake.requests)
    fake.fail_next(4, 502)
    assert run_the_declared_schedule(services) == [0, 30, 150, 450]
    tried = fake.requests[seen:]  # what the platform saw: one request an attempt, at the declared times
    assert [round(r.at - tried[0].at) for r in tried] == [0, 30, 150, 450]
    (row,) = outbox_rows(services)
    assert (row.status, row.attempts) == ("dead", 4) and "HTTP 502" in (row.last_error or "")
    assert not accepted_ships(fake)

    page = client.get(f"/api/v1/orders/{pk}", headers=auth(tokens["ops"])).get_json()
    assert page["shipments"][0]["writeback"]["status"] == "dead"
    (dead,) = page["dead_letters"]
    assert (dead["id"], dead["topic"], dead["attempts"]) == (row.id, "order.writeback", 4)
    listed = client.get(f"/api/v1/outbox/dead?order=pdd/{order_id}", headers=auth(tokens["admin"])).get_json()
    assert [item["id"] for item in listed["items"]] == [row.id]

    replay = client.post(f"/api/v1/outbox/{row.id}/replay", headers=auth(tokens["admin"]))
    assert replay.status_code == 200
    assert dispatch(services) == 1
    services.clock.advance(3600)
    assert dispatch(services) == 0
    (accepted,) = accepted_ships(fake)
    assert (accepted["company_code"], accepted["tracking_no"]) == (115, "7531000002")
    assert outbox_rows(services)[0].delivery_id == row.delivery_id  # the replay kept its idempotency key
    page = client.get(f"/api/v1/orders/{pk}", headers=auth(tokens["ops"])).get_json()
    assert page["shipments"][0]["writeback"]["status"] == "accepted" and page["dead_letters"] == []
    assert timeline_kinds(services, pk).count("writeback_accepted") == 1


def test_a_platform_that_never_answers_in_time_sees_the_declared_retries_then_a_dead_letter(
        services: Any, platforms: Any, client: Any, tokens: dict[str, str]) -> None:
    fake = platforms["taobao"]
    pk, order_id, _ = bring_in(services, fake, "taobao", [("TEA-LJ-250", 1)])
    client_of(services, "taobao").timeout = 0.3  # the connector gives up after 0.3 s (5 s in production)
    ship(client, tokens, pk, "7531000003")
    fake.stall_next(0.8, count=4)  # each request is handled 0.8 s late: after we gave up
    assert run_the_declared_schedule(services) == [0, 30, 150, 450]
    (row,) = outbox_rows(services)
    assert row.status == "dead" and "Timeout" in (row.last_error or "")
    # the platform did ship the first request, late; the retries only asked it (order detail)
    assert [m["tracking_no"] for m in accepted_ships(fake)] == ["7531000003"]
    client.post(f"/api/v1/outbox/{row.id}/replay", headers=auth(tokens["admin"]))
    assert dispatch(services) == 1
    assert [m["tracking_no"] for m in accepted_ships(fake)] == ["7531000003"]  # once
    assert outbox_rows(services)[0].status == "delivered"
    page = client.get(f"/api/v1/orders/{pk}", headers=auth(tokens["ops"])).get_json()
    assert page["shipments"][0]["writeback"]["status"] == "accepted" and page["dead_letters"] == []


def test_a_business_refusal_is_retried_as_declared_and_replayed_once_the_cause_is_gone(
        services: Any, platforms: Any, client: Any, tokens: dict[str, str]) -> None:
    fake = platforms["douyin"]
    pk, order_id, order = bring_in(services, fake, "douyin", [("TSHIRT-W-M", 1)])
    fake.scenario.refund(order.number)  # the buyer asks for a refund: Doudian will not let it ship
    ship(client, tokens, pk, "7531000004")
    assert run_the_declared_schedule(services) == [0, 30, 150, 450]
    (row,) = outbox_rows(services)
    assert row.status == "dead"
    assert "50002" in (row.last_error or "") and "退款" in (row.last_error or "")
    assert not accepted_ships(fake)
    fake.scenario.refund(order.number, status=REFUND_CLOSED)  # the buyer withdraws it
    client.post(f"/api/v1/outbox/{row.id}/replay", headers=auth(tokens["admin"]))
    dispatch(services)
    services.clock.advance(600)
    dispatch(services)
    (accepted,) = accepted_ships(fake)
    assert (accepted["company_code"], accepted["order_id"]) == ("zhongtong", order_id)


def test_a_write_back_whose_answer_was_lost_is_not_sent_again(services: Any, platforms: Any, client: Any,
                                                              tokens: dict[str, str]) -> None:
    fake = platforms["taobao"]
    pk, order_id, _ = bring_in(services, fake, "taobao", [("TEA-LJ-250", 1)])
    client_of(services, "taobao").timeout = 0.3
    ship(client, tokens, pk, "7531000005")
    fake.hold_answer_next(0.8)  # the platform ships it, its answer comes too late
    assert dispatch(services) == 1
    assert len(accepted_ships(fake)) == 1 and outbox_rows(services)[0].status == "pending"
    services.clock.advance(30)
    assert dispatch(services) == 1
    assert len(accepted_ships(fake)) == 1  # the retry saw the platform already shows it
    assert outbox_rows(services)[0].status == "delivered"
    assert timeline_kinds(services, pk).count("writeback_accepted") == 1
