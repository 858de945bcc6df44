"""Vietnamese text normalisation for matching: cleaning, diacritic folding, teen code, regional words.

Every message goes through `analyze`, which returns two aligned views of the same tokens: the
folded one (ascii, no diacritics, what the index always matches on) and the accented one (what
the resident typed, after the same expansions), used only when the resident typed diacritics so
that "vậy" does not look like "vay" and "nhà" does not look like the particle "nha".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from bot.text import clean, fold_word, has_marks, words_of

# Short forms residents type. Keys are the typed token (lowercase, as typed); values are the
# accented canonical phrase. Keys without diacritics also match a token typed without them.
# fmt: off
ABBREVIATIONS: dict[str, str] = {
    # negation and yes/no
    "ko": "không", "k": "không", "kg": "không", "hok": "không", "hong": "không", "hông": "không",
    "hổng": "không", "khum": "không", "hem": "không", "kh": "không", "khg": "không", "kô": "không",
    "hk": "không",
    # verbs and function words
    "dc": "được", "đc": "được", "duoc": "được", "dz": "vậy",
    "bik": "biết", "bit": "biết", "bjt": "biết", "bít": "biết",
    "j": "gì", "ji": "gì", "gi": "gì", "z": "vậy", "v": "vậy", "zậy": "vậy", "dzậy": "vậy",
    "r": "rồi", "rùi": "rồi", "ròi": "rồi", "vs": "với", "cx": "cũng", "cg": "cũng",
    "ntn": "như thế nào", "lm": "làm", "ns": "nói", "bn": "bao nhiêu", "bnh": "bao nhiêu",
    "nhiu": "nhiêu", "ng": "người", "nguoi": "người", "mn": "mọi người", "mng": "mọi người",
    "trc": "trước", "ntn?": "như thế nào", "thui": "thôi", "wa": "qua", "qa": "qua",
    "cj": "chị", "ah": "anh", "a": "anh", "e": "em", "t": "tôi", "mik": "mình", "mh": "mình",
    "mjk": "mình", "mk": "mình", "tớ": "tôi", "ad": "admin", "add": "admin",
    "ck": "chồng", "vk": "vợ", "bme": "bố mẹ", "bm": "bố mẹ",
    # domain abbreviations
    "bh": "bảo hiểm", "bhyt": "bảo hiểm y tế", "bhxh": "bảo hiểm xã hội", "bhtn": "bảo hiểm thất nghiệp",
    "nhcsxh": "ngân hàng chính sách xã hội", "nhcs": "ngân hàng chính sách", "nhcstx": "ngân hàng chính sách",
    "ubnd": "ủy ban nhân dân", "ub": "ủy ban", "hđnd": "hội đồng nhân dân",
    "xkld": "xuất khẩu lao động", "xklđ": "xuất khẩu lao động",
    "cccd": "căn cước công dân", "cmnd": "chứng minh nhân dân", "cmt": "chứng minh nhân dân",
    "gplx": "giấy phép lái xe", "sđt": "số điện thoại", "sdt": "số điện thoại", "đt": "điện thoại",
    "dt": "điện thoại", "ds": "danh sách", "dsach": "danh sách", "sv": "sinh viên",
    "hs": "học sinh", "hssv": "học sinh sinh viên", "đh": "đại học", "dh": "đại học",
    "cđ": "cao đẳng", "hc": "học", "tr": "triệu", "củ": "triệu",
    "mtqg": "mục tiêu quốc gia", "ctmtqg": "chương trình mục tiêu quốc gia", "ct": "chương trình",
    "tk": "tài khoản", "stk": "số tài khoản", "pass": "mật khẩu", "mậtkhẩu": "mật khẩu",
    "tthc": "thủ tục hành chính", "dvc": "dịch vụ công", "ctv": "cộng tác viên",
    "bv": "bệnh viện", "tyt": "trạm y tế", "okela": "ok", "oke": "ok", "okie": "ok",
    "ms": "mới", "mún": "muốn", "mun": "muốn", "hỗ": "hỗ", "hotro": "hỗ trợ", "ho-tro": "hỗ trợ",
    "đk": "đăng ký", "dk": "đăng ký", "đky": "đăng ký", "dky": "đăng ký", "ik": "đi", "lun": "luôn",
    "nhìu": "nhiều", "wá": "quá", "cty": "công ty", "cb": "cán bộ", "xh": "xã hội", "ktra": "kiểm tra",
    "nđ": "nghị định", "qđ": "quyết định", "tgian": "thời gian", "nv": "nhân viên", "hso": "hồ sơ",
    "hsơ": "hồ sơ", "ht": "hỗ trợ", "htro": "hỗ trợ", "lsuat": "lãi suất", "free": "miễn phí",
    "thik": "thích", "ib": "nhắn tin", "inbox": "nhắn tin", "ok": "ok", "app": "ứng dụng",
}

# Southern / Northern / colloquial words mapped to one canonical word, so both sides meet.
REGIONAL: dict[str, str] = {
    "vô": "vào", "má": "mẹ", "ba": "bố", "tía": "bố", "tui": "tôi", "tao": "tôi", "heo": "lợn",
    "bông": "hoa", "mần": "làm", "thiệt": "thật", "xài": "dùng", "coi": "xem", "lãnh": "nhận",
    "bịnh": "bệnh", "nhiêu": "bao nhiêu", "hổm": "hôm", "dzô": "vào", "zô": "vào", "hông": "không",
    "mướn": "thuê", "kiếm": "tìm", "rầy": "này", "nầy": "này", "chi": "gì", "răng": "sao",
    "mô": "đâu", "tê": "kia", "nớ": "đó", "giề": "gì", "chừ": "giờ", "bây": "giờ",
    "trạm xá": "trạm y tế", "con nít": "trẻ em", "nhỏ": "nhỏ", "ổng": "ông ấy", "bả": "bà ấy",
    "thơ": "thư", "nhứt": "nhất", "ruộng": "ruộng", "giùm": "giúp", "dùm": "giúp", "hổng biết": "không biết",
    "mượn vốn": "vay vốn", "mượn tiền": "vay tiền", "cho mượn": "cho vay", "mượn": "vay",
    "lãi": "lãi suất", "lãi suất": "lãi suất", "lãi xuất": "lãi suất", "bảo hiểm y tế": "bảo hiểm y tế",
    "cái": "", "mấy": "mấy", "phụ": "hỗ trợ", "bù": "hỗ trợ", "trợ giúp": "hỗ trợ",
    "tiền học": "học phí", "nhà trẻ": "mầm non", "lớp chồi": "mẫu giáo", "lớp lá": "mẫu giáo",
    "lớp mầm": "mẫu giáo", "trường mẫu giáo": "mẫu giáo", "xóm": "thôn", "ấp": "thôn", "bản": "thôn",
    "tổ dân phố": "thôn", "khóm": "thôn", "bằng lái": "giấy phép lái xe", "căn cước": "căn cước",
    "cầu tiêu": "nhà tiêu", "bồn nước": "bể nước", "bao nhiêu": "bao nhiêu", "hỏi han": "hỏi",
    # Central
    "rứa": "vậy", "ni": "này", "nì": "này", "tau": "tôi", "hắn": "nó", "mạ": "mẹ", "bọ": "bố",
    "mần răng": "làm sao", "làm răng": "làm sao", "răng rứa": "sao vậy", "chi rứa": "gì vậy",
    "ở mô": "ở đâu", "khi mô": "khi nào", "năm ni": "năm nay", "bữa ni": "hôm nay",
    "dị": "vậy", "eng": "anh",
    # Southern
    "dìa": "về", "tụi": "chúng", "cất nhà": "xây nhà", "cất lại": "xây lại", "xíu": "chút",
    "trái": "quả", "xe hơi": "ô tô", "giựt": "giật", "hổm rày": "mấy hôm nay",
    # Becoming a listed household, said the everyday way
    "lên hộ nghèo": "được công nhận hộ nghèo", "lên được hộ nghèo": "được công nhận hộ nghèo",
    "lên cận nghèo": "được công nhận hộ cận nghèo", "lên được cận nghèo": "được công nhận hộ cận nghèo",
    "lên hộ cận nghèo": "được công nhận hộ cận nghèo",
    # Town and labour-export words
    "phố": "thành phố", "thành phố": "thành phố", "nhà phố": "nhà thành phố", "thị xã": "thành phố",
    "thị trấn": "thành phố",
    "đơn hàng": "xuất khẩu lao động", "thực tập sinh": "xuất khẩu lao động",
    "tu nghiệp sinh": "xuất khẩu lao động", "đi nhật": "đi nhật xuất khẩu lao động",
    "đi hàn": "đi hàn xuất khẩu lao động", "đi đài loan": "đi đài loan xuất khẩu lao động",
    # Everyday words for the corpus's terms
    "người già": "người cao tuổi", "bớt": "giảm", "cơm trưa": "ăn trưa", "tiền cơm": "tiền ăn",
    "số điện thoại": "số điện thoại", "số điện": "kwh", "ký điện": "kwh", "kí điện": "kwh",
    "chi trả": "chi trả", "chi phí": "chi phí", "chi tiêu": "chi tiêu", "phụ nữ": "phụ nữ",
    "phụ huynh": "phụ huynh", "phụ cấp": "phụ cấp", "phụ trách": "phụ trách", "phụ thuộc": "phụ thuộc",
    "văn bản": "văn bản", "cơ bản": "cơ bản", "chi hội": "chi hội", "ba năm": "ba năm",
}
# fmt: on


# Folded spellings that stand for too many accented words to rewrite when typed without accents
# (ba = ba / bà / bá, chi = chi / chị / chì ...); with accents typed, the accented key still applies.
# fmt: off
_AMBIGUOUS_PLAIN: frozenset[tuple[str, ...]] = frozenset({
    ("ba",), ("ma",), ("chi",), ("mo",), ("te",), ("coi",), ("lai",), ("bu",), ("phu",), ("cai",),
    ("bong",), ("kiem",), ("muon",), ("may",), ("rang",), ("nho",), ("tao",), ("o",), ("ban",),
    ("khom",), ("nhieu",), ("tho",), ("cho", "muon"), ("lanh",), ("a",), ("e",), ("t",), ("v",),
    ("k",), ("r",), ("no",), ("hem",), ("bay",), ("gi",), ("tr",), ("cu",), ("hong",), ("binh",),
    ("thiet",), ("chu",), ("ong",), ("ap",), ("nay",), ("tau",), ("han",), ("ma",), ("bo",),
    ("di",), ("dia",), ("trai",), ("bot",), ("xiu",), ("eng",), ("ib",), ("ht",), ("nv",),
    ("cb",), ("xh",), ("pho",), ("thi", "xa"), ("thi", "tran"),
})
# fmt: on


def _build_tables() -> tuple[
    dict[tuple[str, ...], tuple[str, ...]], dict[tuple[str, ...], tuple[str, ...]]
]:
    """Phrase tables: one for accented typing (exact keys), one for unaccented typing (folded keys)."""
    exact: dict[tuple[str, ...], tuple[str, ...]] = {}
    plain: dict[tuple[str, ...], tuple[str, ...]] = {}
    for table in (ABBREVIATIONS, REGIONAL):
        for key, value in table.items():
            key_t = tuple(clean(key).split())
            val_t = tuple(clean(value).split())
            if not key_t or (len(key_t) == 1 and key_t == val_t):
                continue
            exact.setdefault(key_t, val_t)
            folded_key = tuple(fold_word(w) for w in key_t)
            if folded_key not in _AMBIGUOUS_PLAIN:
                plain.setdefault(folded_key, val_t)
    # Single letters and two-letter codes are safe in unaccented text only where listed above.
    for key in ("k", "j", "z", "v", "r", "e", "t", "a", "tr", "gi", "hong"):
        val = exact.get((key,))
        if val is not None:
            plain[(key,)] = val
    return exact, plain


_EXACT, _PLAIN = _build_tables()


def _phrase_sizes(table: dict[tuple[str, ...], tuple[str, ...]]) -> dict[str, tuple[int, ...]]:
    """For each first word of a table's phrases, the phrase lengths to try, longest first."""
    sizes: dict[str, set[int]] = {}
    for key in table:
        sizes.setdefault(key[0], set()).add(len(key))
    return {w: tuple(sorted(n, reverse=True)) for w, n in sizes.items()}


