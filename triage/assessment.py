"""What the detector says about a message: each symptom mention and the
overall assessment the NLU component attaches to the message.

Kept apart from the detector so readers of a result (the NLU component, the
triage reply, evaluation, conversation generation) need not build or import
the spaCy pipeline.
"""

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from faq.contract import triage_rank


@dataclass(frozen=True)
class Mention:
    group: str
    label: str
    level: str  # the level after "worsening" (mild -> clinic)
    text: str
    sentence: int
    status: str  # report | question | negated | historical
    about: str  # self | other


@dataclass(frozen=True)
class Assessment:
    level: Optional[str]  # emergency | clinic | mild | None
    escalation: str  # payload escalation (docs/payload.md)
    kind: str  # report | question | negated | historical | none
    about: str  # self | other
    mentions: Tuple[Mention, ...] = field(default=())
    cite: Tuple[str, ...] = field(default=())

    @property
    def is_report(self) -> bool:
        return self.level is not None

    @property
    def negated(self) -> bool:
        return self.kind == "negated"

    @property
    def about_other(self) -> bool:
        return self.about == "other"

    @property
    def reported_by_urgency(self) -> List[Mention]:
        """The reported mentions, most urgent first (stable: text order within a level)."""
        reported = [m for m in self.mentions if m.status == "report"]
        return sorted(reported, key=lambda m: -triage_rank(m.level))

    @property
    def symptoms(self) -> List[str]:
        """Group ids of the reported symptoms, most urgent first."""
        return list(dict.fromkeys(m.group for m in self.reported_by_urgency))

    def as_dict(self) -> Dict:
        """What the NLU component attaches to the message (`message["triage"]`)."""
        return {
            "level": self.level,
            "escalation": self.escalation,
            "symptoms": self.symptoms,
            "labels": list(dict.fromkeys(m.label for m in self.reported_by_urgency)),
            "matched": [m.text for m in self.mentions if m.status == "report"],
            "about": self.about,
            "cite": list(self.cite),
        }


NO_TRIAGE = Assessment(level=None, escalation="none", kind="none", about="self")
