"""The self-contained HTML report: plots as inline base64 PNG, the page from a
Jinja2 template (templates/report.html) with autoescaping, so every text is
escaped without a call at each place it appears.

The page loads nothing from anywhere (its Content-Security-Policy forbids it),
so opening it sends nothing off the machine.
"""

import base64
import io
import json
from collections import Counter
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from review.cluster import QuestionGroup
from review.feedback import RatedAnswer, TopicFeedback, not_helpful_rows, per_topic
from review.figures import Figures

VERDICT_COLOURS = {"helpful": "#74c476", "not helpful": "#fd8d3c"}
LEVEL_COLOURS = {"routine": "#6baed6", "clinic": "#fd8d3c", "emergency": "#d62728"}
MAX_EXAMPLES = 6


def _png(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


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


def plot_feedback(topics: List[TopicFeedback]) -> Optional[str]:
    """Helpful and not helpful per topic (stacked), the helpful rate at the bar's end."""
    if not topics:
        return None
    topics = list(reversed(topics))
    fig, ax = _fig(0.8 + 0.32 * len(topics))
    names = [t.topic for t in topics]
    helpful = [t.helpful for t in topics]
    ax.barh(names, helpful, color=VERDICT_COLOURS["helpful"], label="helpful")
    bars = ax.barh(names, [t.not_helpful for t in topics], left=helpful, color=VERDICT_COLOURS["not helpful"])
    bars.set_label("not helpful")
    ax.bar_label(bars, labels=[f"{_pct(t.helpful_rate)} helpful" for t in topics], padding=3, fontsize=8)
    ax.set_xlabel("answers rated")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.spines[["top", "right"]].set_visible(False)
    _legend_above(ax)
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


def _utc_time(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _triage_text(triage: Any) -> str:
    """The triage data the NLU attached, as one line for the audit table."""
    if isinstance(triage, dict):
        return ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False, default=str)}" for k, v in triage.items())
    return json.dumps(triage, ensure_ascii=False, default=str)


TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=StrictUndefined,
)
TEMPLATES.filters.update(pct=_pct, utc_time=_utc_time)


class Card(NamedTuple):
    key: str
    value: int  # numbers only, never patient text
    label: str
    cls: str = ""
    small: Optional[str] = None


def _group_row(g: QuestionGroup, redact: Callable[[str], str]) -> Dict[str, Any]:
    (wording, times), rest = g.phrasings[0], g.phrasings[1:MAX_EXAMPLES]
    return {
        "count": g.count,
        "wording": redact(wording),
        "times": times,
        "others": [(redact(t), n) for t, n in rest],
        "more": len(g.phrasings) - 1 - len(rest),
    }


def render(
    f: Figures,
    groups: List[QuestionGroup],
    pseudonym: Callable[[str], str],
    redact: Callable[[str], str],
    meta: Dict[str, str],
    fallback_threshold: float,
    low_confidence: float,
    rated: Sequence[RatedAnswer] = (),
) -> str:
    """The page (templates/report.html). Patient text is redacted and senders
    pseudonymised here, before the template sees them; the template escapes."""
    cards = [
        Card("conversations", f.conversations, "conversations"),
        Card("messages", f.messages, "patient messages"),
        Card("answers", f.reply_types.get("answer", 0), "answered from the article"),
        Card("fallbacks", f.fallbacks, "not covered (fallback)", small=_pct(f.fallback_rate)),
        Card("routine", f.escalations.get("routine", 0), "routine escalations"),
        Card("clinic", f.escalations.get("clinic", 0), "clinic escalations", "clinic"),
        Card("emergency", f.escalations.get("emergency", 0), "emergency escalations", "emergency"),
    ]
    topics = per_topic(rated)
    helpful_rate = sum(t.helpful for t in topics) / len(rated) if rated else None
    rate = None if helpful_rate is None else f"{_pct(helpful_rate)} helpful"
    cards.append(Card("feedback", len(rated), "answers rated by patients", small=rate))
    summary = Counter((t.escalation, t.reply_type, t.topic or "", t.intent or "") for t in f.audited)
    return TEMPLATES.get_template("report.html").render(
        f=f,
        meta=meta,
        cards=cards,
        other_replies=", ".join(
            f"{k}: {v}" for k, v in sorted(f.reply_types.items()) if k not in ("answer", "fallback")
        ),
        plots={
            "volume": plot_volume(f),
            "topics": plot_topics(f),
            "fallback": plot_fallback_rate(f),
            "escalations": plot_escalations(f),
            "confidence": plot_confidence(f, fallback_threshold, low_confidence),
            "feedback": plot_feedback(topics),
        },
        feedback_topics=topics,
        not_helpful=not_helpful_rows(rated, pseudonym, redact),
        groups=[_group_row(g, redact) for g in groups],
        audit_summary=[
            (*key, n) for key, n in sorted(summary.items(), key=lambda kv: (kv[0][0] != "emergency", -kv[1], kv[0]))
        ],
        audited=[
            {
                "exchange": t,
                "patient": pseudonym(t.sender),
                "text": redact(t.text),
                "triage": _triage_text(t.triage) if t.triage else None,
            }
            for t in sorted(f.audited, key=lambda t: (t.escalation != "emergency", t.timestamp))
        ],
        low_confidence=[{"exchange": t, "text": redact(t.text)} for t in f.low_confidence],
        low_confidence_mark=low_confidence,
    )
