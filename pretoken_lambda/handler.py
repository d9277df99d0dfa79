"""The Cognito pre token generation trigger: applies the rules document to every token request.

Configure the Lambda function with ``Handler: pretoken_lambda.handler.lambda_handler`` and:

``AVP_MIGRATE_RULES_SOURCE`` (required)
    Where the rules are: ``file:<path>``, ``ssm:<parameter name>`` or ``dynamodb:<table>/<ruleset>``
    (:mod:`pretoken_lambda.sources`). The scanner recognises this handler by this variable.
``AVP_MIGRATE_RULES_MAX_AGE`` (optional, default 60)
    Seconds a fetched rules document is reused before it is read again.

The event and the response follow the Cognito developer guide, "Pre token generation Lambda trigger"
(https://docs.aws.amazon.com/cognito/latest/developerguide/user-pool-lambda-pre-token-generation.html):

* ``V1_0`` events (``response.claimsOverrideDetails``) customise the ID token and the groups only:
  ``claimsToAddOrOverride``, ``claimsToSuppress``, ``groupOverrideDetails``. Scope and access-token actions
  of the matching rules are ignored (and logged as ignored); so are non-string claim values, which V1_0
  does not take.
* ``V2_0``/``V3_0`` events (``response.claimsAndScopeOverrideDetails``) add ``idTokenGeneration`` and
  ``accessTokenGeneration`` (``claimsToAddOrOverride``, ``claimsToSuppress``, ``scopesToAdd``,
  ``scopesToSuppress``) beside ``groupOverrideDetails``. A ``V3_0`` client-credentials event
  (``TokenGeneration_ClientCredentials``) has no user, no ID token and no groups: only
  ``accessTokenGeneration`` is returned for it.
* The event's version is read from ``version``; an event that carries ``request.scopes`` or a
  ``claimsAndScopeOverrideDetails`` key is a V2_0+ event whatever its ``version`` says (V1_0 events carry
  neither, and sample V2 events with ``"version": "1"`` circulate).
* ``groupOverrideDetails`` is returned only when a matching rule overrides the groups: an empty or null one
  would remove the user's groups from both tokens.
* With no matching rule (or nothing to change), the event is returned as received.
* ``response`` and the details object may arrive as ``[]``, ``{}`` or null; all are accepted.

If the rules cannot be loaded the invocation fails, and Cognito refuses the sign-in: issuing tokens without
the rules would leave out scopes the rules suppress, which fails open.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pretoken_lambda.rules import CLIENT_CREDENTIALS, Outcome, RuleSet, Subject, TokenClaims, evaluate
from pretoken_lambda.sources import RulesSourceError, load_rules, parse_source

ENV_RULES_SOURCE = "AVP_MIGRATE_RULES_SOURCE"
ENV_RULES_MAX_AGE = "AVP_MIGRATE_RULES_MAX_AGE"
DEFAULT_MAX_AGE = 60
SERVICE_NAME = "avp-migrate-pretoken"

V1_DETAILS = "claimsOverrideDetails"
V2_DETAILS = "claimsAndScopeOverrideDetails"

Event = dict[str, Any]
Handler = Callable[[Event, Any], Event]


class ConfigError(ValueError):
    """The function's environment variables are missing or wrong."""


@dataclass(frozen=True)
class HandlerConfig:
    source: str
    max_age: int = DEFAULT_MAX_AGE

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> HandlerConfig:
        source = (environ.get(ENV_RULES_SOURCE) or "").strip()
        if not source:
            raise ConfigError(f"{ENV_RULES_SOURCE} is not set: give file:<path>, ssm:<parameter name> or "
                              "dynamodb:<table>/<ruleset>")
        try:
            parse_source(source)
        except RulesSourceError as exc:
            raise ConfigError(f"{ENV_RULES_SOURCE}: {exc}") from None
        raw_age = (environ.get(ENV_RULES_MAX_AGE) or "").strip()
        max_age = DEFAULT_MAX_AGE
        if raw_age:
            try:
                max_age = int(raw_age)
            except ValueError:
                max_age = -1
            if max_age < 0:
                raise ConfigError(f"{ENV_RULES_MAX_AGE} must be a whole number of seconds >= 0, "
                                  f"got {raw_age!r}")
        return cls(source, max_age)


