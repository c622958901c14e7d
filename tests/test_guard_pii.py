"""PII detection and redaction on real Thai / Japanese sentences.

Valid IDs and card numbers are generated here with check digits computed by an independent
implementation of each published algorithm (never hard-coded real numbers).
"""
from __future__ import annotations

import random

import pytest

from thaija.guard.pii import (PII_TYPES, Finding, GuardError, RedactConfig, find_pii, fold,
                              is_my_number, is_payment_card, is_thai_national_id, luhn_valid, redact)

RNG = random.Random(20240607)
FW = str.maketrans("0123456789-", "０１２３４５６７８９－")
TH_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")


# ---- independent reference algorithms -------------------------------------------------------
def thai_check(first12: str) -> str:
    s = sum(int(first12[i]) * (13 - i) for i in range(12))
    return str((11 - s % 11) % 10)


def thai_id(valid: bool = True) -> str:
    body = str(RNG.randint(0, 8)) + "".join(str(RNG.randint(0, 9)) for _ in range(11))
    c = thai_check(body)
    return body + (c if valid else str((int(c) + RNG.randint(1, 9)) % 10))


def my_number_check(first11: str) -> str:
    p = [int(x) for x in first11[::-1]]  # P1 is the rightmost of the 11 digits
    q = [n + 1 if n <= 6 else n - 5 for n in range(1, 12)]
    r = sum(a * b for a, b in zip(p, q)) % 11
    return "0" if r <= 1 else str(11 - r)


def my_number(valid: bool = True) -> str:
    body = "".join(str(RNG.randint(0, 9)) for _ in range(11))
    c = my_number_check(body)
    return body + (c if valid else str((int(c) + RNG.randint(1, 9)) % 10))


def luhn_complete(body: str) -> str:
    for c in "0123456789":
        digits = [int(x) for x in body + c][::-1]
        total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
        if total % 10 == 0:
            return body + c
    raise AssertionError


def card(prefix: str, length: int, valid: bool = True) -> str:
    body = prefix + "".join(str(RNG.randint(0, 9)) for _ in range(length - len(prefix) - 1))
    num = luhn_complete(body)
    return num if valid else num[:-1] + str((int(num[-1]) + 1) % 10)


def dashed_thai(n: str, sep: str = "-") -> str:
    return sep.join((n[0], n[1:5], n[5:10], n[10:12], n[12]))


def grouped(n: str, sizes: tuple[int, ...], sep: str = " ") -> str:
    out, pos = [], 0
    for s in sizes:
        out.append(n[pos:pos + s])
        pos += s
    return sep.join(out)


def types_of(text: str) -> list[str]:
    return [f.type for f in find_pii(text)]


# ---- checksums -------------------------------------------------------------------------------
def test_reference_examples():
    # The format example of the issue and the well-known My Number sample are valid ...
    assert is_thai_national_id("1234567890121")
    assert is_my_number("123456789018")
    assert luhn_valid("4111111111111111") and is_payment_card("4111111111111111")
    # ... and one digit off is not.
    assert not is_thai_national_id("1234567890122")
    assert not is_my_number("123456789019")
    assert not luhn_valid("4111111111111112")


@pytest.mark.parametrize("i", range(40))
def test_checksums_agree_with_reference(i):
    assert is_thai_national_id(thai_id(True))
    assert not is_thai_national_id(thai_id(False))
    assert is_my_number(my_number(True))
    assert not is_my_number(my_number(False))
    assert luhn_valid(card("4", 16)) and not luhn_valid(card("4", 16, valid=False))


def test_thai_id_first_digit_rule():
    body = "9" + "12345678901"
    assert not is_thai_national_id(body + thai_check(body))  # no person category 9
    body = "0" + "12348912345"  # category 0: stateless persons (2005 survey) hold such IDs
    assert is_thai_national_id(body + thai_check(body))


# ---- Thai national ID ------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["plain", "dash", "space", "fullwidth", "thai_digits"])
def test_thai_id_formats_detected(fmt):
    n = thai_id()
    shown = {"plain": n, "dash": dashed_thai(n), "space": dashed_thai(n, " "),
             "fullwidth": dashed_thai(n).translate(FW), "thai_digits": dashed_thai(n).translate(TH_DIGITS)}[fmt]
    text = f"ผู้ยื่นคำขอ นายสมชาย ใจดี เลขประจำตัวประชาชน {shown} ที่อยู่ตามทะเบียนบ้าน"
    found = find_pii(text)
    assert [f.type for f in found] == ["th_national_id"]
    assert text[found[0].start:found[0].end] == shown
    red, _ = redact(text)
    assert "[TH_NATIONAL_ID]" in red and shown not in red


