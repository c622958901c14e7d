"""What a question asks to be measured, and whether evidence holds it: a small cross-language
unit table (watt / วัตต์ / ワット / W, litre / ลิตร / リットル, day / วัน / 日, price words → a
currency, ...) and product/model names (a Latin token with a digit: ``AR-5``, ``C9``, ``R7``).

``asked_unit("พัดลม Kiri C9 ใช้ไฟกี่วัตต์") == "watt"``; ``has_unit("炊飯時の消費電力は650ワットです。",
"watt")`` is True; an answer sentence in years does not answer a question in watts.
"""
from __future__ import annotations

import re
from functools import lru_cache

#: unit → the words that name it after a number, in Thai, Japanese and English.
UNITS: dict[str, tuple[str, ...]] = {
    "watt": ("กิโลวัตต์", "วัตต์", "キロワット", "ワット", "kW", "W", "watts", "watt"),
    "litre": ("มิลลิลิตร", "ลิตร", "ミリリットル", "リットル", "mL", "ml", "L", "ℓ", "litres", "liters", "litre", "liter"),
    "hour": ("ชั่วโมง", "ชม.", "時間", "hours", "hour", "hrs", "hr", "h"),
    "minute": ("นาที", "分間", "分", "minutes", "minute", "min"),
    "second": ("วินาที", "秒間", "秒", "seconds", "second", "sec", "s"),
    "day": ("วัน", "日間", "日", "days", "day"),
    "week": ("สัปดาห์", "อาทิตย์", "週間", "週", "weeks", "week"),
    "month": ("เดือน", "か月", "ヶ月", "ケ月", "カ月", "箇月", "months", "month"),
    "year": ("ปี", "年間", "年", "years", "year"),
    "times": ("เท่า", "倍", "times", "x", "×"),
    "currency": ("บาท", "เยน", "ดอลลาร์", "円", "ドル", "baht", "yen", "dollars", "USD", "THB", "JPY"),
    "percent": ("เปอร์เซ็นต์", "パーセント", "％", "%", "percent"),
    "kg": ("กิโลกรัม", "กก.", "キログラム", "キロ", "kg"),
    "gram": ("กรัม", "グラム", "g"),
    "metre": ("เมตร", "メートル", "m", "metres", "meters"),
    "cm": ("เซนติเมตร", "ซม.", "センチ", "cm"),
    "degree": ("องศา", "℃", "°C", "度"),
    "people": ("คน", "名", "人", "people", "persons"),
}
#: currency symbols written before the number.
_PREFIX = {"currency": "[$¥￥฿€£]"}
_NUMBER = (r"(?<![A-Za-z0-9\-])(?:[0-9０-９๐-๙]+(?:[.,][0-9]+)?|[一二三四五六七八九十百千万半元]+"
           r"|หนึ่ง|สอง|สาม|สี่|ห้า|หก|เจ็ด|แปด|เก้า|สิบ|ร้อย|พัน|ครึ่ง)")
#: a magnitude written after the digits: 25万円, 1.5 ล้านบาท, 3 million yen.
_MAGNITUDE = r"(?:\s*(?:万|千|百|億|兆|ล้าน|แสน|หมื่น|พัน|ร้อย|thousand|million|billion)(?![A-Za-z]))?"
_RANGE = rf"{_NUMBER}{_MAGNITUDE}(?:\s*[-~〜–]\s*{_NUMBER}{_MAGNITUDE})?"
#: price words: a question "ราคาเท่าไหร่" / "値段はいくら" / "how much ... cost" asks for a currency.
_PRICE = re.compile(r"ราคา|ค่าใช้จ่าย|値段|価格|料金|費用|いくら|\bprice\b|\bcost", re.I)
_HOW_MUCH = re.compile(r"เท่าไหร่|เท่าไร|いくら|how much|what is the price", re.I)
#: a question word right before a unit word: กี่วัตต์, 何リットル, how many hours.
_ASK = r"(?:กี่|何|how many|how much)\s*"
#: a product/model name: a Latin token holding both a letter and a digit (AR-5, C9, AX3000).
_NAME = re.compile(r"(?<![A-Za-z0-9])(?=[A-Za-z0-9\-]*[A-Za-z])(?=[A-Za-z0-9\-]*[0-9])[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*")


