"""Whether a resident is asking for a person, in the everyday words residents use.

"e muon gap can bo xa", "cho tôi gặp người thật", "có ai trực không": these hand the conversation
over before the FAQ is consulted, because the FAQ holds entries *about* staff ("cán bộ nào phụ
trách hộ nghèo") that such requests would otherwise be answered with. Questions that only mention
staff ("liên hệ cán bộ nào để vay vốn", "gặp trưởng ấp ở đâu") stay with the FAQ.
"""

from __future__ import annotations

import re

from bot.text import fold

# Short and regional forms, folded, written out as the patterns below spell them.
_WORDS = {
    "cb": "can bo",
    "cbo": "can bo",
    "ng": "nguoi",
    "nv": "nhan vien",
    "ad": "admin",
    "add": "admin",
    "ko": "khong",
    "k": "khong",
    "kh": "khong",
    "kg": "khong",
    "hok": "khong",
    "hong": "khong",
    "hem": "khong",
    "khum": "khong",
    "mun": "muon",
    "e": "em",
    "t": "toi",
    "tui": "toi",
    "tao": "toi",
    "mik": "minh",
    "mk": "minh",
    "dc": "duoc",
    "ib": "nhan tin",
    "inbox": "nhan tin",
    "chat": "nhan tin",
    "dum": "giup",
    "gium": "giup",
    "thiet": "that",
}
# Particles that open or close a message without changing it ("alo", "dạ", "ạ", "với"). Not
# "nha", "the", "ta", "ngay": folded, they are also nhà, thẻ, ta, ngày ("gặp người nhà").
_OPENERS = frozenset({"alo", "da", "oi", "xin chao"})
_CLOSERS = frozenset(
    {"a", "ah", "ak", "oi", "vay", "v", "z", "ha", "nhi", "nhe", "nhen", "di", "voi", "vs"}
    | {"nghen", "hen", "ne", "giup", "coi", "luon", "nhanh"}
)

# Who a resident asks for.
_PERSON = (
    r"(?:(?:co|chu|bac|anh|chi|ong|ba|em) )?"
    r"(?:can bo|nguoi that|nguoi truc|nguoi phu trach|nguoi tra loi|nguoi ho tro|nhan vien"
    # "người" alone only at the end or for the commune: "gặp người của xã", not "gặp người bán bảo hiểm"
    r"|nguoi(?= (?:xa|o xa|cua xa|ubnd|khong phai)\b|$)"
    r"|truong (?:ap|thon|ban|khom|xom|to)|to truong|admin|tong dai vien|tu van vien"
    r"|chu tich|pho chu tich|ubnd|uy ban|ai do|ban quan tri|bo phan ho tro|to cong nghe so)"
)
# How they ask to meet or talk to that person.
_MEET = (
    r"(?:gap(?: truc tiep| mat)?|noi chuyen(?: truc tiep)?|tro chuyen|trao doi(?: truc tiep)?"
    r"|lien he(?: truc tiep)?|lien lac|ket noi|nhan tin|hoi truc tiep|goi(?: dien)?"
    r"|chuyen(?: may)?(?: cho| sang| qua| toi)|noi voi)"
    r"(?: (?:giup|cho) (?:toi|em|minh|chau|con))?(?: voi| cho| giup)?"
)
# The request's opening: "cho tôi", "em muốn", "xin", "nhờ", "có thể".
_WANT = (
    r"(?:muon|can|xin|nho|lam on|duoc|co the|cho(?: (?:toi|em|minh|chau|con|bac|co|chu|ba|ong))?)"
)

