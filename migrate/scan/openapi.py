"""Read an API Gateway REST API export (OpenAPI 3.0.x or Swagger 2.0, JSON or YAML) into the inventory model.

``aws apigateway get-export --export-type oas30|swagger --parameters extensions='integrations,authorizers'``
writes the same facts a live scan reads, in OpenAPI's words. This module translates them back:

* one :class:`Method` per operation (``x-amazon-apigateway-any-method`` is ``ANY``);
* one :class:`Authorizer` per security scheme carrying ``x-amazon-apigateway-authorizer`` (exports have no
  authorizer ids, so the scheme name is the id);
* the method's authorization from its ``security`` (or the document's), in API Gateway's dialect of
  OpenAPI: a Cognito scheme's list is the method's authorization scopes (``[]``: no scopes, an ID-token
  method), a Lambda scheme makes it ``CUSTOM``, an ``awsSigv4`` scheme ``AWS_IAM``, and the ``api_key`` scheme
  sets ``apiKeyRequired`` without touching the authorization type.

The AWS pages each rule rests on (API Gateway developer guide):

* "x-amazon-apigateway-authorizer object" (api-gateway-swagger-extensions-authorizer): ``type`` is ``token``,
  ``request`` (REST) or ``cognito_user_pools``; ``authorizerUri``, ``identitySource`` (request authorizers),
  ``authorizerResultTtlInSeconds``; the scheme's ``name``/``in`` name the header holding the token.
* "x-amazon-apigateway-authtype property" (api-gateway-swagger-extensions-authtype): ``awsSigv4`` (and any
  ``aws`` prefix) is reserved for IAM authorization; other values are free-form labels of Lambda authorizers.
* "x-amazon-apigateway-auth object" (api-gateway-swagger-extensions-auth): per operation, ``NONE`` or
  ``AWS_IAM``, case-insensitive.
* "x-amazon-apigateway-any-method object" (api-gateway-swagger-extensions-any-method): the catch-all ``ANY``.
* "x-amazon-apigateway-integration object" (api-gateway-swagger-extensions-integration): ``type``,
  ``requestTemplates``, ``requestParameters``.
* "Integrate a REST API with an Amazon Cognito user pool" (apigateway-enable-cognito-user-pool): the
  ``cognito_user_pools`` scheme with ``providerARNs``; ``{"MyUserPool": []}`` for an ID-token method,
  ``{"MyUserPool": ["resource-server/scope", ...]}`` for an access-token method.
* "Configure a method to use API keys with an OpenAPI definition" (api-key-usage-plan-oas): the ``api_key``
  scheme, ``apiKey`` in header ``x-api-key``, named in the operation's ``security``.
* GetExport (API reference): ``extensions='authorizers'`` is what adds ``x-amazon-apigateway-authorizer``;
  exports made without it carry only the authtype, hence the ``--user-pool-arn`` fallback below.
* Stage (API reference): stage names are letters, digits, ``-`` and ``_``, at most 128 characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from migrate.errors import UserError
from migrate.inventory.model import (
    AuthorizationType,
    Authorizer,
    AuthorizerType,
    Method,
    RestApi,
    claims_passed_to_backend,
    parse_user_pool_arn,
)
from migrate.scan.cfn_yaml import load_document
from migrate.scan.deferred import Deferred, defer_intrinsics
from migrate.scan.shape import describe

USER_POOL_ARN_OPTION = "--user-pool-arn"
NONE_MARKER = "NONE"
ANY_METHOD = "x-amazon-apigateway-any-method"
AUTHORIZER = "x-amazon-apigateway-authorizer"
AUTHTYPE = "x-amazon-apigateway-authtype"
AUTH = "x-amazon-apigateway-auth"
INTEGRATION = "x-amazon-apigateway-integration"
# Not an AWS extension (exports carry the id only in the execute-api host); accepted so that a file can state
# the live API's id when its server URL does not (custom domain, hand-edited export).
API_ID_FIELD = "x-amazon-apigateway-api-id"

# REST API method verbs (botocore apigateway PutMethod.httpMethod); OpenAPI's "trace" has no REST equivalent.
_VERBS = ("get", "put", "post", "delete", "options", "head", "patch")
_AUTHORIZER_TYPES: dict[str, AuthorizerType] = {
    "token": "TOKEN",
    "request": "REQUEST",
    "cognito_user_pools": "COGNITO_USER_POOLS",
}
_AUTH_EXTENSION_TYPES: dict[str, AuthorizationType] = {"NONE": "NONE", "AWS_IAM": "AWS_IAM"}
_STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_EXECUTE_API_HOST = re.compile(r"^(?:https?://)?([a-z0-9]+)\.execute-api\.", re.IGNORECASE)
_IDENTIFIER = re.compile(r"^[A-Za-z_][\w-]*$")
_POOL_ARN_SHAPE = "arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID"
_MAX_REF_HOPS = 32


@dataclass
class ExportResult:
    api: RestApi
    user_pool_arns: list[str] = field(default_factory=list)  # pools the Cognito authorizers name, in order
    warnings: list[str] = field(default_factory=list)  # one line each, prefixed with the file


def read_api_export(path: str | Path, *, user_pool_arns: Mapping[str, str] | None = None) -> ExportResult:
    """Read one API Gateway export file.

    ``user_pool_arns`` maps a Cognito scheme name to its user pool ARN (``--user-pool-arn SCHEME=ARN``), for
    exports that do not carry ``providerARNs``. Raises :class:`UserError` (one line, naming the file and the
    JSON path) for anything that is not a readable OpenAPI 3.0 / Swagger 2.0 document we can rely on.
    """
    given = _validated_pool_option(user_pool_arns or {})
    where = str(path)
    document = _load_document(Path(path), where)
    return _ExportReader(defer_intrinsics(document), where, given, file_stem=Path(path).stem).read()


def read_api_document(document: Any, where: str, *, api_id: str, name: str | None = None,
                      source: str | None = None, pool_of: Callable[[str], str | None] | None = None) -> ExportResult:
    """Read an OpenAPI document held in a template (``AWS::ApiGateway::RestApi`` ``Body``, a SAM API's generated
    definition). ``where`` names it for messages (``template.yaml: Resources.MyApi.Properties.Body``);
    ``api_id`` and ``name`` are the template's for the API (a ``Name`` property wins over ``info.title``).
    ``pool_of`` maps a ``providerARNs`` entry that is not an ARN (a pool of the template, known by its logical id)
    to the pool's ARN as the inventory names it, or None."""
    reader = _ExportReader(defer_intrinsics(document), where, {}, file_stem=api_id)
    reader.api_id_override, reader.name_override, reader.pool_of = api_id, name, pool_of
    result = reader.read()
    if source is not None:
        result.api.source = source
    return result


