"""Which messages hand a resident over to a person, written the ways residents write them."""

from __future__ import annotations

import pytest

from bot.chat.person_asks import asks_for_a_person

# Requests for a person: North, Centre and South, with and without diacritics, teen code.
ASKS = (
    "e muon gap can bo xa",
    "cho tôi gặp người thật",
    "có ai trực không",
    "Cho em gặp cán bộ xã với ạ",
    "tôi muốn nói chuyện với cán bộ",
    "toi muon noi chuyen voi can bo",
    "gặp người thật",
    "xin gặp trưởng ấp",
    "cho minh gap truong thon",
    "alo có ai trực ko",
    "co ai o do khong",
    "có ai ở đó không ạ",
    "ad ơi cho mình nói chuyện với người thật",
    "em cần gặp cán bộ xã gấp",
    "Cháu muốn hỏi trực tiếp cán bộ",
    "nhờ cán bộ gọi lại cho tôi",
    "chuyển cho người thật giúp tôi",
    "tôi không muốn nói chuyện với máy",
    "có cán bộ nào trực không",
    "ai đang trực vậy",
    "bac muon gap chu tich xa",
    "cho tui gặp cán bộ coi",
    "CHO TÔI GẶP CÁN BỘ",
    "muốn gặp nhân viên",
    "gap cb xa",
    "cho e gap cb",
    "có người trực không",
    "cán bộ đâu rồi",
    "kết nối giúp tôi với cán bộ xã",
    "tôi cần liên hệ trực tiếp với cán bộ",
    "em mun noi chuyen voi ng that",
    "Dạ cho con gặp cô cán bộ phụ trách hộ nghèo với",
    "tôi muốn gặp trưởng thôn để hỏi chuyện vay vốn",
    "có ai rep không",
    "co ai tra loi khong vay",
    "mình muốn nhắn tin với cán bộ xã",
    "có ai đang online không",
    "bot trả lời sai rồi, cho gặp người",
    "alo co ai ko",
    "gặp cán bộ",
    "noi chuyen voi nguoi that",
    "Chị ơi cho em gặp trưởng ấp Tân Lập",
    "mình cần trao đổi trực tiếp với cán bộ xã",
    "có thể cho tôi nói chuyện với nhân viên không",
    "cho hỏi có ai ở đây không",
    "nhắn lại cho em với",
    "tôi muốn gặp ông chủ tịch xã",
    "can bo oi",
    "làm ơn chuyển máy cho cán bộ",
    "xin được gặp cán bộ tổ công nghệ số",
    "Cho tôi nói chuyện với người, không phải máy",
    "em muon hoi truc tiep truong ap",
    "có cán bộ nào đang trực không ạ",
    "ơi có ai đó không",
    "ai trực đó cho em hỏi chút",
    "Tôi cần gặp cán bộ xã để trình bày hoàn cảnh gia đình",
    "con muốn gặp chú trưởng thôn",
    "xin cho gặp cán bộ phụ trách",
    "alo alo có ai không vậy",
    "có ai đây không",
    "gặp trưởng bản",
    "cho em nhắn tin với cán bộ xã được không",
    "ba tôi muốn gặp cán bộ xã",
    "cho gap can bo di",
    "toi can noi chuyen voi nguoi that",
    "chuyển qua cán bộ giúp mình",
    "mình muốn gặp người phụ trách",
    "gặp nhân viên tư vấn",
    "hông có ai trực hả",
    "có người thật không vậy",
)
# Questions that mention staff or people but ask the FAQ something: where, when, which, how.
QUESTIONS = (
    "cán bộ nào phụ trách hộ nghèo ở xã",
    "liên hệ cán bộ nào để vay vốn",
    "gặp trưởng ấp ở đâu",
    "số điện thoại cán bộ xã là bao nhiêu",
    "ubnd xã làm việc mấy giờ",
    "có ai được hỗ trợ tiền điện không",
    "có ai biết thủ tục làm thẻ bhyt không",
    "hộ nghèo được hỗ trợ gì",
    "cán bộ có đến nhà rà soát không",
    "trưởng thôn có quyền xoá tên hộ nghèo không",
    "làm sao gặp bác sĩ miễn phí",
    "em muốn gặp bác sĩ",
    "người già có được bhyt không",
    "vay vốn người nghèo lãi bao nhiêu",
    "người thân của tôi bị mất thẻ bhyt",
    "cán bộ xã hỏi mã OTP có phải lừa đảo không",
    "tôi được gọi điện báo trúng thưởng",
    "xin hỏi chương trình xoá nhà tạm đăng ký ở đâu",
    "xin hỏi có được vay vốn không",
    "cần gặp ai để đăng ký hộ nghèo",
    "muốn liên hệ người thân ở nước ngoài",
    "có người gọi tự xưng cán bộ xã đòi chuyển tiền",
    "ubnd xa lam viec thu 7 ko",
    "có ai trực ở xã vào thứ 7 không",
    "cho em hỏi vay vốn sinh viên",
    "em muốn vay vốn làm ăn",
    "chuyển tiền cho người nhà có mất phí không",
    "nguoi dan toc thieu so co duoc ho tro gi",
    "cán bộ xã ơi cho em hỏi học phí",
    "nhà em có người khuyết tật được hỗ trợ không",
    "trưởng ấp bảo em làm đơn xin vào hộ nghèo",
    "gọi cho tổng đài bhxh số nào",
    "cho mình hỏi cách cài VNeID",
    "cán bộ xã bảo tôi nộp hồ sơ ở đâu",
    "xin chào cán bộ, cho hỏi chuẩn hộ nghèo",
    "người ở ấp tôi có được hỗ trợ không",
    "có ai ở ấp được vay vốn chưa",
    "gặp khó khăn đột xuất thì có được xét hộ nghèo không",
    "em gặp sự cố với VNeID",
    "mẹ tôi muốn làm thẻ bảo hiểm y tế",
    "tôi muốn đăng ký học nghề",
    "trưởng ấp có được thu tiền không",
    "nói chuyện điện thoại bị lừa mất tiền phải làm sao",
)


@pytest.mark.parametrize("text", ASKS)
def test_a_request_for_a_person_hands_over(text: str) -> None:
    assert asks_for_a_person(text)


@pytest.mark.parametrize("text", QUESTIONS)
def test_a_question_about_staff_or_people_stays_with_the_faq(text: str) -> None:
    assert not asks_for_a_person(text)


def test_short_forms_are_read_as_the_words_they_stand_for() -> None:
    # "cb" is cán bộ, "ng" người, "e" em, "ko" không: residents type them more than the words.
    assert asks_for_a_person("cho e gap cb") and asks_for_a_person("co ai o do ko")
    assert not asks_for_a_person("cho e hoi cb")
