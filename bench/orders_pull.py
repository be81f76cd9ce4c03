"""Order pull speed: orders stored per second by the puller from the six fake platforms over
HTTP (list pages backwards, one detail call per Taobao/PDD/Xiaohongshu order — Xiaohongshu
also one receiver and one desensitise call per page —, signing both ways, intake), against a baseline in the same run: the same detail payloads, rendered by
the fakes in-process, stored with intake directly (``intake_platform_orders`` per page of 100).
The ratio is what talking to the platform costs on top of intake. The fakes run in this
process and answer one request at a time, so their own work (checking signatures, rendering
orders) is in the pulled figure too; a real platform's latency would add to it instead, which
the puller's concurrent detail calls (4 in flight) hide.

SQLite file, system clock, JSON logs to /dev/null. Run:
``.venv/bin/python bench/orders_pull.py [--orders N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from connectors.fakes import (
    PLATFORM_CREDENTIALS,
    FakeDouyinStock,
    FakeKuaishouStock,
    FakeMiniprogramStock,
    FakePddStock,
    FakeTaobaoStock,
    FakeXiaohongshuStock,
)
from connectors.platform_stock import base_url_variable
from engine.config import Settings
from engine.logs import configure_logging
from engine.orders.intake import intake_platform_orders
from engine.orders.pull_model import OrderPullCursor
from engine.orders.pulling import pull_source
from engine.orders.sources import order_client, order_sources
from engine.services import Services
from engine.storage.migrate import upgrade

# channel → (fake, the detail payloads of one scenario order: Kuaishou has one per line)
FAKES: dict[str, tuple[Any, Any]] = {
    "taobao": (FakeTaobaoStock, lambda fake, order: [fake.render_trade(order)]),
    "pdd": (FakePddStock, lambda fake, order: [fake.render_order(order)]),
    "douyin": (FakeDouyinStock, lambda fake, order: [fake.render_order(order)]),
    "kuaishou": (FakeKuaishouStock, lambda fake, order: fake.platform_orders(order)),
    "xiaohongshu": (FakeXiaohongshuStock, lambda fake, order: [fake.render(order)]),
    "miniprogram": (FakeMiniprogramStock, lambda fake, order: [fake.render(order)]),
}


def fresh_services(folder: str, name: str) -> Services:
    services = Services.build(Settings(database_url=f"sqlite:///{folder}/{name}.db", secret_key="bench"))
    upgrade(services.db)
    from engine.rulesets import service as rulesets
    from engine.templates import import_template

    with services.db.transaction(immediate=True) as s:
        import_template(s, "sources_six_channels", actor="bench", now=services.clock.now())
        rulesets.publish(s, "sources_six_channels", actor="bench", now=services.clock.now(), note="bench")
    return services


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=600, help="orders per platform")
    args = parser.parse_args()
    configure_logging(stream=open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115
    with tempfile.TemporaryDirectory() as folder:
        pulled_db, direct_db = fresh_services(folder, "pulled"), fresh_services(folder, "direct")
        print(f"order pull, {args.orders} orders per platform, SQLite (fakes on 127.0.0.1)")
        for channel, (cls, render) in FAKES.items():
            creds = {param: value for _, value, param in PLATFORM_CREDENTIALS[channel]}
            fake: Any = cls(**creds).start()
            os.environ[base_url_variable(channel)] = fake.url
            for variable, value, _ in PLATFORM_CREDENTIALS[channel]:
                os.environ[variable] = value
            made = [fake.scenario.create() for _ in range(args.orders)]
            time.sleep(4)  # past the puller's settle time (2 s)
            payloads = [payload for o in made for payload in render(fake, o)]
            started = time.perf_counter()
            for i in range(0, len(payloads), 100):
                intake_platform_orders(direct_db, source=channel, payloads=payloads[i:i + 100], via="pull")
            direct = time.perf_counter() - started
            with pulled_db.db.transaction() as s:
                now = pulled_db.clock.now()
                s.add(OrderPullCursor(source=channel, next_start=now - timedelta(minutes=5), pages_stored=0,
                                      orders_seen=0, failures=0, updated_at=now))
            client = order_client(pulled_db, order_sources(pulled_db)[channel])
            assert client is not None
            started = time.perf_counter()
            result = pull_source(pulled_db, channel, client)
            pulled = time.perf_counter() - started
            assert result.error is None and result.outcomes["created"] == len(payloads), result
            print(f"  {channel:11s} pulled {len(payloads) / pulled:8.0f} orders/s ({result.pages} pages)   "
                  f"intake alone {len(payloads) / direct:8.0f} orders/s   ratio {direct / pulled:.2f}x")
            fake.stop()


if __name__ == "__main__":
    main()