# --- loading -------------------------------------------------------------------------------------------


def _validated_pool_option(given: Mapping[str, str]) -> dict[str, str]:
    for scheme, arn in given.items():
        if not isinstance(arn, str) or parse_user_pool_arn(arn) is None:
            raise UserError(_one_line(f"{scheme}={arn}: not a user pool ARN (expected {_POOL_ARN_SHAPE})"),
                            where=USER_POOL_ARN_OPTION)
    return dict(given)


def _load_document(path: Path, where: str) -> Any:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError("API export not found", where=where) from None
    except IsADirectoryError:
        raise UserError("expected an API export file, found a directory", where=where) from None
    except OSError as exc:
        raise UserError(f"cannot read API export: {exc.strerror}", where=where) from None
    try:
        # utf-8-sig: editors on Windows prepend a byte-order mark, which JSON and YAML parsers reject.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"API export is not UTF-8 text ({exc.reason} at byte {exc.start})",
                        where=where) from None
    return _parse(text, where)


def _parse(text: str, where: str) -> Any:
    """JSON or YAML, told apart by content: exports are saved under any name (``export.txt``, ``api``).
    Duplicate keys are refused and CloudFormation short forms read (:mod:`migrate.scan.cfn_yaml`)."""
    return load_document(text, where)


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- JSON paths and type checks ----------------------------------------------------------------------------


def _at(base: str, key: str | int) -> str:
    """``paths['/pets'].get.security[0]``: readable, and repr() keeps hostile keys on one line."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{base}.{key}" if base else key
    return f"{base}[{key!r}]"




# --- security schemes --------------------------------------------------------------------------------------

SchemeKind = Literal["authorizer", "iam", "api_key", "ignored"]


@dataclass
class _Scheme:
    name: str
    kind: SchemeKind
    authorizer: Authorizer | None = None

    @property
    def authorization_type(self) -> AuthorizationType:
        if self.kind == "iam":
            return "AWS_IAM"
        if self.authorizer is not None:
            return "COGNITO_USER_POOLS" if self.authorizer.type == "COGNITO_USER_POOLS" else "CUSTOM"
        return "NONE"


@dataclass
class _Auth:
    """A method's authorization as API Gateway stores it."""

    authorization_type: AuthorizationType = "NONE"
    authorizer_id: str | None = None
    scopes: list[str] = field(default_factory=list)
    api_key_required: bool = False