# First words of every rewritable phrase: most words are none, and skip the phrase lookups.
_SIZES_EXACT = _phrase_sizes(_EXACT)
_SIZES_PLAIN = _phrase_sizes(_PLAIN)
_FIRST_WORDS: frozenset[str] = frozenset(_SIZES_EXACT) | frozenset(_SIZES_PLAIN)

# Politeness, pronouns and sentence closers typed with accents: never a reason to pick an entry.
# fmt: off
_DROP_MARKED: frozenset[str] = frozenset({
    "ạ", "à", "ả", "hả", "hở", "nhỉ", "nhé", "nhá", "nha", "nghen", "ơi", "dạ", "hen", "nè", "vậy",
    "thế", "chứ", "đấy", "ha", "hà", "hén", "nhen", "admin", "alo", "ok", "vâng", "chào",
    "cảm", "ơn", "cám", "chút", "tí", "em", "anh", "chị", "cô", "chú", "bác", "cháu", "mình", "tôi",
    "mọi",
})
# fmt: on
# The same typed without accents, where the folded spelling has no other common meaning.
# fmt: off
_DROP_PLAIN: frozenset[str] = frozenset({
    "a", "oi", "nhe", "nhi", "ne", "nghen", "hen", "ak", "admin", "alo", "ok", "chao", "cam",
    "on", "em", "anh", "minh", "ty", "chut", "moi", "vang",
})
# fmt: on
# Unaccented words that are particles only when they close the message (vay = vậy, nha = nhá).
_CLOSERS_PLAIN: frozenset[str] = frozenset(
    {"vay", "nha", "ha", "ta", "the", "day", "do", "chu", "a"}
)
# fmt: off
_QUESTION_WORDS: frozenset[str] = frozenset({
    "sao", "gi", "nao", "dau", "ai", "khong", "nhieu", "roi", "chua", "may", "the", "vay", "ha",
    "luon", "nua", "ak", "a", "chi", "nhi", "nha", "chu", "ta", "thoi", "day", "do",
})
# fmt: on