def test_thai_id_bad_checksum_not_flagged():
    for _ in range(20):
        n = thai_id(valid=False)
        assert "th_national_id" not in types_of(f"เลขบัตร {dashed_thai(n)} ครับ")
        assert "th_national_id" not in types_of(f"เลขบัตร {n} ครับ")


def test_thai_id_inside_longer_number_not_flagged():
    n = thai_id()
    assert types_of(f"เลขอ้างอิง 9{n}5") == []
    assert "th_national_id" not in types_of(f"รหัส {dashed_thai(n)}-7")


# ---- My Number -------------------------------------------------------------------------------
@pytest.mark.parametrize("sep", ["", " ", "-", "－"])
def test_my_number_detected(sep):
    n = my_number()
    shown = sep.join((n[:4], n[4:8], n[8:])) if sep != "－" else "－".join((n[:4], n[4:8], n[8:])).translate(FW)
    text = f"個人番号（マイナンバー）は{shown}です。通知カードを確認してください。"
    found = find_pii(text)
    assert [(f.type, text[f.start:f.end]) for f in found] == [("jp_my_number", shown)]


def test_my_number_bad_check_digit_flagged_only_when_labelled():
    for _ in range(20):
        n = my_number(valid=False)
        assert "jp_my_number" not in types_of(f"番号は{n[:4]} {n[4:8]} {n[8:]}です")
        # its own label announces a person's number: a mistyped one is redacted too (QA Q5)
        assert "jp_my_number" in types_of(f"マイナンバーは{n[:4]} {n[4:8]} {n[8:]}です")


def test_labelled_thai_id_with_bad_check_digit_is_redacted():
    """QA Q5: "เลขประจำตัวประชาชน 1-1037-02345-67-1" (check digit wrong) reached serve replies."""
    from thaija.guard.pii import redact

    assert redact("เลขประจำตัวประชาชน 1-1037-02345-67-1")[0] == "เลขประจำตัวประชาชน [TH_NATIONAL_ID]"
    assert redact("Thai ID: 1103702345671")[0] == "Thai ID: [TH_NATIONAL_ID]"
    assert "th_national_id" not in types_of("เลขที่ 1-1037-02345-67-1")  # no label: checksum decides
    assert types_of("เลขประจำตัวประชาชน 0-0000-00000-00-0") == []  # a placeholder stays
    # labels written with the katakana long-vowel mark match too (the folded view turns ー into -)
    assert redact("マイナンバー 1234 5678 9013")[0] == "マイナンバー [JP_MY_NUMBER]"


def test_my_number_inside_longer_spaced_number_not_flagged():
    n = my_number()
    spaced = f"{n[:4]} {n[4:8]} {n[8:]}"
    assert types_of(f"伝票番号 9876 {spaced}") == []
    assert types_of(f"伝票番号 {spaced} 5") == []
    assert types_of(f"番号：{spaced}、確認済み") == ["jp_my_number"]


# ---- payment cards ---------------------------------------------------------------------------
@pytest.mark.parametrize("prefix,length,sizes", [
    ("4", 16, (4, 4, 4, 4)),        # Visa
    ("53", 16, (4, 4, 4, 4)),       # Mastercard
    ("2221", 16, (4, 4, 4, 4)),     # Mastercard 2-series
    ("3530", 16, (4, 4, 4, 4)),     # JCB
    ("37", 15, (4, 6, 5)),          # American Express
    ("36", 14, (4, 6, 4)),          # Diners Club
    ("62", 19, (4, 4, 4, 4, 3)),    # UnionPay
])
@pytest.mark.parametrize("sep", [" ", "-"])
def test_cards_detected(prefix, length, sizes, sep):
    n = card(prefix, length)
    shown = grouped(n, sizes, sep)
    text = f"ชำระด้วยบัตรเครดิตหมายเลข {shown} เรียบร้อยแล้ว"
    found = find_pii(text)
    assert [(f.type, text[f.start:f.end]) for f in found] == [("payment_card", shown)]