Requirements = list[dict[str, list[str]]]


class _ExportReader:
    """One document; collects warnings as it goes. ``where`` is the file as the user named it."""

    def __init__(self, document: Any, where: str, given_arns: dict[str, str], file_stem: str) -> None:
        self.doc = document
        self.where = where
        self.given_arns = given_arns
        self.file_stem = file_stem
        self.warnings: list[str] = []
        self.schemes: dict[str, _Scheme] = {}
        self.schemes_path = ""
        self.api_id_override: str | None = None
        self.name_override: str | None = None
        self.pool_of: Callable[[str], str | None] | None = None

    # --- errors and warnings ---

    def fail(self, jpath: str, message: str) -> UserError:
        return UserError(f"{jpath}: {message}" if jpath else message, where=self.where)

    def warn(self, jpath: str, message: str) -> None:
        line = f"{self.where}: {jpath}: {message}" if jpath else f"{self.where}: {message}"
        if line not in self.warnings:  # document-level security is resolved once per inheriting operation
            self.warnings.append(line)

    def mapping(self, value: Any, jpath: str) -> dict[str, Any]:
        value = self.deref(value, jpath)
        if isinstance(value, Deferred):
            raise self.fail(jpath, f"{value} is only known at deploy time (an intrinsic function), so what it "
                                   f"stands for cannot be read; resolve it (--parameter) or export the deployed API")
        if not isinstance(value, dict):
            raise self.fail(jpath, f"expected a mapping, got {describe(value)}")
        return value

    def string(self, value: Any, jpath: str) -> str:
        if not isinstance(value, str):
            raise self.fail(jpath, f"expected a string, got {describe(value)}")
        if isinstance(value, Deferred):
            self.warn_deferred(value, jpath)
        return value

    def warn_deferred(self, value: Deferred, jpath: str, read_as: str | None = None) -> None:
        self.warn(jpath, f"{value} is only known at deploy time (an intrinsic function); read as "
                         f"{read_as or 'that text'}")

    def optional_string(self, container: dict[str, Any], key: str, jpath: str) -> str | None:
        value = container.get(key)
        return None if value is None else self.string(value, _at(jpath, key))

    def string_list(self, value: Any, jpath: str) -> list[str]:
        if isinstance(value, Deferred):
            raise self.fail(jpath, f"{value} is only known at deploy time (an intrinsic function): the list it "
                                   f"stands for cannot be read; resolve it with --parameter")
        if not isinstance(value, list):
            raise self.fail(jpath, f"expected a list of strings, got {describe(value)}")
        return [self.string(item, _at(jpath, i)) for i, item in enumerate(value)]

    def deref(self, value: Any, jpath: str) -> Any:
        """Follow local ``$ref``s (``#/components/...``); exports have none, hand-edited files may."""
        for _ in range(_MAX_REF_HOPS):
            if not (isinstance(value, dict) and "$ref" in value):
                return value
            ref = value["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#/"):
                raise self.fail(jpath, f"$ref {ref!r} points outside this file; bundle the document first")
            value = self.doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                if not isinstance(value, dict) or part not in value:
                    raise self.fail(jpath, f"$ref {ref!r} points to nothing in this file")
                value = value[part]
        raise self.fail(jpath, f"$ref chain longer than {_MAX_REF_HOPS} hops (a cycle?)")

    # --- the document ---

    def read(self) -> ExportResult:
        version = self.check_version()
        self.read_schemes(version)
        self.check_pool_option()
        document_security = []
        if "security" in self.doc:
            document_security = self.requirements(self.doc["security"], "security")
        methods = self.read_methods(document_security)
        api_id = self.api_id(version)
        authorizers = [s.authorizer for s in self.schemes.values() if s.authorizer is not None]
        stage = self.stage(version)
        api = RestApi(id=api_id, name=self.title(api_id), source=f"openapi:{self.where}",
                      description=self.description(), stage=stage, stages=[stage] if stage else [],
                      authorizers=authorizers, methods=methods)
        pools = list(dict.fromkeys(arn for a in authorizers for arn in a.provider_arns))
        return ExportResult(api=api, user_pool_arns=pools, warnings=self.warnings)

    def check_version(self) -> Literal["oas3", "swagger2"]:
        if self.doc is None:
            raise self.fail("", "not an OpenAPI 3.0 or Swagger 2.0 document (the file is empty)")
        if not isinstance(self.doc, dict):
            raise self.fail("", f"not an OpenAPI 3.0 or Swagger 2.0 document (expected a mapping at the top "
                                f"level, got {describe(self.doc)})")
        openapi, swagger = self.doc.get("openapi"), self.doc.get("swagger")
        if openapi is not None and swagger is not None:
            raise self.fail("", "both 'openapi' and 'swagger' fields: not one OpenAPI version")
        # str(): an unquoted YAML "swagger: 2.0" arrives as the float 2.0; accept it like the string.
        if openapi is not None:
            if not str(openapi).startswith("3.0"):
                raise self.fail("openapi", f"OpenAPI version {str(openapi)!r} is not supported "
                                           f"(API Gateway exports OpenAPI 3.0.x and Swagger 2.0)")
            return "oas3"
        if swagger is not None:
            if str(swagger) != "2.0":
                raise self.fail("swagger", f"Swagger version {str(swagger)!r} is not supported "
                                           f"(expected '2.0')")
            return "swagger2"
        raise self.fail("", "not an OpenAPI 3.0 or Swagger 2.0 document (no 'openapi' or 'swagger' field)")

    def api_id(self, version: str) -> str:
        if self.api_id_override is not None:
            return self.api_id_override
        explicit = self.doc.get(API_ID_FIELD)
        if explicit is not None:
            return self.string(explicit, API_ID_FIELD)
        for host in self.hosts(version):
            match = _EXECUTE_API_HOST.match(host)
            if match:
                return match.group(1)
        return self.file_stem or "api"

    def hosts(self, version: str) -> list[str]:
        if version == "swagger2":
            host = self.doc.get("host")
            return [host] if isinstance(host, str) else []
        return [s["url"] for s in self.servers() if isinstance(s.get("url"), str)]

    def servers(self) -> list[dict[str, Any]]:
        servers = self.doc.get("servers")
        if servers is None:
            return []
        if not isinstance(servers, list):
            raise self.fail("servers", f"expected a list, got {describe(servers)}")
        return [self.mapping(s, _at("servers", i)) for i, s in enumerate(servers)]

    def stage(self, version: str) -> str | None:
        """The stage an export was taken from: its base path (``/prod``), when that is one stage name."""
        if version == "swagger2":
            base_path, jpath = self.optional_string(self.doc, "basePath", ""), "basePath"
        else:
            base_path, jpath = self.server_base_path()
        if base_path is None:
            return None
        stage = base_path.strip("/")
        if not stage:
            return None
        if not _STAGE_NAME.match(stage):
            self.warn(jpath, f"base path {base_path!r} is not a stage name; the stage is left unset")
            return None
        return stage

    def server_base_path(self) -> tuple[str | None, str]:
        """OAS3 exports write ``servers: [{url: "https://ID.execute-api.REGION.amazonaws.com/{basePath}",
        variables: {basePath: {default: "/STAGE"}}}]``."""
        for i, server in enumerate(self.servers()):
            variables = server.get("variables")
            base = variables.get("basePath") if isinstance(variables, dict) else None
            if isinstance(base, dict) and base.get("default") is not None:
                jpath = _at(_at(_at(_at("servers", i), "variables"), "basePath"), "default")
                return self.string(base["default"], jpath), jpath
        return None, ""

    def title(self, api_id: str) -> str:
        if self.name_override:
            return self.name_override
        info = self.doc.get("info")
        raw_title = info.get("title") if isinstance(info, dict) else None
        if isinstance(raw_title, Deferred):
            self.warn_deferred(raw_title, "info.title", read_as=f"the API id {api_id!r}")
            return api_id
        title = None if info is None else self.optional_string(self.mapping(info, "info"), "title", "info")
        if not title:
            self.warn("info.title", f"no API name; using the API id {api_id!r}")
            return api_id
        return title

    def description(self) -> str:
        info = self.doc.get("info")
        if not isinstance(info, dict) or isinstance(info.get("description"), Deferred):
            return ""
        return self.optional_string(info, "description", "info") or ""

    # --- security schemes ---

    def read_schemes(self, version: str) -> None:
        if version == "oas3":
            components = self.doc.get("components")
            raw = None if components is None else self.mapping(components, "components").get(
                "securitySchemes")
            self.schemes_path = "components.securitySchemes"
        else:
            raw = self.doc.get("securityDefinitions")
            self.schemes_path = "securityDefinitions"
        if raw is None:
            return
        for name, scheme in self.mapping(raw, self.schemes_path).items():
            name = str(name)  # YAML may give an unquoted 1 as an int; requirements are looked up as strings
            self.schemes[name] = self.read_scheme(name, scheme, _at(self.schemes_path, name))

    def read_scheme(self, name: str, raw: Any, jpath: str) -> _Scheme:
        raw = self.mapping(raw, jpath)
        authtype = self.optional_string(raw, AUTHTYPE, jpath)
        if raw.get(AUTHORIZER) is not None:
            return _Scheme(name, "authorizer", self.read_authorizer(name, raw, jpath))
        label = (authtype or "").lower()
        if label == "awssigv4":
            return _Scheme(name, "iam")
        if label == "cognito_user_pools":
            # An export made without extensions='authorizers': the pool is not in the file.
            return _Scheme(name, "authorizer", self.cognito_authorizer(name, raw, {}, jpath))
        if label.startswith("aws"):
            raise self.fail(_at(jpath, AUTHTYPE), f"{authtype!r} is reserved by AWS and not one avp-migrate "
                                                  f"knows (expected 'awsSigv4' for IAM authorization)")
        if authtype is not None:
            # API Gateway's importer refuses this too ("Extension x-amazon-apigateway-authorizer is
            # required", amazon-archives/aws-apigateway-importer issue 187).
            raise self.fail(jpath, f"scheme {name!r} is a Lambda authorizer ({AUTHTYPE} {authtype!r}) "
                                   f"without {AUTHORIZER}, so its type and function are unknown; export the "
                                   f"API again with --parameters extensions='integrations,authorizers'")
        if raw.get("type") == "apiKey":
            self.check_api_key_scheme(name, raw, jpath)
            return _Scheme(name, "api_key")
        self.warn(jpath, f"security scheme {name!r} of type {raw.get('type')!r} has no API Gateway meaning "
                         f"(API Gateway ignores it on import); operations naming it are read as if it "
                         f"were absent")
        return _Scheme(name, "ignored")

    def check_api_key_scheme(self, name: str, raw: dict[str, Any], jpath: str) -> None:
        header = raw.get("name")
        if raw.get("in") != "header" or not isinstance(header, str) or header.lower() != "x-api-key":
            self.warn(jpath, f"API key scheme {name!r} reads {raw.get('in')!r} {header!r}, but API Gateway "
                             f"takes API keys from the x-api-key header (or from a Lambda authorizer); read "
                             f"as 'API key required' all the same")

    def read_authorizer(self, name: str, raw: dict[str, Any], jpath: str) -> Authorizer:
        ext_path = _at(jpath, AUTHORIZER)
        ext = self.mapping(raw[AUTHORIZER], ext_path)
        type_path = _at(ext_path, "type")
        if ext.get("type") is None:
            raise self.fail(type_path, "missing (expected token, request or cognito_user_pools)")
        kind = _AUTHORIZER_TYPES.get(self.string(ext["type"], type_path).lower())
        if kind is None:
            raise self.fail(type_path, f"{ext['type']!r} is not a REST API authorizer type "
                                       f"(expected token, request or cognito_user_pools)")
        if kind == "COGNITO_USER_POOLS":
            return self.cognito_authorizer(name, raw, ext, jpath)
        return Authorizer(id=name, name=name, type=kind,
                          identity_source=self.identity_source(raw, ext, kind, ext_path),
                          authorizer_uri=self.optional_string(ext, "authorizerUri", ext_path),
                          result_ttl_seconds=self.ttl(ext, ext_path))

    def cognito_authorizer(self, name: str, raw: dict[str, Any], ext: dict[str, Any],
                           jpath: str) -> Authorizer:
        ext_path = _at(jpath, AUTHORIZER)
        return Authorizer(id=name, name=name, type="COGNITO_USER_POOLS",
                          provider_arns=self.provider_arns(name, ext.get("providerARNs"), ext_path),
                          identity_source=self.identity_source(raw, ext, "COGNITO_USER_POOLS", ext_path),
                          result_ttl_seconds=self.ttl(ext, ext_path))

    def identity_source(self, raw: dict[str, Any], ext: dict[str, Any], kind: AuthorizerType,
                        ext_path: str) -> str | None:
        """``identitySource`` when the export states it; else the scheme's own ``name``/``in``.

        Exports state it for request authorizers only; for token and Cognito authorizers the scheme's ``name``
        is "the name of the header containing the authorization token" (authorizer extension page), and a
        request authorizer with a single source names it there too ("Unused" when there are several).
        """
        stated = self.optional_string(ext, "identitySource", ext_path)
        if stated is not None:
            return stated
        name, location = raw.get("name"), raw.get("in")
        if not isinstance(name, str) or not name or name == "Unused":
            return None
        if location == "header":
            return f"method.request.header.{name}"
        if location == "query" and kind == "REQUEST":
            return f"method.request.querystring.{name}"
        return None

    def ttl(self, ext: dict[str, Any], ext_path: str) -> int | None:
        # The extension page types it "string" while its examples write numbers: take both.
        value = ext.get("authorizerResultTtlInSeconds")
        if value is None:
            return None
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise self.fail(_at(ext_path, "authorizerResultTtlInSeconds"),
                        f"expected a number of seconds, got {describe(value)}")

    def provider_arns(self, scheme: str, raw: Any, ext_path: str) -> list[str]:
        arns_path = _at(ext_path, "providerARNs")
        if isinstance(raw, list) and any(isinstance(item, Deferred) for item in raw):
            # Reported below, once, with what to do about it (not as text read as written).
            arns = [item if isinstance(item, Deferred) else self.string(item, _at(arns_path, i))
                    for i, item in enumerate(raw)]
        else:
            arns = [] if raw is None else self.string_list(raw, arns_path)
        valid = []
        for i, arn in enumerate(arns):
            known = self.pool_of(arn) if self.pool_of is not None else None
            if known is not None:
                valid.append(known)
            elif parse_user_pool_arn(arn):
                valid.append(arn)
            elif isinstance(arn, Deferred):
                self.warn(_at(arns_path, i), f"{arn} is only known at deploy time: not a pool this file names")
            else:
                self.warn(_at(arns_path, i), f"{arn!r} is not a user pool ARN ({_POOL_ARN_SHAPE}); ignored")
        given = self.given_arns.get(scheme)
        if valid:
            if given is not None and given not in valid:
                self.warn(arns_path, f"{USER_POOL_ARN_OPTION} {scheme}={given} ignored: the export names "
                                     f"{', '.join(valid)}")
            return valid
        if given is not None:
            return [given]
        if self.pool_of is not None:  # a template: its deploy-time values are given with --parameter
            self.warn(_at(self.schemes_path, scheme),
                      f"Cognito authorizer {scheme!r} names no user pool the template defines or states, so its "
                      f"methods cannot be tied to a pool; give the value it refers to with --parameter NAME=VALUE")
            return []
        why = ("its providerARNs are only known at deploy time" if any(isinstance(a, Deferred) for a in arns)
               else "no providerARNs in the export")
        self.warn(_at(self.schemes_path, scheme),
                  f"Cognito authorizer {scheme!r} names no user pool ({why}), so "
                  f"its methods cannot be tied to a pool; give it with "
                  f"{USER_POOL_ARN_OPTION} {scheme}={_POOL_ARN_SHAPE}")
        return []

    def check_pool_option(self) -> None:
        cognito = [n for n, s in self.schemes.items()
                   if s.authorizer is not None and s.authorizer.type == "COGNITO_USER_POOLS"]
        for scheme in self.given_arns:
            if scheme not in cognito:
                known = ", ".join(map(repr, cognito)) or "none"
                raise UserError(f"{scheme}=...: {self.where} has no Cognito user pool authorizer {scheme!r} "
                                f"(it has: {known})", where=USER_POOL_ARN_OPTION)

    # --- security requirements ---

    def requirements(self, raw: Any, jpath: str) -> Requirements:
        """Validate a ``security`` list: mappings of defined scheme names to lists of scope strings."""
        if not isinstance(raw, list):
            raise self.fail(jpath, f"expected a list of security requirements, got {describe(raw)}")
        result: Requirements = []
        for i, requirement in enumerate(raw):
            req_path = _at(jpath, i)
            if not isinstance(requirement, dict):
                raise self.fail(req_path, f"expected a mapping of scheme names to scopes, got "
                                          f"{describe(requirement)}")
            checked = {}
            for key, scopes in requirement.items():
                name = str(key)
                if name == NONE_MARKER and name not in self.schemes:
                    # SAM's marker for "no authorizer here" (an event's Auth.Authorizer: NONE). SAM removes it
                    # only when it puts something else in its place, so transformed templates keep
                    # {"NONE": []} undeclared on public methods (samtranslator/swagger/swagger.py,
                    # SwaggerEditor.set_path_default_authorizer: `if security:` guards the write). It means
                    # no authorization.
                    checked[name] = []
                    continue
                if name not in self.schemes:
                    defined = ", ".join(map(repr, self.schemes)) or "none"
                    raise self.fail(req_path, f"names security scheme {name!r}, which is not defined in "
                                              f"{self.schemes_path} (defined: {defined})")
                checked[name] = self.string_list(scopes, _at(req_path, name))
            result.append(checked)
        return result

    def resolve(self, requirements: Requirements, jpath: str) -> _Auth:
        """The one authorization a REST API method can have, from OpenAPI's OR-of-ANDs.

        API Gateway's own exports put ``{"api_key": []}`` in a requirement object of its own beside the
        authorizer's (e.g. ``[{"MyAuth": []}, {"api_key": []}]`` for a method with both), and so does AWS PDK
        for import: in API Gateway's dialect the API key is required when any requirement names it, whatever
        OpenAPI's OR says. Everything else must come down to at most one authorizer.
        """
        auth = _Auth()
        grants: list[tuple[int, str, list[str]]] = []  # (requirement index, scheme, scopes)
        for i, requirement in enumerate(requirements):
            if not requirement:
                self.warn(_at(jpath, i), "an empty security requirement (anonymous access as an alternative) "
                                         "has no API Gateway equivalent; ignored")
            for name, scopes in requirement.items():
                scheme = self.schemes.get(name)
                if scheme is None:  # the undeclared NONE marker: contributes no authorization
                    continue
                if scheme.kind == "api_key":
                    auth.api_key_required = True
                elif scheme.kind != "ignored":
                    grants.append((i, name, scopes))
        names = list(dict.fromkeys(name for _, name, _ in grants))
        if not names:
            return auth
        if len(names) > 1:
            self.warn_several_schemes(grants, names, jpath)
        chosen = self.schemes[names[0]]
        auth.authorization_type = chosen.authorization_type
        auth.authorizer_id = chosen.name if chosen.authorizer is not None else None
        scope_lists = [scopes for _, name, scopes in grants if name == chosen.name]
        if auth.authorization_type == "COGNITO_USER_POOLS":
            auth.scopes = self.cognito_scopes(chosen.name, scope_lists, jpath)
        elif any(scope_lists):
            self.warn(jpath, f"scopes on {chosen.name!r} ignored: API Gateway applies authorization scopes "
                             f"only with a Cognito user pool authorizer")
        return auth

    def warn_several_schemes(self, grants: list[tuple[int, str, list[str]]], names: list[str],
                             jpath: str) -> None:
        together = len({i for i, _, _ in grants}) == 1
        relation = "all required together" if together else "as alternatives"
        self.warn(jpath, f"UNCONFIRMED: security names {', '.join(map(repr, names))} {relation}, but a REST "
                         f"API method has one authorization type and at most one authorizer; read as "
                         f"{names[0]!r} (the first listed). Which one API Gateway applies on import is not "
                         f"documented: check the live method (scan the account) before trusting this one")

    def cognito_scopes(self, scheme: str, scope_lists: list[list[str]], jpath: str) -> list[str]:
        if len(scope_lists) == 1 or all(not s for s in scope_lists):
            return scope_lists[0]
        if all(scope_lists):
            # An OR of scope lists is what API Gateway's scopes mean: any one scope of the method suffices.
            return list(dict.fromkeys(scope for scopes in scope_lists for scope in scopes))
        self.warn(jpath, f"UNCONFIRMED: {scheme!r} is listed both without scopes (ID token) and with scopes "
                         f"(access token) as alternatives; a method is one or the other. Read with the first "
                         f"listed: {scope_lists[0] or 'no scopes'}")
        return scope_lists[0]

    def apply_auth_extension(self, auth: _Auth, operation: dict[str, Any], jpath: str) -> None:
        """``x-amazon-apigateway-auth`` (NONE or AWS_IAM) sets the type when security does not."""
        if AUTH not in operation:
            return
        ext_path = _at(jpath, AUTH)
        type_path = _at(ext_path, "type")
        stated = self.string(self.mapping(operation[AUTH], ext_path).get("type"), type_path)
        value = _AUTH_EXTENSION_TYPES.get(stated.upper())
        if value is None:
            raise self.fail(type_path, f"{stated!r} is not NONE or AWS_IAM")
        if auth.authorization_type == "NONE":
            auth.authorization_type = value
        elif auth.authorization_type != value:
            self.warn(ext_path, f"UNCONFIRMED: says {value} while security says {auth.authorization_type}; "
                                f"read as {auth.authorization_type}")

    # --- operations ---

    def read_methods(self, document_security: Requirements) -> list[Method]:
        if "paths" not in self.doc:
            raise self.fail("", "no 'paths': not an API definition")
        paths = self.mapping(self.doc["paths"], "paths")
        if not paths:
            self.warn("paths", "no paths: the API has no methods")
        methods = []
        for path, item in paths.items():
            item_path = f"paths[{path!r}]"  # always bracketed: a path key is never read as a field name
            if not isinstance(path, str) or not path.startswith("/"):
                raise self.fail(item_path, "a resource path must start with '/'")
            if isinstance(item, Deferred):
                self.warn(item_path, f"{item} is only known at deploy time (a condition?): its methods are not read")
                continue
            item = self.mapping(item, item_path)
            for key, operation in item.items():
                verb = "ANY" if key == ANY_METHOD else key.upper() if key in _VERBS else None
                if verb is None:
                    if key == "trace":
                        self.warn(_at(item_path, key), "API Gateway REST APIs have no TRACE method; skipped")
                    continue  # parameters, summary, servers, other extensions: not operations
                op_path = _at(item_path, key)
                if isinstance(operation, Deferred):
                    self.warn(op_path, f"{operation} is only known at deploy time (a condition?): not read")
                    continue
                methods.append(self.read_method(path, verb, operation, document_security, op_path))
        # The live scanner's order, so that an inventory read from an export diffs cleanly against a live one.
        methods.sort(key=lambda m: (m.path, m.http_method))
        return methods

    def read_method(self, path: str, verb: str, raw: Any, document_security: Requirements,
                    jpath: str) -> Method:
        operation = self.mapping(raw, jpath)
        # Operation-level security replaces the document's (OpenAPI), and [] means no authorization at all.
        requirements, security_path = document_security, "security"
        if "security" in operation:
            security_path = _at(jpath, "security")
            requirements = self.requirements(operation["security"], security_path)
        auth = self.resolve(requirements, security_path)
        self.apply_auth_extension(auth, operation, jpath)
        integration_type, claims = self.integration(operation, jpath)
        return Method(path=path, http_method=verb, authorization_type=auth.authorization_type,
                      authorizer_id=auth.authorizer_id, authorization_scopes=auth.scopes,
                      api_key_required=auth.api_key_required,
                      operation_name=self.optional_string(operation, "operationId", jpath),
                      integration_type=integration_type, claims_to_backend=claims)

    def integration(self, operation: dict[str, Any], jpath: str) -> tuple[str | None, list[str]]:
        """The integration type and the claims it hands the backend (none when the export has no
        integrations: exported without extensions='integrations')."""
        if operation.get(INTEGRATION) is None:
            return None, []
        ext_path = _at(jpath, INTEGRATION)
        integration = self.mapping(operation[INTEGRATION], ext_path)
        kind = self.optional_string(integration, "type", ext_path)
        templates = integration.get("requestTemplates") or {}
        templates_path = _at(ext_path, "requestTemplates")
        for content_type, template in self.mapping(templates, templates_path).items():
            if template is not None:
                self.string(template, _at(templates_path, str(content_type)))  # a template must be text
        parameters = integration.get("requestParameters") or {}
        self.mapping(parameters, _at(ext_path, "requestParameters"))
        return (kind.upper() if kind else None), claims_passed_to_backend(templates, parameters)
