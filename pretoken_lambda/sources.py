"""Where the rules come from, and caching them between invocations.

A *source string* names one rules document:

``file:<path>``
    A JSON rules document in a file (relative paths are relative to the working directory; in Lambda that is
    the function's code directory, ``/var/task``).
``ssm:<parameter name>``
    An SSM Parameter Store parameter, ``String`` or ``SecureString``, holding the JSON rules document. Read
    with Powertools ``get_parameter(name, max_age=..., decrypt=True)``.
``dynamodb:<table>/<ruleset>``
    One rule per item of a DynamoDB table whose partition key is ``id`` and sort key ``sk``, read with
    Powertools ``DynamoDBProvider(table).get_multiple(ruleset)`` (a Query on the partition key). Each item::

        {"id": "<ruleset>",              partition key (S): the rule set's name
         "sk": "<position>#<rule id>",   sort key (S): zero-padded position, e.g. "0003#admins-get-admin"
         "value": "<the rule as JSON>"}  (S): one rule object of the rules document: {"id": ..., "then": ...}

    Rules apply in the order of their numeric ``position`` (zero-padding keeps the table's own order the
    same); the id in ``sk`` must equal the rule's ``id``. The items make a format-version-1 document. A rule
    set with no items is an error (a misspelt name must not silently mean "no rules").

Caching: a document is fetched at most once per ``max_age`` seconds per source (Powertools' own cache for SSM
and DynamoDB; ours for files), and parsed again only when its content changed. ``max_age=0`` fetches every
time.

Failures raise :class:`RulesSourceError`: one line naming the source (``ssm:/x: parameter not found``); for
an invalid document, ``problems`` lists every :class:`~pretoken_lambda.rules.RulesError` problem.

boto3 and Powertools' parameters utility are imported only when an SSM or DynamoDB source is first read:
a Lambda reading its rules from a file never pays for them.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pretoken_lambda.rules import FORMAT_VERSION, RulesError, RuleSet, parse_rules

DEFAULT_MAX_AGE = 60
SOURCE_KINDS = ("file", "ssm", "dynamodb")
_SORT_KEY = re.compile(r"(\d+)#(.+)")


class RulesSourceError(Exception):
    """The rules could not be loaded from a source. The message is one line and names the source."""

    def __init__(self, source: str, message: str, problems: Sequence[str] = ()) -> None:
        self.source = source
        self.problems = list(problems)
        detail = f"{message}: " + "; ".join(self.problems) if self.problems else message
        super().__init__(f"{source}: {detail}")


@dataclass(frozen=True)
class SourceSpec:
    """A parsed source string."""

    text: str
    kind: str  # file | ssm | dynamodb
    location: str  # the path, the parameter name, or the table name
    ruleset: str | None = None  # dynamodb only: the partition key value


def parse_source(source: str) -> SourceSpec:
    """Parse ``file:<path>``, ``ssm:<name>`` or ``dynamodb:<table>/<ruleset>``; RulesSourceError otherwise."""
    kind, sep, rest = source.partition(":") if isinstance(source, str) else ("", "", "")
    if not sep or kind not in SOURCE_KINDS:
        raise RulesSourceError(str(source), "not a rules source: give file:<path>, ssm:<parameter name> or "
                                            "dynamodb:<table>/<ruleset>")
    if kind == "dynamodb":
        table, slash, ruleset = rest.partition("/")
        if not slash or not table or not ruleset:
            raise RulesSourceError(source, "a DynamoDB source is dynamodb:<table>/<ruleset>")
        return SourceSpec(source, kind, table, ruleset)
    if not rest:
        raise RulesSourceError(source, f"a {kind} source names a {'path' if kind == 'file' else 'parameter'}")
    return SourceSpec(source, kind, rest)


# --- the cache ----------------------------------------------------------------------------------------------


@dataclass
class _Parsed:
    raw: Any  # what the source returned (str, or dict of DynamoDB items); compared to skip re-parsing
    ruleset: RuleSet
    fetched_at: float = 0.0  # file sources only: when the file was read (time.monotonic)


class _Loader:
    """Powertools providers and parsed documents for one AWS access configuration (session/client/config).

    Powertools providers cache what they fetch for ``max_age``; this keeps the parsed RuleSet next to the raw
    value it came from, so a cached fetch costs a dictionary look-up and an identity check.
    """

    def __init__(self, *, boto3_session: Any = None, boto3_client: Any = None,
                 boto_config: Any = None) -> None:
        self.boto3_session = boto3_session
        self.boto3_client = boto3_client
        self.boto_config = boto_config
        self.uses_default_providers = boto3_session is None and boto3_client is None and boto_config is None
        self._ssm: Any = None
        self._dynamodb: dict[str, Any] = {}
        self._parsed: dict[str, _Parsed] = {}

    def clear(self) -> None:
        self._parsed.clear()
        if self._ssm is not None:
            self._ssm.clear_cache()
        for provider in self._dynamodb.values():
            provider.clear_cache()

    def load(self, spec: SourceSpec, max_age: int) -> RuleSet:
        if spec.kind == "file":
            return self._load_file(spec, max_age)
        if spec.kind == "ssm":
            raw = self._fetch_ssm(spec, max_age)
            return self._parse_cached(spec, raw, lambda: parse_rules(_decode(spec.text, raw)))
        raw = self._fetch_dynamodb(spec, max_age)
        return self._parse_cached(spec, raw, lambda: _rules_from_items(spec, raw))

    def _parse_cached(self, spec: SourceSpec, raw: Any, parse: Any) -> RuleSet:
        cached = self._parsed.get(spec.text)
        if cached is not None and (cached.raw is raw or cached.raw == raw):
            return cached.ruleset
        try:
            ruleset = parse()
        except RulesError as exc:
            raise RulesSourceError(spec.text, "invalid rules", exc.problems) from None
        self._parsed[spec.text] = _Parsed(raw, ruleset)
        return ruleset

    # file: --------------------------------------------------------------------------------------------------

    def _load_file(self, spec: SourceSpec, max_age: int) -> RuleSet:
        now = time.monotonic()
        cached = self._parsed.get(spec.text)
        if cached is not None and now - cached.fetched_at < max_age:
            return cached.ruleset
        try:
            with open(spec.location, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            raise RulesSourceError(spec.text, "file not found") from None
        except IsADirectoryError:
            raise RulesSourceError(spec.text, "is a directory, not a rules file") from None
        except OSError as exc:
            raise RulesSourceError(spec.text, f"cannot read the file: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise RulesSourceError(spec.text, "the file is not UTF-8 text") from None
        ruleset = self._parse_cached(spec, text, lambda: parse_rules(_decode(spec.text, text)))
        self._parsed[spec.text].fetched_at = now
        return ruleset

    # ssm: ---------------------------------------------------------------------------------------------------

    def _fetch_ssm(self, spec: SourceSpec, max_age: int) -> Any:
        from aws_lambda_powertools.utilities import parameters

        try:
            if self.uses_default_providers:
                # The documented Powertools call; its provider (and cache) is shared by the whole process.
                return parameters.get_parameter(spec.location, max_age=max_age, decrypt=True)
            if self._ssm is None:
                self._ssm = parameters.SSMProvider(boto3_session=self.boto3_session,
                                                   boto3_client=self.boto3_client,
                                                   boto_config=self.boto_config)
            return self._ssm.get(spec.location, max_age=max_age, decrypt=True)
        except parameters.GetParameterError as exc:
            raise RulesSourceError(spec.text, _aws_failure(exc, not_found="parameter not found")) from None

    # dynamodb: ----------------------------------------------------------------------------------------------

    def _fetch_dynamodb(self, spec: SourceSpec, max_age: int) -> Any:
        from aws_lambda_powertools.utilities import parameters

        try:
            provider = self._dynamodb.get(spec.location)
            if provider is None:
                provider = parameters.DynamoDBProvider(spec.location, key_attr="id", sort_attr="sk",
                                                       value_attr="value", **self._dynamodb_access())
                self._dynamodb[spec.location] = provider
            return provider.get_multiple(spec.ruleset, max_age=max_age)
        except parameters.GetParameterError as exc:
            raise RulesSourceError(spec.text, _aws_failure(exc, not_found="table not found")) from None

    def _dynamodb_access(self) -> dict[str, Any]:
        client = self.boto3_client
        if client is None:
            return {"boto3_session": self.boto3_session, "boto_config": self.boto_config}
        if hasattr(client, "Table"):  # already a DynamoDB service resource, as Powertools takes it
            return {"boto3_client": client}
        # A low-level DynamoDB client (the scanner's, with its endpoint, credentials and call counting): give
        # Powertools a resource whose Table operations go through that very client.
        import boto3

        session = self.boto3_session or boto3.session.Session()
        resource = session.resource("dynamodb", region_name=client.meta.region_name,
                                    endpoint_url=client.meta.endpoint_url, config=client.meta.config)
        resource.meta.client = client
        return {"boto3_client": resource}


def _aws_failure(exc: Exception, *, not_found: str) -> str:
    """One line for a Powertools GetParameterError, from the botocore error it wraps."""
    import botocore.exceptions

    cause = exc.__cause__ or exc.__context__
    if isinstance(cause, botocore.exceptions.ClientError):
        error = cause.response.get("Error", {})
        code = error.get("Code", "Error")
        message = error.get("Message") or ""
        if code in {"ParameterNotFound", "ResourceNotFoundException", "ParameterVersionNotFound"}:
            return not_found
        if code in {"AccessDenied", "AccessDeniedException", "UnrecognizedClientException",
                    "InvalidClientTokenId", "ExpiredTokenException", "KMS.AccessDeniedException"}:
            return f"access denied calling {cause.operation_name} ({code}): {message}".rstrip(": ")
        return f"{cause.operation_name} failed with {code}: {message}".rstrip(": ")
    if isinstance(cause, KeyError):  # a DynamoDB item without the sort key or value attribute
        return f"an item has no {cause.args[0]!r} attribute (items are id, sk, value)"
    if cause is not None:
        return f"{type(cause).__name__}: {cause}"
    return str(exc)


def _decode(source: str, text: Any) -> Any:
    """JSON, refusing duplicate keys: in a rules document a repeated key is a mistake, never an intent."""
    if not isinstance(text, str):
        raise RulesSourceError(source, f"expected JSON text, got {type(text).__name__}")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys)
    except json.JSONDecodeError as exc:
        raise RulesSourceError(source, f"invalid JSON: {exc.msg} at line {exc.lineno} "
                                       f"column {exc.colno}") from None
    except _DuplicateKey as exc:
        raise RulesSourceError(source, f"invalid JSON: duplicate key {json.dumps(exc.key)}") from None


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _rules_from_items(spec: SourceSpec, items: Any) -> RuleSet:
    """The rule set stored as DynamoDB items (see the module docstring)."""
    if not items:
        raise RulesSourceError(spec.text, f"no items with id {json.dumps(spec.ruleset)} "
                                          f"in table {spec.location}")
    problems: list[str] = []
    ordered: list[tuple[int, str, str, Any]] = []
    for sort_key, value in items.items():
        label = f"item sk={json.dumps(sort_key)}"
        match = _SORT_KEY.fullmatch(sort_key) if isinstance(sort_key, str) else None
        if match is None:
            problems.append(f"{label}: sk must be <zero-padded position>#<rule id>, e.g. \"0001#admins\"")
            continue
        if not isinstance(value, str):
            problems.append(f"{label}: value must be a string holding the rule as JSON, "
                            f"got {type(value).__name__}")
            continue
        try:
            rule = json.loads(value, object_pairs_hook=_no_duplicate_keys)
        except json.JSONDecodeError as exc:
            problems.append(f"{label}: invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
            continue
        except _DuplicateKey as exc:
            problems.append(f"{label}: invalid JSON: duplicate key {json.dumps(exc.key)}")
            continue
        if isinstance(rule, dict) and rule.get("id") != match.group(2):
            problems.append(f"{label}: the rule id in sk is {json.dumps(match.group(2))} "
                            f"but the rule's id is {json.dumps(rule.get('id'))}")
        ordered.append((int(match.group(1)), sort_key, match.group(2), rule))
    ordered.sort(key=lambda entry: (entry[0], entry[1]))
    for before, after in itertools.pairwise(ordered):
        if before[0] == after[0]:
            problems.append(f"item sk={json.dumps(after[1])}: position {after[0]} is also used by "
                            f"sk={json.dumps(before[1])} (the order would be ambiguous)")
    document = {"version": FORMAT_VERSION, "rules": [entry[3] for entry in ordered]}
    try:
        ruleset = parse_rules(document)
    except RulesError as exc:
        # Name each rule by its item, not by its index in a list the user never wrote.
        names = {f"rules[{index}]": f"item sk={json.dumps(entry[1])}" for index, entry in enumerate(ordered)}
        problems.extend(_rename(problem, names) for problem in exc.problems)
        ruleset = None
    if problems:
        raise RulesSourceError(spec.text, "invalid rules", problems)
    assert ruleset is not None
    return ruleset


def _rename(problem: str, names: dict[str, str]) -> str:
    head, sep, rest = problem.partition(" ")
    key = head.rstrip(":")
    if key in names:
        return names[key] + head[len(key):] + sep + rest
    return problem


# --- the public entry points --------------------------------------------------------------------------------

_lock = threading.Lock()
_default_loader = _Loader()
# Loaders for callers that bring their own AWS access (the scanner), keyed by the identity of what they
# passed; the objects are kept alive in the loader, so an id() is never reused while its entry exists.
_custom_loaders: dict[tuple[int, int, int], _Loader] = {}


def load_rules(source: str, *, max_age: int = DEFAULT_MAX_AGE, boto3_session: Any = None,
               boto3_client: Any = None, boto_config: Any = None) -> RuleSet:
    """The rules document ``source`` names, parsed and cached (see the module docstring).

    Without ``boto3_session``/``boto3_client``/``boto_config``, AWS sources use the environment's AWS
    settings (what Lambda gives the function). The scanner passes its own: a ``boto3_session``, or a
    ``boto3_client`` of the source's service (an SSM client; for DynamoDB a client or a service resource),
    and/or a botocore ``Config``.
    """
    spec = parse_source(source)
    if not isinstance(max_age, int) or isinstance(max_age, bool) or max_age < 0:
        raise RulesSourceError(source, f"max_age must be a whole number of seconds >= 0, got {max_age!r}")
    with _lock:
        loader = _default_loader
        if boto3_session is not None or boto3_client is not None or boto_config is not None:
            key = (id(boto3_session), id(boto3_client), id(boto_config))
            loader = _custom_loaders.get(key) or _custom_loaders.setdefault(
                key, _Loader(boto3_session=boto3_session, boto3_client=boto3_client, boto_config=boto_config))
        return loader.load(spec, max_age)


def clear_cache() -> None:
    """Forget every cached document and fetched value (tests; a scanner that wants fresh reads)."""
    with _lock:
        _default_loader.clear()
        _custom_loaders.clear()
        import sys

        parameters = sys.modules.get("aws_lambda_powertools.utilities.parameters")
        if parameters is not None:  # only if some source imported it: clearing must not import boto3
            parameters.clear_caches()