_ASKING = frozenset({"ai", "gi", "sao", "dau", "nao", "nhieu", "may", "khong"})
_LOAN_VERBS = frozenset({"cho", "duoc", "muon", "di", "can", "xin", "de", "dang", "ky"})


@dataclass(frozen=True)
class Analysis:
    """A message as the index sees it: aligned folded and accented tokens."""

    folded: tuple[str, ...]
    accented: tuple[str, ...]
    marked: bool  # the resident typed diacritics, so the accented view is meaningful


def _expand(tokens: list[str], marked: bool) -> list[str]:
    """Rewrite abbreviations and regional words, longest phrase first."""
    table, sizes = (_EXACT, _SIZES_EXACT) if marked else (_PLAIN, _SIZES_PLAIN)
    starts = [i for i, t in enumerate(tokens) if t in sizes]
    if not starts:
        return tokens
    out: list[str] = []
    n = len(tokens)
    done = 0  # tokens before this index are in out already
    for i in starts:
        if i < done:
            continue  # inside a phrase rewritten already
        out.extend(tokens[done:i])
        done = i + 1
        for size in sizes[tokens[i]]:
            if i + size > n:
                continue
            repl = table.get(tuple(tokens[i : i + size]))
            if repl is not None:
                out.extend(repl)
                done = i + size
                break
        else:
            out.append(tokens[i])
    out.extend(tokens[done:])
    return out


