"""Address → region: accuracy on the held-out set and speed one address at a time, ours against
jionlp and cpca-linch in the same run.

The held-out set is ``tests/orders/addresses_heldout.json`` (real-style addresses with the
expected official current province, city, district and adcode; some carry the platform's
structured fields). Ours is judged on all four; jionlp and cpca-linch return names only, so they
are judged on the three names. A city with no county of its own (东莞市, 仙桃市) is named
differently by each library (the town, the city, nothing; for 仙桃市 jionlp leaves the city
empty), so there any district, and an empty city, count.
The libraries take text only: structured fields are put in front of the text for them.

Rates are addresses per second resolved one call per address in this process, after loading
(load time printed apart); ours repeats the set until about a second has passed.

Run: ``.venv/bin/python bench/addresses.py [--verbose]`` (``pip install -e '.[bench]'`` for the
two libraries). Goal: ours all correct, >= 20,000 addresses/s.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine.orders.regions import load_divisions

CASES: list[dict[str, Any]] = json.loads((ROOT / "tests" / "orders" / "addresses_heldout.json")
                                         .read_text(encoding="utf-8"))
Answer = tuple[str, str, str, str | None]   # province, city, district, adcode (None: not given)


def joined_text(case: dict[str, Any]) -> str:
    fields = case.get("fields") or {}
    return "".join(fields.get(k) or "" for k in ("province", "city", "district")) + case["input"]


def correct(case: dict[str, Any], got: Answer | None) -> bool:
    if got is None:
        return False
    province, city, district, adcode = got
    if adcode is not None:
        return got == (case["province"], case["city"], case["district"], case["adcode"])
    if case["district"] == case["city"]:   # no county of its own: conventions differ below the city
        return province == case["province"] and city in (case["city"], "")
    return (province, city, district) == (case["province"], case["city"], case["district"])


def ours() -> tuple[str, Callable[[dict[str, Any]], Answer | None], float]:
    started = time.perf_counter()
    resolver = load_divisions()
    load = time.perf_counter() - started

    def run(case: dict[str, Any]) -> Answer | None:
        region = resolver.resolve(case["input"], **(case.get("fields") or {}))
        return None if region is None else (region.province, region.city, region.district, region.adcode)

    return "ours (regions.tsv + Aho-Corasick)", run, load


def jionlp_runner() -> tuple[str, Callable[[dict[str, Any]], Answer | None], float] | None:
    try:
        started = time.perf_counter()
        import jionlp
        jionlp.parse_location("浙江省杭州市西湖区")   # its tables load on first use
        load = time.perf_counter() - started
    except ImportError:
        return None

    def run(case: dict[str, Any]) -> Answer | None:
        r = jionlp.parse_location(joined_text(case), change2new=True)
        return (r.get("province") or "", r.get("city") or "", r.get("county") or "", None)

    return f"jionlp {getattr(jionlp, '__version__', '')}".strip(), run, load


def cpca_runner() -> tuple[str, Callable[[dict[str, Any]], Answer | None], float] | None:
    try:
        from importlib.metadata import PackageNotFoundError, version
        name = f"cpca-linch {version('cpca-linch')}"
    except PackageNotFoundError:
        return None
    started = time.perf_counter()
    import cpca
    cpca.transform(["浙江省杭州市西湖区"], include_status=False)   # jieba dictionary loads on first use
    load = time.perf_counter() - started

    def run(case: dict[str, Any]) -> Answer | None:
        row = cpca.transform([joined_text(case)], include_status=False).iloc[0]
        return (row["省"] or "", row["市"] or "", row["区"] or "", None)

    return name, run, load


def measure(run: Callable[[dict[str, Any]], Answer | None], min_seconds: float) -> float:
    done = 0
    started = time.perf_counter()
    while True:
        for case in CASES:
            run(case)
        done += len(CASES)
        elapsed = time.perf_counter() - started
        if elapsed >= min_seconds:
            return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description="address → region accuracy and speed")
    parser.add_argument("--verbose", action="store_true", help="list each library's wrong answers")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    runners = [ours(), jionlp_runner(), cpca_runner()]
    print(f"held-out set: {len(CASES)} addresses ({sum(1 for c in CASES if c.get('fields'))} with structured "
          f"fields)")
    our_rate = 0.0
    for entry, label in zip(runners, ("ours", "jionlp", "cpca-linch"), strict=True):
        if entry is None:
            print(f"{label}: not installed (pip install -e '.[bench]')")
            continue
        name, run, load = entry
        answers = [(case, run(case)) for case in CASES]
        wrong = [(c, a) for c, a in answers if not correct(c, a)]
        rate = measure(run, 1.0 if label == "ours" else 0.0)
        if label == "ours":
            our_rate = rate
            judged = "names and adcode"
            ratio = ""
        else:
            judged = "names"
            ratio = f"; ours is {our_rate / rate:,.0f}x faster"
        print(f"{name}: {len(CASES) - len(wrong)}/{len(CASES)} correct ({judged}), {rate:,.0f} addresses/s "
              f"one at a time (load {load:.2f} s){ratio}")
        if args.verbose:
            for case, got in wrong:
                print(f"    {case['input']} {case.get('fields') or ''}: expected {case['province']}-{case['city']}-"
                      f"{case['district']} {case['adcode']}, got {got}")
    goal = "met" if our_rate >= 20_000 else "NOT met"
    print(f"goal >= 20,000 addresses/s one at a time: {goal}")


if __name__ == "__main__":
    main()
