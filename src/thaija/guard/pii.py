"""PII detection and redaction for Thai, Japanese and English text.

Detected types (``PII_TYPES``):

- ``th_national_id``  Thai national ID: 13 digits, mod-11 check digit, ``1-2345-67890-12-1`` or plain.
- ``jp_my_number``    Japanese My Number (個人番号): 12 digits, official check digit, ``1234 5678 9018``.
- ``payment_card``    13–19 digits in card grouping, Luhn check and a known issuer prefix.
- ``phone``           Thai / Japanese landline and mobile numbers, ``+66`` / ``+81`` forms, any
                      other ``+<country>`` number in E.164 length.
- ``email``           ASCII e-mail addresses.

Full-width digits and punctuation (``０９０－１２３４－５６７８``, ``＠``), Thai digits (``๐๘๑``) and the
dash look-alikes used in Japanese text (``ー``, ``−``, ``‐``) are folded one character to one character;
zero-width characters are dropped and digits written one by one with a single separator
(``0 8 1 2 3 4 5 6 7 8``, ``1.1.0.1...``) are joined before matching. An offset map takes every
finding back to the ORIGINAL text. Groups may be separated by a space, ``-`` or ``.``.

Numbers that fail a checksum are not reported as IDs or cards (only as ``phone`` when they have a
phone's shape), except a Thai ID or My Number announced by its own label (a mistyped ID still names
a person's number). Context decides between ID types: a label just before the number
(``伝票番号``, ``注文番号``, ``JAN``, ``order``, ``เลขพัสดุ`` ...) makes it a reference number, not an ID;
``マイナンバー`` / ``เลขประจำตัวประชาชน`` confirm the ID type. A plain 13-digit number with a valid
EAN-13 (JAN) check digit is taken for a barcode, not a Thai ID, unless it is labelled as an ID or
stands in Thai text without a JAN prefix (45/49). Numbers made of one repeated digit are never IDs.
Overlaps are resolved so that every character belongs to at most one finding: e-mail addresses
first, then IDs and cards (longer span first), then phone numbers.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from typing import ClassVar, Iterable

# the config, the type names and the placeholder live in thaija.guard.config (light, read by the CLI)
from thaija.guard.config import DEFAULT_PLACEHOLDER, PII_TYPES, GuardError, RedactConfig, parse_types  # noqa: F401
from thaija.lang.spans import JsonSpan


@dataclass(frozen=True)
class Finding(JsonSpan):
    """One PII occurrence: ``original_text[start:end]`` is the matched text."""

    _json: ClassVar[tuple[str, ...]] = ("type", "start", "end")  # no matched text in JSON, by design

    type: str
    start: int
    end: int
    text: str = field(default="", repr=False, compare=False)


# --------------------------------------------------------------------------- checksums

def thai_id_check_digit(first12: str) -> int:
    """Check digit of a Thai national ID: (11 - sum(d_i * (13 - i)) mod 11) mod 10."""
    total = sum(int(d) * (13 - i) for i, d in enumerate(first12))
    return (11 - total % 11) % 10


def is_thai_national_id(digits: str) -> bool:
    """13 ASCII digits, valid mod-11 check digit, first digit 0–8 (the person category).

    Category 0 is kept: stateless persons surveyed under the Cabinet resolution of 2005 hold
    13-digit IDs beginning with 0. No category starts with 9.
    """
    return (len(digits) == 13 and digits.isascii() and digits.isdigit() and digits[0] != "9"
            and thai_id_check_digit(digits[:12]) == int(digits[12]))


def my_number_check_digit(first11: str) -> int:
    """Check digit of a My Number (番号法施行令 第8条): weights 2–7, 2–6 from the right, mod 11."""
    total = 0
    for n, d in enumerate(reversed(first11), start=1):
        total += int(d) * (n + 1 if n <= 6 else n - 5)
    rest = total % 11
    return 0 if rest <= 1 else 11 - rest


def is_my_number(digits: str) -> bool:
    """12 ASCII digits with a valid My Number check digit."""
    return (len(digits) == 12 and digits.isascii() and digits.isdigit()
            and my_number_check_digit(digits[:11]) == int(digits[11]))


def luhn_valid(digits: str) -> bool:
    """Luhn (mod 10) check over ASCII digits."""
    if not (digits.isascii() and digits.isdigit()):
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        v = int(d)
        if i % 2:
            v = v * 2 - 9 if v > 4 else v * 2
        total += v
    return total % 10 == 0


# Issuer prefixes (IIN) of the networks seen in Thailand and Japan: Visa, Mastercard (51–55,
# 2221–2720), Amex (34, 37), JCB (3528–3589), Diners (300–305, 36, 38, 39), Discover/UnionPay/
# Maestro (6x, 50, 56–58). A Luhn-valid number with another prefix is not a card.
_CARD_PREFIX = re.compile(r"4|5[0-8]|3[4-9]|30[0-5]|6|222[1-9]|22[3-9]|2[3-6]|27[01]|2720")


def is_payment_card(digits: str) -> bool:
    """13–19 ASCII digits, a known issuer prefix and a valid Luhn check."""
    return 13 <= len(digits) <= 19 and bool(_CARD_PREFIX.match(digits)) and luhn_valid(digits)


# --------------------------------------------------------------------------- folding

def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for cp in range(0xFF01, 0xFF5F):  # full-width ASCII: ０-９ Ａ-Ｚ ａ-ｚ ＠ ＋ （ ） ． －
        table[cp] = chr(cp - 0xFEE0)
    for i in range(10):  # Thai digits ๐-๙
        table[0x0E50 + i] = str(i)
    for ch in "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fc\uff70\ufe63\u2043":
        table[ord(ch)] = "-"  # dashes and the long-vowel mark written between digit groups
    for ch in "\u3000\u00a0\u2009\u202f\u2007":
        table[ord(ch)] = " "
    return table


_FOLD = _fold_table()


def fold(text: str) -> str:
    """Map full-width / Thai digits and dash/space variants to ASCII, one char to one char."""
    return text.translate(_FOLD)


_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
# Six or more single digits joined by one repeated separator: "0 8 1 2 3 4 5 6 7 8", "1.1.0.1...".
_ONE_BY_ONE = re.compile(r"(?<![0-9])[0-9](?P<d>[ .-])[0-9](?:(?P=d)[0-9]){4,}(?![0-9])")


class OffsetMap:
    """Index in the matching view -> index in the original text.

    Kept as the removed characters only (for each removal step, the sorted view positions where a
    character was taken out), so memory grows with the removals, not with the text.
    """

    def __init__(self, steps: list[list[int]]) -> None:
        self._steps = steps

    def __call__(self, k: int) -> int:
        for marks in reversed(self._steps):
            k += bisect.bisect_right(marks, k)
        return k


def _remove(text: str, positions: list[int]) -> tuple[str, list[int]]:
    """``text`` without the characters at sorted ``positions``, and their view marks."""
    parts, prev = [], 0
    for p in positions:
        parts.append(text[prev:p])
        prev = p + 1
    parts.append(text[prev:])
    return "".join(parts), [p - i for i, p in enumerate(positions)]


def match_view(text: str) -> tuple[str, OffsetMap | None]:
    """The text the detectors match on and its offset map (``None`` = same offsets as ``text``).

    ``fold(text)`` with zero-width characters removed and digits written one by one joined;
    ``view[k]`` comes from ``text[offset_map(k)]``.
    """
    view = fold(text)
    steps: list[list[int]] = []
    zw = [m.start() for m in _ZERO_WIDTH.finditer(view)]
    if zw:
        view, marks = _remove(view, zw)
        steps.append(marks)
    seps: list[int] = []
    for m in _ONE_BY_ONE.finditer(view):
        d = [int(c) for c in m.group()[::2]]
        if all(b - a == d[1] - d[0] for a, b in zip(d, d[1:])) and abs(d[1] - d[0]) <= 1:
            continue  # "0 1 2 3 4 5 ...": a counted list, not a number
        seps.extend(range(m.start() + 1, m.end(), 2))  # the separators between the single digits
    if seps:
        view, marks = _remove(view, seps)
        steps.append(marks)
    return view, (OffsetMap(steps) if steps else None)


def ean13_valid(digits: str) -> bool:
    """EAN-13 / JAN check digit: weights 1, 3, 1, 3 ... over the first 12 digits."""
    if len(digits) != 13 or not (digits.isascii() and digits.isdigit()):
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(digits[:12]))
    return (10 - total % 10) % 10 == int(digits[12])


# Labels written just before a number: they decide between an ID and a reference number.
_LABELS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("th_national_id", re.compile(
        r"ประจำตัวประชาชน|บัตรประชาชน|บัตรประจำตัว|(?i:\b(?:thai|national|citizen)[ _-]?id\b|\bid[ _-]?card\b)")),
    ("jp_my_number", re.compile(r"マイナンバー|個人番号|(?i:\bmy[ _-]?number\b)")),
    ("payment_card", re.compile(r"カード番号|クレジットカード|บัตรเครดิต|เลขบัตร(?!ประ)|(?i:\b(?:credit|debit)?[ _-]?card\b)")),
    ("barcode", re.compile(r"バーコード|บาร์โค้ด|\b(?:JAN|EAN|GTIN|UPC|ISBN)\b|(?i:\bbar[ -]?code\b)")),
    ("reference", re.compile(
        r"伝票番号|注文番号|受付番号|問い?合わ?せ番号|追跡番号|管理番号|商品番号|商品コード|製造番号|品番|型番|"
        r"会員番号|予約番号|請求書番号|領収書番号|คำสั่งซื้อ|ใบแจ้งหนี้|ใบเสร็จ|พัสดุ|หมายเลขติดตาม|รหัสสินค้า|"
        r"(?i:\b(?:order|invoice|tracking|receipt|serial|sku|ref|reference|booking|ticket)\b)")),
)
# labels are matched on the folded view, where the katakana long-vowel mark ー became "-"
_LABELS = tuple((kind, re.compile(pat.pattern.replace("ー", "[ー-]"), pat.flags)) for kind, pat in _LABELS)
_LABEL_WINDOW = 24
_VALID_AS = {"th_national_id": is_thai_national_id, "jp_my_number": is_my_number,
             "payment_card": is_payment_card}
_THAI_SCRIPT = re.compile("[\u0e00-\u0e7f]")


def _label_before(view: str, start: int) -> str | None:
    """The kind of the closest label in the few characters before ``start`` (same line), if any."""
    lo = max(0, start - _LABEL_WINDOW)
    window = view[lo:start]
    cut = max(window.rfind("\n"), window.rfind("。"))
    window = window[cut + 1:]
    best, best_end = None, -1
    for kind, pat in _LABELS:
        for m in pat.finditer(window):
            if m.end() > best_end:
                best, best_end = kind, m.end()
    return best


def _keep_number(typ: str, view: str, start: int, end: int) -> bool:
    """Context rules for a checksum-valid ID or card candidate ``view[start:end]``."""
    digits = _digits(view[start:end])
    if len(set(digits)) == 1:
        return False  # 0000-0000-0000: a placeholder, never a person's number
    label = _label_before(view, start)
    if label in ("reference", "barcode"):
        return typ == "payment_card" and label == "reference" and len(digits) > 13
    if label in PII_TYPES and label != typ:
        # another ID type's label: drop this reading only when the number is valid as that type
        # (its own detector redacts it); a wrong or loose label ("เลขบัตร 1-1037-…") never un-redacts an ID
        other = _VALID_AS.get(label)
        return other is not None and not other(digits)
    if label == typ:
        return True
    plain = digits == view[start:end]
    if len(digits) == 13 and plain and ean13_valid(digits) and typ in ("th_national_id", "payment_card"):
        # a JAN/EAN barcode unless it stands in Thai text without a Japanese (45/49) prefix
        near = view[max(0, start - 40):end + 40]
        return typ == "th_national_id" and not digits.startswith(("45", "49")) and bool(_THAI_SCRIPT.search(near))
    return True


def _labelled_typo(typ: str, view: str, start: int, end: int) -> bool:
    """An ID-shaped number whose check digit fails but which its own label announces
    ("เลขประจำตัวประชาชน 1-1037-02345-67-1", "マイナンバー 1234 5678 9012"): a mistyped or made-up ID
    that still names a person's number is redacted too (placeholders like 0000… are not)."""
    return len(set(_digits(view[start:end]))) > 1 and _label_before(view, start) == typ


