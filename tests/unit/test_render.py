"""Announcement templates: shipped templates, variable checks, sandbox, mentions, languages, length, codes."""

from __future__ import annotations

import itertools
import unicodedata
from pathlib import Path

import pytest

from broadcasts.render import (
    CODE_ALPHABET,
    MAX_TEXT,
    AnnouncementTemplates,
    TemplateError,
    TemplateInfo,
    Variable,
    new_verification_code,
)

ROOT = Path(__file__).resolve().parents[2] / "templates" / "announcements"
SHIPPED = ["canh-bao-lua-dao", "ho-tro-bhyt", "hop-thon", "ra-soat-ho-ngheo", "thong-bao-chung"]
HAMLET = {"hamlet_word": "ấp", "commune_name": "Xã Tân Hòa"}
LINK = "https://loaap.example.vn/l/AbCdEfGhIjKlMnOp"
KHMER_VERIFICATION = "លេខកូដផ្ទៀងផ្ទាត់"


@pytest.fixture
def templates() -> AnnouncementTemplates:
    return AnnouncementTemplates(ROOT)


def examples(templates: AnnouncementTemplates, name: str) -> dict[str, str]:
    return {v.name: v.example for v in templates.info(name).variables}


def render(templates: AnnouncementTemplates, name: str, values: dict[str, str], **kw: str) -> str:
    args: dict[str, str] = {
        "hamlet_name": "Ấp Tân Lập",
        "language": "vi",
        "code": "K7P4QX",
        **HAMLET,
    }
    args.update(kw)
    return templates.render(name, values, **args)


def write_template(
    root: Path, name: str, files: dict[str, str], *, yaml: str | None = None
) -> AnnouncementTemplates:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "template.yaml").write_text(
        yaml
        if yaml is not None
        else (
            'title: "Thử"\n'
            "category: general\n"
            "variables:\n"
            '  - {name: body, label: "Nội dung", required: true, example: "Họp chợ"}\n'
        ),
        encoding="utf-8",
    )
    for filename, text in files.items():
        (folder / filename).write_text(text, encoding="utf-8")
    return AnnouncementTemplates(root)


# ----------------------------------------------------------------- shipped templates


def test_shipped_templates_are_listed_with_valid_metadata(templates: AnnouncementTemplates) -> None:
    assert templates.names() == SHIPPED
    categories = {name: templates.info(name).category for name in SHIPPED}
    assert categories == {
        "canh-bao-lua-dao": "urgent",
        "ho-tro-bhyt": "policy",
        "hop-thon": "meeting",
        "ra-soat-ho-ngheo": "policy",
        "thong-bao-chung": "general",
    }
    info = templates.info("hop-thon")
    assert isinstance(info, TemplateInfo)
    assert info.languages == ("vi", "km")
    assert [v.name for v in info.variables] == ["date", "time", "place", "agenda", "contact"]
    assert info.variables[0] == Variable(
        "date", "Ngày họp (thứ, ngày/tháng)", True, "thứ Sáu 18/12", "event_date"
    )
    for name in SHIPPED:
        info = templates.info(name)
        assert info.languages[0] == "vi"
        assert info.title and all(v.label and v.example for v in info.variables)


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_template_renders_its_examples_in_every_language(
    templates: AnnouncementTemplates, name: str
) -> None:
    values = examples(templates, name)
    templates.check(name, values)  # no problem at all
    for language in templates.info(name).languages:
        text = render(templates, name, values, language=language, link=LINK)
        assert len(text) <= MAX_TEXT
        assert "Xã Tân Hòa" in text
        assert "{{" not in text and "{%" not in text and "None" not in text
        assert "\n\n\n" not in text and text == text.strip()
        assert all(line == line.rstrip() for line in text.splitlines())
        # Every language keeps the words "Mã xác thực", so a forwarded copy can still be checked.
        assert "Mã xác thực" in text.splitlines()[-2] and "K7P4QX" in text.splitlines()[-2]
        assert text.endswith(LINK)
        for value in values.values():
            assert value.rstrip(".") in text


