/*! botox-chat.js: the clinic FAQ chat widget. One <script> tag, no dependencies.
 * Embedding, attributes and behaviour: docs/widget.md. Payload: docs/payload.md. */
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || window.BotoxChat) return;
  const attr = (name, fallback) => script.getAttribute("data-" + name) || fallback;
  const server = attr("server", "").replace(/\/+$/, "");
  if (!server) return console.error("botox-chat: data-server is required");

  // Colours: the accent is the clinic's; its text colour is whichever of black
  // and white contrasts more with it, so any accent passes WCAG AA (>= 4.5:1).
  const hex = (value, fallback) => {
    let v = (value || "").trim();
    if (/^#[0-9a-f]{3}$/i.test(v)) v = "#" + [...v.slice(1)].map((c) => c + c).join("");
    return /^#[0-9a-f]{6}$/i.test(v) ? v : fallback;
  };
  const luminance = (h) => {
    const [r, g, b] = [1, 3, 5].map((i) => {
      const c = parseInt(h.substr(i, 2), 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const accent = hex(attr("accent"), "#0b5cad");
  const onAccent = (1.05 / (luminance(accent) + 0.05) >= (luminance(accent) + 0.05) / 0.05) ? "#fff" : "#000";
  const config = {
    title: attr("title", "Questions about Botox?"),
    launcher: attr("launcher", "Ask about Botox"),
    greeting: attr("greeting", "Hello! I answer questions about the risks of Botox from one article, and show you where the article says it. I can't examine you: for your own treatment, ask your clinic."),
    left: attr("position", "right") === "left",
  };

  // Conversation state, kept across page reloads (localStorage, per server).
  const KEY = "botox-chat:" + server;
  const MAX_ENTRIES = 60;
  const newId = () => (crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2));
  let state;
  try { state = JSON.parse(localStorage.getItem(KEY)); } catch (e) { state = null; }
  if (!state || typeof state.sender !== "string" || !Array.isArray(state.log)) state = { sender: newId(), log: [], open: false };
  const save = () => {
    state.log = state.log.slice(-MAX_ENTRIES);
    try { localStorage.setItem(KEY, JSON.stringify(state)); } catch (e) { /* private mode: memory only */ }
  };

  // DOM helpers: text is only ever set with textContent, never parsed as HTML.
  const el = (tag, cls, text, attrs) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    for (const k in attrs || {}) node.setAttribute(k, attrs[k]);
    return node;
  };
  const str = (v) => (typeof v === "string" ? v : v == null ? "" : String(v));
  const tel = (number) => "tel:" + str(number).replace(/[^\d+]/g, "");

  const host = el("div", null, null, { id: "botox-chat" });
  const root = host.attachShadow({ mode: "open" });
  const css = `
:host{all:initial}
*{box-sizing:border-box}
.w{--a:${accent};--fa:${onAccent};font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1a1a1a}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
button,input{font:inherit}
:focus-visible{outline:3px solid #111;outline-offset:2px;box-shadow:0 0 0 5px #fff}
.l{position:fixed;bottom:20px;${config.left ? "left" : "right"}:20px;z-index:2147483000;background:var(--a);color:var(--fa);border:0;border-radius:26px;padding:13px 20px;font-weight:600;box-shadow:0 4px 14px rgba(0,0,0,.3);cursor:pointer}
.p{position:fixed;bottom:20px;${config.left ? "left" : "right"}:20px;z-index:2147483001;width:380px;height:min(640px,calc(100vh - 40px));display:flex;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.35);overflow:hidden}
.p[hidden],.l[hidden],.n[hidden],.t[hidden]{display:none}
.h{display:flex;align-items:center;gap:8px;background:var(--a);color:var(--fa);padding:10px 10px 10px 16px}
.h h2{flex:1;margin:0;font-size:16px}
.h button{background:transparent;color:inherit;border:1px solid currentColor;border-radius:6px;padding:4px 10px;cursor:pointer}
.s{position:relative;flex:1;overflow-y:auto;padding:12px;background:#f4f5f7}
.m{margin:0 0 10px;padding:10px 12px;border-radius:12px;max-width:92%;white-space:pre-wrap;overflow-wrap:anywhere}
.u{background:var(--a);color:var(--fa);margin-left:auto;width:fit-content;border-bottom-right-radius:3px}
.u.q{background:#fff;color:#1a1a1a;border:2px dashed var(--a)}
.u small{display:block;font-size:12px}
.b{background:#fff;border:1px solid #d5d8dd;border-bottom-left-radius:3px}
.b p{margin:0}
.b a{color:#0a4f96}
.x{margin:8px 0 0;padding:10px 12px;border-radius:8px;font-weight:600}
.x a{display:inline-block;margin-top:6px;padding:6px 12px;border-radius:6px;font-weight:700;text-decoration:none}
.e{background:#b3001b;color:#fff;margin:0 0 8px;font-size:16px}
.b .e a{background:#fff;color:#b3001b}
.c{background:#fff4d1;color:#3d2a00;border-left:6px solid #a15c00}
.b .c a{background:#7a4100;color:#fff}
.v{margin-top:8px;color:#444;font-size:14px}
details{margin-top:10px;border:1px solid #c9cdd3;border-radius:8px;background:#f8f9fb}
summary{cursor:pointer;padding:6px 10px;font-weight:600;color:#2a2f36}
ol{margin:0;padding:0 10px 8px 28px}
blockquote{margin:6px 0 2px;font-style:italic}
.ci{font-size:13px;color:#4a4f57}
.g{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 10px}
.g button{background:#fff;color:#0a4f96;border:1px solid #0a4f96;border-radius:16px;padding:5px 12px;cursor:pointer}
.g button:hover{background:#e8f0fa}
.t{color:#444;font-size:14px;padding:4px 2px}
.t i{display:inline-block;width:7px;height:7px;margin-right:3px;border-radius:50%;background:#666;animation:d 1s infinite alternate}
.t i:nth-child(2){animation-delay:.2s}.t i:nth-child(3){animation-delay:.4s}
@keyframes d{to{opacity:.2}}
@media (prefers-reduced-motion:reduce){.t i{animation:none}}
.n{display:flex;gap:8px;align-items:center;background:#fff4d1;color:#3d2a00;border-top:1px solid #a15c00;padding:6px 12px;font-size:14px}
.n button{margin-left:auto;white-space:nowrap;background:#fff;color:#3d2a00;border:1px solid #3d2a00;border-radius:6px;padding:2px 8px;cursor:pointer}
form{display:flex;gap:8px;padding:10px;border-top:1px solid #d5d8dd;background:#fff}
input{flex:1;min-width:0;font-size:16px;border:1px solid #6b7280;border-radius:8px;padding:9px 10px;color:#1a1a1a;background:#fff}
form button{background:var(--a);color:var(--fa);border:0;border-radius:8px;padding:9px 16px;font-weight:600;cursor:pointer}
.f{padding:0 12px 8px;font-size:12px;color:#4a4f57;background:#fff}
.f button{background:none;border:0;padding:0;color:#0a4f96;text-decoration:underline;cursor:pointer;font-size:12px}
@media (max-width:480px){.p{inset:0;width:100%;height:100%;border-radius:0}.l{bottom:12px;${config.left ? "left" : "right"}:12px}}
`;
  // A constructed stylesheet needs no 'unsafe-inline' in the host page's CSP; <style> is the fallback.
  try { const sheet = new CSSStyleSheet(); sheet.replaceSync(css); root.adoptedStyleSheets = [sheet]; } catch (e) { root.append(el("style", null, css)); }

  const w = el("div", "w");
  const launcher = el("button", "l", config.launcher, { type: "button", "aria-expanded": "false", "aria-controls": "bc-panel", "aria-haspopup": "dialog" });
  const panel = el("section", "p", null, { id: "bc-panel", role: "dialog", "aria-labelledby": "bc-title" });
  panel.hidden = true;
  const header = el("div", "h");
  const close = el("button", null, "Close", { type: "button", "aria-label": "Close chat" });
  header.append(el("h2", null, config.title, { id: "bc-title" }), close);
  const scroller = el("div", "s");
  const log = el("div", null, null, { role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": "Conversation" });
  const suggestions = el("div", "g", null, { role: "group", "aria-label": "Suggested questions" });
  const typing = el("div", "t", null, { role: "status" });
  typing.append(el("i", null, null, { "aria-hidden": "true" }), el("i", null, null, { "aria-hidden": "true" }), el("i", null, null, { "aria-hidden": "true" }), el("span", null, " The assistant is typing\u2026"));
  typing.hidden = true;
  scroller.append(log, typing, suggestions);
  const notice = el("div", "n", null, { role: "status" });
  const noticeText = el("span", null, "Can't reach the assistant. Reconnecting\u2026");
  const retryNow = el("button", null, "Retry now", { type: "button" });
  notice.append(noticeText, retryNow);
  notice.hidden = true;
  const form = el("form");
  const input = el("input", null, null, { id: "bc-input", type: "text", maxlength: "2000", autocomplete: "off", placeholder: "Type your question" });
  form.append(el("label", "sr", "Your question", { for: "bc-input" }), input, el("button", null, "Send", { type: "submit" }));
  const footer = el("div", "f", "Answers quote one article; they are not a diagnosis. ");
  const reset = el("button", null, "Start over", { type: "button" });
  footer.append(reset);
  panel.append(header, scroller, notice, form, footer);
  w.append(launcher, panel);
  root.append(w);

  // Rendering. Entries: {u: shown text, m: message sent, q: queued}, {b: payload, o: open quotes}, {t: plain text}.
  const banner = (cls, text, linkText, href) => {
    const box = el("div", "x " + cls);
    box.append(el("span", null, text));
    if (href !== "tel:") box.append(el("br"), el("a", null, linkText, { href }));
    return box;
  };
  const renderBot = (p, entry, fresh) => {
    const box = el("div", "m b");
    const clinic = p.clinic && typeof p.clinic === "object" ? p.clinic : {};
    const escalation = str(p.escalation);
    const advice = str(p.advice);
    if (escalation === "emergency") {
      const number = str(clinic.emergency_number) || "112";
      const red = banner("e", advice || "This may be an emergency.", "Call " + number + " now", tel(number));
      if (fresh) red.setAttribute("role", "alert");
      box.append(red);
    }
    box.append(el("p", null, str(p.answer) || str(p.text)));
    if (escalation === "clinic") {
      box.append(banner("c", advice || "Call the clinic today.", "Call " + (str(clinic.name) || "the clinic") + ": " + str(clinic.phone), tel(clinic.phone)));
    } else if (advice && escalation !== "emergency") {
      box.append(el("p", "v", advice));
    }
    if (p.type === "handoff" && clinic.phone) {
      const contact = el("p", "v");
      contact.append(el("a", null, "Call " + str(clinic.phone), { href: tel(clinic.phone) }));
      if (/^https?:\/\//i.test(str(clinic.booking_url))) contact.append(" \u00b7 ", el("a", null, "Book online", { href: clinic.booking_url, target: "_blank", rel: "noopener" }));
      box.append(contact);
    }
    const sources = Array.isArray(p.sources) ? p.sources.filter((s) => s && s.quote) : [];
    if (sources.length) {
      const details = el("details");
      details.open = !!entry.o;
      const paragraphs = [...new Set(sources.map((s) => +s.paragraph))].sort((a, b) => a - b).join(", ");
      details.append(el("summary", null, `From the article (${sources.length === 1 ? "1 quote" : sources.length + " quotes"}, paragraph${/,/.test(paragraphs) ? "s" : ""} ${paragraphs})`));
      const list = el("ol");
      for (const s of sources) {
        const item = el("li");
        item.append(el("blockquote", null, "\u201c" + str(s.quote) + "\u201d"),
          el("div", "ci", `Paragraph ${str(s.paragraph)}, sentence ${str(s.sentence)}${s.document ? " \u00b7 " + str(s.document) : ""}`));
        list.append(item);
      }
      details.append(list);
      box.append(details);
    }
    return box;
  };
  const nodes = new WeakMap(); // entry -> its bubble (not stored)
  const renderEntry = (entry, fresh) => {
    if (entry.u != null) {
      const bubble = el("p", "m u" + (entry.q ? " q" : ""));
      bubble.append(el("span", "sr", "You said: "), str(entry.u));
      if (entry.q) bubble.append(el("small", null, "Sending\u2026"));
      nodes.set(entry, bubble);
      return bubble;
    }
    const bubble = entry.b ? renderBot(entry.b, entry, fresh) : el("p", "m b", entry.t);
    bubble.prepend(el("span", "sr", "Assistant: "));
    return bubble;
  };
  const showSuggestions = () => {
    suggestions.replaceChildren();
    const last = state.log[state.log.length - 1];
    if (!last || last.u != null || queue().length) return;
    const list = last.b ? last.b.suggestions : last.s;
    for (const s of Array.isArray(list) ? list.slice(0, 6) : []) {
      if (!s || !s.title || !s.payload) continue;
      const button = el("button", null, s.title, { type: "button" });
      button.addEventListener("click", () => { send(str(s.payload), str(s.title)); input.focus(); });
      suggestions.append(button);
    }
  };
  const append = (entry, fresh) => {
    const node = renderEntry(entry, fresh);
    log.append(node);
    return node;
  };
  const renderAll = () => {
    log.replaceChildren();
    if (config.greeting) log.append(renderEntry({ t: config.greeting }));
    state.log.forEach((entry) => append(entry, false));
    showSuggestions();
    scroller.scrollTop = scroller.scrollHeight;
  };

  // Transport: Rasa's REST channel (docs/widget.md explains why not socket.io).
  // Queued messages are sent one at a time; when the server can't be reached
  // the queue waits, the widget probes the server with backoff and resends.
  const queue = () => state.log.filter((e) => e.q);
  let busy = false, delay = 0, timer = 0, failures = 0;
  const setOffline = (offline) => {
    notice.hidden = !offline;
    if (offline) scroller.scrollTop = scroller.scrollHeight;
    for (const e of queue()) {
      const small = nodes.has(e) && nodes.get(e).querySelector("small");
      if (small) small.textContent = offline ? "Not sent yet: waiting for the connection\u2026" : "Sending\u2026";
    }
  };
  const request = (url, options) => {
    const abort = new AbortController();
    const t = setTimeout(() => abort.abort(), 60000);
    return fetch(url, { ...options, signal: abort.signal }).finally(() => clearTimeout(t));
  };
  const retryLater = () => {
    clearTimeout(timer);
    delay = Math.min(delay ? delay * 2 : 1000, 30000);
    timer = setTimeout(probe, delay);
  };
  const probe = () => {
    clearTimeout(timer);
    request(server + "/webhooks/rest/", { method: "GET" }).then((r) => (r.ok ? pump() : retryLater()), retryLater);
  };
  const pump = () => {
    const entry = queue()[0];
    if (busy || !entry) return;
    busy = true;
    typing.hidden = false;
    scroller.scrollTop = scroller.scrollHeight;
    const owner = state; // "Start over" while waiting: the late reply belongs to the old conversation
    request(server + "/webhooks/rest/webhook", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: state.sender, message: entry.m }),
    }).then(async (response) => {
      if (response.status >= 500 && ++failures < 3) throw new Error("server error " + response.status);
      const items = response.ok ? await response.json() : null;
      return Array.isArray(items) ? items : [{ text: "Sorry, something went wrong and I couldn't answer that. Please try again, or call the clinic." }];
    }).then((items) => {
      busy = false; delay = 0; failures = 0;
      typing.hidden = true;
      setOffline(false);
      if (owner !== state) return pump();
      delete entry.q;
      const bubble = nodes.get(entry);
      if (bubble) { bubble.classList.remove("q"); bubble.querySelector("small")?.remove(); }
      const custom = items.filter((i) => i && i.custom && typeof i.custom === "object");
      const replies = custom.length ? custom.map((i) => ({ b: i.custom, o: entry.m === "/ask_source" ? 1 : 0 }))
        : items.filter((i) => i && i.text).map((i) => ({ t: i.text, s: (i.buttons || []).map((b) => ({ title: b.title, payload: b.payload })) }));
      state.log.push(...replies);
      save();
      let first;
      for (const r of replies) { const node = append(r, true); first = first || node; }
      showSuggestions();
      if (replies.some((r) => r.b && r.b.escalation === "emergency") && panel.hidden) open(false); // never hide an emergency
      if (first) scroller.scrollTop = first.offsetTop - 8; // the start of the reply (and any banner) in view
      pump();
    }, () => {
      busy = false;
      typing.hidden = true;
      setOffline(true);
      retryLater();
    });
  };
  const send = (message, shown) => {
    if (!message.trim()) return;
    const entry = { u: shown, m: message, q: 1 };
    state.log.push(entry);
    save();
    append(entry, true);
    showSuggestions();
    scroller.scrollTop = scroller.scrollHeight;
    if (notice.hidden) pump(); else setOffline(true);
  };

  // Opening and closing: focus goes to the input on open, back to the launcher on close.
  const open = (focus = true) => {
    panel.hidden = false; launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    state.open = true; save();
    scroller.scrollTop = scroller.scrollHeight;
    if (focus) input.focus();
  };
  const shut = () => {
    panel.hidden = true; launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    state.open = false; save();
    launcher.focus();
  };
  launcher.addEventListener("click", () => open());
  close.addEventListener("click", shut);
  panel.addEventListener("keydown", (e) => { if (e.key === "Escape") { e.stopPropagation(); shut(); } });
  retryNow.addEventListener("click", () => { delay = 0; probe(); });
  window.addEventListener("online", () => { if (!notice.hidden) probe(); });
  // Another tab of the same site talked to the assistant: show the same conversation here.
  window.addEventListener("storage", (e) => {
    if (e.key !== KEY || busy || queue().length) return;
    try {
      const next = JSON.parse(e.newValue);
      if (next && typeof next.sender === "string" && Array.isArray(next.log)) { state = { ...next, open: state.open }; renderAll(); }
    } catch (err) { /* ignore */ }
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    send(text, text);
  });
  reset.addEventListener("click", () => {
    state = { sender: newId(), log: [], open: true };
    save(); setOffline(false); renderAll(); input.focus();
  });

  const start = () => {
    document.body.append(host);
    renderAll();
    if (state.open) open(false);
    pump(); // resend what was queued before a reload
  };
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
  window.BotoxChat = { open, close: shut };
})();