# --------------------------------------------------------------------------- detectors
# All patterns run on fold(text); digits are [0-9] only. A number must not touch another digit,
# nor continue through a tight separator ("12-" before it, "-34" after it).
_B = r"(?<![0-9])(?<![0-9][-.])"
_E = r"(?![0-9])(?![-.][0-9])"
_TH_ID = re.compile(_B + r"[0-9](?P<s>[ .-]?)[0-9]{4}(?P=s)[0-9]{5}(?P=s)[0-9]{2}(?P=s)[0-9]" + _E)
_MY_NUMBER = re.compile(_B + r"[0-9]{4}(?P<s>[ .-]?)[0-9]{4}(?P=s)[0-9]{4}" + _E)
_CARD = re.compile(_B + r"(?:[0-9]{13,19}"
                   r"|[0-9]{4}(?P<s>[ .-])[0-9]{4}(?P=s)[0-9]{4}(?P=s)[0-9]{4}(?:(?P=s)[0-9]{3})?"
                   r"|[0-9]{4}(?P<t>[ .-])[0-9]{6}(?P=t)[0-9]{4,5})" + _E)
_SPACED_BEFORE = re.compile(r"[0-9] $")
_SPACED_AFTER = re.compile(r" [0-9]")
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*"
                    r"\.[A-Za-z]{2,}(?![A-Za-z0-9\-])")
