"""The drill's fault timeline: each scenario fault happens at its hour of the day — a fake
platform answering 5xx or stalling (time-outs), a platform down for a while, a burst of badly
signed pushes and DingTalk callbacks (each must be refused), Redis restarted, a worker killed
with ``kill -9``. What happened is written to the journal; a fault that does not apply to the
running shape (Redis when there is none, a worker when the runner is in-process) is recorded
as skipped."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import requests

from engine.drill.actors import Clock, Journal, _sleep_until
from engine.drill.scenario import Fault
from engine.drill.target import Target


def take_down(fake: Any, seconds: float) -> None:
    """Every request to ``fake`` answers 503 for ``seconds``."""
    answer = fake.answer
    until = time.time() + seconds

    def down(request: Any) -> tuple[int, Any]:
        if time.time() < until:
            return 503, {"error": "service unavailable (drill: platform down)"}
        return answer(request)

    fake.answer = down


def send_bad_signatures(n: int, bases: list[str], approvals: Any, journal: Journal) -> None:
    """``n`` pushes with a wrong 抖店 ``event-sign`` and DingTalk callbacks with a wrong signature."""
    for i in range(n):
        base = bases[i % len(bases)]
        if i % 2 == 0:
            body = json.dumps([{"tag": "101", "msg_id": f"forged-{i}-{time.time_ns()}",
                                "data": json.dumps({"p_id": 6920000000000000000 + i, "order_status": 2})}])
            answer = requests.post(f"{base}/api/v1/sources/douyin/push", data=body.encode(), timeout=30,
                                   headers={"event-sign": "0" * 32, "app-id": "fake-douyin-key",
                                            "Content-Type": "application/json"})
        else:
            event = approvals.approval_event("1", result="agree", when_ms=int(time.time() * 1000))
            query, payload = approvals.request(event, timestamp_ms=int(time.time() * 1000), tamper=True)
            answer = requests.post(f"{base}/api/v1/hooks/dingtalk_approval", params=query, json=payload, timeout=30)
        with journal.lock:
            journal.bad_signatures_sent += 1
            if answer.status_code < 400:
                journal.bad_signatures_accepted += 1


class FaultTimeline:
    def __init__(self, faults: tuple[Fault, ...], clock: Clock, platforms: dict[str, Any], target: Target,
                 approvals: Any, journal: Journal, only: set[str] | None = None) -> None:
        self.faults = [f for f in faults if only is None or f.kind in only]
        self.clock, self.platforms, self.target = clock, platforms, target
        self.approvals, self.journal = approvals, journal

    def run(self, stop: threading.Event) -> None:
        for fault in self.faults:
            if not _sleep_until(self.clock.real(fault.at_hour), stop):
                return
            error = None
            try:
                done = self.apply(fault)
            except Exception as exc:  # noqa: BLE001 - recorded; the timeline goes on
                done, error = False, f"{type(exc).__name__}: {exc}"
            with self.journal.lock:
                self.journal.faults.append({"at_hour": fault.at_hour, "kind": fault.kind, "platform": fault.platform,
                                            "applied": done, "error": error, "real_at": time.time()})

    def apply(self, fault: Fault) -> bool:
        fake = self.platforms.get(fault.platform or "")
        if fault.kind == "platform_5xx" and fake is not None:
            fake.fail_next(fault.n, 500)
            return True
        if fault.kind == "platform_timeout" and fake is not None:
            fake.stall_next(fault.seconds, fault.n)
            return True
        if fault.kind == "platform_down" and fake is not None:
            take_down(fake, self.clock.seconds(fault.minutes * 60))
            return True
        if fault.kind == "bad_signatures":
            send_bad_signatures(fault.n, self.target.bases, self.approvals, self.journal)
            return True
        if fault.kind == "redis_restart":
            return self.target.restart_redis()
        if fault.kind == "worker_kill":
            return self.target.kill_worker()
        return False
