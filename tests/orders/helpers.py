"""Shared pieces of the orders tests: the library template, its compiled mappings, the sample
payloads, and a small region resolver written for the tests."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import dsl
from engine.orders.mapping import CompiledMapping, compile_ruleset_mappings
from engine.orders.ports import Region

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "templates_library" / "sources_six_channels.op"
TEMPLATE = TEMPLATE_PATH.read_text(encoding="utf-8")
PAYLOADS = Path(__file__).with_name("payloads")


def payload(name: str) -> dict[str, Any]:
    """A sample payload, JSON numbers read exactly (as the CLI and the API read them)."""
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text(encoding="utf-8"), parse_float=Decimal)
    return data


def template_mappings() -> dict[str, CompiledMapping]:
    return compile_ruleset_mappings(dsl.parse_text(TEMPLATE, "sources_six_channels.op"))


def template_line(mapping: str, text: str) -> int:
    """The 1-based line of ``text`` (stripped) inside ``mapping NAME { … }`` of the template."""
    lines = TEMPLATE.split("\n")
    start = lines.index(f"mapping {mapping} {{")
    for i in range(start, len(lines)):
        if lines[i].strip() == text:
            return i + 1
    raise AssertionError(f"{text!r} not in mapping {mapping}")


class TableResolver:
    """A test-only RegionResolver over a hand-written table of a few districts (the real one,
    engine.orders.regions, reads a maintained data set): finds the first district whose name
    (or the platform's district field) matches, and reports what it was asked."""

    TABLE: ClassVar[dict[str, Region]] = {
        "临平区": Region("浙江省", "杭州市", "临平区", "330113", 30.4219, 120.2993),
        "仙桃市": Region("湖北省", "仙桃市", "仙桃市", "429004", 30.3627, 113.4540),
        "璧山区": Region("重庆市", "重庆市", "璧山区", "500120", 29.5920, 106.2273),
        "莱芜区": Region("山东省", "济南市", "莱芜区", "370116", 36.2144, 117.6767),
        "浦东新区": Region("上海市", "上海市", "浦东新区", "310115", 31.2215, 121.5447),
    }

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, str | None, str | None]] = []

    def resolve(self, text: str, *, province: str | None = None, city: str | None = None,
                district: str | None = None) -> Region | None:
        self.calls.append((text, province, city, district))
        for name, region in self.TABLE.items():
            if district == name or name in text:
                return region
        return None
