"""The self-contained HTML report: plots as inline base64 PNG, every text escaped.

The page loads nothing from anywhere (its Content-Security-Policy forbids it),
so opening it sends nothing off the machine.
"""

import base64
import io
import json
from collections import Counter
from datetime import date, datetime, timezone
from html import escape
from typing import Callable, Dict, List, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from review.cluster import Group
from review.figures import Figures, Turn

LEVEL_COLOURS = {"routine": "#6baed6", "clinic": "#fd8d3c", "emergency": "#d62728"}
MAX_EXAMPLES = 6


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def _img(data: str, alt: str) -> str:
    return f'<img src="data:image/png;base64,{data}" alt="{escape(alt)}">'


def _date_axis(ax, days: Sequence[date]):
    if len(days) <= 16:
        ax.xaxis.set_major_locator(mdates.DayLocator())
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%b %d"))
    else:
        locator = mdates.AutoDateLocator(minticks=4, maxticks=12)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    if days:
        ax.set_xlim(mdates.date2num(days[0]) - 0.6, mdates.date2num(days[-1]) + 0.6)
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)


def _legend_above(ax):
    ax.legend(frameon=False, loc="lower left", bbox_to_anchor=(0, 1.0), ncol=3)


def _fig(height: float = 3.0):
    return plt.subplots(figsize=(9, height))


def plot_volume(f: Figures) -> str:
    fig, ax = _fig()
    x = list(f.per_day)
    ax.bar(x, [v["messages"] for v in f.per_day.values()], width=0.8, color="#9ecae1", label="patient messages")
    ax.plot(
        x,
        [v["conversations"] for v in f.per_day.values()],
        color="#08519c",
        marker="o" if len(x) <= 62 else None,
        markersize=3,
        label="conversations",
    )
    ax.set_ylabel("per day (UTC)")
    _legend_above(ax)
    _date_axis(ax, f.days)
    return _png(fig)


def plot_topics(f: Figures) -> Optional[str]:
    if not f.answers_per_topic:
        return None
    topics = list(reversed(f.answers_per_topic))
    fig, ax = _fig(0.6 + 0.32 * len(topics))
    bars = ax.barh([t for t, _ in topics], [n for _, n in topics], color="#74c476")
    ax.bar_label(bars, padding=3, fontsize=8)
    ax.set_xlabel("answers given")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def plot_fallback_rate(f: Figures) -> str:
    fig, ax = _fig()
    days = [d for d, v in f.per_day.items() if v["messages"]]
    rates = [100 * f.per_day[d]["fallback_rate"] for d in days]
    ax.plot(
        days,
        rates,
        color="#756bb1",
        marker="o" if len(days) <= 62 else None,
        markersize=3,
        label="not covered (fallback) %",
    )
    ax.axhline(
        100 * f.fallback_rate,
        color="#756bb1",
        linestyle="--",
        linewidth=1,
        label=f"whole period {100 * f.fallback_rate:.1f}%",
    )
    ax.set_ylim(0, 100)
    ax.set_ylabel("% of patient messages")
    _legend_above(ax)
    _date_axis(ax, f.days)
    return _png(fig)


def plot_escalations(f: Figures) -> str:
    fig, ax = _fig()
    x = list(f.per_day)
    bottom = [0] * len(x)
    for level, colour in LEVEL_COLOURS.items():
        values = [v[level] for v in f.per_day.values()]
        ax.bar(x, values, bottom=bottom, width=0.8, color=colour, label=f"{level} ({f.escalations.get(level, 0)})")
        bottom = [b + v for b, v in zip(bottom, values)]
    ax.set_ylabel("escalated replies per day")
    ax.yaxis.get_major_locator().set_params(integer=True)
    _legend_above(ax)
    _date_axis(ax, f.days)
    return _png(fig)