def _word(w: str) -> str:
    """A unit word as a regex; short Latin words must end there (``5 W`` not ``5 Wifi``)."""
    e = re.escape(w)
    return e + r"(?![A-Za-z])" if re.fullmatch(r"[A-Za-z]+", w) else e


@lru_cache(maxsize=None)
def _unit_re(unit: str) -> re.Pattern[str]:
    words = "|".join(_word(w) for w in sorted(UNITS[unit], key=len, reverse=True))
    pat = rf"{_RANGE}\s*(?:ประมาณ|約)?\s*(?:{words})"
    if unit in _PREFIX:
        pat += rf"|{_PREFIX[unit]}\s*{_NUMBER}"
    return re.compile(pat, re.I if unit not in ("litre", "metre", "watt") else 0)


@lru_cache(maxsize=1)
def _ask_re() -> re.Pattern[str]:
    alts = []
    for unit, words in UNITS.items():
        for w in words:
            alts.append((w, unit))
    alts.sort(key=lambda x: -len(x[0]))
    return re.compile(_ASK + "(" + "|".join(_word(w) for w, _ in alts) + ")", re.I)


def asked_unit(question: str) -> str | None:
    """The unit the question asks its answer in (``watt``, ``day``, ``currency`` ...), or None."""
    m = _ask_re().search(question)
    if m:
        w = m.group(1)
        for unit, words in UNITS.items():
            if w in words or w.lower() in {x.lower() for x in words if len(x) > 2}:
                return unit
    if _PRICE.search(question) and _HOW_MUCH.search(question):
        return "currency"
    return None


def has_unit(text: str, unit: str) -> bool:
    """Whether ``text`` states a number in ``unit`` (``12 ลิตร``, ``週2日``, ``650ワット``, ``฿990``)."""
    return _unit_re(unit).search(text) is not None


#: in a Thai or Japanese question, a capitalised Latin word and a number name a product (AirPure 300).
_NAME_NUM = re.compile(r"(?<![A-Za-z0-9\-])[A-Z][A-Za-z]+[ \-]?[0-9]+(?![0-9])")
_TH_JA = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u4e00-\u9fff]")


def names(question: str) -> list[str]:
    """Product/model names in the question: Latin tokens with a letter and a digit (AR-5, C9);
    in a Thai or Japanese question also a capitalised Latin word and a number (AirPure 300)."""
    found = [m.group(0) for m in _NAME.finditer(question)]
    if _TH_JA.search(question):
        found += [m.group(0) for m in _NAME_NUM.finditer(question)]
    return list(dict.fromkeys(found))


_BRAND = re.compile(r"(?<![A-Za-z0-9])[A-Z][a-z]+(?:[A-Z][a-z0-9]*)+(?![A-Za-z0-9])")


def brands(question: str) -> list[str]:
    """Brand-like names in a Thai or Japanese question: CamelCase Latin words (AquaClean, NetLink).
    A Latin brand is written the same in every language, so evidence in any language that answers
    a question about it names it."""
    if not _TH_JA.search(question):
        return []
    return list(dict.fromkeys(m.group(0) for m in _BRAND.finditer(question)))


@lru_cache(maxsize=256)
def _name_re(name: str) -> re.Pattern[str]:
    parts = re.findall(r"[A-Za-z]+|[0-9]+", name)
    body = r"[\s\-]?".join(re.escape(p) for p in parts)
    return re.compile(rf"(?<![A-Za-z0-9]){body}(?![0-9])", re.I)


def mentions(text: str, name: str) -> bool:
    """Whether ``text`` names ``name`` (case, spaces and hyphens aside: ``AR-5`` = ``ar5`` = ``AR 5``)."""
    return _name_re(name).search(text) is not None
