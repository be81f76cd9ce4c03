"""``fmt`` keeps every comment: above the statement that follows it, before a closing brace,
at the end of the file, or at the end of the printed line of the statement it followed.

Each placement case pins the exact output. Every library template and the ARCHITECTURE
example keep the same comments through ``fmt``, and ``fmt`` is a fixed point on them and on
files with comments scattered into every line and between the words of statements.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from click.testing import CliRunner

import dsl
from dsl.cli import fmt_command
from dsl.formatting import format_source
from dsl.parser import parse_layout

FIXTURES = Path(__file__).with_name("fixtures")
LIBRARY = Path(__file__).resolve().parents[2] / "templates_library"
EXAMPLE = FIXTURES / "architecture_example.op"
FILES = sorted([EXAMPLE, *LIBRARY.glob("*.op")])


def comments(text: str) -> Counter[str]:
    """The comments of ``text`` as the lexer sees them (``#`` inside strings is not one)."""
    return Counter(c.value.rstrip() for c in parse_layout(text).comments)


def assert_kept(text: str) -> str:
    once = format_source(text, "in.op")
    assert comments(once) == comments(text)
    assert format_source(once, "once.op") == once
    assert dsl.parse_text(once) == dsl.parse_text(text)
    return once


# --------------------------------------------------------------------------- whole files


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_fmt_keeps_every_comment_of_the_library_and_the_example(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert comments(text), "each of these files explains itself in comments"
    once = assert_kept(text)
    # with its comments taken out, the output is the canonical comment-free form
    stripped = [line.split("  # ")[0] for line in once.split("\n")
                if not line.lstrip().startswith("#")]
    assert "\n".join(stripped).strip("\n") == dsl.print_dsl(dsl.parse_text(text)).strip("\n")


def test_the_example_comment_stays_at_the_end_of_its_line() -> None:
    once = format_source(EXAMPLE.read_text(encoding="utf-8"))
    assert ("    normalize receiver.address to region  # 浙江省杭州市西湖区文三路 → 浙江-杭州-西湖区"
            in once.split("\n"))


def test_a_template_header_stays_above_its_declaration() -> None:
    text = (LIBRARY / "promotion_apparel_festival.op").read_text(encoding="utf-8")
    head = text.split("\n")[:5]
    assert format_source(text).split("\n")[:5] == head


@pytest.mark.parametrize("seed", range(24))
def test_comments_scattered_through_a_file_are_all_kept(seed: int) -> None:
    """Comments on their own lines, after code, and splitting statements between words."""
    rnd = random.Random(seed)
    source = FILES[seed % len(FILES)].read_text(encoding="utf-8")
    out: list[str] = []
    for n, line in enumerate(source.split("\n")):
        words = [i for i in range(1, len(line)) if line[i] == " " and line[i - 1] != " "
                 and line[:i].count('"') % 2 == 0 and "#" not in line[:i]]
        if rnd.random() < 0.25:
            out.append(" " * rnd.randint(0, 9) + f"# above {n}")
        if words and rnd.random() < 0.3:
            i = rnd.choice(words)
            sep = f"  # inside {n}\n" if rnd.random() < 0.5 else f"\n  # between {n}\n"
            line = line[:i] + sep + line[i + 1:]
        if line.strip() and "#" not in line and rnd.random() < 0.3:
            line += f"   # after {n}"
        out.append(line)
    out.append(f"# end {seed}")
    text = "\n".join(out)
    assert len(comments(text)) > 3
    assert_kept(text)


# --------------------------------------------------------------------------- placement cases


def test_full_line_comments_go_above_the_next_statement_at_its_indentation() -> None:
    text = '''# 渠道
channel 群 wecom { key env K }
  # 售后流程
machine m {
# 先审核
    initial 新建
    state 新建 owner 客服
            # 完成是终态
    state 完成 final
    action 接单 from 新建 to 完成 by 客服
}
'''
    assert assert_kept(text) == '''# 渠道
channel 群 wecom { key env K }

# 售后流程
machine m {
    # 先审核
    initial 新建
    state 新建 owner 客服
    # 完成是终态
    state 完成 final
    action 接单 from 新建 to 完成 by 客服
}
'''


def test_comments_at_the_end_of_a_block_stay_before_its_closing_brace() -> None:
    text = '''promotion p {
    tier a {
        rule "r" { percent_off 5% }
        # more rules after the festival
    }
    # freight later
}
'''
    assert assert_kept(text) == '''promotion p {
    tier a {
        rule "r" { percent_off 5% }
        # more rules after the festival
    }
    # freight later
}
'''


def test_comments_at_the_end_of_the_file_stay_at_the_end() -> None:
    text = 'channel 群 wecom { key env K }\n# 1\n\n\n   # 2\n'
    assert assert_kept(text) == 'channel 群 wecom { key env K }\n\n# 1\n# 2\n'


def test_trailing_comments_stay_at_the_end_of_their_printed_line() -> None:
    text = '''machine m {   # 机器
    initial 新建      # 起点
    state 新建 owner 客服 deadline 2d  # 两天
    state 完成 final
    action 接单 from 新建 to 完成 by 客服
        then archive v   # 归档
}  # 结束
'''
    assert assert_kept(text) == '''machine m {  # 机器
    initial 新建  # 起点
    state 新建 owner 客服 deadline 48h  # 两天
    state 完成 final
    action 接单 from 新建 to 完成 by 客服
        then archive v  # 归档
}  # 结束
'''


def test_a_comment_moves_with_its_statement_when_fmt_reorders() -> None:
    text = '''promotion p {
    # 秒杀不参与
    exclude lines tagged "秒杀" from a  # 只排除 a
    tier a { rule "r" { percent_off 5% } }
}
'''
    assert assert_kept(text) == '''promotion p {
    tier a {
        rule "r" { percent_off 5% }
    }
    # 秒杀不参与
    exclude lines tagged "秒杀" from a  # 只排除 a
}
'''


def test_a_comment_before_then_stays_above_the_then_line() -> None:
    text = '''machine m {
    initial a
    state a
    state b final
    action go from a to b
        # 归档凭证
        then archive v
}
'''
    assert assert_kept(text).split("\n")[5:7] == ["        # 归档凭证", "        then archive v"]


def test_comments_inside_a_statement_printed_on_one_line_go_above_it() -> None:
    """A multi-line statement becomes one line: its first trailing comment stays at the end,
    the other comments inside it go above it, in their order."""
    text = '''machine m {
    data {
        order_id: text,   # 平台单号
        # 联系方式
        phone: text?      # 可空
    }
    initial a
    state a final
}
'''
    assert assert_kept(text) == '''machine m {
    # 联系方式
    # 可空
    data { order_id: text, phone: text? }  # 平台单号
    initial a
    state a final
}
'''


def test_a_comment_inside_a_multi_line_condition_goes_above_it() -> None:
    text = '''risk r {
    when count(orders by buyer_phone within 1h) >= 5
     # 换地址
     and distinct(receiver.city of orders by buyer_phone within 1h) >= 3  # 三个城市
    then flag "x"
}
'''
    assert assert_kept(text) == '''risk r {
    # 换地址
    when count(orders by buyer_phone within 1h) >= 5 and distinct(receiver.city of orders by buyer_phone within 1h) >= 3  # 三个城市
    then flag "x"
}
'''


def test_a_hash_inside_a_string_is_not_a_comment() -> None:
    text = 'risk r {\n    when buyer_phone == "#1"  # 测试号\n    then flag "#x"\n}\n'
    assert comments(text) == Counter({"# 测试号": 1})
    assert assert_kept(text) == text


def test_trailing_spaces_of_a_comment_are_removed() -> None:
    text = "# 说明   \nchannel 群 wecom { key env K }   # 群 \t\n"
    assert format_source(text) == "# 说明\nchannel 群 wecom { key env K }  # 群\n"


def test_files_without_declarations() -> None:
    assert format_source("") == ""
    assert format_source("\n\n") == ""
    assert format_source("  # 只有注释\n\n# 第二行") == "# 只有注释\n# 第二行\n"


def test_without_comments_fmt_is_the_canonical_printer() -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace(
        "     # 浙江省杭州市西湖区文三路 → 浙江-杭州-西湖区", "")
    assert comments(text) == Counter()
    assert format_source(text) == dsl.print_dsl(dsl.parse_text(text))


def test_comments_do_not_change_the_model() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    bare = text.replace("     # 浙江省杭州市西湖区文三路 → 浙江-杭州-西湖区", "")
    assert dsl.parse_text(text) == dsl.parse_text(bare)
    assert dsl.to_json(dsl.parse_text(text)) == dsl.to_json(dsl.parse_text(bare))


# --------------------------------------------------------------------------- the command


def test_fmt_command_keeps_comments_and_then_passes_check(tmp_path: Path) -> None:
    target = tmp_path / "rules.op"
    text = '# 渠道\nchannel 群   wecom { key env K }  # 企微\n'
    target.write_text(text, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(fmt_command, [str(target), "--check"]).exit_code == 1
    result = runner.invoke(fmt_command, [str(target)])
    assert (result.exit_code, result.output) == (0, f"{target}: reformatted\n")
    assert target.read_text(encoding="utf-8") == '# 渠道\nchannel 群 wecom { key env K }  # 企微\n'
    assert runner.invoke(fmt_command, [str(target), "--check"]).exit_code == 0


def test_fmt_command_reports_syntax_errors(tmp_path: Path) -> None:
    target = tmp_path / "rules.op"
    target.write_text("# 坏了\npromotion p {\n", encoding="utf-8")
    result = CliRunner().invoke(fmt_command, [str(target)])
    assert result.exit_code == 1
    assert f"{target}:2:14: unexpected end of file" in result.output
    assert target.read_text(encoding="utf-8") == "# 坏了\npromotion p {\n"