@pytest.mark.parametrize("name", SHIPPED)
def test_each_shipped_template_renders_with_only_required_variables(
    templates: AnnouncementTemplates, name: str
) -> None:
    info = templates.info(name)
    values = {v.name: v.example for v in info.variables if v.required}
    for language in info.languages:
        text = render(templates, name, values, language=language)
        assert "None" not in text and "\n\n\n" not in text
        assert text.endswith(
            "Mã xác thực: K7P4QX — kiểm tra bằng cách gửi mã này cho OA của xã."
        ) or (language != "vi" and KHMER_VERIFICATION in text.splitlines()[-1])


def test_scam_warning_says_what_the_commune_never_asks(templates: AnnouncementTemplates) -> None:
    text = render(templates, "canh-bao-lua-dao", examples(templates, "canh-bao-lua-dao"))
    assert text.startswith("[KHẨN]")
    for word in ("OTP", "mật khẩu", "chuyển tiền", "KHÔNG BAO GIỜ", "mã xác thực"):
        assert word in text


def test_hamlet_word_and_head_follow_the_commune(templates: AnnouncementTemplates) -> None:
    values = {k: v for k, v in examples(templates, "hop-thon").items() if k != "contact"}
    text = render(templates, "hop-thon", values, hamlet_name="Thôn Đông", hamlet_word="thôn")
    assert "Mời họp thôn" in text and "trưởng thôn" in text and "trưởng ấp" not in text
    text = render(templates, "hop-thon", values, hamlet_name="Tổ 5", hamlet_word="tổ dân phố")
    assert "tổ trưởng" in text and "trưởng tổ dân phố" not in text


# ----------------------------------------------------------------- closing lines


def test_verification_line_and_link_line_come_from_the_renderer(
    templates: AnnouncementTemplates,
) -> None:
    values = examples(templates, "thong-bao-chung")
    text = render(templates, "thong-bao-chung", values)
    assert (
        text.splitlines()[-1]
        == "Mã xác thực: K7P4QX — kiểm tra bằng cách gửi mã này cho OA của xã."
    )
    assert "Xem đầy đủ" not in text
    text = render(templates, "thong-bao-chung", values, link=LINK)
    assert text.splitlines()[-2:] == [
        "Mã xác thực: K7P4QX — kiểm tra bằng cách gửi mã này cho OA của xã.",
        f"Xem đầy đủ: {LINK}",
    ]


def test_verification_line_is_translated_when_metadata_gives_it(tmp_path: Path) -> None:
    yaml = (
        'title: "Thử"\ncategory: general\nvariables: []\n'
        "translations:\n  hmn:\n"
        '    verification: "Tus lej: {code}"\n'
        '    link: "Saib ntxiv: {link}"\n'
    )
    t = write_template(tmp_path, "thu", {"vi.j2": "Xin chào", "hmn.j2": "Nyob zoo"}, yaml=yaml)
    hmn = t.render(
        "thu", {}, hamlet_name="Bản A", language="hmn", code="K7P4QX", link=LINK, **HAMLET
    )
    assert hmn == f"Nyob zoo\n\nTus lej: K7P4QX\nSaib ntxiv: {LINK}"
    vi = t.render("thu", {}, hamlet_name="Bản B", language="vi", code="K7P4QX", **HAMLET)
    assert vi.endswith("Mã xác thực: K7P4QX — kiểm tra bằng cách gửi mã này cho OA của xã.")


# ----------------------------------------------------------------- languages


def test_khmer_hamlet_gets_the_km_variant_and_vietnamese_hamlet_the_vi_one(
    templates: AnnouncementTemplates,
) -> None:
    values = examples(templates, "hop-thon")
    km = render(templates, "hop-thon", values, hamlet_name="Ấp Phú Lợi", language="km")
    vi = render(templates, "hop-thon", values, hamlet_name="Ấp Tân Lập", language="vi")
    assert "អញ្ជើញប្រជុំ" in km and "Mời họp" not in km
    assert km.splitlines()[-1].startswith(KHMER_VERIFICATION) and "K7P4QX" in km.splitlines()[-1]
    assert "Mời họp ấp" in vi and "អញ្ជើញ" not in vi
    assert vi.splitlines()[-1].startswith("Mã xác thực: K7P4QX")
    assert render(templates, "hop-thon", values, language=" KM ") == render(
        templates, "hop-thon", values, language="km"
    )


