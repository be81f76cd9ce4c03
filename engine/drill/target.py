"""The OrderPulse under test: its processes, started and watched by the drill.

Owns spawning the product exactly as an operator runs it — ``orderpulse db upgrade``,
``orderpulse users create … --token``, ``orderpulse serve`` and ``orderpulse worker`` as
child processes with the environment pointing at the fake counterparts — and their lifecycle:
the embedded default (one ``serve`` on a private SQLite file, dispatcher and scheduler
in-process, on a free port) or PostgreSQL (a private schema, dropped after) + Redis (a private
``redis-server`` on a free port, so restarting it harms nobody) with N ``serve`` and M
``worker`` processes. Also: CPU seconds per process kind from ``/proc`` (or psutil when
installed), ``kill -9`` of a worker and its restart, a Redis restart.

Talks to the product only through its command line and ``GET /healthz``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from engine.drill.listening import free_port, wait_for_port, wait_until_answering


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (0.0 once it is gone)."""
    try:
        import psutil

        t = psutil.Process(pid).cpu_times()
        return float(t.user + t.system)
    except ImportError:
        pass
    except Exception:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass
class Child:
    kind: str  # serve | worker | redis
    argv: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    port: int | None = None
    cpu_done: float = 0.0  # CPU of earlier incarnations (killed and restarted)
    _out: IO[bytes] | None = None

    def start(self, env: dict[str, str]) -> None:
        self._out = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(self.argv, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def cpu(self) -> float:
        return self.cpu_done + (cpu_seconds(self.process.pid) if self.process else 0.0)

    def kill9(self) -> None:
        if self.process is not None:
            self.cpu_done += cpu_seconds(self.process.pid)
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        self.ask_to_stop()
        self.wait_stopped()

    def ask_to_stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.cpu_done += cpu_seconds(self.process.pid)
            self.process.send_signal(signal.SIGTERM)

    def wait_stopped(self) -> None:
        if self.process is not None and self.process.returncode is None:
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._out is not None:
            self._out.close()
            self._out = None


@dataclass
class Target:
    """The running OrderPulse: ``api`` URLs (one per ``serve``), the admin ``token``, the
    ``database_url`` the drill's measures read, and the children."""

    folder: Path
    env: dict[str, str]
    database_url: str
    redis_url: str | None
    children: list[Child] = field(default_factory=list)
    token: str = ""  # the admin's
    tokens: dict[str, str] = field(default_factory=dict)  # by role: admin, warehouse, cs_lead
    drop_schema: Any = None

    @property
    def serves(self) -> list[Child]:
        return [c for c in self.children if c.kind == "serve"]

    @property
    def workers(self) -> list[Child]:
        return [c for c in self.children if c.kind == "worker"]

    @property
    def apis(self) -> list[str]:
        return [f"http://127.0.0.1:{c.port}/api/v1" for c in self.serves]

    @property
    def bases(self) -> list[str]:
        return [f"http://127.0.0.1:{c.port}" for c in self.serves]

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "engine.cli", *args], env=self.env, capture_output=True,
                              text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"orderpulse {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
        return done.stdout

    def cpu_by_kind(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for c in self.children:
            out[c.kind] = out.get(c.kind, 0.0) + c.cpu()
        return out

    def kill_worker(self) -> bool:
        """``kill -9`` one worker and start it again; False when there is no separate worker."""
        if not self.workers:
            return False
        victim = self.workers[0]
        victim.kill9()
        victim.start(self.env)
        return True

    def restart_redis(self) -> bool:
        redis = next((c for c in self.children if c.kind == "redis"), None)
        if redis is None:
            return False
        redis.kill9()
        redis.start(self.env)
        wait_for_port(redis.port or 0, 20)
        return True

    def stop(self) -> None:
        for c in reversed(self.children):  # all asked at once: each may take seconds to finish its work
            c.ask_to_stop()
        for c in reversed(self.children):
            c.wait_stopped()
        if self.drop_schema is not None:
            self.drop_schema()


def private_schema(base_url: str, prefix: str = "drill") -> tuple[str, Any]:
    """A fresh schema ``<prefix>_<random>`` in the PostgreSQL database of ``base_url``: the URL
    that uses it (``search_path``) and a function that drops it."""
    from sqlalchemy import create_engine, text

    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine("postgresql+psycopg://" + base_url.split("://", 1)[1], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options={quote(f'-csearch_path={schema}')}", drop


def start_target(folder: Path, counterpart_env: dict[str, str], *, database_url: str | None = None,
                 redis_url: str | None = None, serves: int = 1, workers: int = 0) -> Target:
    """Start OrderPulse as configured; see the module docstring. ``redis_url="private"`` starts
    a private ``redis-server``."""
    folder.mkdir(parents=True, exist_ok=True)
    drop = None
    if database_url and database_url.startswith("postgresql"):
        database_url, drop = private_schema(database_url)
    else:
        database_url = database_url or f"sqlite:///{folder / 'drill.db'}"
        if workers:
            raise ValueError("separate workers need PostgreSQL (--database-url postgresql://…)")
    env = {**os.environ, **counterpart_env, "ORDERPULSE_DATABASE_URL": database_url,
           "ORDERPULSE_SECRET_KEY": uuid.uuid4().hex, "ORDERPULSE_REDIS_PREFIX": f"op:drill:{uuid.uuid4().hex[:6]}:",
           "ORDERPULSE_LOGIN_RATE_LIMIT": "1000 per minute"}
    env.pop("ORDERPULSE_REDIS_URL", None)
    target = Target(folder, env, database_url, None, drop_schema=drop)
    try:
        if redis_url == "private":
            if shutil.which("redis-server") is None:
                raise RuntimeError("redis-server is not installed: pass --redis-url redis://… instead")
            port = free_port()
            redis = Child("redis", ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                                    "--bind", "127.0.0.1"], folder / "redis.log", port=port)
            target.children.append(redis)
            redis.start(env)
            wait_for_port(port, 20)
            redis_url = f"redis://127.0.0.1:{port}/0"
        if redis_url:
            env["ORDERPULSE_REDIS_URL"] = redis_url
            target.redis_url = redis_url
        target.cli("db", "upgrade")
        for role in ("admin", "warehouse", "cs_lead"):
            out = target.cli("users", "create", f"drill_{role}", "--role", role, "--token")
            target.tokens[role] = out.strip().splitlines()[-1]
        target.token = target.tokens["admin"]
        for i in range(serves):
            port = free_port()
            argv = [sys.executable, "-m", "engine.cli", "serve", "--port", str(port)]
            if workers:
                argv.append("--no-background")
            child = Child("serve", argv, folder / f"serve-{i + 1}.log", port=port)
            target.children.append(child)
            child.start(env)
        for i in range(workers):
            child = Child("worker", [sys.executable, "-m", "engine.cli", "worker"], folder / f"worker-{i + 1}.log")
            target.children.append(child)
            child.start(env)
        for base in target.bases:
            wait_until_answering(f"{base}/healthz", 60)
    except BaseException:
        target.stop()
        raise
    return target