# --- events -------------------------------------------------------------------------------------------------


def _mapping(value: Any) -> Mapping[str, Any]:
    """Cognito sends absent objects as null, {} or even []: treat anything but an object as empty."""
    return value if isinstance(value, Mapping) else {}


def is_v1_event(event: Mapping[str, Any]) -> bool:
    """True for a V1_0 event (ID token only), False for V2_0/V3_0 (see the module docstring)."""
    if str(event.get("version", "")) in {"2", "3"} or event.get("triggerSource") == CLIENT_CREDENTIALS:
        return False
    request, response = _mapping(event.get("request")), _mapping(event.get("response"))
    return "scopes" not in request and V2_DETAILS not in response


def subject_from_event(event: Mapping[str, Any]) -> Subject:
    """The :class:`Subject` a pre token generation event describes."""
    trigger_source = event.get("triggerSource")
    client_id = _mapping(event.get("callerContext")).get("clientId")
    subject_fields: dict[str, Any] = {
        "trigger_source": trigger_source if isinstance(trigger_source, str) else None,
        "client_id": client_id if isinstance(client_id, str) else None,
    }
    if trigger_source == CLIENT_CREDENTIALS:
        return Subject(**subject_fields)  # a machine: whatever userName says, there is no user
    request = _mapping(event.get("request"))
    attributes = {k: v for k, v in _mapping(request.get("userAttributes")).items()
                  if isinstance(k, str) and isinstance(v, str)}
    configuration = request.get("groupConfiguration")
    if isinstance(configuration, list):  # the guide's V1_0 syntax block shows a one-element list
        configuration = next((c for c in configuration if isinstance(c, Mapping)), None)
    groups = _mapping(configuration).get("groupsToOverride")
    username = event.get("userName")
    return Subject(
        groups=frozenset(g for g in groups if isinstance(g, str)) if isinstance(groups, list) else (),
        username=username if isinstance(username, str) else None,
        sub=attributes.get("sub"),
        attributes=attributes,
        **subject_fields,
    )


def _plain(value: Any) -> Any:
    # A fresh copy of a claim value: values live in the cached rule set, so the response must not share its
    # lists and objects with it (whoever receives the event could mutate them).
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _claims_part(token: TokenClaims, *, strings_only: bool = False) -> tuple[dict[str, Any], list[str]]:
    part: dict[str, Any] = {}
    skipped: list[str] = []
    add: dict[str, Any] = {}
    for name, value in (token.add_claims or {}).items():
        if strings_only and not isinstance(value, str):
            skipped.append(name)
            continue
        add[name] = _plain(value)
    if add:
        part["claimsToAddOrOverride"] = add
    if token.suppress_claims:
        part["claimsToSuppress"] = list(token.suppress_claims)
    return part, skipped


def _group_override(outcome: Outcome) -> dict[str, Any]:
    override = outcome.group_override
    assert override is not None
    return {"groupsToOverride": list(override.groups), "iamRolesToOverride": list(override.iam_roles),
            "preferredRole": override.preferred_role}


def build_response_details(outcome: Outcome, *, v1: bool, machine: bool) -> tuple[dict[str, Any], list[str]]:
    """The ``claimsOverrideDetails`` (V1_0) or ``claimsAndScopeOverrideDetails`` object for ``outcome``.

    Returns (details, ignored): ``ignored`` names what the event version or token type cannot carry.
    """
    ignored: list[str] = []
    if v1:
        details, skipped = _claims_part(outcome.id_token, strings_only=True)
        ignored += [f"id_token.add_claims.{name} (V1_0 takes strings only)" for name in skipped]
        if outcome.scopes_to_add or outcome.scopes_to_suppress:
            ignored.append("scopes (V1_0)")
        if not outcome.access_token.is_empty:
            ignored.append("access_token (V1_0)")
        if outcome.group_override is not None:
            details["groupOverrideDetails"] = _group_override(outcome)
        return details, ignored
    details = {}
    id_part, _ = _claims_part(outcome.id_token)
    if id_part and machine:
        ignored.append("id_token (client credentials)")
    elif id_part:
        details["idTokenGeneration"] = id_part
    access_part, _ = _claims_part(outcome.access_token)
    if outcome.scopes_to_add:
        access_part["scopesToAdd"] = list(outcome.scopes_to_add)
    if outcome.scopes_to_suppress:
        access_part["scopesToSuppress"] = list(outcome.scopes_to_suppress)
    if access_part:
        details["accessTokenGeneration"] = access_part
    if outcome.group_override is not None and machine:
        ignored.append("override_groups (client credentials)")
    elif outcome.group_override is not None:
        details["groupOverrideDetails"] = _group_override(outcome)
    return details, ignored