@pytest.mark.parametrize("language", ["hmn", "tay", "", "../vi", "xx-yy"])
def test_language_without_a_variant_falls_back_to_vietnamese(
    templates: AnnouncementTemplates, language: str
) -> None:
    values = examples(templates, "hop-thon")
    assert render(templates, "hop-thon", values, language=language) == render(
        templates, "hop-thon", values, language="vi"
    )
    khmer_only = render(templates, "ho-tro-bhyt", examples(templates, "ho-tro-bhyt"), language="km")
    assert "Phát thẻ bảo hiểm y tế" in khmer_only and khmer_only.splitlines()[-1].startswith(
        "Mã xác thực"
    )


def test_preview_renders_every_hamlet_with_the_placeholder_code(
    templates: AnnouncementTemplates,
) -> None:
    hamlets = [("Ấp Tân Lập", "vi"), ("Ấp Phú Lợi", "km"), ("Bản Sủng Là", "hmn")]
    texts = templates.preview("hop-thon", examples(templates, "hop-thon"), hamlets, **HAMLET)
    assert list(texts) == ["Ấp Tân Lập", "Ấp Phú Lợi", "Bản Sủng Là"]
    assert all("XXXXXX" in text.splitlines()[-1] for text in texts.values())
    assert "Ấp Tân Lập tổ chức họp" in texts["Ấp Tân Lập"]
    assert "អញ្ជើញ" in texts["Ấp Phú Lợi"]
    assert "Bản Sủng Là tổ chức họp" in texts["Bản Sủng Là"]


def test_preview_lists_the_problems_once(templates: AnnouncementTemplates) -> None:
    with pytest.raises(TemplateError) as err:
        templates.preview("hop-thon", {}, [("Ấp A", "vi"), ("Ấp B", "km")], **HAMLET)
    assert len(err.value.problems) == 1
    assert err.value.problems[0].startswith("Chưa điền:")


# ----------------------------------------------------------------- variable problems


def test_missing_and_unknown_variables_are_listed_together(
    templates: AnnouncementTemplates,
) -> None:
    values = {"date": "thứ Sáu 20/12", "time": "  ", "so_tien": "1.500.000 đồng", "ghi_chu": "x"}
    with pytest.raises(TemplateError) as err:
        templates.check("hop-thon", values)
    problems = err.value.problems
    assert problems == [
        "Chưa điền: «Giờ họp», «Nơi họp», «Nội dung họp».",
        "Mẫu «hop-thon» không có biến: «ghi_chu», «so_tien».",
    ]
    assert str(err.value) == "\n".join(problems)
    with pytest.raises(TemplateError) as err:
        render(templates, "hop-thon", values)
    assert err.value.problems == problems


def test_optional_variables_may_be_left_out(templates: AnnouncementTemplates) -> None:
    values = {k: v for k, v in examples(templates, "hop-thon").items() if k != "contact"}
    templates.check("hop-thon", values)
    text = render(templates, "hop-thon", values)
    assert "liên hệ trưởng ấp" in text


@pytest.mark.parametrize("name", ["khong-co", "../replies", "hop-thon/../hop-thon", "", "HOP-THON"])
def test_unknown_template_is_refused(templates: AnnouncementTemplates, name: str) -> None:
    for call in (
        lambda: templates.info(name),
        lambda: templates.check(name, {}),
        lambda: render(templates, name, {}),
    ):
        with pytest.raises(TemplateError) as err:
            call()
        assert err.value.problems == [f"Không có mẫu thông báo «{name}»."]