def test_card_plain_and_fullwidth():
    n = card("4", 16)
    assert types_of(f"カード番号{n}で支払い") == ["payment_card"]
    fw = grouped(n, (4, 4, 4, 4), "-").translate(FW)
    assert types_of(f"カード番号：{fw}") == ["payment_card"]


def test_card_luhn_failure_not_flagged():
    for _ in range(10):
        n = card("4", 16, valid=False)
        assert types_of(f"บัตร {grouped(n, (4, 4, 4, 4))} ครับ") == []


def test_unknown_issuer_prefix_not_a_card():
    n = card("9", 16)  # Luhn-valid, but no card network starts with 9
    assert types_of(f"หมายเลขพัสดุ {n}") == []


# ---- phones ----------------------------------------------------------------------------------
@pytest.mark.parametrize("phone", [
    "081-234-5678", "0812345678", "08 1234 5678", "02-123-4567", "0-2123-4567", "(02) 123 4567",
    "053-123-456", "+66 81 234 5678", "+66-2-123-4567", "+66812345678", "๐๘๑-๒๓๔-๕๖๗๘",
])
def test_thai_phones(phone):
    text = f"สอบถามข้อมูลเพิ่มเติมโทร {phone} ในเวลาทำการ"
    found = find_pii(text)
    assert [(f.type, text[f.start:f.end]) for f in found] == [("phone", phone)]


@pytest.mark.parametrize("phone", [
    "03-1234-5678", "06-6123-4567", "045-123-4567", "0466-12-3456", "090-1234-5678", "080 1234 5678",
    "050-1234-5678", "0120-123-456", "0800-123-4567", "03(1234)5678", "+81 3-1234-5678",
    "+81-90-1234-5678", "+81 (0)3-1234-5678", "０９０－１２３４－５６７８", "０３ー１２３４ー５６７８",
])
def test_japanese_phones(phone):
    text = f"お問い合わせは{phone}までお電話ください。"
    found = find_pii(text)
    assert [(f.type, text[f.start:f.end]) for f in found] == [("phone", phone)]


def test_invalid_thai_id_with_phone_shape_is_not_an_id():
    # A 13-digit number failing the checksum is not an ID; it is no phone either (no trunk 0).
    n = thai_id(valid=False)
    assert types_of(f"เลขประจำตัว {n}") == []
    # A tightly joined number is never split into a phone ("0-8123-45678-12-x" is one number).
    bad = "081234567812" + str((int(thai_check("081234567812")) + 1) % 10)
    assert types_of(f"รหัส {dashed_thai(bad)}") == []


# ---- e-mail ----------------------------------------------------------------------------------
@pytest.mark.parametrize("addr", ["somchai@example.co.th", "yamada.taro+news@mail.example.jp",
                                  "ｓｏｍｃｈａｉ＠ｅｘａｍｐｌｅ．ｊｐ"])
def test_emails(addr):
    text = f"ส่งเอกสารมาที่{addr}ภายในวันศุกร์"
    found = find_pii(text)
    assert [(f.type, text[f.start:f.end]) for f in found] == [("email", addr)]


def test_email_wins_over_digits_inside_it():
    assert types_of("連絡先: tel0312345678@example.jp まで") == ["email"]


# ---- no false positives ----------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    "ปีงบประมาณ พ.ศ. 2555 ถึง พ.ศ. 2567 รัฐบาลใช้งบ 3,185,000 ล้านบาท",
    "ราคา ฿1,200 ลดเหลือ 990 บาท ถึงวันที่ 15/01/2567 เวลา 09:00-12:00 น.",
    "この家の価格は12万円ではなく1,200万円です。",
    "2024年4月1日から2025-03-31まで、10:00〜18:00に営業します。",
    "〒100-0001 東京都千代田区千代田1-1",
    "ISBN 978-4-00-310101-8 の本を読んだ。",
    "อุณหภูมิ 0.5 องศา ลดลงจาก 1.2 องศา",
    "รายการ 0 1 2 3 4 5 6 7 8 9",
])
def test_no_false_positives(text):
    assert find_pii(text) == []