# A phone-like chain: optional "+", digit groups joined by one separator (space, -, .) or parens.
_CHAIN = re.compile(r"(?:\+ ?)?\(?[0-9]+\)?(?:(?: ?[-.] ?| )?\(?[0-9]+\)?)*")
_GROUP = re.compile(r"[0-9]+")

_TIER = {"email": 0, "th_national_id": 1, "jp_my_number": 1, "payment_card": 1, "phone": 2}
_ORDER = {t: i for i, t in enumerate(PII_TYPES)}


def _digits(s: str) -> str:
    return "".join(ch for ch in s if "0" <= ch <= "9")


def _national_phone(d: str) -> bool:
    """Thai or Japanese number in domestic form (leading trunk 0)."""
    if len(d) < 9 or d[0] != "0" or d[1] == "0":
        return False
    if len(d) == 9:    # Thai landline: 02 Bangkok, 03x 04x 05x 07x provinces
        return d[1] in "23457"
    if len(d) == 10:   # Thai mobile 06/08/09, Japanese landline 0AB-CDE-FGHJ, 0120, 0570
        return True
    return len(d) == 11 and (d[:3] in {"020", "050", "060", "070", "080", "090"} or d[:4] == "0800")


def _international_phone(d: str) -> bool:
    """Digits after "+": +66 / +81 checked against the national plan, other codes by E.164 length."""
    if d.startswith(("66", "81")):
        nsn = d[2:]
        if nsn.startswith("0"):  # "+81 (0)3-…" or the common "+81 090-…"
            nsn = nsn[1:]
        if d.startswith("66"):
            return (len(nsn) == 8 and nsn[0] in "23457") or (len(nsn) == 9 and nsn[0] in "689")
        return (len(nsn) == 9 and nsn[0] != "0") or (len(nsn) == 10 and nsn[:2] in {"20", "50", "60", "70", "80", "90"})
    return 8 <= len(d) <= 15 and d[0] != "0"