def test_check_lists_every_problem_of_a_broken_template(tmp_path: Path) -> None:
    yaml = (
        'title: "Thử"\n'
        "category: khan\n"
        "variables:\n"
        '  - {name: body, label: "Nội dung", required: true, example: "Họp chợ"}\n'
        '  - {name: hamlet_name, label: "Tên ấp", required: true, example: "Ấp A"}\n'
    )
    files = {
        "vi.j2": "{{ body }} {{ so_tien }}",
        "km.j2": "{% if body %}{{ body }}",
        "hmn.j2": "{{ body | int(0) // 0 }}",
    }
    t = write_template(tmp_path, "hong", files, yaml=yaml)
    with pytest.raises(TemplateError) as err:
        t.check("hong", {"nguoi_ky": "x"})
    text = "\n".join(err.value.problems)
    assert "loại thông báo (category) «khan» không hợp lệ" in text
    assert "biến «hamlet_name» trùng tên biến có sẵn" in text
    assert "Chưa điền: «Nội dung»." in text
    assert "không có biến: «nguoi_ky»" in text
    assert "bản tiếng Việt: dùng biến chưa khai báo trong template.yaml: «so_tien»" in text
    assert "bản tiếng Khmer: lỗi cú pháp ở dòng 1" in text
    assert "bản tiếng H'Mông: không tạo được nội dung" in text
    assert len(err.value.problems) == 7
    with pytest.raises(TemplateError):
        t.info("hong")


def test_template_without_vietnamese_file_is_refused(tmp_path: Path) -> None:
    t = write_template(tmp_path, "thieu", {"km.j2": "{{ body }}"})
    with pytest.raises(TemplateError) as err:
        t.check("thieu", {"body": "x"})
    assert err.value.problems == [
        "Mẫu «thieu»: thiếu bản tiếng Việt (tệp vi.j2), bản này luôn phải có."
    ]


# ----------------------------------------------------------------- sandbox


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ body.__class__.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{% set x = [] %}{{ x.append(1) }}",
        "{{ 'a' * 100000 }}",
        "{{ 10 ** 100000 }}",
    ],
)
def test_sandbox_escape_is_refused(tmp_path: Path, source: str) -> None:
    t = write_template(tmp_path, "tan-cong", {"vi.j2": source})
    with pytest.raises(TemplateError) as err:
        t.render(
            "tan-cong", {"body": "x"}, hamlet_name="Ấp A", language="vi", code="K7P4QX", **HAMLET
        )
    assert err.value.problems
    assert err.value.problems[0].startswith("Mẫu «tan-cong», bản tiếng Việt:")
    with pytest.raises(TemplateError):
        t.check("tan-cong", {"body": "x"})


def test_sandbox_refusal_says_so_in_vietnamese(tmp_path: Path) -> None:
    t = write_template(tmp_path, "tan-cong", {"vi.j2": "{{ ''.__class__.__mro__ }}"})
    with pytest.raises(TemplateError) as err:
        t.render(
            "tan-cong", {"body": "x"}, hamlet_name="Ấp A", language="vi", code="K7P4QX", **HAMLET
        )
    assert err.value.problems == [
        "Mẫu «tan-cong», bản tiếng Việt: dùng lệnh không được phép trong mẫu thông báo."
    ]


def test_values_are_plain_text_never_template_code(templates: AnnouncementTemplates) -> None:
    values = {"title": "{{ 7*7 }}", "body": "{% for x in range(3) %}A{% endfor %} <b>&amp;</b>"}
    text = render(templates, "thong-bao-chung", values)
    assert "{{ 7*7 }}" in text and "49" not in text
    assert "{% for x in range(3) %}A{% endfor %} <b>&amp;</b>" in text  # no HTML escaping either


# ----------------------------------------------------------------- mentions


@pytest.mark.parametrize(
    "value", ["[@123]", "Mời [@5000000000000000101] họp", "[[@@123]]", "[@[@1]]"]
)
def test_a_value_can_never_mention(templates: AnnouncementTemplates, value: str) -> None:
    values = {"title": value, "body": f"Nội dung {value}", "contact": value}
    text = render(templates, "thong-bao-chung", values, hamlet_name=value, commune_name=value)
    assert "[@" not in text
    assert value.replace("[@", "[ @") in text  # still readable, one space apart


