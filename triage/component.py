"""Rasa 3.6 NLU component: symptom triage on every message.

In config.yml, after the FallbackClassifier:

    - name: triage.component.TriageClassifier

Its place is declared, not left to a comment: `required_components()` names
the FallbackClassifier (which itself requires an intent classifier), and no
intent classifier may run after it. A FallbackClassifier after it would judge
its `report_symptom` at 1.0 against DIET's next intent as "ambiguous" and
replace it with `nlu_fallback`; another classifier would overwrite it. Rasa 3.6
checks `required_components()` only on the training graph, which leaves out a
component that trains nothing, so `create` checks both rules on the graph it
is loaded in and refuses to load the model when one is broken.

When a message is a current symptom report (the writer's or someone else's),
it overrides whatever intent came before (a topic, `nlu_fallback`, ...) with
`report_symptom` at confidence 1.0 and attaches the assessment:

    message["triage"] = {"level": "emergency"|"clinic"|"mild", "escalation": ...,
                         "symptoms": [...], "labels": [...], "matched": [...],
                         "about": "self"|"other", "cite": [...]}

`add_to_output=True`, so the parse result, the tracker's `user` event (review
reads it) and the action (`tracker.latest_message["triage"]`) all see it.
Questions, negations and history are left alone, except that a DIET
`report_symptom` whose symptom the detector found only negated, asked about or
in the past becomes the next intent of the ranking. The detector is built once
when the model loads; any internal error is logged and the message is left
as it was (fail safe: no triage rather than a crash).
"""

import logging
from typing import Any, Dict, List, Optional, Set, Type

from rasa.engine.exceptions import GraphSchemaValidationException
from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, INTENT_RANKING_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from faq.feedback import comment_in

logger = logging.getLogger(__name__)

TRIAGE_KEY = "triage"
REPORT_INTENT = "report_symptom"


def _upstream(schema: GraphSchema, node_name: str) -> Set[str]:
    """The nodes whose output reaches `node_name` (its ancestors)."""
    found: Set[str] = set()
    pending = [node_name]
    while pending:
        for parent in schema.nodes[pending.pop()].needs.values():
            if parent in schema.nodes and parent not in found:  # not a placeholder such as __message__
                found.add(parent)
                pending.append(parent)
    return found


def check_position(schema: GraphSchema, node_name: str, required: List[Type]) -> None:
    """Refuses a graph where `node_name` lacks a required component before it
    or has an intent classifier after it."""
    before = _upstream(schema, node_name)
    after = [name for name in schema.nodes if node_name in _upstream(schema, name)]
    missing = [r.__name__ for r in required if not any(issubclass(schema.nodes[n].uses, r) for n in before)]
    overriding = sorted(
        {schema.nodes[n].uses.__name__ for n in after if issubclass(schema.nodes[n].uses, IntentClassifier)}
    )
    problems = [f"needs {name} before it" for name in missing]
    if overriding:
        problems.append(f"must come after {', '.join(overriding)}: an intent classifier after it overwrites its intent")
    if problems:
        raise GraphSchemaValidationException(
            f"{node_name}: " + "; ".join(problems) + ". Fix the pipeline order in config.yml."
        )


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class TriageClassifier(GraphComponent):
    @classmethod
    def required_components(cls) -> List[Type]:
        """Components that must run before this one (and, checked by `create`, no intent classifier after)."""
        return [FallbackClassifier]

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {"intent": REPORT_INTENT}

    def __init__(self, config: Dict[str, Any], detector: Optional[Any] = None) -> None:
        self.intent = config.get("intent", REPORT_INTENT)
        self.detector = detector
        if self.detector is None:
            try:
                from triage.detector import get_detector

                self.detector = get_detector()
            except Exception:
                logger.exception("triage: could not build the detector; triage is OFF")

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TriageClassifier":
        if execution_context.node_name is not None:
            check_position(execution_context.graph_schema, execution_context.node_name, cls.required_components())
        return cls(config)

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            try:
                self._process_one(message)
            except Exception:
                logger.exception("triage: failed on a message; left unchanged")
        return messages

    def _ranking_without_report(self, message: Message) -> List[Dict]:
        return [r for r in (message.get(INTENT_RANKING_KEY) or []) if r.get(INTENT_NAME_KEY) != self.intent]

    def _demote(self, message: Message) -> None:
        """DIET said `report_symptom`, but the detector found the symptom only
        negated, asked about or in the past ("no headache, I feel fine", "what
        do I do if I feel faint"): take the next intent instead."""
        intent = message.get(INTENT) or {}
        if intent.get(INTENT_NAME_KEY) != self.intent:
            return
        ranking = self._ranking_without_report(message)
        if not ranking:
            return
        message.set(INTENT, dict(ranking[0]), add_to_output=True)
        message.set(INTENT_RANKING_KEY, ranking, add_to_output=True)
        logger.debug("triage: %s without a current symptom -> %s", self.intent, ranking[0].get(INTENT_NAME_KEY))

    def _process_one(self, message: Message) -> None:
        text = message.get(TEXT)
        if not text or self.detector is None:
            return
        comment = comment_in(text)
        assessment = self.detector.assess(comment or text)
        if not assessment.is_report:
            if assessment.mentions:
                self._demote(message)
            return
        if comment:
            # A symptom written as feedback ("what was missing?": "now I can't
            # breathe") is a report: Rasa's RegexMessageHandler, after us, would
            # rebuild a "/give_feedback{...}" message without the triage.
            message.set(TEXT, comment, add_to_output=True)
        triage = assessment.as_dict()
        previous = message.get(INTENT) or {}
        ranking = self._ranking_without_report(message)
        intent = {INTENT_NAME_KEY: self.intent, PREDICTED_CONFIDENCE_KEY: 1.0}
        message.set(INTENT, intent, add_to_output=True)
        message.set(INTENT_RANKING_KEY, [intent] + ranking, add_to_output=True)
        message.set(TRIAGE_KEY, triage, add_to_output=True)
        # Symptoms are health data: DEBUG only, never in the default logs.
        logger.debug(
            "triage: %s report (%s, about %s); intent %s -> %s",
            triage["level"],
            ", ".join(triage["symptoms"]),
            triage["about"],
            previous.get(INTENT_NAME_KEY),
            self.intent,
        )
