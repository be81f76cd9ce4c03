"""Running the app under waitress (a production WSGI server), with the in-process
background runner (outbox dispatcher + scheduler) when asked; what lives as long as the
process is frozen out of the cyclic collector once the app is built.
"""

from __future__ import annotations

import gc
from collections.abc import Sequence
from typing import Any

from engine.logs import get_logger
from engine.services import Services

log = get_logger(__name__)


def freeze_long_lived() -> None:
    """Move what lives as long as the process (the app, its routes and schemas, the division
    table) out of the cyclic collector's way (``gc.freeze``), so a full collection triggered by
    a request walks only the objects requests made, not a pause of tens of ms at p95."""
    from engine.orders.regions import default_resolver

    default_resolver()
    gc.collect()
    gc.freeze()


def serve_app(services: Services, *, host: str, port: int, threads: int = 8, background: bool = True,
              on_ready: Any = None, extra_jobs: Sequence[str] = ()) -> None:
    """Serve ``create_app`` (migrating the embedded SQLite first) with the background runner;
    ``extra_jobs`` names job modules loaded besides the areas' (the demo's)."""
    from waitress import create_server

    from engine.app import create_app
    from engine.storage.migrate import upgrade

    if services.db.is_sqlite:
        upgrade(services.db)
    app = create_app(services=services)
    runner = None
    if background:
        from engine.runner import start_background
        from engine.scheduler import job_modules

        runner = start_background(services, job_modules=[*job_modules(), *extra_jobs] if extra_jobs else None)
    server = create_server(app, host=host, port=port, threads=threads, ident="orderpulse")
    freeze_long_lived()
    log.info("serving", url=f"http://{host}:{port}/")
    if on_ready is not None:
        on_ready(f"http://{host}:{port}/")
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        if runner is not None:
            runner.stop()
