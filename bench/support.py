"""What the benches share: a private database, the product served as in production, a load
generator cheaper than the server it measures, and CPU seconds per process from ``/proc``.

- :func:`private_database`: a SQLite file in a folder, or a private schema in the PostgreSQL
  database of ``ORDERPULSE_DATABASE_URL`` (``engine.drill.target.private_schema``, dropped after);
- :class:`Gunicorn`: ``engine.app:create_app()`` (or any WSGI factory, e.g. :func:`noop_app`) under
  gunicorn with gthread workers, on a free port, with its processes' CPU seconds;
- :func:`keepalive_client` / :func:`http_phase`: N processes, each one kept-alive connection
  writing requests and reading answers on the socket (``requests`` costs about as much CPU per
  call as a light request on the server, so it would measure itself);
- :func:`cpu_by_kind`: CPU seconds so far of every gunicorn, PostgreSQL and Redis process on the
  machine, and of the caller's children (the load generator).

Owns no product behaviour: it starts and measures the product through its public entry points.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from engine.drill.listening import NotListening, free_port, wait_until_answering  # noqa: E402
from engine.drill.target import cpu_seconds, private_schema  # noqa: E402

__all__ = ["ROOT", "Gunicorn", "PhaseResult", "cpu_by_kind", "cpu_seconds", "free_port", "http_phase",
           "keepalive_client", "noop_app", "pct", "private_database"]


def private_database(folder: str | Path, name: str) -> tuple[str, Callable[[], None]]:
    """A fresh database for one bench run: a private schema ``bench_<name>_…`` when
    ``ORDERPULSE_DATABASE_URL`` names PostgreSQL, else ``<folder>/<name>.db``; and a function
    that drops it."""
    base = os.environ.get("ORDERPULSE_DATABASE_URL", "")
    if base.startswith("postgresql"):
        return private_schema(base, f"bench_{name}")
    return f"sqlite:///{Path(folder) / name}.db", lambda: None


def noop_app() -> Any:
    """The floor: a Flask app whose one route does nothing (``GET /noop`` → ``{}``)."""
    from flask import Flask

    app = Flask("noop")

    @app.get("/noop")
    def noop() -> Any:
        return {}

    return app


def pct(samples: list[float], q: float) -> float:
    """The ``q`` quantile of ``samples`` (seconds) in milliseconds."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


@dataclass
class Gunicorn:
    """One gunicorn server (master + ``workers`` gthread workers of ``threads`` threads)."""

    app: str  # WSGI factory, e.g. "engine.app:create_app()"
    env: dict[str, str]
    workers: int = 4
    threads: int = 2
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def start(self, health: str = "/healthz", timeout: float = 60) -> Gunicorn:
        self.port = free_port()
        binary = str(Path(sys.executable).with_name("gunicorn"))
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 - the child keeps it
        self.process = subprocess.Popen(
            [binary, "-w", str(self.workers), "-k", "gthread", "--threads", str(self.threads),
             "-b", f"127.0.0.1:{self.port}", "--log-level", "warning", "--chdir", str(ROOT), self.app],
            cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_until_answering(f"http://127.0.0.1:{self.port}{health}", timeout, answered=lambda status: status < 500,
                                 process=self.process, request_timeout=0.5, what=f"gunicorn {self.app}")
        except NotListening:
            self.stop()
            raise
        return self

    def pids(self) -> list[int]:
        """The master and its workers."""
        if self.process is None:
            return []
        master = self.process.pid
        found = [master]
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if int(fields[1]) == master:
                    found.append(int(pid))
        return found

    def cpu(self) -> float:
        """CPU seconds used so far by the master and its live workers."""
        return sum(cpu_seconds(pid) for pid in self.pids())

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)


def cpu_by_kind() -> dict[str, float]:
    """CPU seconds so far of the processes taking part, per kind: ``gunicorn``, ``postgres``,
    ``redis`` (every such process on the machine: shared with anything else running) and
    ``clients`` (children of this process)."""
    kinds: dict[str, float] = {}
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        first = cmd.split(" ", 1)[0]
        kind = ("gunicorn" if "gunicorn" in cmd else "postgres" if "postgres" in first else
                "redis" if "redis-server" in first else "clients" if int(fields[1]) == me else "")
        if kind:
            kinds[kind] = kinds.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return kinds


RequestFor = Callable[[int, str], bytes]


def keepalive_client(port: int, make: RequestFor, tag: str, seconds: float, out: Any) -> None:
    """One kept-alive connection: ``make(n, tag)`` gives the n-th request's bytes; answers are
    read by ``Content-Length``. Puts ``(count, elapsed, latencies, {status: count})`` on ``out``."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    reader = sock.makefile("rb")
    lat: list[float] = []
    codes: dict[int, int] = {}
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        n += 1
        request = make(n, tag)
        t = time.perf_counter()
        sock.sendall(request)
        status = reader.readline()
        length = 0
        while (line := reader.readline()) not in (b"\r\n", b""):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        reader.read(length)
        lat.append(time.perf_counter() - t)
        code = int(status.split()[1])
        codes[code] = codes.get(code, 0) + 1
    out.put((n, time.perf_counter() - start, lat, codes))
    sock.close()


@dataclass
class PhaseResult:
    count: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    codes: dict[int, int] = field(default_factory=dict)
    app_cpu: float = 0.0  # CPU seconds of the server measured
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by process kind

    @property
    def rate(self) -> float:
        return self.count / self.elapsed if self.elapsed else 0.0

    def app_ms(self) -> float:
        """App CPU milliseconds per request."""
        return self.app_cpu * 1000 / self.count if self.count else float("nan")

    def add(self, other: PhaseResult) -> None:
        self.count += other.count
        self.elapsed += other.elapsed
        self.latencies += other.latencies
        for c, k in other.codes.items():
            self.codes[c] = self.codes.get(c, 0) + k
        self.app_cpu += other.app_cpu
        for kind, v in other.cpu.items():
            self.cpu[kind] = self.cpu.get(kind, 0.0) + v


def http_phase(server: Gunicorn, make: RequestFor, *, clients: int, seconds: float, tag: str) -> PhaseResult:
    """``clients`` load processes against ``server`` for ``seconds``; the server's CPU and
    every kind's CPU over the phase."""
    ctx = mp.get_context("fork")
    q: Any = ctx.Queue()
    procs = [ctx.Process(target=keepalive_client, args=(server.port, make, f"{tag}{i}", seconds, q))
             for i in range(clients)]
    app_before, kinds_before = server.cpu(), cpu_by_kind()
    for p in procs:
        p.start()
    parts = [q.get(timeout=seconds + 60) for _ in procs]
    app_after, kinds_after = server.cpu(), cpu_by_kind()  # before the clients exit: theirs still counts
    for p in procs:
        p.join()
    result = PhaseResult(count=sum(p[0] for p in parts), elapsed=max(p[1] for p in parts),
                         latencies=[x for p in parts for x in p[2]], app_cpu=app_after - app_before,
                         cpu={k: kinds_after.get(k, 0.0) - kinds_before.get(k, 0.0) for k in kinds_after})
    for p in parts:
        for c, k in p[3].items():
            result.codes[c] = result.codes.get(c, 0) + k
    return result
