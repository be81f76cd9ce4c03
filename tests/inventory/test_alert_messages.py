"""The Chinese sentence of each inventory alert kind, from its outbox payload (no I/O)."""

from __future__ import annotations

from engine.inventory.alert_messages import alert_text


def test_gate_bypass_says_why_and_that_the_database_decided() -> None:
    assert alert_text({"kind": "gate_bypassed", "reason": "redis_error:TimeoutError"}) == (
        "库存告警：库存闸门已旁路（Redis 不可用：TimeoutError），由数据库直接判定。")
    assert alert_text({"kind": "gate_bypassed", "reason": "breaker_open"}) == (
        "库存告警：库存闸门已旁路（Redis 刚出错，暂停使用片刻），由数据库直接判定。")
    assert alert_text({"kind": "gate_bypassed", "reason": "epoch_changing"}) == (
        "库存告警：库存闸门已旁路（Redis 中的库存缓存正在从数据库重建），由数据库直接判定。")
    assert alert_text({"kind": "gate_bypassed", "reason": "something_new"}) == (
        "库存告警：库存闸门已旁路（原因 something_new），由数据库直接判定。")


def test_raised_time_is_shown_in_beijing_time() -> None:
    text = alert_text({"kind": "gate_bypassed", "reason": "no_epoch", "raised_at": "2026-11-11T16:30:05+00:00"})
    assert text.endswith("由数据库直接判定。（北京时间 2026-11-12 00:30:05）")


def test_platform_drift_names_the_platform_and_lists_ten_skus_at_most() -> None:
    skus = [{"sku_id": f"SKU-{i:02d}", "reported": 9, "available": i % 3} for i in range(12)]
    text = alert_text({"kind": "channel_shows_more_than_available", "channel": "douyin", "skus": skus})
    assert text.startswith("库存告警：抖音平台显示库存高于可售（SKU-00 显示 9、可售 0；SKU-01 显示 9、可售 1；")
    assert "SKU-09 显示 9、可售 0 等），有超卖风险。" in text and "SKU-10" not in text


def test_gate_drift_reports_repaired_skus_and_freed_holds() -> None:
    assert alert_text({"kind": "gate_drift_repaired", "skus": [], "orphans": 2}) == (
        "库存告警：Redis 库存闸门与数据库不一致，已释放 2 个下单中断留下的 Redis 预占。")
    assert alert_text({"kind": "gate_drift_repaired", "skus": ["A"], "orphans": 0}) == (
        "库存告警：Redis 库存闸门与数据库不一致，已按数据库修正 SKU A。")


def test_an_unknown_kind_still_reads_with_its_details() -> None:
    assert alert_text({"kind": "ledger_gap", "sku_id": "A", "raised_at": ""}) == '库存告警：ledger_gap {"sku_id": "A"}'