def test_real_corpus_lines_have_no_pii(th_lines, ja_lines):
    # NTREX / FLORES news sentences are full of numbers, dates and prices but contain no PII.
    hits = [(line, f.type) for line in th_lines + ja_lines for f in find_pii(line)]
    assert hits == []


# ---- mixed text, offsets, precedence ---------------------------------------------------------
def test_mixed_line_offsets_and_order():
    tid, mn, cc = thai_id(), my_number(), card("4", 16)
    text = (f"ลูกค้า {dashed_thai(tid)} โทร 081-234-5678 / マイナンバー{mn} / "
            f"card {grouped(cc, (4, 4, 4, 4), '-')} / somchai@example.co.th")
    found = find_pii(text)
    assert [f.type for f in found] == ["th_national_id", "phone", "jp_my_number", "payment_card", "email"]
    assert all(f.text == text[f.start:f.end] for f in found)
    assert [f.start for f in found] == sorted(f.start for f in found)
    red, same = redact(text)
    assert same == found
    assert red == (f"ลูกค้า [TH_NATIONAL_ID] โทร [PHONE] / マイナンバー[JP_MY_NUMBER] / "
                   f"card [PAYMENT_CARD] / [EMAIL]")


def test_id_beats_card_when_both_checksums_pass():
    # Find a 13-digit number valid as a Thai ID AND under Luhn with a Visa prefix: the ID wins.
    while True:
        body = "4" + "".join(str(RNG.randint(0, 9)) for _ in range(11))
        n = body + thai_check(body)
        if luhn_valid(n):
            break
    assert types_of(f"เลข {n}") == ["th_national_id"]


def test_card_beats_my_number_inside_it():
    # The first 12 digits of a spaced 16-digit card may be a valid My Number: the card wins.
    while True:
        n = card("4", 16)
        if is_my_number(n[:12]):
            break
    assert types_of(f"カード {grouped(n, (4, 4, 4, 4))} です") == ["payment_card"]


def test_redact_selected_types_and_placeholder():
    text = "โทร 081-234-5678 หรือ mail somchai@example.co.th"
    red, found = redact(text, types="email", placeholder="<{type}>")
    assert red == "โทร 081-234-5678 หรือ mail <email>"
    assert [f.type for f in found] == ["email"]
    assert redact(text, types=["phone"])[0] == "โทร [PHONE] หรือ mail somchai@example.co.th"


def test_bad_config_rejected():
    with pytest.raises(GuardError, match="unknown PII type"):
        redact("x", types="passport")
    with pytest.raises(GuardError, match="placeholder"):
        RedactConfig(placeholder="[{kind}]")
    assert RedactConfig(types=None).types == PII_TYPES


def test_fold_keeps_length_and_offsets():
    s = "０９０－１２３４－５６７８　ｓｏｍ＠ｅｘ．ｊｐ ๐๘๑"
    assert len(fold(s)) == len(s)
    assert fold(s) == "090-1234-5678 som@ex.jp 081"


def test_finding_json_has_no_matched_text():
    f = find_pii("電話は03-1234-5678です")[0]
    assert f == Finding("phone", 3, 15)
    assert f.to_dict() == {"type": "phone", "start": 3, "end": 15}
    assert "1234" not in repr(f)


# ---- issue 12 (finding 9): separators, zero-width characters and context ---------------------
ZW = "\u200b"


def _only(text: str, typ: str, raw: str) -> None:
    """Exactly one finding of ``typ`` covering ``raw`` (offsets index the original text)."""
    found = find_pii(text)
    assert [(f.type, text[f.start:f.end]) for f in found] == [(typ, raw)], text
    red = redact(text)[0]
    assert sum(ch.isdigit() for ch in red) == sum(ch.isdigit() for ch in text.replace(raw, "")), red


def _ean_check(first12: str) -> str:
    s = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first12))
    return str((10 - s % 10) % 10)


@pytest.mark.parametrize("form", [
    lambda n: dashed_thai(n, " "), lambda n: " ".join(n), lambda n: dashed_thai(n, "."),
    lambda n: n[:6] + ZW + n[6:], lambda n: dashed_thai(n)[:6] + ZW + dashed_thai(n)[6:],
    lambda n: ZW.join(n),
])
def test_thai_id_spaced_dotted_zero_width(form):
    n = thai_id()
    while n[0] in "0":  # keep the one-by-one form away from a counted list
        n = thai_id()
    raw = form(n)
    _only(f"ผู้สมัครเลข {raw} ยื่นเอกสารแล้ว", "th_national_id", raw)


