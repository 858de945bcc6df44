"""Announcement templates: metadata, checks and per-hamlet rendering in a sandboxed Jinja environment.

A template is a folder under templates/announcements/ with a template.yaml (title, category,
variables, optional translations of the closing lines) and one Jinja file per language: vi.j2 always,
plus optional variants named by language code (km.j2, hmn.j2, ...). The text is rendered once per
hamlet when a firing is queued and stored; nothing here is read again when it is sent.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from bot.directory.roles import head_title
from bot.zalo.mentions import escape_mentions
from broadcasts.models import CampaignCategory

MAX_TEXT = 2000  # Zalo's limit for one text message (group or 1:1)
FALLBACK_LANGUAGE = "vi"
PLACEHOLDER_CODE = "XXXXXX"
# A realistic tracked link, long enough that a template passing check() still fits with the real one.
EXAMPLE_LINK = "https://loaap.example.vn/l/XXXXXXXXXXXXXXXX"
EXAMPLE_HAMLET = "Ấp Tân Thạnh Đông"
EXAMPLE_COMMUNE = "Xã Tân Hòa Đông"
EXAMPLE_HAMLET_WORD = "ấp"

# No 0/O, 1/I/L, 5/S, 2/Z, 8/B: a code read aloud or copied by hand cannot be misread.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
CODE_LENGTH = 6

# Names the renderer puts in every template's context; a template may not declare them as variables.
BUILTIN_NAMES = ("hamlet_name", "hamlet_word", "hamlet_head", "commune_name")

VERIFICATION_LINE = "Mã xác thực: {code} — kiểm tra bằng cách gửi mã này cho OA của xã."
LINK_LINE = "Xem đầy đủ: {link}"

LANGUAGE_NAMES = {
    "vi": "tiếng Việt",
    "km": "tiếng Khmer",
    "hmn": "tiếng H'Mông",
    "tay": "tiếng Tày",
    "nod": "tiếng Thái",
    "cja": "tiếng Chăm",
    "ja": "tiếng Nhật",
    "en": "tiếng Anh",
}

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_VARIABLE_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]{2,8})?$")
_SENTENCE_END = ".!?…:;"


class TemplateError(Exception):
    """A template or its variables cannot be used; .problems lists every reason in Vietnamese."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__("\n".join(self.problems))


VARIABLE_KINDS = frozenset({"text", "event_date"})


@dataclass(frozen=True)
class Variable:
    """One variable an official fills in: its name in the template, label, whether required, example."""

    name: str
    label: str
    required: bool
    example: str
    kind: str = "text"  # "event_date": the day of what is announced; no send may come after it


@dataclass(frozen=True)
class TemplateInfo:
    """A template's declared metadata and the languages it has a Jinja file for (vi first)."""

    name: str
    title: str
    category: str
    variables: tuple[Variable, ...]
    languages: tuple[str, ...]


@dataclass(frozen=True)
class _Closing:
    verification: str
    link: str


def new_verification_code(taken: Callable[[str], bool] | None = None) -> str:
    """Draw a random 6-character verification code from an unambiguous alphabet, retrying while taken."""
    while True:
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        if taken is None or not taken(code):
            return code


def text_length(text: str) -> int:
    """Length of a message as Zalo may count it: UTF-16 code units, never fewer than characters."""
    return len(text.encode("utf-16-le")) // 2


def language_name(code: str) -> str:
    """The Vietnamese name of a language code, for messages to the official."""
    return LANGUAGE_NAMES.get(code, f"ngôn ngữ «{code}»")


def _sentence(value: Any) -> str:
    """Jinja filter: end a value with a full stop unless it already ends with punctuation."""
    text = str(value).rstrip()
    if text and text[-1] not in _SENTENCE_END:
        text += "."
    return text


def _text(value: object) -> str:
    """A variable's value as text: None is empty, numbers (from JSON) are written out."""
    return "" if value is None else str(value)


def _clean_value(value: str) -> str:
    text = unicodedata.normalize("NFC", str(value)).replace("\r\n", "\n").replace("\r", "\n")
    return escape_mentions(text.strip())