def apply_rules(event: Event, ruleset: RuleSet, *, logger: Any = None) -> Event:
    """Evaluate ``ruleset`` for ``event`` and write the response into it (the trigger, minus loading)."""
    v1 = is_v1_event(event)
    subject = subject_from_event(event)
    outcome = evaluate(ruleset, subject)
    details, ignored = build_response_details(outcome, v1=v1, machine=subject.is_machine)
    if details:
        response = event.get("response")
        response = dict(response) if isinstance(response, Mapping) else {}
        key, other = (V1_DETAILS, V2_DETAILS) if v1 else (V2_DETAILS, V1_DETAILS)
        if not response.get(other):
            response.pop(other, None)  # an empty placeholder in the other shape: answer in one shape
        response[key] = details
        event["response"] = response
    if logger is not None:
        # Ids only: never tokens, attribute values or claim values.
        logger.info("pre-token rules applied", extra={
            "matched_rules": list(outcome.matched_rule_ids),
            "trigger_source": subject.trigger_source,
            "client_id": subject.client_id,
            "user_sub": subject.sub,
            "event_version": "V1_0" if v1 else "V3_0" if str(event.get("version")) == "3" else "V2_0",
            "scopes_added": list(outcome.scopes_to_add) if not v1 else [],
            "scopes_suppressed": list(outcome.scopes_to_suppress) if not v1 else [],
            "groups_overridden": outcome.group_override is not None and "groupOverrideDetails" in details,
            "ignored": ignored,
        })
    return event


# --- the Lambda entry points --------------------------------------------------------------------------------

_logger: Any = None
_logger_lock = threading.Lock()


def _get_logger() -> Any:
    # One Powertools Logger per process: each instance would add its own handler, and the embedded AWS
    # builds a handler per sign-in. Imported here, not at module level, to keep the module import cheap.
    global _logger
    with _logger_lock:
        if _logger is None:
            from aws_lambda_powertools.logging import Logger

            _logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE_NAME)
        return _logger


def build_handler(environ: Mapping[str, str]) -> Handler:
    """A trigger handler configured by ``environ`` (the function's environment variables).

    Raises :class:`ConfigError` when the variables are missing or wrong. Rules are loaded on each call,
    through the source's cache (so at most once per max age).
    """
    config = HandlerConfig.from_environ(environ)
    logger = _get_logger()

    def handler(event: Event, context: Any) -> Event:
        try:
            ruleset = load_rules(config.source, max_age=config.max_age)
        except RulesSourceError as exc:
            logger.error("cannot load the pre-token rules", extra={"error": str(exc),
                                                                   "request_id": _request_id(context)})
            raise
        return apply_rules(event, ruleset, logger=logger)

    handler.config = config  # type: ignore[attr-defined]  # for the scanner and tests: what it was built with
    return handler


def _request_id(context: Any) -> str | None:
    return getattr(context, "aws_request_id", None)


_handler: Handler | None = None
_handler_lock = threading.Lock()


def lambda_handler(event: Event, context: Any) -> Event:
    """The Lambda entry point: built from ``os.environ`` on the first call (not at import), then reused."""
    global _handler
    if _handler is None:
        with _handler_lock:
            if _handler is None:
                _handler = build_handler(os.environ)
    return _handler(event, context)