@pytest.mark.parametrize("form", [lambda n: " ".join(n), lambda n: grouped(n, (4, 4, 4), "."),
                                  lambda n: grouped(n, (4, 4, 4), "-")[:7] + ZW + grouped(n, (4, 4, 4), "-")[7:]])
def test_my_number_spaced_dotted_zero_width(form):
    n = my_number()
    raw = form(n)
    _only(f"申請者の番号は {raw} です。", "jp_my_number", raw)


@pytest.mark.parametrize("form", [lambda n: " ".join(n), lambda n: grouped(n, (4, 4, 4, 4), "."),
                                  lambda n: grouped(n, (4, 4, 4, 4), " ")[:9] + ZW + grouped(n, (4, 4, 4, 4), " ")[9:]])
def test_card_spaced_dotted_zero_width(form):
    n = card("5" + str(RNG.randint(1, 5)), 16)
    raw = form(n)
    _only(f"pay with {raw} today", "payment_card", raw)


@pytest.mark.parametrize("raw", ["0 8 1 2 3 4 5 6 7 8", "0.8.1.2.3.4.5.6.7.8", "081-234" + ZW + "-5678",
                                 "0" + ZW + "81 234 5678", "0 9 0 1 2 3 4 5 6 7 8"])
def test_phone_spaced_and_zero_width(raw):
    _only(f"โทรหาคุณสมชาย {raw} ได้ทุกวัน", "phone", raw)


def test_reference_numbers_are_not_ids():
    m = my_number()
    assert find_pii("伝票番号 0000-0000-0000 の荷物") == []
    assert find_pii(f"伝票番号 {grouped(m, (4, 4, 4), '-')} の荷物") == []
    assert find_pii(f"注文番号：{m}") == []
    assert find_pii(f"Order no. {m} shipped") == []
    assert types_of(f"マイナンバー：{grouped(m, (4, 4, 4), '-')}") == ["jp_my_number"]
    assert types_of(f"私の番号は {m} です") == ["jp_my_number"]  # no label: still an ID


def test_jan_barcode_is_not_a_thai_id():
    jan = "4901234567894"
    assert is_thai_national_id(jan)  # passes the Thai mod-11 check: only context tells them apart
    assert find_pii(f"JAN {jan}") == []
    assert find_pii(f"商品のバーコード {jan} を読み取る") == []
    assert find_pii(f"この商品 {jan} は在庫あり") == []
    assert types_of(f"เลขประจำตัวประชาชน {jan}") == ["th_national_id"]  # labelled: an ID after all


def test_thai_id_that_is_also_ean_valid_stays_an_id_in_thai_text():
    while True:
        n = thai_id()
        if n[:2] not in ("45", "49") and _ean_check(n[:12]) == n[12]:
            break
    assert types_of(f"ผู้ป่วยรายนี้ {n} เข้ารับการรักษา") == ["th_national_id"]
    assert types_of(f"EAN {n}") == []


def test_counted_list_of_digits_is_not_a_phone():
    assert find_pii("ขั้นตอน 1 2 3 4 5 6 7 8 9") == []
    assert find_pii("順番は 9 8 7 6 5 4 3 2 1 0 です") == []


def test_match_view_maps_every_character_back():
    from thaija.guard.pii import fold, match_view

    text = "\u200bโทร ๐\u200b 8 1 2 3 4 5 6 7 8 หรือ 0-9-0-1-2-3-4-5-6-7-8\u200d ครับ\ufeff" * 3
    view, where = match_view(text)
    assert where is not None and len(view) < len(text)
    assert [fold(text[where(k)]) for k in range(len(view))] == list(view)
    assert [f.type for f in find_pii(text)] == ["phone", "phone"] * 3


def test_offset_map_is_kept_as_removals_only():
    from thaija.guard.pii import match_view

    line = ("ข้อความภาษาไทย\u200bยาว " * 2000)
    view, where = match_view(line)
    assert len(view) == len(line) - 2000
    assert sum(len(m) for m in where._steps) == 2000  # one mark per removed character, not per character