def _phones(folded: str) -> Iterable[tuple[int, int]]:
    for chain in _CHAIN.finditer(folded):
        base = chain.start()
        s = chain.group()
        groups = [(m.start() + base, m.end() + base) for m in _GROUP.finditer(s)]
        # A phone may start / end only where the chain is joined by a space ("2555 02 123 4567"),
        # never inside a tightly joined number ("1-2345-67890-12-3").
        soft = [" " in folded[groups[k][1]:groups[k + 1][0]] for k in range(len(groups) - 1)]
        i = 0
        while i < len(groups):
            if i > 0 and not soft[i - 1]:
                i += 1
                continue
            plus = i == 0 and s.startswith("+")
            hit = None
            d = ""
            for j in range(i, len(groups)):  # the longest valid run of groups starting at i
                d += folded[groups[j][0]:groups[j][1]]
                if len(d) > 15 or j - i >= (5 if plus else 4):  # E.164 length, at most 4 groups
                    break                                        # (+cc and "(0)": 5); keeps it linear
                if (j == len(groups) - 1 or soft[j]) and (_international_phone(d) if plus else _national_phone(d)):
                    hit = j
            if hit is None:
                i += 1
                continue
            start, end = groups[i][0], groups[hit][1]
            if plus:
                start = base
            elif start > 0 and folded[start - 1] == "(":
                start -= 1
            span = folded[start:end]
            if span.count("(") > span.count(")") and folded[end:end + 1] == ")":
                end += 1
            yield start, end
            i = hit + 1


