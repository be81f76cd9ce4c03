"""The swimlane diagram: one lane per owner in a fixed order (客服 before 仓储 before 财务 before
消费者), each state drawn inside its owner's lane, the sandbox's current state outlined."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import dsl
from engine.workflow.diagram import render_swimlanes

NS = {"s": "http://www.w3.org/2000/svg"}
ROOT = Path(__file__).resolve().parents[2]


def test_states_sit_in_their_owners_lane() -> None:
    rules = dsl.load_file(ROOT / "templates_library" / "aftersales_standard.op")
    machine = next(d for d in rules.declarations if isinstance(d, dsl.MachineDecl))
    svg = ET.fromstring(render_swimlanes(machine, current="待质检", average_seconds={"待审核": 5400, "待质检": 172800}))
    lanes = svg.findall("s:g[@class='lane']", NS)
    labels = [lane.find("s:text", NS).text for lane in lanes]
    assert labels == ["客服", "客服组长", "仓储", "财务", "消费者", "无负责人"]
    bands = {}
    for lane in lanes:
        rect = lane.find("s:rect", NS)
        y, h = float(rect.get("y")), float(rect.get("height"))
        bands[lane.get("data-lane")] = (y, y + h)
    for state in machine.states:
        box = svg.find(f"s:g[@data-state='{state.name}']/s:rect", NS)
        top = float(box.get("y"))
        lane = "" if state.owner is None else dsl.order_model.canonical_role(state.owner)
        low, high = bands[lane]
        assert low <= top and top + float(box.get("height")) <= high, state.name
    current = svg.find("s:rect[@class='current']", NS)
    box = svg.find("s:g[@data-state='待质检']/s:rect", NS)
    assert float(current.get("x")) == float(box.get("x")) - 4
    averages = [t.text for t in svg.findall("s:text[@class='average']", NS)]
    assert averages == ["平均停留 90m", "平均停留 48h"]
