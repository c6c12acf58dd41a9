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
  const number = (name, fallback) => (+attr(name) > 0 ? +attr(name) : fallback);
  const config = {
    title: attr("title", "Questions about Botox?"),
    launcher: attr("launcher", "Ask about Botox"),
    left: attr("position", "right") === "left",
    // Reachable whatever fails: the page's numbers first, then the last reply's clinic object.
    emergency: attr("emergency-number"), phone: attr("clinic-phone"), name: attr("clinic-name"),
    days: number("retention-days", 30),
    sessionOnly: attr("storage") === "session",
    idleMs: number("session-minutes", 60) * 60000, // Rasa's session_expiration_time (domain.yml)
  };
  const MAX_CHARS = 2000; // faq.settings max_message_chars
  const SOURCES_INTRO = "Here is where the article says it:"; // data/knowledge_base.yml replies.sources_intro
  const NEEDS_CONTEXT = ["/tell_me_more", "/ask_source"]; // answered from the server session's last topic
  // Answer feedback as Rasa intent messages (faq/feedback.py): the verdict, then maybe one line of what was missing.
  const FEEDBACK_INTENT = "/give_feedback";
  const COMMENT_CHARS = 200; // faq.feedback MAX_COMMENT_CHARS
  const feedback = (verdict, comment) => FEEDBACK_INTENT + JSON.stringify(comment ? { verdict, comment } : { verdict });

  // Conversation state, kept in this browser (per server): localStorage, or
  // sessionStorage when the page or the patient chose "this tab only".
  // It expires config.days after the last message.
  const KEY = "botox-chat:" + server;
  const MAX_ENTRIES = 60;
  const safe = (f) => { try { return f(); } catch (e) { return null; } };
  const store = (sessionOnly) => (sessionOnly ? sessionStorage : localStorage);
  const valid = (s) => (s && Array.isArray(s.log) ? s : null);
  // Message ids (a resent message is answered once); the conversation id is the server's (X-Botox-Sender).
  const newId = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
  let state = safe(() => valid(JSON.parse(sessionStorage.getItem(KEY))) || valid(JSON.parse(localStorage.getItem(KEY))));
  if (state && !(Date.now() - state.at < config.days * 864e5)) {
    safe(() => { localStorage.removeItem(KEY); sessionStorage.removeItem(KEY); });
    state = null;
  }
  state = state || { sender: null, log: [], open: false, s: config.sessionOnly };
  const save = () => {
    state.log = state.log.slice(-MAX_ENTRIES);
    state.at = Date.now();
    safe(() => { store(!state.s).removeItem(KEY); store(state.s).setItem(KEY, JSON.stringify(state)); });
  };

  // DOM helpers: text is only ever set with textContent, never parsed as HTML.
  const el = (tag, cls, text, attrs) => {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    for (const k in attrs || {}) node.setAttribute(k, attrs[k]);
    return node;
  };
  const button = (text, onClick) => {
    const b = el("button", null, text, { type: "button" });
    b.addEventListener("click", onClick);
    return b;
  };
  const str = (v) => (typeof v === "string" ? v : v == null ? "" : String(v));
  const tel = (phone) => "tel:" + str(phone).replace(/[^\d+]/g, "");
  const time = (at) => {
    const d = new Date(at);
    const day = d.toDateString() === new Date().toDateString() ? "" : d.toLocaleDateString([], { day: "numeric", month: "short" }) + " ";
    return day + d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  };
  const contact = () => {
    const c = state.clinic || {};
    return { emergency: config.emergency || str(c.emergency_number) || "112", phone: config.phone || str(c.phone), name: config.name || str(c.name) || "the clinic" };
  };
  // The emergency number and the clinic's phone as tel: links (permanent line, notice, error bubbles).
  const callLinks = (long) => {
    const c = contact();
    const box = el("span", "cs");
    box.append(el("a", "em", "Emergency? Call " + c.emergency, { href: tel(c.emergency) }));
    if (c.phone) box.append(" ", el("a", null, (long ? "Call " + c.name : "Clinic") + ": " + c.phone, { href: tel(c.phone) }));
    return box;
  };

  const host = el("div", null, null, { id: "botox-chat" });
  const root = host.attachShadow({ mode: "open" });
  const side = config.left ? "left" : "right";
  const css = `
:host{all:initial}
*{box-sizing:border-box}
[hidden]{display:none!important}
.w{--a:${accent};--fa:${onAccent};font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#1a1a1a}
.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
button,textarea,input{font:inherit}
:focus-visible{outline:3px solid #111;outline-offset:2px;box-shadow:0 0 0 5px #fff}
.l{position:fixed;bottom:20px;${side}:20px;z-index:2147483000;background:var(--a);color:var(--fa);border:0;border-radius:26px;padding:13px 20px;font-weight:600;box-shadow:0 4px 14px rgba(0,0,0,.3);cursor:pointer}
.ub{position:absolute;top:-8px;right:-4px;min-width:24px;padding:0 7px;border-radius:12px;background:#b3001b;color:#fff;font-size:13px;line-height:24px}
.p{position:fixed;bottom:20px;${side}:20px;z-index:2147483001;width:380px;height:min(680px,calc(100vh - 40px));display:flex;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.35);overflow:hidden}
.h{display:flex;align-items:center;gap:8px;background:var(--a);color:var(--fa);padding:10px 10px 10px 16px}
.h h2{flex:1;margin:0;font-size:16px}
.h button{background:transparent;color:inherit;border:1px solid currentColor;border-radius:6px;padding:4px 10px;cursor:pointer}
.el{margin:0;padding:2px 12px;border-bottom:1px solid #d5d8dd;font-size:14px}
.cs a{display:inline-block;padding:3px 0;margin-right:10px;color:#0a4f96}
.cs .em{color:#b3001b;font-weight:700}
.s{position:relative;flex:1;overflow-y:auto;padding:12px;background:#f4f5f7}
.m{margin:0 0 10px;padding:8px 12px 10px;border-radius:12px;max-width:92%;white-space:pre-wrap;overflow-wrap:anywhere}
.mt{display:block;font-size:12px;white-space:normal}
.u{background:var(--a);color:var(--fa);margin-left:auto;width:fit-content;border-bottom-right-radius:3px}
.u.q{background:#fff;color:#1a1a1a;border:2px dashed var(--a)}
.u small{display:block;font-size:12px}
.b{background:#fff;border:1px solid #d5d8dd;border-bottom-left-radius:3px}
.b .mt,.ci{color:#4a4f57}
.b.er{border:2px solid #b3001b}
.b p{margin:0}
a{color:#0a4f96}
.x{margin:8px 0 0;padding:10px 12px;border-radius:8px;font-weight:600}
.x a,a.bt{display:inline-block;margin-top:6px;padding:6px 12px;border-radius:6px;font-weight:700;text-decoration:none}
.e{background:#b3001b;color:#fff;margin:0 0 8px;font-size:16px}
.b .e a{background:#fff;color:#b3001b}
.c{background:#fff4d1;color:#3d2a00;border-left:6px solid #a15c00}
.b .c a{background:#7a4100;color:#fff}
a.bt{background:#0a4f96;color:#fff;margin-right:8px}
.v{margin-top:8px;color:#444;font-size:14px}
details{margin-top:10px;border:1px solid #c9cdd3;border-radius:8px;background:#f8f9fb}
summary{cursor:pointer;padding:6px 10px;font-weight:600;color:#2a2f36}
ol{margin:0;padding:0 10px 8px 28px}
blockquote{margin:6px 0 2px;font-style:italic}
.ci{font-size:13px}
.g{display:flex;flex-wrap:wrap;gap:6px;margin:0 0 10px}
.g button{background:#fff;color:#0a4f96;border:1px solid #0a4f96;border-radius:16px;padding:5px 12px;cursor:pointer}
.g button:hover{background:#e8f0fa}
.g button:disabled{color:#6b7280;border-color:#9ca3af;cursor:not-allowed;text-decoration:line-through}
.g p{margin:0;font-size:13px;color:#4a4f57}
.t{color:#444;font-size:14px;padding:4px 2px}
.t i{display:inline-block;width:7px;height:7px;margin-right:3px;border-radius:50%;background:#666;animation:d 1s infinite alternate}
.t i:nth-child(2){animation-delay:.2s}.t i:nth-child(3){animation-delay:.4s}
@keyframes d{to{opacity:.2}}
@media (prefers-reduced-motion:reduce){.t i{animation:none}}
.n,.bx{padding:6px 12px;font-size:14px;border-top:1px solid #a15c00}
.n{background:#fff4d1;color:#3d2a00}
.n .cs a{color:#0a3d73}.n .cs .em{color:#b3001b}
.bx{border-color:#d5d8dd}
.pv{border:0;border-bottom:1px solid #d5d8dd}
.n p,.bx p{margin:0 0 4px}
.n button,.bx button{background:#fff;color:#1a1a1a;border:1px solid #1a1a1a;border-radius:6px;padding:2px 8px;margin:2px 6px 2px 0;cursor:pointer}
form{display:flex;gap:8px;align-items:flex-end;padding:10px 10px 4px;border-top:1px solid #d5d8dd;background:#fff}
textarea{flex:1;min-width:0;height:42px;max-height:120px;resize:none;font-size:16px;border:1px solid #6b7280;border-radius:8px;padding:9px 10px;color:#1a1a1a;background:#fff}
form button{background:var(--a);color:var(--fa);border:0;border-radius:8px;padding:9px 16px;font-weight:600;cursor:pointer}
.f{padding:0 12px 8px;font-size:12px;color:#4a4f57;background:#fff}
.f button{background:none;border:0;padding:4px 0;margin-right:12px;color:#0a4f96;text-decoration:underline;cursor:pointer;font-size:12px}
.k{display:block;text-align:right}
.fb{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin-top:8px;font-size:13px;color:#4a4f57}
.fb button{background:#fff;color:#0a4f96;border:1px solid #0a4f96;border-radius:12px;padding:1px 10px;cursor:pointer}
.fb button:disabled{color:#4a4f57;border-color:#9ca3af;cursor:default}
.fb button[aria-pressed=true]{background:#0a4f96;color:#fff}
.g .cm{display:flex;flex-wrap:wrap;gap:6px;width:100%;align-items:center}
.cm input{flex:1 1 180px;min-width:0;font-size:16px;border:1px solid #6b7280;border-radius:8px;padding:5px 8px}
@media (max-width:480px){.p{inset:0;width:100%;height:100%;border-radius:0}.l{bottom:12px;${side}:12px}}
`;
  // A constructed stylesheet needs no 'unsafe-inline' in the host page's CSP; <style> is the fallback.
  try { const sheet = new CSSStyleSheet(); sheet.replaceSync(css); root.adoptedStyleSheets = [sheet]; } catch (e) { root.append(el("style", null, css)); }

  const w = el("div", "w");
  const launcher = el("button", "l", config.launcher, { type: "button", "aria-expanded": "false", "aria-controls": "bc-panel", "aria-haspopup": "dialog" });
  const badge = el("span", "ub");
  launcher.append(badge);
  const panel = el("section", "p", null, { id: "bc-panel", role: "dialog", "aria-labelledby": "bc-title" });
  panel.hidden = true;
  const header = el("div", "h");
  const close = button("Close", () => shut());
  close.setAttribute("aria-label", "Close chat");
  header.append(el("h2", null, config.title, { id: "bc-title" }), close);
  const emergencyLine = el("p", "el");
  const scroller = el("div", "s");
  const log = el("div", null, null, { role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": "Conversation" });
  const suggestions = el("div", "g", null, { role: "group", "aria-label": "Suggested questions" });
  const typing = el("div", "t", null, { role: "status" });
  typing.append(el("i", null, null, { "aria-hidden": "true" }), el("i", null, null, { "aria-hidden": "true" }), el("i", null, null, { "aria-hidden": "true" }), el("span", null, " The assistant is typing\u2026"));
  typing.hidden = true;
  scroller.append(log, typing, suggestions);

  // The privacy notice (top), the connection notice and the "Start over?" question (above the input).
  const notice = el("div", "n", null, { role: "status" });
  notice.hidden = true;
  const privacy = el("div", "bx pv", null, { role: "region", "aria-label": "Privacy" });
  privacy.hidden = true;
  const keep = el("input", null, null, { type: "checkbox", id: "bc-keep" });
  const confirmBox = el("div", "bx", null, { role: "group", "aria-labelledby": "bc-confirm" });
  confirmBox.hidden = true;
  const cancel = button("Cancel", () => { confirmBox.hidden = true; input.focus(); });
  confirmBox.append(el("p", null, "Start over? This conversation is deleted from this browser and the assistant forgets it.", { id: "bc-confirm" }),
    button("Start over", () => restart()), cancel);

  const form = el("form");
  const input = el("textarea", null, null, { id: "bc-input", rows: "1", maxlength: String(MAX_CHARS), autocomplete: "off", placeholder: "Type your question", "aria-describedby": "bc-count" });
  const counter = el("span", "k", null, { id: "bc-count" });
  form.append(el("label", "sr", "Your question", { for: "bc-input" }), input, el("button", null, "Send", { type: "submit" }));
  const footer = el("div", "f");
  const privacyButton = button("Privacy", () => { privacy.hidden = !privacy.hidden; showPrivacy(); });
  footer.append(counter, el("span", null, "Automated answers quoting one article, not a diagnosis. "), el("br"), privacyButton,
    button("Download transcript", () => download()), button("Start over", () => askRestart()));
  panel.append(header, emergencyLine, privacy, scroller, notice, confirmBox, form, footer);
  w.append(launcher, panel);
  root.append(w);

  const showPrivacy = () => {
    privacyButton.setAttribute("aria-expanded", String(!privacy.hidden));
    keep.checked = !!state.s;
    const label = el("label", null, " Forget it when I close this tab", { for: "bc-keep" });
    label.prepend(keep);
    privacy.replaceChildren(
      el("p", null, "This conversation is kept in this browser's " + (state.s ? "sessionStorage until you close this tab"
        : `localStorage for ${config.days} days after your last message`) + ", and sent to the clinic's assistant to be answered."),
      label, el("br"), "To delete it now, use Start over. ", button("OK", () => { privacy.hidden = true; state.pv = 1; save(); showPrivacy(); }));
  };
  keep.addEventListener("change", () => {
    state.s = keep.checked;
    save(); showPrivacy(); keep.focus();
  });

  // Rendering. Entries (all with `at`, the time): {m: message sent, u: shown text
  // (none: not shown, e.g. /greet), q: queued, f: refused}, {b: payload, o: open
  // quotes}, {t: plain text, s: buttons}, {x: why a message got no answer, e.g. "error 400"}.
  const banner = (cls, text, linkText, href) => {
    const box = el("div", "x " + cls);
    box.append(el("span", null, text));
    if (href !== "tel:") box.append(el("br"), el("a", null, linkText, { href }));
    return box;
  };
  const web = (url) => (/^https?:\/\//i.test(str(url)) ? str(url) : "");
  // The clinic's phone, e-mail and booking address inside a text become links.
  const linked = (text, clinic) => {
    const p = el("p");
    const hrefs = { [str(clinic.phone)]: tel(clinic.phone), [str(clinic.email)]: "mailto:" + str(clinic.email), [web(clinic.booking_url)]: web(clinic.booking_url) };
    delete hrefs[""];
    const keys = Object.keys(hrefs).map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    text.split(keys.length ? new RegExp("(" + keys.join("|") + ")") : /$^/).forEach((part, i) => p.append(i % 2 ? el("a", null, part, { href: hrefs[part] }) : part));
    return p;
  };
  const meta = (who, at) => el("span", "mt", who + " \u00b7 " + time(at));
  const renderBot = (p, entry, fresh) => {
    const box = el("div", "m b");
    const clinic = p.clinic && typeof p.clinic === "object" ? p.clinic : {};
    const escalation = str(p.escalation);
    const advice = str(p.advice);
    const hours = str(clinic.hours);
    const handoff = p.type === "handoff" && clinic.phone;
    if (escalation === "emergency") {
      const emergency = str(clinic.emergency_number) || "112";
      const red = banner("e", advice || "This may be an emergency.", "Call " + emergency + " now", tel(emergency));
      if (fresh) red.setAttribute("role", "alert");
      box.append(red);
    }
    const answer = str(p.answer) || str(p.text);
    // A hand-off gets a contact card: the opening hours move there from the sentence.
    box.append(linked(handoff && hours ? answer.split(" (" + hours + ")").join("") : answer, clinic));
    if (escalation === "clinic") {
      box.append(banner("c", advice || "Call the clinic today.", "Call " + (str(clinic.name) || "the clinic") + ": " + str(clinic.phone), tel(clinic.phone)));
    } else if (advice && escalation !== "emergency") {
      box.append(el("p", "v", advice));
    }
    if (handoff) {
      const card = el("p", "v");
      card.append(el("a", "bt", "Call " + str(clinic.phone), { href: tel(clinic.phone) }));
      if (web(clinic.booking_url)) card.append(el("a", "bt", "Book a visit", { href: web(clinic.booking_url), target: "_blank", rel: "noopener" }));
      if (clinic.email) card.append(el("br"), "E-mail: ", el("a", null, str(clinic.email), { href: "mailto:" + str(clinic.email) }));
      if (hours) card.append(el("br"), "Opening hours: " + hours);
      box.append(card);
    }
    const sources = Array.isArray(p.sources) ? p.sources.filter((s) => s && s.quote) : [];
    if (sources.length) {
      const details = el("details");
      // Open when the quotes are the point of the reply ("Where does it say that?").
      details.open = !!entry.o || answer.startsWith(SOURCES_INTRO);
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
    if (p.type === "answer") feedbackRow(box, entry);
    return box;
  };
  // "Helpful" / "Not helpful" under the latest answer only (the review counts
  // feedback for the answer before it), disabled once one is chosen.
  let liveFeedback = null, askedComment = false;
  const feedbackRow = (box, entry) => {
    liveFeedback?.remove();
    liveFeedback = el("div", "fb", "Was this helpful?", { role: "group", "aria-label": "Was this answer helpful?" });
    for (const [verdict, title] of [["helpful", "Helpful"], ["not_helpful", "Not helpful"]]) {
      const b = button(title, () => { entry.fb = verdict; askedComment = verdict !== "helpful"; send(feedback(verdict), title); feedbackRow(box, entry); input.focus(); });
      b.disabled = !!entry.fb;
      b.setAttribute("aria-pressed", String(entry.fb === verdict));
      liveFeedback.append(b);
    }
    box.append(liveFeedback);
  };
  // After "Not helpful" the bot asks what was missing: one optional line, or Skip.
  const commentForm = (reply) => {
    const box = el("div", "cm");
    const field = el("input", null, null, { id: "bc-comment", maxlength: String(COMMENT_CHARS), autocomplete: "off" });
    const done = (text) => { reply.k = 1; if (text) send(feedback("not_helpful", text), text); else { save(); showSuggestions(); } input.focus(); };
    const submit = () => done(field.value.split(/\s+/).join(" ").trim().slice(0, COMMENT_CHARS));
    field.addEventListener("keydown", (e) => { if (e.key === "Enter" && !e.isComposing) { e.preventDefault(); submit(); } });
    box.append(el("label", null, "What was missing? (optional)", { for: "bc-comment" }), field, button("Send", submit), button("Skip", () => done("")));
    // Just asked, and the patient has not started typing elsewhere: the field gets the focus.
    if (askedComment && !input.value && root.activeElement === input) queueMicrotask(() => field.focus());
    askedComment = false;
    return box;
  };
  const refusal = (problem) => `Sorry, the assistant could not take this message (${problem}). Sending it again would not help: the chat on this page has a problem. If it is urgent, call:`;
  const nodes = new WeakMap(); // entry -> its bubble (not stored)
  const renderEntry = (entry, fresh) => {
    if (entry.m != null) {
      if (entry.u == null) return null;
      const bubble = el("p", "m u" + (entry.q ? " q" : ""));
      bubble.append(meta("You", entry.at), str(entry.u));
      if (entry.q || entry.f) bubble.append(el("small", null, entry.f ? "Not sent" : "Sending\u2026"));
      nodes.set(entry, bubble);
      return bubble;
    }
    let bubble;
    if (entry.b) bubble = renderBot(entry.b, entry, fresh);
    else if (entry.x) {
      bubble = el("div", "m b er");
      if (fresh) bubble.setAttribute("role", "alert");
      bubble.append(el("p", null, refusal(entry.x)), callLinks(true));
    } else bubble = el("p", "m b", entry.t);
    bubble.prepend(meta("Automated assistant", entry.at));
    return bubble;
  };
  const showSuggestions = () => {
    suggestions.replaceChildren();
    const last = state.log[state.log.length - 1];
    if (!last || last.m != null || queue().length) return;
    const asked = state.log.filter((e) => e.m != null).pop();
    if (last.b && !last.k && asked && asked.m === feedback("not_helpful")) suggestions.append(commentForm(last));
    // The server forgets the last topic when its session ends: follow-ups that need it stop working.
    const stale = Date.now() - last.at > config.idleMs;
    let disabled = 0;
    const list = last.b ? last.b.suggestions : last.s;
    for (const s of Array.isArray(list) ? list.slice(0, 6) : []) {
      if (!s || !s.title || !s.payload) continue;
      const b = button(s.title, () => { send(str(s.payload), str(s.title)); input.focus(); });
      b.disabled = stale && NEEDS_CONTEXT.includes(s.payload);
      disabled += b.disabled;
      suggestions.append(b);
    }
    if (disabled) suggestions.append(el("p", null, "Some follow-ups no longer work: the assistant forgets a conversation after a pause. Please ask your question again."));
  };
  const append = (entry, fresh) => {
    const node = renderEntry(entry, fresh);
    if (node) log.append(node);
    return node;
  };
  const showBadge = () => {
    const n = state.n || 0;
    badge.hidden = !n;
    badge.replaceChildren(String(n), el("span", "sr", n > 1 ? " new replies" : " new reply"));
  };
  const renderAll = () => {
    log.replaceChildren();
    state.log.forEach((entry) => append(entry, false));
    emergencyLine.replaceChildren(callLinks(false));
    showSuggestions(); showBadge();
    privacy.hidden = !!state.pv; showPrivacy();
    scroller.scrollTop = scroller.scrollHeight;
  };

  // Transport: Rasa's REST channel (docs/widget.md explains why not socket.io).
  // Queued messages are sent one at a time. What goes wrong decides what the
  // patient reads and when the widget tries again (docs/widget.md, "When
  // something fails"); the emergency number is in every notice and error bubble.
  const queue = () => state.log.filter((e) => e.q);
  let busy = false, delay = 0, timer = 0;
  const setNotice = (text) => {
    notice.hidden = !text;
    notice.replaceChildren(el("p", null, text), callLinks(true), button("Retry now", () => { delay = 0; pump(); }));
    for (const e of queue()) {
      const small = nodes.has(e) && nodes.get(e).querySelector("small");
      if (small) small.textContent = text ? "Not sent yet" : "Sending\u2026";
    }
    if (text) scroller.scrollTop = scroller.scrollHeight;
  };
  const request = (url, options) => {
    const abort = new AbortController();
    const t = setTimeout(() => abort.abort(), 60000);
    return fetch(url, { ...options, signal: abort.signal }).finally(() => clearTimeout(t));
  };
  const backoff = () => (delay = Math.min(delay ? delay * 2 : 1000, 30000));
  const retry = (text, ms) => {
    busy = false;
    typing.hidden = true;
    setNotice(text);
    clearTimeout(timer);
    timer = setTimeout(pump, ms);
  };
  const offline = () => retry("Can't reach the assistant. Reconnecting\u2026", backoff());
  const waitFor = (header) => {
    const s = header == null ? NaN : isNaN(header) ? (Date.parse(header) - Date.now()) / 1000 : +header;
    return Math.min(Math.max(Math.ceil(s) || 10, 1), 60);
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
      body: JSON.stringify({ sender: owner.sender || undefined, message: entry.m, message_id: entry.id || (entry.id = newId()) }),
    }).then(async (response) => {
      const status = response.status;
      owner.sender = response.headers.get("X-Botox-Sender") || owner.sender;
      // Not an id this server issued (its key changed, or an old widget's id): start a new one.
      if (status === 403 && owner.sender) { owner.sender = null; return retry("", 0); }
      if (status === 429) {
        // Our server read the refused message for an emergency: show that reply now, don't resend.
        const body = await response.json().catch(() => null);
        if (Array.isArray(body) && body.some((i) => i.custom?.escalation === "emergency")) return receive(entry, owner, body);
        const s = waitFor(response.headers.get("Retry-After"));
        return retry(`The assistant is getting too many messages right now. Your message is sent again in ${s} seconds.`, s * 1000);
      }
      if (status >= 500) return retry(`The assistant has a problem (error ${status}). Trying again\u2026`, backoff());
      const items = response.ok ? await response.json().catch(() => null) : null;
      receive(entry, owner, Array.isArray(items) ? items : null, response.ok ? "unreadable reply" : "error " + status);
    }, (error) => (error.name === "AbortError" ? offline() :
      // No answer at all. Reachable without CORS: the server refuses this page's origin.
      request(server + "/webhooks/rest/", { mode: "no-cors" }).then(
        () => retry("This chat can't reach the assistant from this website (a setup problem). Please call the clinic.", 30000), offline)));
  };
  const receive = (entry, owner, items, problem) => {
    busy = false; delay = 0;
    typing.hidden = true;
    setNotice("");
    if (owner !== state) return pump();
    delete entry.q;
    const bubble = nodes.get(entry);
    bubble?.classList.remove("q");
    bubble?.querySelector("small")?.remove();
    const at = Date.now();
    let replies;
    if (!items) {
      // Refused (4xx) or unreadable: sending it again would not help.
      entry.f = 1;
      bubble?.append(el("small", null, "Not sent"));
      replies = [{ x: problem, at }];
    } else {
      const custom = items.filter((i) => i && i.custom && typeof i.custom === "object");
      replies = custom.length ? custom.map((i) => ({ b: i.custom, o: entry.m === "/ask_source" ? 1 : 0, at }))
        : items.filter((i) => i && i.text).map((i) => ({ t: i.text, s: (i.buttons || []).map((b) => ({ title: b.title, payload: b.payload })), at }));
      const clinic = custom.map((i) => i.custom.clinic).filter((c) => c && typeof c === "object").pop();
      if (clinic) state.clinic = clinic;
    }
    state.log.push(...replies);
    if (panel.hidden) state.n = (state.n || 0) + replies.length;
    save();
    emergencyLine.replaceChildren(callLinks(false));
    let first;
    for (const r of replies) { const node = append(r, true); first = first || node; }
    showSuggestions(); showBadge();
    if (replies.some((r) => r.b && r.b.escalation === "emergency") && panel.hidden) open(false); // never hide an emergency
    if (first) scroller.scrollTop = first.offsetTop - 8; // the start of the reply (and any banner) in view
    pump();
  };
  const send = (message, shown) => {
    if (!message.trim()) return;
    const entry = { m: message, u: shown, q: 1, at: Date.now(), id: newId() };
    state.log.push(entry);
    save();
    append(entry, true);
    showSuggestions();
    scroller.scrollTop = scroller.scrollHeight;
    if (notice.hidden) pump(); else setNotice(notice.firstChild.textContent);
  };
  // The bot's own greeting (it says it is an automated assistant, not a doctor) opens every conversation.
  const greet = () => { if (!state.log.length) send("/greet"); };

  // "Start over" (or /restart typed): asked first, then the server restarts the conversation too.
  const askRestart = () => { confirmBox.hidden = false; cancel.focus(); };
  const restart = () => {
    state = { sender: state.sender, log: [], open: true, s: state.s, clinic: state.clinic, pv: state.pv };
    confirmBox.hidden = true;
    send("/restart");
    send("/greet");
    renderAll();
    input.focus();
  };
  const download = () => {
    const lines = state.log.filter((e) => e.u != null || e.m == null).map((e) => `[${new Date(e.at).toLocaleString()}] ` +
      (e.m != null ? "You: " + e.u : "Assistant (automated): " + (e.b ? str(e.b.text) || str(e.b.answer) : e.x ? refusal(e.x) : e.t)));
    const a = el("a", null, null, { download: "botox-chat-" + new Date().toISOString().slice(0, 10) + ".txt",
      href: URL.createObjectURL(new Blob([config.title + "\n\n" + lines.join("\n\n") + "\n"], { type: "text/plain" })) });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 1000);
  };

  // Opening and closing: focus goes to the input on open, back to the launcher on close.
  // Where the panel covers the screen it is modal: Tab stays inside it.
  const fullScreen = matchMedia("(max-width:480px)");
  const modal = () => (fullScreen.matches && !panel.hidden ? panel.setAttribute("aria-modal", "true") : panel.removeAttribute("aria-modal"));
  fullScreen.addEventListener?.("change", modal);
  const open = (focus = true) => {
    panel.hidden = false; launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    state.open = true; state.n = 0;
    save(); modal(); showBadge(); showSuggestions();
    scroller.scrollTop = scroller.scrollHeight;
    if (focus) input.focus();
    greet();
  };
  const shut = () => {
    panel.hidden = true; launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    state.open = false; save(); modal();
    launcher.focus();
  };
  launcher.addEventListener("click", () => open());
  panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") { e.stopPropagation(); shut(); }
    if (e.key !== "Tab" || !panel.hasAttribute("aria-modal")) return;
    const focusable = [...panel.querySelectorAll("a[href],button,textarea,input,summary")].filter((n) => !n.disabled && n.getClientRects().length);
    const [first, last] = [focusable[0], focusable[focusable.length - 1]];
    if (e.shiftKey ? root.activeElement === first : root.activeElement === last) {
      e.preventDefault();
      (e.shiftKey ? last : first).focus();
    }
  });
  window.addEventListener("online", () => { if (!notice.hidden) { delay = 0; pump(); } });
  // Another tab of the same site talked to the assistant: show the same conversation here.
  window.addEventListener("storage", (e) => {
    if (e.key !== KEY || busy || queue().length) return;
    const next = safe(() => valid(JSON.parse(e.newValue)));
    if (next) { state = { ...next, open: state.open }; renderAll(); }
  });
  // Enter sends, Shift+Enter starts a new line; the counter appears near the length limit.
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  const resize = () => {
    input.style.height = "";
    input.style.height = Math.min(input.scrollHeight + 2, 120) + "px";
    const left = MAX_CHARS - input.value.length;
    counter.textContent = left <= 200 ? `${left} of ${MAX_CHARS} characters left` : "";
  };
  input.addEventListener("input", resize);
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const text = input.value.trim();
    input.value = "";
    resize();
    if (text.toLowerCase() === "/restart") askRestart();
    else if (text) send(text, text);
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
