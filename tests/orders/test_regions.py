"""Address → Region over the shipped division table: the held-out set exactly, the platform's
structured fields (short, old and split names), the conventions (municipalities, cities without
counties), partial answers, and one lazily built resolver per process."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.orders import regions
from engine.orders.ports import Region, RegionResolver
from engine.orders.regions import default_resolver, load_divisions

HELDOUT: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "addresses_heldout.json").read_text(encoding="utf-8"))
RESOLVER = default_resolver()


def where(region: Region | None) -> tuple[str, str, str, str] | None:
    return None if region is None else (region.province, region.city, region.district, region.adcode)


def test_the_heldout_set_is_varied_and_large_enough() -> None:
    assert len(HELDOUT) >= 80
    assert sum(1 for c in HELDOUT if c.get("fields")) >= 10
    assert {c["province"] for c in HELDOUT} >= {"北京市", "上海市", "天津市", "重庆市", "新疆维吾尔自治区",
                                                "内蒙古自治区", "广西壮族自治区", "宁夏回族自治区", "西藏自治区"}


@pytest.mark.parametrize("case", HELDOUT, ids=[c["input"] + ("+fields" if c.get("fields") else "") for c in HELDOUT])
def test_heldout_address_resolves_to_the_official_current_division(case: dict[str, Any]) -> None:
    got = RESOLVER.resolve(case["input"], **(case.get("fields") or {}))
    assert where(got) == (case["province"], case["city"], case["district"], case["adcode"])


def test_free_text_with_province_city_district_and_street() -> None:
    region = RESOLVER.resolve("浙江省杭州市西湖区文三路90号")
    assert region == Region("浙江省", "杭州市", "西湖区", "330106", region.lat if region else 0.0,
                            region.lng if region else 0.0)
    assert region is not None and 30.0 < region.lat < 30.5 and 119.9 < region.lng < 120.4


def test_municipalities_name_the_city_after_themselves_never_shixiaqu() -> None:
    assert where(RESOLVER.resolve("北京朝阳区建国路88号")) == ("北京市", "北京市", "朝阳区", "110105")
    assert where(RESOLVER.resolve("重庆市江北区观音桥")) == ("重庆市", "重庆市", "江北区", "500105")
    for unit in RESOLVER.units:   # type: ignore[attr-defined]
        assert unit.region.city not in ("市辖区", "县", "直辖县", "省直辖县级行政区划")


def test_the_2019_and_2021_divisions_are_current() -> None:
    assert where(RESOLVER.resolve("山东省莱芜市莱城区凤城西大街")) == ("山东省", "济南市", "莱芜区", "370116")
    assert where(RESOLVER.resolve("杭州市临平区南大街")) == ("浙江省", "杭州市", "临平区", "330113")
    assert where(RESOLVER.resolve("杭州市下城区武林广场")) == ("浙江省", "杭州市", "拱墅区", "330105")


def test_a_street_of_the_part_of_yuhang_that_became_linping_goes_to_linping() -> None:
    assert where(RESOLVER.resolve("浙江省杭州市余杭区临平街道南大街")) == ("浙江省", "杭州市", "临平区", "330113")
    assert where(RESOLVER.resolve("浙江省杭州市余杭区五常街道")) == ("浙江省", "杭州市", "余杭区", "330110")


def test_a_district_name_inside_a_street_name_is_not_the_district() -> None:
    assert where(RESOLVER.resolve("杭州市上城区西湖大道18号")) == ("浙江省", "杭州市", "上城区", "330102")
    assert where(RESOLVER.resolve("浙江省温州市鹿城区西湖区块路")) == ("浙江省", "温州市", "鹿城区", "330302")
    assert where(RESOLVER.resolve("西藏自治区拉萨市城关区北京中路")) == ("西藏自治区", "拉萨市", "城关区", "540102")


def test_an_ambiguous_district_is_placed_by_its_city_or_province() -> None:
    assert where(RESOLVER.resolve("长春市朝阳区")) == ("吉林省", "长春市", "朝阳区", "220104")
    assert where(RESOLVER.resolve("吉林省朝阳区")) == ("吉林省", "长春市", "朝阳区", "220104")
    assert where(RESOLVER.resolve("南昌市西湖区")) == ("江西省", "南昌市", "西湖区", "360103")
    assert where(RESOLVER.resolve("河北长安区")) == ("河北省", "石家庄市", "长安区", "130102")
    assert where(RESOLVER.resolve("西安市长安区")) == ("陕西省", "西安市", "长安区", "610116")


def test_county_level_cities_and_cities_without_counties() -> None:
    assert where(RESOLVER.resolve("余姚市阳明街道")) == ("浙江省", "宁波市", "余姚市", "330281")
    assert where(RESOLVER.resolve("湖北省仙桃市干河街道")) == ("湖北省", "仙桃市", "仙桃市", "429004")
    assert where(RESOLVER.resolve("广东省东莞市长安镇")) == ("广东省", "东莞市", "东莞市", "441900")


def test_a_city_without_a_district_gives_the_city_and_a_province_alone_the_province() -> None:
    assert where(RESOLVER.resolve("浙江省杭州市")) == ("浙江省", "杭州市", "", "330100")
    assert where(RESOLVER.resolve("浙江")) == ("浙江省", "", "", "330000")
    assert RESOLVER.resolve("hello world") is None
    assert RESOLVER.resolve("") is None


def test_spaces_between_the_parts_do_not_matter() -> None:
    assert where(RESOLVER.resolve(" 浙江省 杭州市 西湖区  文三路 ")) == ("浙江省", "杭州市", "西湖区", "330106")


# ------------------------------------------------------------------ structured platform fields


def test_structured_short_names_are_mapped_to_official_names() -> None:
    got = RESOLVER.resolve("文三路90号", province="浙江", city="杭州", district="西湖")
    assert where(got) == ("浙江省", "杭州市", "西湖区", "330106")


def test_structured_fields_win_over_a_text_that_names_another_place() -> None:
    got = RESOLVER.resolve("北京路188号", province="广东省", city="广州市", district="越秀区")
    assert where(got) == ("广东省", "广州市", "越秀区", "440104")


def test_structured_old_and_split_names_map_to_the_current_division() -> None:
    assert where(RESOLVER.resolve("凤城西大街", province="山东", city="莱芜市", district="莱城区")) == (
        "山东省", "济南市", "莱芜区", "370116")
    assert where(RESOLVER.resolve("临平街道南大街", province="浙江", city="杭州", district="余杭区")) == (
        "浙江省", "杭州市", "临平区", "330113")
    assert where(RESOLVER.resolve("", province="浙江", city="杭州", district="余杭区")) == (
        "浙江省", "杭州市", "余杭区", "330110")


def test_structured_city_without_district_takes_the_district_from_the_text() -> None:
    got = RESOLVER.resolve("浙江省杭州市临平区南苑街道", province="浙江省", city="杭州市", district=None)
    assert where(got) == ("浙江省", "杭州市", "临平区", "330113")
    # the city field keeps a same-named district of another city out (长春 has a 朝阳区 too)
    assert where(RESOLVER.resolve("朝阳区人民大街", province="吉林", city="长春")) == (
        "吉林省", "长春市", "朝阳区", "220104")


def test_unknown_structured_values_fall_back_to_the_text() -> None:
    got = RESOLVER.resolve("北京市朝阳区建国路", province="北京", city="市辖区", district="")
    assert where(got) == ("北京市", "北京市", "朝阳区", "110105")


# ------------------------------------------------------------------ the table and the process


def test_every_county_has_a_six_digit_code_in_its_province_and_a_point_in_china() -> None:
    counties = [u for u in RESOLVER.units if u.level == regions.COUNTY]   # type: ignore[attr-defined]
    assert len(counties) > 2800
    for unit in counties:
        region = unit.region
        assert region is not None and len(region.adcode) == 6 and region.adcode.isdigit()
        assert region.adcode[:2] == unit.province.code[:2]
        assert 3.0 < region.lat < 54.0 and 73.0 < region.lng < 136.0, region


def test_default_resolver_is_built_once_per_process_even_under_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(regions, "_default", None)
    built: list[object] = []
    real = regions.load_divisions

    def counting(path: str | None = None) -> regions.DivisionResolver:
        built.append(object())
        return real(path)

    monkeypatch.setattr(regions, "load_divisions", counting)
    seen: list[RegionResolver] = []
    barrier = threading.Barrier(8)

    def worker() -> None:
        barrier.wait()
        seen.append(default_resolver())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1
    assert len({id(r) for r in seen}) == 1


def test_a_table_file_can_be_loaded_explicitly(tmp_path: Path) -> None:
    shipped = Path(regions.__file__).parent / "data" / "regions.tsv"
    copy = tmp_path / "regions.tsv"
    copy.write_text(shipped.read_text(encoding="utf-8"), encoding="utf-8")
    assert where(load_divisions(str(copy)).resolve("济南市莱芜区")) == ("山东省", "济南市", "莱芜区", "370116")


def test_threads_resolving_at_once_get_the_same_answers_as_one_thread() -> None:
    texts = [c["input"] for c in HELDOUT]
    expected = [where(RESOLVER.resolve(t)) for t in texts]
    results: list[list[tuple[str, str, str, str] | None]] = []
    barrier = threading.Barrier(6)

    def worker() -> None:
        barrier.wait()
        results.append([where(RESOLVER.resolve(t)) for t in texts * 5][: len(texts)])

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [expected] * 6


def test_a_very_long_text_is_read_only_up_to_the_address_limit() -> None:
    assert where(RESOLVER.resolve("浙江省杭州市西湖区" + "广东省深圳市南山区" * 5000)) == (
        "浙江省", "杭州市", "西湖区", "330106")
    assert RESOLVER.resolve("x" * regions.MAX_ADDRESS_CHARS + "浙江省杭州市西湖区") is None


def test_every_county_of_the_table_resolves_from_its_full_and_its_short_written_forms() -> None:
    counties = [u for u in RESOLVER.units if u.level == regions.COUNTY]   # type: ignore[attr-defined]
    wrong = []
    for unit in counties:
        province, city = unit.province, unit.city
        own = "" if unit.name == city.name else unit.name
        forms = [province.name + ("" if city.name == province.name else city.name) + own + "人民路1号",
                 (province.name if city is unit else "") + city.name + own + "人民路1号",
                 province.short + city.short + own + "人民路1号"]
        for text in forms:
            region = RESOLVER.resolve(text)
            if region is None or region.adcode != unit.code:
                wrong.append((text, region))
    assert wrong == []
