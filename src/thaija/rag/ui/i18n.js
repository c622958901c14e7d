// thaija workbench: the pages' own words in English, Thai and Japanese. The browser's language
// chooses (navigator.language), the menu in the header overrides it (kept in localStorage).
"use strict";
(function () {
  const STRINGS = {
    en: {
      uiLang: "Page language", ask: "Ask", review: "Review",
      keyNeeded: "This server needs an API key:", keyRejected: "That key was not accepted; paste another:",
      keyPlaceholder: "paste your key", useKey: "Use key",
      intro: "Ask in Thai, Japanese or English. Answers come only from the indexed documents; each [n] opens the passage it quotes.",
      question: "Your question", askButton: "Ask", close: "Close", source: "Source",
      statusRefused: "No answer: the documents do not support one.",
      statusLow: "Low confidence: part of the answer lacked support — check the sources.",
      queued: " Sent to the review queue (#{id}).", badgeRefused: "refused", badgeLow: "low confidence",
      sources: "{n} source(s)", report: "Report a wrong answer", reported: "reported for review #{id}",
      reportFailed: "Report failed: ", searching: "Searching the documents…", askFailed: "The question could not be answered: ",
      loading: "Loading…", chars: "characters {a}–{b}", redacted: "the quote was redacted", openFailed: "Cannot open the source: ",
      status: "Status", language: "Language", reason: "Reason", all: "all",
      pending: "pending", flagged: "flagged", approved: "approved", rejected: "rejected",
      refused: "refused", low_confidence: "low confidence", user_flagged: "flagged by a user",
      exportButton: "Export approved (JSONL)", exportTitle: "Download the approved answers as tune JSONL (the language filter applies)",
      counts: "{pending} pending · {flagged} flagged · {approved} approved · {rejected} rejected",
      empty: "Nothing here with these filters.",
      more: "Showing the newest {shown} of {total}: narrow the filters to see older items.",
      edited: "edited", asked: "asked {t}", groups: "groups {g}", score: "evidence score {s}",
      qHeading: "Question", answerGiven: "Answer given", answerEdited: "Answer given (a reviewer edited it below)",
      refusedNotice: "This question was refused. If the documents do answer it, write the answer below and “Save edit”: approving the refusal as is will not be exported for training.",
      citations: "Citations ({n})", none: "none", candidates: "Retrieved candidates ({n})", noneStored: "none stored",
      corrected: "Corrected answer", note: "Reviewer note",
      approve: "Approve", saveEdit: "Save edit + approve", reject: "Reject", flag: "Flag for a specialist",
      notExported: " — a refusal approved as is is not exported; write the answer and use “Save edit” to teach it",
      loadFailed: "Cannot load the queue: ", exported: "Exported {n} approved answer(s) as tune JSONL.", exportFailed: "Export failed: ",
    },
    th: {
      uiLang: "ภาษาของหน้าจอ", ask: "ถาม", review: "ตรวจทาน",
      keyNeeded: "เซิร์ฟเวอร์นี้ต้องใช้ API key:", keyRejected: "key นี้ใช้ไม่ได้ กรุณาวาง key อื่น:",
      keyPlaceholder: "วาง key ของคุณ", useKey: "ใช้ key",
      intro: "ถามเป็นภาษาไทย ญี่ปุ่น หรืออังกฤษได้ คำตอบมาจากเอกสารในดัชนีเท่านั้น กด [n] เพื่อเปิดข้อความที่อ้างอิง",
      question: "คำถามของคุณ", askButton: "ถาม", close: "ปิด", source: "แหล่งที่มา",
      statusRefused: "ไม่มีคำตอบ: ไม่พบหลักฐานในเอกสาร",
      statusLow: "ความมั่นใจต่ำ: บางส่วนของคำตอบไม่มีหลักฐานรองรับ โปรดตรวจดูแหล่งที่มา",
      queued: " ส่งเข้าคิวตรวจทานแล้ว (#{id})", badgeRefused: "ไม่ได้ตอบ", badgeLow: "ความมั่นใจต่ำ",
      sources: "{n} แหล่งที่มา", report: "แจ้งว่าคำตอบผิด", reported: "ส่งตรวจทานแล้ว #{id}",
      reportFailed: "แจ้งไม่สำเร็จ: ", searching: "กำลังค้นหาในเอกสาร…", askFailed: "ตอบคำถามไม่ได้: ",
      loading: "กำลังโหลด…", chars: "อักขระที่ {a}–{b}", redacted: "ข้อความอ้างอิงถูกปิดข้อมูลส่วนบุคคล", openFailed: "เปิดแหล่งที่มาไม่ได้: ",
      status: "สถานะ", language: "ภาษา", reason: "เหตุผล", all: "ทั้งหมด",
      pending: "รอตรวจ", flagged: "รอผู้เชี่ยวชาญ", approved: "อนุมัติแล้ว", rejected: "ไม่อนุมัติ",
      refused: "ไม่ได้ตอบ", low_confidence: "ความมั่นใจต่ำ", user_flagged: "ผู้ใช้แจ้ง",
      exportButton: "ส่งออกที่อนุมัติ (JSONL)", exportTitle: "ดาวน์โหลดคำตอบที่อนุมัติเป็น JSONL สำหรับ tune (ตามตัวกรองภาษา)",
      counts: "รอตรวจ {pending} · รอผู้เชี่ยวชาญ {flagged} · อนุมัติ {approved} · ไม่อนุมัติ {rejected}",
      empty: "ไม่มีรายการตามตัวกรองนี้",
      more: "แสดง {shown} รายการล่าสุดจาก {total} รายการ ใช้ตัวกรองเพื่อดูรายการที่เก่ากว่า",
      edited: "แก้ไขแล้ว", asked: "ถามเมื่อ {t}", groups: "กลุ่ม {g}", score: "คะแนนหลักฐาน {s}",
      qHeading: "คำถาม", answerGiven: "คำตอบที่ให้ไป", answerEdited: "คำตอบที่ให้ไป (ผู้ตรวจแก้ไขไว้ด้านล่าง)",
      refusedNotice: "คำถามนี้ไม่ได้รับคำตอบ หากเอกสารมีคำตอบจริง ให้เขียนคำตอบด้านล่างแล้วกด “บันทึกการแก้ไข” การอนุมัติโดยไม่แก้ไขจะไม่ถูกส่งออกไปใช้ฝึกโมเดล",
      citations: "การอ้างอิง ({n})", none: "ไม่มี", candidates: "ข้อความที่ค้นได้ ({n})", noneStored: "ไม่ได้บันทึกไว้",
      corrected: "คำตอบที่ถูกต้อง", note: "บันทึกของผู้ตรวจ",
      approve: "อนุมัติ", saveEdit: "บันทึกการแก้ไข + อนุมัติ", reject: "ไม่อนุมัติ", flag: "ส่งให้ผู้เชี่ยวชาญ",
      notExported: " — คำตอบที่ไม่ได้ตอบซึ่งอนุมัติโดยไม่แก้ไขจะไม่ถูกส่งออก ให้เขียนคำตอบแล้วกด “บันทึกการแก้ไข”",
      loadFailed: "โหลดคิวไม่ได้: ", exported: "ส่งออกคำตอบที่อนุมัติ {n} รายการเป็น JSONL แล้ว", exportFailed: "ส่งออกไม่สำเร็จ: ",
    },
    ja: {
      uiLang: "表示言語", ask: "質問", review: "レビュー",
      keyNeeded: "このサーバーには API キーが必要です:", keyRejected: "このキーは使えません。別のキーを貼り付けてください:",
      keyPlaceholder: "キーを貼り付け", useKey: "キーを使う",
      intro: "タイ語・日本語・英語で質問できます。回答は登録された文書だけに基づきます。[n] を押すと引用箇所が開きます。",
      question: "質問", askButton: "質問する", close: "閉じる", source: "出典",
      statusRefused: "回答なし: 文書に根拠が見つかりませんでした。",
      statusLow: "確信度の低い回答です: 一部に根拠がありません。出典を確認してください。",
      queued: " レビュー待ちに追加しました (#{id})。", badgeRefused: "回答なし", badgeLow: "確信度低",
      sources: "出典 {n} 件", report: "誤りを報告", reported: "レビューに報告しました #{id}",
      reportFailed: "報告できませんでした: ", searching: "文書を検索しています…", askFailed: "回答できませんでした: ",
      loading: "読み込み中…", chars: "{a}–{b} 文字目", redacted: "引用は個人情報を伏せています", openFailed: "出典を開けません: ",
      status: "状態", language: "言語", reason: "理由", all: "すべて",
      pending: "未対応", flagged: "専門家確認", approved: "承認済み", rejected: "却下",
      refused: "回答なし", low_confidence: "確信度低", user_flagged: "利用者の報告",
      exportButton: "承認済みを書き出す (JSONL)", exportTitle: "承認済みの回答を tune 用 JSONL でダウンロード（言語の絞り込みが適用されます）",
      counts: "未対応 {pending} · 専門家確認 {flagged} · 承認 {approved} · 却下 {rejected}",
      empty: "この条件の項目はありません。",
      more: "新しい {shown} 件を表示しています（全 {total} 件）。古い項目は条件を絞って表示してください。",
      edited: "修正済み", asked: "質問日時 {t}", groups: "グループ {g}", score: "根拠スコア {s}",
      qHeading: "質問", answerGiven: "回答", answerEdited: "回答（レビュー担当者の修正は下）",
      refusedNotice: "この質問には回答しませんでした。文書に答えがある場合は、下に回答を書いて「修正を保存」を押してください。回答なしのまま承認しても学習データには書き出されません。",
      citations: "引用 ({n})", none: "なし", candidates: "検索された候補 ({n})", noneStored: "保存されていません",
      corrected: "正しい回答", note: "レビューメモ",
      approve: "承認", saveEdit: "修正を保存して承認", reject: "却下", flag: "専門家に確認を依頼",
      notExported: " — 回答なしを修正せずに承認した項目は書き出されません。回答を書いて「修正を保存」を押してください。",
      loadFailed: "キューを読み込めません: ", exported: "承認済みの回答 {n} 件を JSONL に書き出しました。", exportFailed: "書き出しに失敗しました: ",
    },
  };
  const KEY = "thaija.uiLang";

  function pick() {
    const saved = localStorage.getItem(KEY);
    if (saved && STRINGS[saved]) return saved;
    const nav = (navigator.language || "en").slice(0, 2).toLowerCase();
    return STRINGS[nav] ? nav : "en";
  }
  const lang = pick();

  function t(key, vars) {
    let s = STRINGS[lang][key] !== undefined ? STRINGS[lang][key] : (STRINGS.en[key] !== undefined ? STRINGS.en[key] : key);
    for (const [k, v] of Object.entries(vars || {})) s = s.split("{" + k + "}").join(String(v));
    return s;
  }

  // Static labels: data-i18n (text), data-i18n-placeholder, data-i18n-title, data-i18n-aria.
  function apply() {
    document.documentElement.lang = lang;
    for (const n of document.querySelectorAll("[data-i18n]")) n.textContent = t(n.dataset.i18n);
    for (const n of document.querySelectorAll("[data-i18n-placeholder]")) n.placeholder = t(n.dataset.i18nPlaceholder);
    for (const n of document.querySelectorAll("[data-i18n-title]")) n.title = t(n.dataset.i18nTitle);
    for (const n of document.querySelectorAll("[data-i18n-aria]")) n.setAttribute("aria-label", t(n.dataset.i18nAria));
    const menu = document.getElementById("ui-lang");
    if (menu) {
      menu.value = lang;
      menu.addEventListener("change", () => { localStorage.setItem(KEY, menu.value); location.reload(); });
    }
  }
  apply();
  window.thaijaI18n = { t, lang };
})();