def test_a_mention_cannot_be_built_across_a_value_boundary(tmp_path: Path) -> None:
    t = write_template(tmp_path, "noi", {"vi.j2": "[{{ body }}"})
    text = t.render(
        "noi", {"body": "@123]"}, hamlet_name="Ấp A", language="vi", code="K7P4QX", **HAMLET
    )
    assert "[@" not in text and text.startswith("[ @123]")


# ----------------------------------------------------------------- length


def test_over_long_text_is_refused_with_a_clear_message(templates: AnnouncementTemplates) -> None:
    values = {"title": "Lịch cắt điện", "body": "Bà con lưu ý. " * 200}
    with pytest.raises(TemplateError) as err:
        render(templates, "thong-bao-chung", values)
    (problem,) = err.value.problems
    assert problem.startswith("Mẫu «thong-bao-chung», bản tiếng Việt: thông báo dài ")
    assert "vượt giới hạn 2.000 ký tự của một tin Zalo" in problem
    assert "Xin rút gọn nội dung bớt khoảng" in problem
    with pytest.raises(TemplateError) as err:
        templates.check("thong-bao-chung", values)
    assert "vượt giới hạn 2.000 ký tự" in err.value.problems[0]


def test_the_limit_counts_the_closing_lines(templates: AnnouncementTemplates) -> None:
    short = render(templates, "thong-bao-chung", {"title": "T", "body": "."}, link=LINK)
    room = MAX_TEXT - len(short)
    fits = {"title": "T", "body": "a" * room + "."}
    assert len(render(templates, "thong-bao-chung", fits, link=LINK)) == MAX_TEXT
    with pytest.raises(TemplateError):
        render(
            templates, "thong-bao-chung", {"title": "T", "body": "a" * (room + 1) + "."}, link=LINK
        )
    # The same text without the link line fits again.
    render(templates, "thong-bao-chung", {"title": "T", "body": "a" * (room + 1) + "."})


def test_check_uses_an_example_link_so_the_real_one_still_fits(
    templates: AnnouncementTemplates,
) -> None:
    short = render(templates, "thong-bao-chung", {"title": "T", "body": "."})
    body = "a" * (MAX_TEXT - len(short)) + "."  # fits exactly without a link
    render(templates, "thong-bao-chung", {"title": "T", "body": body})
    with pytest.raises(TemplateError):
        templates.check("thong-bao-chung", {"title": "T", "body": body})


def test_decomposed_vietnamese_is_normalised(templates: AnnouncementTemplates) -> None:
    body = unicodedata.normalize("NFD", "Họp bình xét hộ nghèo.")
    text = render(templates, "thong-bao-chung", {"title": "Họp", "body": body})
    assert "Họp bình xét hộ nghèo." in text
    assert unicodedata.is_normalized("NFC", text)


# ----------------------------------------------------------------- verification codes


def test_codes_use_only_the_unambiguous_alphabet() -> None:
    assert not set("0O1IL5S2Z8B") & set(CODE_ALPHABET)
    codes = [new_verification_code() for _ in range(2000)]
    for code in codes:
        assert len(code) == 6 and set(code) <= set(CODE_ALPHABET)
    assert len(set(codes)) > 1990  # 25**6 codes: collisions are rare
    assert set("".join(codes)) == set(CODE_ALPHABET)


def test_codes_are_unique_against_taken() -> None:
    issued: set[str] = set()
    for _ in range(3000):
        issued.add(new_verification_code(issued.__contains__))
    assert len(issued) == 3000


def test_code_retries_while_taken() -> None:
    seen: list[str] = []
    counter = itertools.count()

    def taken(code: str) -> bool:
        seen.append(code)
        return next(counter) < 5

    code = new_verification_code(taken)
    assert len(seen) == 6 and code == seen[-1]


def test_values_stored_as_json_numbers_are_written_out(templates: AnnouncementTemplates) -> None:
    values: dict[str, object] = {"title": "Họp", "body": 0, "contact": None}
    text = render(templates, "thong-bao-chung", values)  # type: ignore[arg-type]
    assert "Ấp Tân Lập:\n0.\n" in text and "liên hệ trưởng ấp" in text
