"""The clinic's settings (clinic.yml): contacts and escalation advice."""

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Dict, Optional

import yaml

from faq.contract import CLINIC_FIELDS as CONTACT_FIELDS
from faq.settings import CLINIC_PATH


@dataclass(frozen=True)
class Clinic:
    contact: Dict[str, str]
    advice_templates: Dict[str, Optional[str]]

    def fill(self, template: str) -> str:
        return template.format(**self.contact)

    def advice(self, escalation: str) -> Optional[str]:
        template = self.advice_templates.get(escalation)
        return self.fill(template) if template else None


@cache
def load_clinic(path: Path = CLINIC_PATH) -> Clinic:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    missing = [f for f in CONTACT_FIELDS if not raw.get(f)]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}")
    return Clinic(
        contact={f: str(raw[f]) for f in CONTACT_FIELDS},
        advice_templates=dict(raw["advice"]),
    )