def find_pii(text: str, types: str | Iterable[str] | None = None) -> list[Finding]:
    """All PII in ``text``, sorted by start, non-overlapping; offsets index ``text`` itself.

    ``types`` filters the result ("phone,email" or a list); detection always considers every type,
    so a phone-shaped run inside an e-mail address is never reported as a phone.
    """
    wanted = parse_types(types)
    folded, pos = match_view(text)
    cands: list[tuple[str, int, int]] = []
    for m in _TH_ID.finditer(folded):
        if is_thai_national_id(_digits(m.group())) and _keep_number("th_national_id", folded, m.start(), m.end()) \
                or _labelled_typo("th_national_id", folded, m.start(), m.end()):
            cands.append(("th_national_id", m.start(), m.end()))
    for m in _MY_NUMBER.finditer(folded):
        if m.group("s") == " " and (_SPACED_BEFORE.match(folded, max(m.start() - 2, 0), m.start())
                                    or _SPACED_AFTER.match(folded, m.end())):
            continue  # 12 digits of a longer space-grouped number ("4111 1111 1111 1111")
        if is_my_number(_digits(m.group())) and _keep_number("jp_my_number", folded, m.start(), m.end()) \
                or _labelled_typo("jp_my_number", folded, m.start(), m.end()):
            cands.append(("jp_my_number", m.start(), m.end()))
    for m in _CARD.finditer(folded):
        if is_payment_card(_digits(m.group())) and _keep_number("payment_card", folded, m.start(), m.end()):
            cands.append(("payment_card", m.start(), m.end()))
    for m in _EMAIL.finditer(folded):
        cands.append(("email", m.start(), m.end()))
    cands.extend(("phone", a, b) for a, b in _phones(folded))

    cands.sort(key=lambda c: (_TIER[c[0]], -(c[2] - c[1]), _ORDER[c[0]], c[1]))
    starts: list[int] = []  # accepted spans, kept sorted and disjoint
    ends: list[int] = []
    out: list[Finding] = []
    for typ, a, b in cands:
        k = bisect.bisect_right(starts, a)
        if (k > 0 and ends[k - 1] > a) or (k < len(starts) and starts[k] < b):
            continue
        starts.insert(k, a)
        ends.insert(k, b)
        if typ in wanted:
            if pos is not None:
                a, b = pos(a), pos(b - 1) + 1
            out.append(Finding(typ, a, b, text[a:b]))
    out.sort(key=lambda f: f.start)
    return out


def redact(text: str, types: str | Iterable[str] | None = None, *,
           placeholder: str = DEFAULT_PLACEHOLDER) -> tuple[str, list[Finding]]:
    """Replace PII with ``[TYPE]`` placeholders; returns (redacted text, findings in ``text``)."""
    cfg = RedactConfig(types=parse_types(types), placeholder=placeholder)
    findings = find_pii(text, cfg.types)
    parts: list[str] = []
    pos = 0
    for f in findings:
        parts.append(text[pos:f.start])
        parts.append(cfg.placeholder_for(f.type))
        pos = f.end
    parts.append(text[pos:])
    return "".join(parts), findings
