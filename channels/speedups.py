"""One measured fix of Rasa's own per-message cost, applied in the Rasa process.

Rasa 3.6 checks every action-server response with `jsonschema.validate(result,
schema)`. With jsonschema 4.x that call first re-validates the (constant)
schema against the JSON-Schema meta-schema, every time: ~35 ms of CPU per
custom action call on this machine, against ~2.5 ms for validating the
response itself (scripts/bench.py profile, docs/production.md). This module
replaces it with a validator built and checked once. The outcome is the
same: a valid response passes; an invalid one goes to Rasa's original method,
which raises the same ValidationError with Rasa's own message.

Applied once when the server starts, by every project channel (channels/startup.py).
Off with BOTOX_CACHE_ACTION_SCHEMA=0.
"""

import logging

from faq.settings import SETTINGS

logger = logging.getLogger(__name__)


def action_response_validation_cached() -> bool:
    from rasa.core.actions.action import RemoteAction

    return getattr(RemoteAction._validate_action_result, "botox_cached", False)


def cache_action_response_validation() -> bool:
    """Patches RemoteAction._validate_action_result; True if applied."""
    if not SETTINGS.cache_action_schema:
        return False
    from jsonschema import validators
    from rasa.core.actions.action import RemoteAction

    if action_response_validation_cached():
        return True
    original = RemoteAction._validate_action_result
    spec = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(spec)
    cls.check_schema(spec)
    validator = cls(spec)

    def _validate_action_result(self, result):
        if validator.is_valid(result):
            return True
        return original(self, result)  # raises Rasa's own error

    _validate_action_result.botox_cached = True  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = _validate_action_result
    logger.debug("Action response schema validator cached.")
    return True
