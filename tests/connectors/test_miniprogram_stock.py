"""The merchant's own mini-program shop over real HTTP against the fake backend: pushes carry
our version and an older one never replaces a newer figure, the same version re-shows our
figure after the shop drifted, the listing is paged, refusals are permanent without leaking
the secret, and the signature matches a hand-computed vector."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from connectors.fakes.miniprogram_stock import FakeMiniprogramStock
from connectors.miniprogram_stock import MiniprogramStockConnector, build, sign
from connectors.outbound import ConnectorError, MissingSetting
from tests.connectors.stock_support import closed_url

KEY, SECRET = "orderpulse-prod", "mp-shared-secret-7f3a"


@pytest.fixture
def shop() -> Iterator[FakeMiniprogramStock]:
    with FakeMiniprogramStock(KEY, SECRET) as fake:
        fake.add_sku("TEE-RED-M", 5)
        fake.add_sku("围巾-01", 2)
        yield fake  # type: ignore[misc]


def connector(fake: FakeMiniprogramStock, secret: str = SECRET) -> MiniprogramStockConnector:
    return build("miniprogram", {"app_key": KEY, "app_secret": secret}, fake.url)


def test_sign_vector_computed_by_hand() -> None:
    body = b'{"sku":"TEE-1","available":5,"version":3}'
    assert sign(1700000000, body, "secret") == "03850d61505e7fd6ef854d7f823a21c4ff090ce8b7b99160a77bb31470cb6a41"
    # a GET signs the timestamp and an empty body; key and message are not swapped
    assert sign("1700000000", b"", "secret") == "4bc5f74d868b97888288889c5d9d65df02526f94c1592a79fdf4fe8b26e311e5"


def test_push_then_fetch_round_trip_with_our_version(shop: FakeMiniprogramStock) -> None:
    mp = connector(shop)
    mp.push_stock("TEE-RED-M", 12, 4)
    mp.push_stock("围巾-01", 0, 9)
    assert mp.fetch_stock() == {"TEE-RED-M": 12, "围巾-01": 0}
    assert shop.messages == [{"sku": "TEE-RED-M", "available": 12, "version": 4},
                             {"sku": "围巾-01", "available": 0, "version": 9}]
    push = next(r for r in shop.requests if r.method == "POST" and "TEE" in r.path)
    assert push.path == "/stock/TEE-RED-M" and json.loads(push.body) == {"sku": "TEE-RED-M", "available": 12,
                                                                         "version": 4}
    assert any(r.path == "/stock/%E5%9B%B4%E5%B7%BE-01" for r in shop.requests)


def test_an_older_version_never_replaces_a_newer_figure(shop: FakeMiniprogramStock) -> None:
    mp = connector(shop)
    mp.push_stock("TEE-RED-M", 7, 10)
    mp.push_stock("TEE-RED-M", 9, 8)  # a late retry of an older figure: superseded, not an error
    assert shop.shown("TEE-RED-M") == 7 and shop.stale_refusals == 1


def test_the_same_version_re_shows_our_figure_after_drift(shop: FakeMiniprogramStock) -> None:
    mp = connector(shop)
    mp.push_stock("TEE-RED-M", 6, 3)
    shop.show("TEE-RED-M", 40)  # edited in the shop's admin
    assert mp.fetch_stock()["TEE-RED-M"] == 40
    mp.push_stock("TEE-RED-M", 6, 3)
    assert shop.shown("TEE-RED-M") == 6
    assert shop.sell("TEE-RED-M", 2) and mp.fetch_stock()["TEE-RED-M"] == 4


def test_wrong_secret_is_refused_and_the_error_does_not_carry_it(shop: FakeMiniprogramStock) -> None:
    with pytest.raises(ConnectorError, match="Mini-program shop: push TEE-RED-M: HTTP 401: bad_signature") as info:
        connector(shop, secret="stolen-mp-secret").push_stock("TEE-RED-M", 1, 1)
    assert info.value.permanent and info.value.code == "bad_signature"
    assert "stolen-mp-secret" not in str(info.value)
    other_key = build("miniprogram", {"app_key": "someone-else", "app_secret": SECRET}, shop.url)
    with pytest.raises(ConnectorError, match="unknown_key"):
        other_key.fetch_stock()
    assert shop.messages == []


def test_stale_timestamp_is_refused(shop: FakeMiniprogramStock) -> None:
    late = MiniprogramStockConnector(app_key=KEY, app_secret=SECRET, base_url=shop.url, clock=lambda: 1_000_000.0)
    with pytest.raises(ConnectorError, match="stale_timestamp"):
        late.fetch_stock()


def test_unknown_sku_is_permanent(shop: FakeMiniprogramStock) -> None:
    with pytest.raises(ConnectorError, match="GHOST: unknown merchant code") as info:
        connector(shop).push_stock("GHOST", 1, 1)
    assert info.value.permanent


def test_listing_is_read_page_by_page() -> None:
    with FakeMiniprogramStock(KEY, SECRET, page_limit=2) as fake:
        for n in range(5):
            fake.add_sku(f"SKU-{n}", n)
        assert connector(fake).fetch_stock() == {f"SKU-{n}": n for n in range(5)}
        assert [r.query["page"] for r in fake.requests] == ["1", "2", "3"]


def test_http_500_and_unreachable_backend_are_retryable(shop: FakeMiniprogramStock) -> None:
    shop.fail_next(1, status=500)
    with pytest.raises(ConnectorError, match="HTTP 500") as info:
        connector(shop).push_stock("TEE-RED-M", 1, 1)
    assert info.value.code == 500 and not info.value.permanent
    closed = closed_url()
    with pytest.raises(ConnectorError, match="request failed") as info:
        build("miniprogram", {"app_key": KEY, "app_secret": SECRET}, closed).fetch_stock()
    assert not info.value.permanent


def test_credentials_and_base_url_are_required() -> None:
    with pytest.raises(MissingSetting, match="app_secret"):
        build("miniprogram", {"app_key": KEY}, "http://127.0.0.1:1")
    with pytest.raises(MissingSetting, match="base_url"):
        build("miniprogram", {"app_key": KEY, "app_secret": SECRET}, None)