_REQUESTS = (
    # "cho tôi gặp người thật", "em muốn gặp cán bộ xã", "xin nói chuyện với trưởng ấp"
    re.compile(rf"\b{_WANT} {_MEET} (?:mot )?{_PERSON}\b"),
    # "gặp cán bộ", "gap nguoi that", "liên hệ trưởng ấp": the whole message is the request
    re.compile(rf"^(?:(?:toi|em|minh|chau|con) )?{_MEET} (?:mot )?{_PERSON}(?: \w+){{0,3}}$"),
    re.compile(r"\bnguoi that\b"),
    # "cán bộ", "cán bộ đâu rồi", "admin đâu", said alone
    re.compile(r"^(?:can bo|nhan vien|nguoi truc)(?: xa)?(?: dau(?: roi| het roi)?)?$"),
    re.compile(r"^admin dau(?: roi| het roi)?$"),
    # "có ai trực không", "co ai o do ko", "có cán bộ nào trực không", "ai đang trực vậy"
    re.compile(
        r"\bco (?:ai|can bo|nguoi|nhan vien|admin)(?: nao)?(?: (?:dang|con|that))*"
        r" (?:truc|tra loi|nghe|rep|online)\b"
    ),
    # "có ai ở đó không", "co ai o day ko": only as the whole end of the message, not "có ai ở đây
    # biết cách đổi thẻ không"
    re.compile(r"\bco (?:ai|nguoi|can bo)(?: dang)? (?:o do|o day|day|tren do)(?: khong)?$"),
    re.compile(r"\bco (?:ai|nguoi|ai do) (?:(?:o )?(?:do|day) )?khong$"),
    re.compile(r"\bai (?:dang )?truc\b"),
    # "gọi lại cho tôi", "nhờ cán bộ gọi cho em", "liên hệ lại giúp tôi"
    # only as the request itself, not "ngân hàng gọi lại cho tôi chưa"
    re.compile(
        r"(?:^|\b(?:nho|xin|lam on|can bo|nhan vien|cho) (?:(?:can bo|nhan vien) )?)"
        r"(?:goi|lien he|nhan tin|nhan) (?:dien )?lai (?:cho |voi )?(?:toi|em|minh|chau|con)\b"
    ),
    # "không muốn nói chuyện với máy", "máy trả lời sai"
    re.compile(
        r"\b(?:khong muon|khong thich|chan|ghet) (?:noi chuyen voi |nhan tin voi )?(?:may|bot|robot)\b"
    ),
    re.compile(r"\b(?:may|bot|robot) (?:tra loi )?(?:sai|khong dung|khong hieu|linh tinh)\b"),
)

# Questions *about* staff, another office, or whether something is needed: where, when, which
# one, their number, "có cần … không". The FAQ answers these, whatever else the message says.
_ABOUT = re.compile(
    r"\b(?:o dau|cho nao|dia chi|den dau|toi dau|di dau|gio nao|luc nao|khi nao|may gio|ngay nao"
    r"|buoi nao|thu may|thu \d|thu bay|chu nhat|cuoi tuan|so dien thoai|dien thoai so|so dt"
    r"|so bao nhieu|la ai|ten gi|can bo nao(?! (?:dang )?truc)|nguoi nao|ai phu trach|phong nao"
    r"|gio lam|lam viec|co can(?! bo)|co phai|can phai|co bat buoc|lua dao|gia mao|otp|mat khau"
    r"|tram y te|benh vien|cong an|nha van hoa|ngan hang|buu dien|truong hoc|tong dai)\b"
)
# Questions about a procedure: they veto all but a plain request ("tôi muốn gặp cán bộ để nộp hồ
# sơ" asks for a person; "gặp cán bộ thì làm thế nào" asks how).
_HOW = re.compile(r"\b(?:thu tuc|ho so|giay to|nhu the nao|the nao|lam sao|ra sao|lam gi)\b")


def _normalised(text: str) -> str:
    """Folded text with short forms written out and opening and closing particles dropped."""
    words = " ".join(_WORDS.get(word, word) for word in fold(text).split()).split()
    while words and words[0] in _OPENERS:
        words.pop(0)
    while words and words[-1] in _CLOSERS:
        words.pop()
    return " ".join(words)


def asks_for_a_person(text: str) -> bool:
    """Whether the message asks to be put through to a person (a helper, an official, a head)."""
    words = _normalised(text)
    if not words:
        return False
    if _REQUESTS[2].search(words):  # "người thật": nobody asks the FAQ about that
        return True
    if _ABOUT.search(words):
        return False
    if _HOW.search(words):
        return bool(_REQUESTS[0].search(words)) and not re.search(
            r"\b(?:thi|de) (?:lam|the)", words
        )
    return any(pattern.search(words) for pattern in _REQUESTS)
