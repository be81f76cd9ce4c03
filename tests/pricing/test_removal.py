"""Why "removing a rule never raises another rule's discount" cannot hold literally, case by
case, and the precise forms that do hold (checked at random in test_properties.py)."""

from __future__ import annotations

from tests.pricing.helpers import line, order, promo, quote, rule_entries


def given(body: dict) -> dict[str, int]:
    return {name: e.get("discount", 0) for name, e in rule_entries(body).items()}


def test_pick_best_runner_up_takes_over_when_the_best_rule_is_removed() -> None:
    both = promo('''
        tier c "店铺券" pick best {
            rule "满300减40" when current_total >= ¥300 { amount_off ¥40 }
            rule "满500减80" when current_total >= ¥500 { amount_off ¥80 }
        }''')
    one = both.replace('rule "满500减80" when current_total >= ¥500 { amount_off ¥80 }', "")
    o = order(line("L1", 60000))
    assert given(quote(both, o))["满300减40"] == 0
    assert given(quote(one, o))["满300减40"] == 4000  # raised, as pick best means
    # …but the tier as a whole never gives more
    assert quote(one, o)["totals"]["discount"] <= quote(both, o)["totals"]["discount"]


def test_a_later_tier_threshold_on_current_total_is_met_once_an_earlier_discount_is_gone() -> None:
    both = promo('''
        order member > coupon
        tier member "会员" { rule "95折" { percent_off 5% } }
        tier coupon "店铺券" { rule "满300减40" when current_total >= ¥300 { amount_off ¥40 } }''')
    one = both.replace('rule "95折" { percent_off 5% }', "")
    o = order(line("L1", 31000))
    assert given(quote(both, o))["满300减40"] == 0      # ¥294.50 after 95折
    assert given(quote(one, o))["满300减40"] == 4000


def test_a_later_percentage_grows_with_the_amount_an_earlier_tier_no_longer_takes() -> None:
    both = promo('''
        order a > b
        tier a "A" { rule "减10" { amount_off ¥10 } }
        tier b "B" { rule "9折" { percent_off 10% } }''')
    one = both.replace('rule "减10" { amount_off ¥10 }', "")
    o = order(line("L1", 10000))
    assert given(quote(both, o))["9折"] == 900
    assert given(quote(one, o))["9折"] == 1000


def test_pick_all_rule_squeezed_by_the_room_gets_up_to_what_it_gets_alone() -> None:
    both = promo('''
        tier packets "红包" pick all {
            rule "红包A" { amount_off ¥100 }
            rule "红包B" { amount_off ¥100 }
        }''')
    one = both.replace('rule "红包A" { amount_off ¥100 }', "")
    o = order(line("L1", 15000))
    assert given(quote(both, o))["红包B"] == 5000
    assert given(quote(one, o))["红包B"] == 10000  # its amount alone: never more than that


def test_removing_a_rule_that_gave_nothing_changes_nothing_else() -> None:
    both = promo('''
        order member > coupon
        tier member "会员" pick best {
            rule "金卡95折" when customer.level == "金卡" { percent_off 5% }
            rule "银卡98折" when customer.level == "银卡" { percent_off 2% }
        }
        tier coupon "店铺券" { rule "满300减40" when current_total >= ¥300 { amount_off ¥40 } }''')
    one = both.replace('rule "银卡98折" when customer.level == "银卡" { percent_off 2% }', "")
    o = order(line("L1", 31000), line("L2", 9000), level="金卡")
    with_rule, without_rule = quote(both, o), quote(one, o)
    for key in ("lines", "totals", "gifts"):
        assert with_rule[key] == without_rule[key]


def test_earlier_tiers_do_not_see_later_ones() -> None:
    both = promo('''
        order a > b
        tier a "A" pick best { rule "9折" when current_total >= ¥100 { percent_off 10% } }
        tier b "B" { rule "减50" { amount_off ¥50 } }''')
    one = both.replace('rule "减50" { amount_off ¥50 }', "")
    o = order(line("L1", 20000))
    assert given(quote(both, o))["9折"] == given(quote(one, o))["9折"] == 2000