def _drop_particles(tokens: list[str], marked: bool) -> list[str]:
    """Remove politeness words and sentence-closing particles."""
    if marked:
        return [t for t in tokens if t not in _DROP_MARKED]
    # Expansions are accented ("z" became "vậy"), so accented particles can go here too.
    kept = [
        t for t in tokens if t not in _DROP_PLAIN and not (t in _DROP_MARKED and not t.isascii())
    ]
    # Peel closers off the end: "... the nao vay" ends in the particle vậy, not in a loan.
    while len(kept) >= 2 and kept[-1] in _CLOSERS_PLAIN:
        if (
            kept[-1] == "vay"
            and fold_word(kept[-2]) not in _QUESTION_WORDS
            and not _vay_is_particle(kept)
        ):
            break
        kept.pop()
    return kept


def _vay_is_particle(kept: list[str]) -> bool:
    """Whether a closing unaccented "vay" reads as vậy: the message asked already, no verb wants a loan."""
    asked = any(fold_word(t) in _ASKING for t in kept[:-1])
    return asked and fold_word(kept[-2]) not in _LOAN_VERBS


def tokens_of(text: str, marked: bool | None = None) -> tuple[str, ...]:
    """Expanded tokens of a corpus text, accents kept (corpus texts are always typed with accents)."""
    words = words_of(text)
    if marked is None:
        marked = any(has_marks(w) for w in words)
    return tuple(_expand(words, marked))


@lru_cache(maxsize=4096)
def analyze(text: str) -> Analysis:
    """Clean, expand and fold a message into the tokens the index matches on."""
    words = words_of(text)
    marked = any(has_marks(w) for w in words)
    tokens = _drop_particles(_expand(words, marked), marked)
    pairs = [(t, fold_word(t)) for t in tokens]
    pairs = [(t, f) for t, f in pairs if f]
    return Analysis(
        folded=tuple(f for _, f in pairs),
        accented=tuple(t for t, _ in pairs),
        marked=marked,
    )
