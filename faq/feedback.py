"""Answer feedback: "Helpful" / "Not helpful" under an answer, and an optional
one line of what was missing.

Feedback travels as an ordinary user message in Rasa's intent syntax, so the
tracker store keeps it as a `user` event with intent and entities, through the
same guard, locks and write checks as every other message:

    /give_feedback{"verdict": "helpful"}
    /give_feedback{"verdict": "not_helpful"}
    /give_feedback{"verdict": "not_helpful", "comment": "the price"}

A comment comes after its "not helpful" (the patient may never send one).
The widget (widget/botox-chat.js) writes these messages itself; the Telegram
channel and the tests use `feedback_message`; the review reads them back with
`feedback_from_entities`. A comment is free text: the triage reads it
(`comment_in`), so a symptom written there is answered like any report.
"""

import json
from dataclasses import dataclass
from typing import Any, Optional, Sequence

from faq.contract import COMMENT_ENTITY, VERDICT_ENTITY, Intent, Verdict

# One line: enough to say what was missing, short enough to read in a table.
MAX_COMMENT_CHARS = 200


@dataclass(frozen=True)
class Feedback:
    verdict: Optional[str] = None  # a Verdict, or None when the message carried none
    comment: str = ""


def clean_comment(text: str) -> str:
    """One line, single spaces, at most MAX_COMMENT_CHARS."""
    return " ".join(str(text).split())[:MAX_COMMENT_CHARS].strip()


def feedback_message(verdict: str, comment: str = "") -> str:
    """The user message a feedback button (or a comment) sends."""
    entities = {VERDICT_ENTITY: str(Verdict(verdict))}
    if clean_comment(comment):
        entities[COMMENT_ENTITY] = clean_comment(comment)
    return f"/{Intent.GIVE_FEEDBACK}" + json.dumps(entities, ensure_ascii=False, separators=(",", ":"))


def feedback_from_entities(entities: Optional[Sequence[Any]]) -> Feedback:
    """The feedback in a parsed message's entities (Rasa's parse data); an
    unknown verdict counts as none."""
    values = {e.get("entity"): e.get("value") for e in entities or () if isinstance(e, dict)}
    verdict = values.get(VERDICT_ENTITY)
    comment = values.get(COMMENT_ENTITY)
    return Feedback(
        verdict=verdict if verdict in list(Verdict) else None,
        comment=clean_comment(comment) if isinstance(comment, str) else "",
    )


def comment_in(text: str) -> Optional[str]:
    """The comment of a give_feedback message (read like Rasa's "/intent{...}"
    syntax); None for any other text."""
    prefix = f"/{Intent.GIVE_FEEDBACK}"
    if not text.startswith(prefix + "{"):
        return None
    try:
        entities = json.loads(text[len(prefix) :])
    except ValueError:
        return None
    comment = entities.get(COMMENT_ENTITY) if isinstance(entities, dict) else None
    return clean_comment(comment) or None if isinstance(comment, str) else None