def plot_confidence(f: Figures, fallback_threshold: float, low_confidence: float) -> Optional[str]:
    if not f.confidences:
        return None
    fig, ax = _fig()
    ax.hist(f.confidences, bins=[i / 20 for i in range(21)], color="#bdbdbd", edgecolor="white")
    ax.axvline(fallback_threshold, color="#756bb1", linestyle="--", label=f"fallback threshold {fallback_threshold:g}")
    ax.axvline(low_confidence, color="#fd8d3c", linestyle=":", label=f"low-confidence mark {low_confidence:g}")
    ax.set_xlim(0, 1)
    ax.set_xlabel("confidence of the best intent")
    ax.set_ylabel("patient messages")
    _legend_above(ax)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def _time(t: Turn) -> str:
    return datetime.fromtimestamp(t.timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0 auto;max-width:1100px;
padding:1.5rem;color:#222;line-height:1.4}
h1{margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
.meta{color:#555;font-size:.9rem}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(130px,1fr));gap:.6rem;margin:1.2rem 0}
.card{border:1px solid #ddd;border-radius:8px;padding:.5rem .7rem;background:#fafafa}
.card b{display:block;font-size:1.5rem}.card b small{font-size:.9rem;font-weight:normal;color:#444}
.card span{color:#555;font-size:.82rem}
.card.emergency{border-color:#d62728;background:#fff0f0}.card.clinic{border-color:#fd8d3c;background:#fff6ee}
img{max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.6rem 0}
th,td{border:1px solid #ddd;padding:.35rem .5rem;vertical-align:top;text-align:left}
th{background:#f2f2f2}td.n{text-align:right;white-space:nowrap}td.t{white-space:nowrap}
table.audit td:nth-child(4){min-width:10rem}table.audit td:nth-child(6){min-width:18rem}
.pre{white-space:pre-wrap}.level-emergency{color:#b00;font-weight:bold}.level-clinic{color:#b35900;font-weight:bold}
ul.ex{margin:0;padding-left:1.1rem}.note{color:#555;font-size:.88rem}
details{margin:.4rem 0}summary{cursor:pointer;color:#333}
"""


def render(
    f: Figures,
    groups: List[Group],
    pseudonym: Callable[[str], str],
    redact: Callable[[str], str],
    meta: Dict[str, str],
    fallback_threshold: float,
    low_confidence: float,
) -> str:
    e = escape
    out: List[str] = []
    w = out.append
    w("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>")
    w(
        "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; "
        "style-src 'unsafe-inline'\">"
    )
    w("<meta name='viewport' content='width=device-width,initial-scale=1'>")
    w(f"<title>Clinic review {e(meta['first_day'])} to {e(meta['last_day'])}</title><style>{CSS}</style></head><body>")
    w(f"<h1>Clinic review: {e(meta['first_day'])} to {e(meta['last_day'])}</h1>")
    w(
        f"<p class='meta'>{e(meta.get('clinic', ''))} · generated {e(meta['generated'])} · "
        f"tracker store: {e(meta['store'])} · days are UTC · {e(meta['retention'])}</p>"
    )

    answered = f.reply_types.get("answer", 0)
    w("<div class='cards'>")
    for key, value, label, cls in [
        ("conversations", f.conversations, "conversations", ""),
        ("messages", f.messages, "patient messages", ""),
        ("answers", answered, "answered from the article", ""),
        ("fallbacks", f"{f.fallbacks} <small>{_pct(f.fallback_rate)}</small>", "not covered (fallback)", ""),
        ("routine", f.escalations.get("routine", 0), "routine escalations", ""),
        ("clinic", f.escalations.get("clinic", 0), "clinic escalations", "clinic"),
        ("emergency", f.escalations.get("emergency", 0), "emergency escalations", "emergency"),
    ]:
        # values are numbers formatted here, never patient text
        w(f"<div class='card {cls}' id='card-{key}'><b>{value}</b><span>{e(label)}</span></div>")
    w("</div>")
    others = ", ".join(f"{k}: {v}" for k, v in sorted(f.reply_types.items()) if k not in ("answer", "fallback"))
    w(f"<p class='note'>{f.senders} distinct patients (pseudonymised). Other replies: {e(others or 'none')}.</p>")

    w("<h2 id='volume'>Messages and conversations per day</h2>")
    w(_img(plot_volume(f), "bar chart of patient messages and line of conversations per day"))
    w("<h2 id='topics'>Answers per topic</h2>")
    topics = plot_topics(f)
    w(_img(topics, "answers per knowledge-base topic") if topics else "<p>No answers in this period.</p>")
    w("<h2 id='fallback'>Not covered by the article (fallback rate)</h2>")
    w(
        "<p class='note'>Share of patient messages answered with the fallback reply (the article does not cover "
        "it, the message was not understood, or it was too long).</p>"
    )
    w(_img(plot_fallback_rate(f), "fallback rate per day"))
    w("<h2 id='escalations'>Escalations per level</h2>")
    w(_img(plot_escalations(f), "escalated replies per day by level"))
    w("<h2 id='confidence'>NLU confidence</h2>")
    w(
        "<p class='note'>Confidence of the best intent for every typed message (button clicks are not "
        "interpreted and not counted). Below the fallback threshold the bot gives the fallback reply.</p>"
    )
    conf = plot_confidence(f, fallback_threshold, low_confidence)
    w(_img(conf, "histogram of NLU confidence") if conf else "<p>No typed messages in this period.</p>")

    w(
        "<h2 id='table'>Figures per day</h2><details><summary>Show the table</summary><table><tr><th>day</th>"
        "<th>messages</th><th>conversations</th><th>not covered</th><th>rate</th><th>routine</th><th>clinic</th>"
        "<th>emergency</th></tr>"
    )
    for d, v in f.per_day.items():
        rate = "" if v["fallback_rate"] is None else _pct(v["fallback_rate"])
        w(
            f"<tr><td>{d.isoformat()}</td><td class='n'>{v['messages']}</td><td class='n'>{v['conversations']}</td>"
            f"<td class='n'>{v['fallbacks']}</td><td class='n'>{rate}</td><td class='n'>{v['routine']}</td>"
            f"<td class='n'>{v['clinic']}</td><td class='n'>{v['emergency']}</td></tr>"
        )
    w("</table></details>")

    w(f"<h2 id='unanswered'>Unanswered questions ({len(f.unanswered)} messages, {len(groups)} groups)</h2>")
    w(
        "<p class='note'>Typed messages that got the fallback reply, grouped by similar wording. Candidates for "
        "new knowledge-base entries or training examples; they are also in the NLU candidates file.</p>"
    )
    if groups:
        w("<table><tr><th>#</th><th class='n'>messages</th><th>most frequent wording</th><th>other wordings</th></tr>")
        for i, g in enumerate(groups, 1):
            rest = g.phrasings[1:MAX_EXAMPLES]
            more = len(g.phrasings) - 1 - len(rest)
            items = "".join(f"<li>{e(redact(t))}" + (f" ×{n}" if n > 1 else "") + "</li>" for t, n in rest)
            if more > 0:
                items += f"<li>… {more} more</li>"
            label, n0 = g.phrasings[0]
            w(
                f"<tr><td class='n'>{i}</td><td class='n'>{g.count}</td><td>{e(redact(label))}"
                f"{f' ×{n0}' if n0 > 1 else ''}</td><td><ul class='ex'>{items}</ul></td></tr>"
            )
        w("</table>")
    else:
        w("<p>None.</p>")

    w(f"<h2 id='audit'>Emergency and clinic escalations ({len(f.audited)})</h2>")
    w(
        "<p class='note'>Every reply that sent the patient to the emergency number or to the clinic, with the "
        "message that triggered it and the full reply given, for a clinician to audit the triage.</p>"
    )
    if f.audited:
        summary = Counter((t.escalation, t.reply_type, t.topic or "", t.intent or "") for t in f.audited)
        w("<table><tr><th>level</th><th>reply</th><th>topic</th><th>understood as</th><th class='n'>replies</th></tr>")
        for (level, kind, topic, intent), n in sorted(
            summary.items(), key=lambda kv: (kv[0][0] != "emergency", -kv[1], kv[0])
        ):
            w(
                f"<tr><td class='level-{e(level)}'>{e(level)}</td><td>{e(kind)}</td><td>{e(topic)}</td>"
                f"<td>{e(intent)}</td><td class='n'>{n}</td></tr>"
            )
        w("</table>")
        w(
            "<table class='audit'><tr><th>time (UTC)</th><th>patient</th><th>level</th><th>patient message</th>"
            "<th>understood as</th><th>reply given</th></tr>"
        )
        for t in sorted(f.audited, key=lambda t: (t.escalation != "emergency", t.timestamp)):
            understood = e(t.intent or "") + (f" ({t.confidence:.2f})" if t.confidence is not None else "")
            understood += f"<br>reply: {e(t.reply_type)}" + (f", {e(t.topic)}" if t.topic else "")
            if t.triage:
                triage = (
                    ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False, default=str)}" for k, v in t.triage.items())
                    if isinstance(t.triage, dict)
                    else json.dumps(t.triage, ensure_ascii=False, default=str)
                )
                understood += f"<br>triage: <code>{e(triage)}</code>"
            w(
                f"<tr><td class='t'>{_time(t)}</td><td>{e(pseudonym(t.sender))}</td>"
                f"<td class='level-{e(t.escalation)}'>{e(t.escalation)}</td><td class='pre'>{e(redact(t.text))}</td>"
                f"<td>{understood}</td><td class='pre'>{e(t.reply_text)}</td></tr>"
            )
        w("</table>")
    else:
        w("<p>None.</p>")

    w(f"<h2 id='low'>Answered with low confidence ({len(f.low_confidence)})</h2>")
    w(
        f"<p class='note'>Typed messages answered although NLU confidence was below {low_confidence:g}: check the "
        "answer fitted. Also in the NLU candidates file.</p>"
    )
    if f.low_confidence:
        w(
            "<details><summary>Show the messages</summary><table><tr><th>time (UTC)</th><th>patient message</th>"
            "<th>understood as</th><th class='n'>confidence</th><th>reply</th></tr>"
        )
        for t in f.low_confidence:
            w(
                f"<tr><td class='t'>{_time(t)}</td><td>{e(redact(t.text))}</td><td>{e(t.intent or '')}</td>"
                f"<td class='n'>{t.confidence:.2f}</td><td>{e(t.reply_type)}{(', ' + e(t.topic)) if t.topic else ''}"
                "</td></tr>"
            )
        w("</table></details>")
    else:
        w("<p>None.</p>")

    w(
        "<h2 id='privacy'>Privacy</h2><p class='note'>Patients appear only as keyed pseudonyms (HMAC-SHA256 of the "
        "sender id); e-mail addresses and long numbers typed by patients are masked. Conversations older than the "
        "retention window are never reported, whether or not they have been purged yet. This page loads nothing "
        "from the network.</p>"
    )
    w("</body></html>")
    return "\n".join(out)
