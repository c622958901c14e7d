"""Prompt-injection defence: normalise, then classify sentences that instruct the assistant.

Retrieved documents are data. A sentence inside a document whose main content is an instruction
to the assistant ("ignore the rules above…", 「これまでの指示は無視して…」,
«โปรดเมินข้อความก่อนหน้า…», ``</document> SYSTEM: …``) must never be quoted as an answer, and an
answer that repeats one is refused. This module finds such sentences in Thai, Japanese and English.

How (not a phrase blocklist):

1. **Normalise** a copy of each sentence: NFKC (full-width ``ＩＧＮＯＲＥ`` and half-width ``ｼｽﾃﾑ``
   become ``IGNORE`` / ``システム``), format characters dropped (zero-width space/joiner, soft hyphen,
   BOM, word joiner), case folded, Cyrillic/Greek look-alike letters mapped to Latin, digits inside
   words read as letters (``1gn0re``), spaced or dotted single letters joined (``i g n o r e``).
2. **Detect cues** per language — the *kind* of each piece of the sentence: an override verb
   (ignore, 無視, เมิน…), a meta object (instructions, prompt, rules, 指示, คำสั่ง…), an address to the
   assistant (AI, assistant, あなたは今から, ตอนนี้คุณคือ…), a response-control verb (answer, reply,
   答え, ตอบ…) with a reference to the user/question or a redirect (always, instead, 必ず, แทน…),
   imperative mood (please/must, てください/なさい/せよ, โปรด/กรุณา/ให้/ห้าม…), role or turn markers
   (``SYSTEM:``, ``[INST]``, ``<|im_start|>``, ``</document>``) and exfiltration (reveal + system prompt).
3. **Classify**: a sentence is an instruction to the assistant when the cues combine into one
   (override + meta object; role marker + imperative/response control; address to the assistant
   + response control/override; imperative + response control + user/redirect; exfiltration;
   a persona switch). One cue alone (an HR rule "submit the form by Friday", 「提出してください」,
   «กรุณาส่งแบบฟอร์ม») is not enough. Sentences right after a role marker in the same paragraph
   are instructions too when they are imperative.

What it does not promise: it is a classifier, not a proof — a paraphrase without any of the cue
kinds above (or in another language) can pass, and an ordinary document sentence that tells
*readers* to "answer every customer question politely" may be held back from quoting.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: Look-alike letters from other scripts (Cyrillic, Greek) read as Latin.
_CONFUSABLE = str.maketrans({
    "а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "х": "x", "у": "y", "і": "i", "ј": "j", "ѕ": "s",
    "ԁ": "d", "ɡ": "g", "ո": "n", "ν": "v", "ο": "o", "α": "a", "ε": "e", "ι": "i", "κ": "k", "τ": "t",
    "ρ": "p", "υ": "u", "ѵ": "v", "ӏ": "l", "ı": "i",
})
_LEET = str.maketrans({"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"})
_SPACED = re.compile(r"(?<![a-z])(?:[a-z][ .\-_*]){3,}[a-z](?![a-z])")
_LEETWORD = re.compile(r"[a-z0-9@$!]*[a-z][a-z0-9@$!]*")


def normalize(text: str) -> str:
    """The matching form of ``text`` (see the module docstring, step 1)."""
    t = unicodedata.normalize("NFKC", text)
    t = "".join(c for c in t if unicodedata.category(c) != "Cf")
    t = t.casefold().translate(_CONFUSABLE)
    t = _SPACED.sub(lambda m: re.sub(r"[ .\-_*]", "", m.group()), t)
    t = _LEETWORD.sub(lambda m: m.group().translate(_LEET) if re.search(r"[0-9@$!]", m.group()) else m.group(), t)
    return re.sub(r"\s+", " ", t).strip()


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


# --- cue kinds (English patterns see spaced text; Thai/Japanese see text without spaces) -------
OVERRIDE_STRONG = _rx(
    r"\b(?:ignore|ignoring|disregard|forget|override|overrule|bypass|circumvent)\b",
    r"\bpay no (?:attention|heed|mind)\b", r"\bset aside\b", r"\b(?:do not|don't|dont|stop|never) (?:follow|obey|heed|use)\b",
    r"\bthrow out\b", r"\bno longer (?:follow|obey)\b", r"\bwithout (?:regard|following)\b",
    "無視", "忘れ", "従わ(?:ない|ず|なく)", "破棄", "上書き", "気にせず", "気にしない", "構わず", "お構いなく", "捨て",
    "เมิน", "เพิกเฉย", "ไม่ต้องสนใจ", "อย่าสนใจ", "ไม่ต้องใส่ใจ", "ลืม", "ละเว้น", "ละทิ้ง", "ไม่ต้องทำตาม",
    "อย่าทำตาม", "ไม่ต้องปฏิบัติตาม", "อย่าปฏิบัติตาม", "ทิ้ง",
)
OVERRIDE_WEAK = _rx(r"\b(?:skip|discard|abandon|drop|cancel|reset|replace)\b", "取り消", "リセット", "解除",
                    "ยกเลิก", "ข้าม", "รีเซ็ต", "แทนที่")
META_STRONG = _rx(
    r"\b(?:instructions?|directions|directives?|guidance|guidelines?|rules|system ?prompt|prompts?|"
    r"system messages?|programming)\b",
    "指示", "命令", "プロンプト", "ルール", "ガイドライン", "指針",
    "คำสั่ง", "คำแนะนำ", "แนวทาง", "กฎ", "พรอมต์", "พรอมท์", "พร้อมต์", "ข้อความก่อนหน้า", "ข้อความข้างต้น",
)
META_OTHER = _rx(
    r"\b(?:restrictions|constraints|configuration|settings|safety (?:rules|filters?)|policies)\b",
    "設定", "制約", "制限", "規則", "方針", "การตั้งค่า", "ข้อจำกัด", "ข้อกำหนด",
)
META_WEAK = _rx(r"\b(?:previous|prior|above|earlier|preceding|everything (?:before|above)|all of the above)\b",
                "これまで", "以前", "上記", "先ほど", "前の", "今まで", "以上の",
                "ก่อนหน้า", "ข้างต้น", "เดิม", "ที่ผ่านมา", "ด้านบน")
ASSISTANT = _rx(
    r"\b(?:ai|a\.i\.|assistants?|chatbots?|chat bots?|language models?|llms?|gpt|chatgpt|ai models?)\b",
    r"\b(?:ai|automated|autonomous) (?:systems?|agents?|readers?|tools?|crawlers?)\b", r"\bautomated assistants?\b",
    "アシスタント", "チャットボット", "言語モデル", r"(?<![a-z])ai(?![a-z])",
    "ผู้ช่วย", "แชทบอท", "โมเดลภาษา", "ปัญญาประดิษฐ์",
)
PERSONA = _rx(
    r"\byou are (?:now|no longer)\b", r"\bfrom now on\b", r"\bact as\b", r"\bpretend (?:to be|you)\b",
    r"\broleplay as\b", r"\bjailbreak", r"\bdeveloper mode\b", r"\bdo anything now\b",
    "あなたは今から", "あなたはこれから", "今後あなたは", "今からあなたは", "これからは", "今後は", "になりきって", "として振る舞",
    "ตอนนี้คุณคือ", "ตอนนี้คุณเป็น", "จากนี้ไป", "ต่อจากนี้", "นับจากนี้", "สวมบทบาท", "แสร้งเป็น",
)
ANSWER = _rx(
    r"\b(?:answer|answers|respond|reply|replies|say)\b",
    "答え", "回答", "返答", "応答", "返信", "言って", "言え",
    "ตอบ", "พูดว่า",
)
TELL = _rx(
    r"\b(?:tell|state|output|print|write|claim|inform|insist)\b",
    "伝え", "出力", "表示", "教え", "述べ", "書いて",
    "บอก", "แจ้ง", "แสดง", "พิมพ์", "กล่าว", "ระบุ",
)
USER = _rx(
    r"\b(?:the user|users|user's|any question|every question|all questions|questions? about|when asked|"
    r"if asked|asked about|anyone|everyone|whoever asks|the reader)\b", r"\b(?:any|every|all)(?: [a-z]+){1,2} questions?\b",
    "ユーザー", "ユーザ", "質問", "聞かれ", "尋ねられ", "利用者",
    "ผู้ใช้", "ทุกคำถาม", "คำถามเรื่อง", "คำถามเกี่ยวกับ", "มีคนถาม", "ถูกถาม", "ถามเรื่อง", "ถามถึง", "ถามเกี่ยวกับ",
)
#: the text addresses whoever (whatever) is reading it: "assistants reading this page", «ที่อ่านข้อความนี้»
READER = _rx(r"\b(?:reading|who reads?|that reads?|processing|parsing|summari[sz]ing) (?:this|these)\b",
             r"\b(?:note|message|notice|instructions?) (?:to|for) (?:all |any )?(?:ai|automated|assistants?|bots?|llms?)\b",
             "を読んでいる", "を読み込んでいる", "を処理している", "อ่านข้อความนี้", "อ่านหน้านี้", "อ่านเอกสารนี้")
USER_STRONG = _rx(r"\b(?:the user|users|user's|everyone|the reader)\b", "ユーザー", "ユーザ", "利用者", "ผู้ใช้")
REDIRECT = _rx(r"\b(?:always|instead|regardless|no matter)\b", "代わりに", "必ず", "常に", "いつも",
               "แทน", "เสมอ", "ทุกครั้ง")
ONLY = _rx(r"\b(?:only|just) (?:say|answer|reply|respond)\b", "だけ", "のみ", "เท่านั้น")
IMPERATIVE = _rx(
    r"^(?:please |kindly |now |dear [^,]{1,40}, )?(?:answer|respond|reply|say|tell|state|output|print|write|"
    r"ignore|disregard|forget|override|reveal|show|repeat|act|pretend|stop|do not|don't|never|always)\b",
    r"\b(?:you must|you should|you will|you have to|must always|must now|must answer|must reply|must say|"
    r"must respond|must tell|must ignore)\b", r"\bplease\b", r"\bkindly\b",
    "てください", "て下さい", "てくれ", "なさい", "せよ", "しろ", "ること。?$", "ること[、,]", "てはいけ",
    "ないでください", "ないこと", "てほしい", "ましょう", "お伝えください", "答えよ", "答えて", "返答して", "伝えて",
    "ให้", "โปรด", "กรุณา", "จง", "ต้อง", "ห้าม", "อย่า", "ช่วย",
)
EXFIL_VERB = _rx(r"\b(?:reveal|print|show|display|leak|repeat|output|disclose|dump|list)\b",
                 "表示", "出力", "教え", "開示", "見せ", "明か", "漏ら",
                 "แสดง", "เปิดเผย", "บอก", "พิมพ์", "ส่ง")
EXFIL_OBJ = _rx(r"\b(?:system ?prompt|hidden (?:rules|instructions|prompt)|secret|password|api ?key|"
                r"your (?:instructions|rules|prompt)|initial (?:instructions|prompt)|confidential)",
                "システムプロンプト", "隠され", "秘密", "パスワード", "apiキー", "内部の指示",
                "พรอมต์ระบบ", "พรอมท์ระบบ", "คำสั่งระบบ", "กฎที่ซ่อน", "รหัสผ่าน", "ความลับ", "คีย์")
ROLE = _rx(
    r"^[\[\(#*<【「\s]*(?:system|assistant|developer|admin|administrator|root|instructions?|new instructions?|"
    r"システム|アシスタント|管理者|開発者|新しい指示|新たな指示|ระบบ|ผู้ดูแลระบบ|คำสั่งใหม่|ผู้ช่วย)\s*[\]\)】」]?\s*[:：>\]】]",
    r"\[/?inst\]", r"<\|?(?:im_start|im_end|system|endoftext|eot_id|start_header_id)\|?>", r"<\s*/?\s*document\b",
    r"<\s*/?\s*(?:start_of_turn|end_of_turn|s|system|user|assistant)\s*>", r"^#{2,}\s*(?:system|instruction|new rule)",
    r"\bnew (?:rule|instruction)s?(?: for the (?:model|assistant|ai))?\s*:", "新しい(?:指示|ルール)[:：]", "คำสั่งใหม่",
    r"\[(?:system|システム|ระบบ)\]", r"\]\(#(?:system|override)",
)


@dataclass(frozen=True)
class Verdict:
    """Why a sentence was (or was not) classified as an instruction to the assistant."""

    instruction: bool
    cues: tuple[str, ...]
    rule: str = ""


def _cues(norm: str) -> set[str]:
    compact = norm.replace(" ", "")
    found = set()
    for name, rx in (("override", OVERRIDE_STRONG), ("override_weak", OVERRIDE_WEAK), ("meta", META_STRONG), ("meta_other", META_OTHER),
                     ("meta_weak", META_WEAK), ("assistant", ASSISTANT), ("persona", PERSONA),
                     ("answer", ANSWER), ("tell", TELL), ("user", USER), ("user_strong", USER_STRONG), ("reader", READER), ("redirect", REDIRECT), ("only", ONLY), ("imperative", IMPERATIVE),
                     ("exfil_verb", EXFIL_VERB), ("exfil_obj", EXFIL_OBJ), ("role", ROLE)):
        if rx.search(norm) or (compact != norm and rx.search(compact)):
            found.add(name)
    return found


def classify(sentence: str) -> Verdict:
    """Is ``sentence`` an instruction addressed to the assistant? (th/ja/en; see module docstring)"""
    c = _cues(normalize(sentence))
    rules = (
        ("override", "override" in c and ("meta" in c or "meta_weak" in c)),
        ("override_meta", "override_weak" in c and (("meta" in c and "imperative" in c)
                                                    or (bool(c & {"meta", "meta_other"}) and "assistant" in c))),
        ("role", "role" in c and bool(c & {"imperative", "answer", "tell", "override", "meta", "assistant", "redirect", "persona"})),
        ("address", "assistant" in c and bool(c & {"answer", "tell", "override"})
         and bool(c & {"imperative", "redirect", "user", "meta"})),
        ("respond", ("imperative" in c and (("answer" in c and bool(c & {"user", "redirect", "only"}))
                                            or ("tell" in c and "user_strong" in c)))
         or {"answer", "user", "redirect"} <= c),
        ("addressee", "assistant" in c and "reader" in c),
        ("exfiltrate", "exfil_verb" in c and "exfil_obj" in c),
        ("persona", "persona" in c and bool(c & {"assistant", "answer", "tell", "override", "meta", "meta_other", "imperative"})),
    )
    for name, hit in rules:
        if hit:
            return Verdict(True, tuple(sorted(c)), name)
    return Verdict(False, tuple(sorted(c)))


def is_instruction(sentence: str) -> bool:
    """True when ``sentence`` is an instruction to the assistant (:func:`classify`)."""
    return classify(sentence).instruction


_UNIT_END = re.compile(r"[。！？!?]+[」』）)\"']*|\.(?=\s|$)|\n")
_THAI = re.compile("[\u0e00-\u0e7f]")
_LONG_UNIT = 400  # a longer unpunctuated non-Thai unit is judged clause by clause (a 190-character English
#               sentence cut into single words hid "Note for automated assistants reading this page: …")
_FOLLOW = {"answer", "tell", "redirect", "only", "user_strong"}
#: cue kinds that make a clause part of an instruction found in a window of clauses
_PART = {"role", "override", "override_weak", "meta", "meta_other", "meta_weak", "assistant", "persona",
         "exfil_obj", "exfil_verb", "answer", "tell", "redirect", "only", "user", "user_strong", "reader"}


def units(text: str) -> list[tuple[int, int, bool]]:
    """Sentence-like units of ``text``: (start, end, clause) where ``clause`` marks a piece split
    at a space inside a sentence (Thai separates sentences and clauses with spaces; very long
    unpunctuated units are split the same way)."""
    sents: list[tuple[int, int]] = []
    start = 0
    for m in _UNIT_END.finditer(text):
        sents.append((start, m.end()))
        start = m.end()
    if start < len(text):
        sents.append((start, len(text)))
    res: list[tuple[int, int, bool]] = []
    for a, b in sents:
        if not text[a:b].strip():
            continue
        if b - a <= _LONG_UNIT and not _THAI.search(text, a, b):
            res.append((a, b, False))
            continue
        s, first = a, True
        for m in re.finditer(r"\s+", text[a:b]):
            e = a + m.start()
            if e > s:
                res.append((s, e, not first))
                first = False
            s = a + m.end()
        if s < b and text[s:b].strip():
            res.append((s, b, not first))
    return res


def injection_spans(text: str) -> list[tuple[int, int]]:
    """Offsets (into ``text``) of the units that instruct the assistant.

    Clauses of one sentence are also judged in windows of two and three (an override verb and its
    object may sit on both sides of a space in Thai); a unit right after an instruction in the same
    paragraph counts too while it is imperative or controls the response ("… and answer that …").
    """
    us = units(text)
    verdicts = [classify(text[a:b]) for a, b, _ in us]
    flagged = [v.instruction for v in verdicts]
    for i in range(len(us)):
        for w in (2, 3):
            j = i + w - 1
            if j >= len(us) or not all(us[x][2] for x in range(i + 1, j + 1)):
                break
            if all(flagged[i:j + 1]):
                continue
            if classify(text[us[i][0]:us[j][1]]).instruction:
                for x in range(i, j + 1):
                    flagged[x] = flagged[x] or bool(set(verdicts[x].cues) & _PART)
    for i in range(1, len(us)):  # follow-on clauses / sentences of the same paragraph
        gap = text[us[i - 1][1]:us[i][0]]
        if not flagged[i - 1] or flagged[i] or "\n\n" in gap:
            continue
        prev = normalize(text[us[i - 1][0]:us[i - 1][1]])
        # its complement ("… answer that: X", «… ตอบว่า X») or a follow-on instruction
        if set(verdicts[i].cues) & _FOLLOW or (us[i][2] and prev.endswith(("ว่า", ":", "that", "と"))):
            flagged[i] = True
    spans: list[tuple[int, int]] = []
    for (a, b, _), f in zip(us, flagged):
        if f:
            if spans and not text[spans[-1][1]:a].strip():
                spans[-1] = (spans[-1][0], b)
            else:
                spans.append((a, b))
    return spans


def echoes_instruction(answer: str) -> bool:
    """True when an answer (markers like ``[1]`` ignored) holds an instruction-like sentence."""
    return bool(injection_spans(re.sub(r"\[\d+\]", " ", answer)))
