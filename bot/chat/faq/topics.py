"""The FAQ's fixed topics (the `topic` of each entry) and how officials name them."""

from __future__ import annotations

TOPIC_NAMES = {
    "chuan-ngheo": "Chuẩn nghèo",
    "ra-soat": "Rà soát hộ nghèo",
    "vay-von": "Vay vốn",
    "bhyt": "Bảo hiểm y tế",
    "giao-duc": "Học hành",
    "nha-o": "Nhà ở",
    "dien": "Điện",
    "viec-lam": "Việc làm",
    "nong-nghiep": "Nông nghiệp",
    "chuyen-doi-so": "Chuyển đổi số",
    "an-toan-mang": "An toàn trên mạng",
    "lien-he": "Liên hệ",
    "chuong-trinh": "Chương trình giảm nghèo",
}


def topic_name(topic: str) -> str:
    """The Vietnamese name of a topic; a commune's own topic shows as it was written."""
    return TOPIC_NAMES.get(topic, topic)
