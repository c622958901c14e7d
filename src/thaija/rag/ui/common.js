// thaija workbench: shared helpers (fetch with the API key, DOM building with textContent only).
"use strict";
(function () {
  const KEY = "thaija.apiKey";

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) {
      if (c === null || c === undefined || c === false) continue;
      node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return node;
  }

  function showKeyBar(message) {
    const bar = document.getElementById("keybar");
    if (!bar) return;
    bar.hidden = false;
    if (message) bar.querySelector("label").textContent = message;
    document.getElementById("api-key").focus();
  }

  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    const key = sessionStorage.getItem(KEY);
    if (key) opts.headers["Authorization"] = "Bearer " + key;
    if (opts.json !== undefined) {
      opts.method = opts.method || "POST";
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(opts.json);
      delete opts.json;
    }
    const res = await fetch(path, opts);
    if (res.status === 401) showKeyBar(window.thaijaI18n.t(key ? "keyRejected" : "keyNeeded"));
    if (!res.ok) {
      let message = res.status + " " + res.statusText;
      try { const body = await res.json(); message = (body.error && body.error.message) || body.detail || message; } catch (e) { /* not JSON */ }
      const err = new Error(message);
      err.status = res.status;
      throw err;
    }
    return opts.raw ? res : res.json();
  }

  function langOf(code) { return ["th", "ja", "en"].includes(code) ? code : null; }
  // lang attribute for text typed by the user (fonts and line breaking follow it)
  function scriptLang(text) {
    if (/[\u0e00-\u0e7f]/.test(text)) return "th";
    if (/[\u3040-\u30ff\u4e00-\u9fff]/.test(text)) return "ja";
    return "en";
  }

  document.addEventListener("DOMContentLoaded", () => {
    const save = document.getElementById("key-save");
    if (!save) return;
    const input = document.getElementById("api-key");
    const use = () => {
      if (!input.value.trim()) return;
      sessionStorage.setItem(KEY, input.value.trim());
      input.value = "";
      document.getElementById("keybar").hidden = true;
      document.dispatchEvent(new CustomEvent("thaija:key"));
    };
    save.addEventListener("click", use);
    input.addEventListener("keydown", (e) => { if (e.key === "Enter") use(); });
  });

  window.thaija = { el, api, langOf, scriptLang, showKeyBar, t: window.thaijaI18n.t };
})();