def _tidy(text: str) -> str:
    """Strip trailing spaces, drop blank lines at the ends and collapse runs of blank lines to one."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line and (not lines or not lines[-1]):
            continue
        lines.append(line)
    while lines and not lines[-1]:
        lines.pop()
    return "\n".join(lines)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox, also refusing arithmetic that would build huge strings or numbers."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, count in ((left, right), (right, left)):
                sized = isinstance(seq, (str, list, tuple)) and isinstance(count, int)
                if sized and count * len(seq) > MAX_TEXT:
                    raise SecurityError("repetition too large")
        return super().call_binop(context, operator, left, right)


class AnnouncementTemplates:
    """The commune's announcement templates in one folder, rendered per hamlet in a sandbox."""

    def __init__(self, root: Path) -> None:
        self._root = Path(root)
        self._loader = FileSystemLoader(self._root)
        self._env = _Sandbox(
            loader=self._loader,
            undefined=StrictUndefined,
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=True,
        )
        self._env.filters["sentence"] = _sentence

    # ----------------------------------------------------------------- metadata

    def names(self) -> list[str]:
        """Names of the templates on disk (folders holding a template.yaml), sorted."""
        if not self._root.is_dir():
            return []
        return sorted(
            p.name
            for p in self._root.iterdir()
            if _NAME_RE.match(p.name) and (p / "template.yaml").is_file()
        )

    def info(self, name: str) -> TemplateInfo:
        """A template's metadata; TemplateError if it is unknown or its template.yaml is invalid."""
        info, _closings, problems = self._load(name)
        if info is None or problems:
            raise TemplateError(problems)
        return info

    def _folder(self, name: str) -> Path | None:
        if not isinstance(name, str) or not _NAME_RE.match(name):
            return None
        folder = self._root / name
        return folder if (folder / "template.yaml").is_file() else None

    def _load(self, name: str) -> tuple[TemplateInfo | None, dict[str, _Closing], list[str]]:
        """Read template.yaml; return the info (None if unusable), closing lines and every problem."""
        folder = self._folder(name)
        if folder is None:
            return None, {}, [f"Không có mẫu thông báo «{name}»."]
        where = f"Mẫu «{name}»"
        try:
            data = yaml.safe_load((folder / "template.yaml").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            return None, {}, [f"{where}: không đọc được tệp template.yaml ({_short(exc)})."]
        if not isinstance(data, dict):
            return (
                None,
                {},
                [f"{where}: tệp template.yaml phải có các mục title, category, variables."],
            )

        problems: list[str] = []
        title = data.get("title")
        if not isinstance(title, str) or not title.strip():
            problems.append(f"{where}: thiếu tên mẫu (title).")
            title = name
        category = data.get("category")
        categories = [c.value for c in CampaignCategory]
        if category not in categories:
            problems.append(
                f"{where}: loại thông báo (category) «{category}» không hợp lệ; "
                f"chọn một trong: {', '.join(categories)}."
            )
            category = CampaignCategory.GENERAL.value

        variables: list[Variable] = []
        seen: set[str] = set()
        raw_vars = data.get("variables") or []
        if not isinstance(raw_vars, list):
            problems.append(f"{where}: mục variables phải là một danh sách.")
            raw_vars = []
        for i, raw in enumerate(raw_vars, start=1):
            if not isinstance(raw, dict):
                problems.append(f"{where}: biến thứ {i} khai báo sai.")
                continue
            var_name = raw.get("name")
            if not isinstance(var_name, str) or not _VARIABLE_RE.match(var_name):
                problems.append(
                    f"{where}: tên biến thứ {i} «{var_name}» không hợp lệ "
                    "(chỉ dùng chữ thường không dấu, số và dấu gạch dưới)."
                )
                continue
            if var_name in BUILTIN_NAMES:
                problems.append(
                    f"{where}: biến «{var_name}» trùng tên biến có sẵn, hãy đặt tên khác."
                )
                continue
            if var_name in seen:
                problems.append(f"{where}: biến «{var_name}» được khai báo hai lần.")
                continue
            seen.add(var_name)
            label = raw.get("label")
            if not isinstance(label, str) or not label.strip():
                problems.append(f"{where}: biến «{var_name}» thiếu nhãn tiếng Việt (label).")
                label = var_name
            required = raw.get("required", False)
            if not isinstance(required, bool):
                problems.append(f"{where}: biến «{var_name}»: required phải là true hoặc false.")
                required = bool(required)
            example = raw.get("example")
            if example is None or not str(example).strip():
                problems.append(f"{where}: biến «{var_name}» thiếu ví dụ (example).")
                example = ""
            kind = raw.get("kind", "text")
            if kind not in VARIABLE_KINDS:
                problems.append(
                    f"{where}: biến «{var_name}»: kind phải là một trong "
                    f"{', '.join(sorted(VARIABLE_KINDS))}."
                )
                kind = "text"
            variables.append(
                Variable(var_name, label.strip(), required, str(example).strip(), str(kind))
            )

        languages = self._languages(folder)
        if FALLBACK_LANGUAGE not in languages:
            problems.append(f"{where}: thiếu bản tiếng Việt (tệp vi.j2), bản này luôn phải có.")

        closings: dict[str, _Closing] = {}
        raw_tr = data.get("translations") or {}
        if not isinstance(raw_tr, dict):
            problems.append(f"{where}: mục translations phải ghi theo từng mã ngôn ngữ.")
            raw_tr = {}
        for lang, lines in raw_tr.items():
            lang_name = language_name(str(lang))
            if not isinstance(lines, dict):
                problems.append(f"{where}: bản dịch {lang_name} phải có verification và link.")
                continue
            verification = lines.get("verification")
            link = lines.get("link")
            if not isinstance(verification, str) or "{code}" not in verification:
                problems.append(
                    f"{where}: bản dịch dòng mã xác thực ({lang_name}) phải chứa {{code}}."
                )
                continue
            if not isinstance(link, str) or "{link}" not in link:
                problems.append(
                    f"{where}: bản dịch dòng đường link ({lang_name}) phải chứa {{link}}."
                )
                continue
            closings[str(lang)] = _Closing(verification.strip(), link.strip())

        info = TemplateInfo(name, title.strip(), str(category), tuple(variables), languages)
        return info, closings, problems

    def _languages(self, folder: Path) -> tuple[str, ...]:
        found = sorted(
            p.stem for p in folder.glob("*.j2") if p.is_file() and _LANGUAGE_RE.match(p.stem)
        )
        if FALLBACK_LANGUAGE in found:
            found.remove(FALLBACK_LANGUAGE)
            found.insert(0, FALLBACK_LANGUAGE)
        return tuple(found)

    # ----------------------------------------------------------------- checks

    @staticmethod
    def _variable_problems(info: TemplateInfo, variables: Mapping[str, str]) -> list[str]:
        declared = {v.name for v in info.variables}
        missing = [
            v.label
            for v in info.variables
            if v.required and not _text(variables.get(v.name)).strip()
        ]
        unknown = sorted(k for k in variables if k not in declared)
        problems: list[str] = []
        if missing:
            problems.append("Chưa điền: " + ", ".join(f"«{label}»" for label in missing) + ".")
        if unknown:
            problems.append(
                f"Mẫu «{info.name}» không có biến: " + ", ".join(f"«{k}»" for k in unknown) + "."
            )
        return problems

    def _source_problems(self, info: TemplateInfo, language: str) -> list[str]:
        """Syntax errors and names used but not declared in one language file."""
        where = f"Mẫu «{info.name}», bản {language_name(language)}"
        path = f"{info.name}/{language}.j2"
        try:
            source, _filename, _uptodate = self._loader.get_source(self._env, path)
            ast = self._env.parse(source, name=path)
        except TemplateSyntaxError as exc:
            return [f"{where}: lỗi cú pháp ở dòng {exc.lineno} (chi tiết: {exc.message})."]
        except (TemplateNotFound, OSError, UnicodeDecodeError) as exc:
            return [f"{where}: không đọc được tệp ({_short(exc)})."]
        known = {v.name for v in info.variables} | set(BUILTIN_NAMES)
        undeclared = sorted(meta.find_undeclared_variables(ast) - known)
        if undeclared:
            return [
                f"{where}: dùng biến chưa khai báo trong template.yaml: "
                + ", ".join(f"«{n}»" for n in undeclared)
                + "."
            ]
        return []

    def check(self, name: str, variables: Mapping[str, str]) -> None:
        """Raise TemplateError listing every problem with this template and these values; None if usable."""
        info, closings, problems = self._load(name)
        if info is None:
            raise TemplateError(problems)
        problems += self._variable_problems(info, variables)
        values = {k: v for k, v in variables.items() if k in {d.name for d in info.variables}}
        for language in info.languages:
            source_problems = self._source_problems(info, language)
            if source_problems:
                problems += source_problems
                continue
            try:
                self._render_language(
                    info,
                    closings,
                    language,
                    values,
                    hamlet_name=EXAMPLE_HAMLET,
                    hamlet_word=EXAMPLE_HAMLET_WORD,
                    commune_name=EXAMPLE_COMMUNE,
                    code=PLACEHOLDER_CODE,
                    link=EXAMPLE_LINK,
                )
            except TemplateError as exc:
                problems += exc.problems
        if problems:
            raise TemplateError(_unique(problems))

    # ----------------------------------------------------------------- rendering

    def render(
        self,
        name: str,
        variables: Mapping[str, str],
        *,
        hamlet_name: str,
        hamlet_word: str,
        commune_name: str,
        language: str,
        code: str,
        link: str | None = None,
    ) -> str:
        """Render for one hamlet in its language (else vi), ending with the verification and link lines."""
        info, closings, problems = self._load(name)
        if info is None or problems:
            raise TemplateError(problems)
        problems = self._variable_problems(info, variables)
        if problems:
            raise TemplateError(problems)
        lang = (language or "").strip().lower()
        if lang not in info.languages:
            lang = FALLBACK_LANGUAGE
        return self._render_language(
            info,
            closings,
            lang,
            variables,
            hamlet_name=hamlet_name,
            hamlet_word=hamlet_word,
            commune_name=commune_name,
            code=code,
            link=link,
        )

    def _render_language(
        self,
        info: TemplateInfo,
        closings: Mapping[str, _Closing],
        language: str,
        variables: Mapping[str, str],
        *,
        hamlet_name: str,
        hamlet_word: str,
        commune_name: str,
        code: str,
        link: str | None,
    ) -> str:
        where = f"Mẫu «{info.name}», bản {language_name(language)}"
        context: dict[str, str] = {
            v.name: _clean_value(_text(variables.get(v.name))) for v in info.variables
        }
        context["hamlet_name"] = _clean_value(hamlet_name)
        context["hamlet_word"] = _clean_value(hamlet_word)
        context["hamlet_head"] = _clean_value(head_title(hamlet_word))
        context["commune_name"] = _clean_value(commune_name)
        try:
            body = self._env.get_template(f"{info.name}/{language}.j2").render(context)
        except SecurityError:
            raise TemplateError(
                [f"{where}: dùng lệnh không được phép trong mẫu thông báo."]
            ) from None
        except UndefinedError as exc:
            missing = re.match(r"^'([^']+)' is undefined$", exc.message or "")
            if missing:
                raise TemplateError(
                    [f"{where}: dùng biến «{missing.group(1)}» chưa khai báo."]
                ) from None
            raise TemplateError(
                [f"{where}: dùng giá trị không có (chi tiết: {_short(exc)})."]
            ) from None
        except TemplateSyntaxError as exc:
            raise TemplateError(
                [f"{where}: lỗi cú pháp ở dòng {exc.lineno} (chi tiết: {exc.message})."]
            ) from None
        except TemplateNotFound:
            raise TemplateError([f"{where}: không tìm thấy tệp {language}.j2."]) from None
        except (JinjaTemplateError, ArithmeticError, TypeError, ValueError, LookupError) as exc:
            raise TemplateError(
                [f"{where}: không tạo được nội dung (chi tiết: {_short(exc)})."]
            ) from None

        closing = closings.get(language, _Closing(VERIFICATION_LINE, LINK_LINE))
        lines = [_tidy(body), "", closing.verification.replace("{code}", _clean_value(code))]
        if link:
            lines.append(closing.link.replace("{link}", _clean_value(link)))
        # A template's own text should never mention either, nor a "[" in the template followed by a value.
        text = escape_mentions(_tidy("\n".join(lines)))
        length = text_length(text)
        if length > MAX_TEXT:
            raise TemplateError(
                [
                    f"{where}: thông báo dài {_number(length)} ký tự, vượt giới hạn "
                    f"{_number(MAX_TEXT)} ký tự của một tin Zalo. "
                    f"Xin rút gọn nội dung bớt khoảng {_number(length - MAX_TEXT)} ký tự."
                ]
            )
        return text

    def preview(
        self,
        name: str,
        variables: Mapping[str, str],
        hamlets: Sequence[tuple[str, str]],
        *,
        hamlet_word: str,
        commune_name: str,
    ) -> dict[str, str]:
        """Render for each (hamlet name, language) pair with the placeholder code; hamlet name -> text."""
        texts: dict[str, str] = {}
        problems: list[str] = []
        for hamlet_name, language in hamlets:
            try:
                texts[hamlet_name] = self.render(
                    name,
                    variables,
                    hamlet_name=hamlet_name,
                    hamlet_word=hamlet_word,
                    commune_name=commune_name,
                    language=language,
                    code=PLACEHOLDER_CODE,
                )
            except TemplateError as exc:
                problems += exc.problems
        if problems:
            raise TemplateError(_unique(problems))
        return texts


def _unique(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _number(n: int) -> str:
    """An integer written the Vietnamese way: 2.000, 1.500.000."""
    return f"{n:,}".replace(",", ".")


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:199] + "…"
