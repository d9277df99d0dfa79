"""SAM's ``AWS::Serverless::Api`` and the ``Api`` events of ``AWS::Serverless::Function``, as SAM deploys them.

SAM turns these into an ``AWS::ApiGateway::RestApi`` whose ``Body`` is an OpenAPI document it writes; API
Gateway imports that document. This module writes the same document (its security parts) from the SAM
resources, following SAM's translator (github.com/aws/serverless-application-model, read, not copied), then
the document is read like any export (:func:`migrate.scan.openapi.read_api_document`). The rules and where
they come from:

* An API without ``DefinitionBody``/``DefinitionUri`` gets a Swagger 2.0 skeleton that SAM manages
  (plugins/api/default_definition_body_plugin.py, ``DefaultDefinitionBodyPlugin``: ``__MANAGE_SWAGGER``).
  Events without ``RestApiId`` go to the implicit API ``ServerlessRestApi``, stage ``Prod``
  (plugins/api/implicit_rest_api_plugin.py). ``Globals.Api`` applies to both; maps merge, lists concatenate,
  the resource's own values win (plugins/globals/globals.py, ``_do_merge``/``_merge_lists``/``_merge_dict``).
* Each ``Api`` event adds its path and method with a Lambda proxy integration only to a managed API or one with
  ``MergeDefinitions`` (model/eventsources/push.py, ``Api.to_cloudformation``/``_add_swagger_integration``);
  with a user's ``DefinitionBody`` the event's ``Auth`` is applied only under ``OverrideApiAuth: true``.
* An event's ``Auth`` (push.py, ``Api.add_auth_to_swagger``): ``Authorizer`` must name one of the API's
  ``Authorizers`` (or be ``AWS_IAM``); ``NONE`` is valid only when the API has a ``DefaultAuthorizer``;
  non-empty ``AuthorizationScopes`` need an ``Authorizer``; ``ApiKeyRequired: false`` needs the API's
  ``ApiKeyRequired``. Then (swagger/swagger.py, ``SwaggerEditor.add_auth_to_method`` and
  ``_set_method_authorizer``) the method's ``security`` gets ``{Authorizer: scopes}``, where scopes are the
  event's ``AuthorizationScopes`` when present (``[]`` included: no scopes), else the authorizer's
  ``AuthorizationScopes``, else ``[]``. ``AuthorizationScopes`` without ``Authorizer`` change nothing when empty.
* The API's ``Auth`` (model/api/api_generator.py, ``ApiGenerator._add_auth`` after ``_add_cors``): each of
  ``Authorizers`` becomes a security scheme (model/apigateway.py, ``ApiGatewayAuthorizer.generate_swagger``: a
  Cognito one is ``cognito_user_pools`` with ``providerARNs`` = ``UserPoolArn`` (a list stays a list), its token
  header ``Identity.Header`` or ``Authorization``). ``DefaultAuthorizer`` then goes on every method that has an
  integration (swagger.py, ``set_path_default_authorizer``), with that authorizer's ``AuthorizationScopes``,
  unless the method already names an authorizer (kept) or carries the ``NONE`` marker (removed, nothing added:
  when nothing else is left the marker stays, undeclared: the method deploys without authorization, which is
  what SAM documents `Authorizer: NONE` to do); ``OPTIONS`` methods are
  skipped when ``AddDefaultAuthorizerToCorsPreflight`` is false (default true). ``ApiKeyRequired`` adds
  ``api_key`` the same way (``set_path_default_apikey_required``, ``AddApiKeyRequiredToCorsPreflight``).
* ``Cors`` adds an ``OPTIONS`` method with a mock integration to every path that has none (swagger.py,
  ``add_cors``), before ``Auth`` is applied, so preflights get the default authorizer unless told otherwise.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from migrate.errors import UserError
from migrate.scan.cfn_resolve import Resolver
from migrate.scan.deferred import Deferred
from migrate.scan.shape import listing, mapping

SERVERLESS_API = "AWS::Serverless::Api"
SERVERLESS_FUNCTION = "AWS::Serverless::Function"
IMPLICIT_API = "ServerlessRestApi"
INTEGRATION = "x-amazon-apigateway-integration"
_AUTH_KEYS = {"Authorizers", "DefaultAuthorizer", "InvokeRole", "AddDefaultAuthorizerToCorsPreflight",
              "AddApiKeyRequiredToCorsPreflight", "ApiKeyRequired", "ResourcePolicy", "UsagePlan"}
_NOT_METHODS = {"summary", "description", "parameters", "servers"}


@dataclass
class SamApi:
    logical_id: str
    document: dict[str, Any]
    stage: str | None
    name: str | None
    where: str


def is_sam(template: dict[str, Any]) -> bool:
    transform = template.get("Transform")
    names = transform if isinstance(transform, list) else [transform]
    return any(isinstance(n, str) and n.startswith("AWS::Serverless") for n in names)


def merge_globals(global_value: Any, local_value: Any) -> Any:
    if isinstance(global_value, dict) and isinstance(local_value, dict):
        merged = dict(global_value)
        for key, value in local_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(local_value, list):
        return global_value + local_value
    return local_value


def _method_key(method: str) -> str:
    lowered = method.lower()
    return "x-amazon-apigateway-any-method" if lowered == "any" else lowered


class SamReader:
    def __init__(self, template: dict[str, Any], resolver: Resolver, where: str) -> None:
        self.template = template
        self.resolver = resolver
        self.where = where
        self.warnings: list[str] = []

    def fail(self, logical_id: str, message: str) -> UserError:
        # SAM itself refuses these templates (the message says what SAM says): nothing sensible to read.
        return UserError(f"Resources.{logical_id}: {message}", where=self.where)

    def apis(self) -> list[SamApi]:
        resources = self.resolver.resources
        globals_api = mapping(mapping(self.template.get("Globals"), "Globals", self.where).get("Api"), "Globals.Api",
                              self.where)
        api_props: dict[str, dict[str, Any]] = {}
        for logical_id, resource in resources.items():
            if isinstance(resource, dict) and resource.get("Type") == SERVERLESS_API \
                    and self.resolver.resource_present(logical_id):
                api_props[logical_id] = merge_globals(globals_api, self.resolver.properties(logical_id))
        events = self.api_events(resources)
        if any(api_id == IMPLICIT_API for api_id, *_ in events) and IMPLICIT_API not in api_props:
            api_props[IMPLICIT_API] = merge_globals(globals_api, {"StageName": "Prod"})
            api_props[IMPLICIT_API]["StageName"] = "Prod"  # not overridable by Globals (implicit_rest_api_plugin)
        result = []
        for logical_id, props in api_props.items():
            api = self.api(logical_id, props, [e[1:] for e in events if e[0] == logical_id])
            if api is not None:
                result.append(api)
        return result

    def api_events(self, resources: dict[str, Any]) -> list[tuple[str, str, str, str, dict[str, Any]]]:
        """(api logical id, event id, path, method, event Auth) for every Api event, in template order."""
        found = []
        for function_id, resource in resources.items():
            if not (isinstance(resource, dict) and resource.get("Type") == SERVERLESS_FUNCTION):
                continue
            if not self.resolver.resource_present(function_id):
                continue
            events = mapping(self.resolver.properties(function_id).get("Events"),
                             f"Resources.{function_id}.Properties.Events", self.where)
            for event_id, event in events.items():
                if not isinstance(event, dict) or event.get("Type") != "Api":
                    continue
                relative = f"{function_id}.Events.{event_id}"
                props = mapping(event.get("Properties"), f"Resources.{relative}.Properties", self.where)
                raw_api = props.get("RestApiId")
                api_id = raw_api.get("Ref") if isinstance(raw_api, dict) and "Ref" in raw_api else raw_api
                if api_id is None:
                    api_id = IMPLICIT_API
                elif not (isinstance(api_id, str) and isinstance(resources.get(api_id), dict)
                          and resources[api_id].get("Type") == SERVERLESS_API):
                    raise self.fail(relative, "RestApiId must be a valid reference to an 'AWS::Serverless::Api' "
                                              "resource in same template (SAM refuses it)")
                path, method = self.resolver.resolve(props.get("Path")), self.resolver.resolve(props.get("Method"))
                if not isinstance(path, str) or not isinstance(method, str) or isinstance(path, Deferred):
                    raise self.fail(relative, "Path and Method must be strings")
                auth = self.resolver.resolve(props.get("Auth") or {})
                if not isinstance(auth, dict):
                    raise self.fail(relative, "Auth must be a mapping")
                found.append((api_id, relative, path, method, auth))
        return found

    def api(self, logical_id: str, props: dict[str, Any], events: list[tuple[str, str, str, dict[str, Any]]]
            ) -> SamApi | None:
        where = f"{self.where}: Resources.{logical_id} (as SAM deploys it)"
        if props.get("DefinitionUri") is not None and props.get("DefinitionBody") is None:
            self.warnings.append(f"{self.where}: Resources.{logical_id}: its definition is in a file "
                                 f"(DefinitionUri {self.resolver.resolve(props['DefinitionUri'])!r}), not read: "
                                 "give the API's definition with --openapi, or scan the deployed API")
            return None
        managed = props.get("DefinitionBody") is None
        merge = bool(props.get("MergeDefinitions"))
        if managed:
            document: dict[str, Any] = {"swagger": "2.0", "info": {"version": "1.0", "title": Deferred(
                "${AWS::StackName}")}, "paths": {}}
            stack = self.resolver.lookup("AWS::StackName")
            if stack is not None:
                document["info"]["title"] = stack
        else:
            document = copy.deepcopy(self.resolver.resolve(props["DefinitionBody"]))
            if isinstance(document, Deferred):  # Fn::Transform AWS::Include, an Fn::If on the whole body, ...
                self.warnings.append(f"{self.where}: Resources.{logical_id}.Properties.DefinitionBody: {document} is "
                                     "only known at deploy time: not read; give the API's definition with --openapi, "
                                     "or scan the deployed API")
                return None
            if not isinstance(document, dict) or not isinstance(document.setdefault("paths", {}), dict):
                raise self.fail(logical_id, "DefinitionBody is not an OpenAPI document SAM can edit")
        api_auth = self.resolver.resolve(props.get("Auth") or {})
        if not isinstance(api_auth, dict):
            raise self.fail(logical_id, "Invalid value for 'Auth' property")
        for event_id, path, method, event_auth in events:
            self.apply_event(document, event_id, path, method, event_auth, api_auth, managed=managed, merge=merge)
        if props.get("Cors"):
            self.add_cors(document)
        if api_auth:
            self.apply_api_auth(document, logical_id, api_auth, props)
        version = self.resolver.resolve(props.get("OpenApiVersion"))
        if isinstance(version, str) and version.startswith("3") and "swagger" in document:
            # ApiGenerator._openapi_postprocess: the document becomes OpenAPI 3, schemes under components.
            document.pop("swagger")
            document["openapi"] = version
            schemes = document.pop("securityDefinitions", None)
            if schemes:
                document.setdefault("components", {})["securitySchemes"] = schemes
        stage = self.resolver.resolve(props.get("StageName"))
        name = self.resolver.resolve(props.get("Name"))
        return SamApi(logical_id=logical_id, document=document,
                      stage=stage if isinstance(stage, str) and not isinstance(stage, Deferred) else None,
                      name=name if isinstance(name, str) and not isinstance(name, Deferred) else None, where=where)

    # --- events ---

    def apply_event(self, document: dict[str, Any], event_id: str, path: str, method: str,
                    event_auth: dict[str, Any], api_auth: dict[str, Any], *, managed: bool, merge: bool) -> None:
        key = _method_key(method)
        paths = document["paths"]
        if managed or merge:
            item = paths.setdefault(path, {})
            operation = item.setdefault(key, {}) if isinstance(item, dict) else None
            if not isinstance(operation, dict):
                raise self.fail(event_id, f"the definition's paths[{path!r}].{key} is not a mapping SAM can edit")
            if managed and INTEGRATION in operation:
                raise self.fail(event_id, f'API method "{method.lower()}" defined multiple times for path "{path}" '
                                          f"(SAM refuses it)")
            if merge and (event_auth.get("Authorizer") or event_auth.get("ApiKeyRequired") is not None):
                # _get_merged_definitions: the generated method's keys win, its security among them.
                operation.pop("security", None)
            operation[INTEGRATION] = {"type": "aws_proxy", "httpMethod": "POST"}
            operation.setdefault("responses", {})
        elif not event_auth.get("OverrideApiAuth"):
            return  # push.py: with the user's own DefinitionBody, the event's Auth is not applied
        self.check_event_auth(event_id, path, method, event_auth, api_auth)
        authorizer = event_auth.get("Authorizer")
        api_key = event_auth.get("ApiKeyRequired")
        if not authorizer and api_key is None:
            return
        authorizers = api_auth.get("Authorizers") or {}
        for operation in self.operations_at(document, path, key):
            if authorizer:
                requirement: dict[str, Any] = {authorizer: []}
                if authorizer != "NONE" and authorizers:
                    configured = authorizers.get(authorizer) or {}
                    scopes = configured.get("AuthorizationScopes") if isinstance(configured, dict) else None
                    if event_auth.get("AuthorizationScopes") is not None:
                        scopes = event_auth["AuthorizationScopes"]  # [] included: no scopes on this method
                    if authorizers.get(authorizer) is not None and scopes is not None:
                        requirement[authorizer] = scopes
                operation["security"] = [*operation.get("security", []), requirement]
                if "AWS_IAM" in operation["security"][0]:
                    self.add_iam_scheme(document)
            if api_key is not None:
                marker = "api_key" if api_key else "api_key_false"
                if api_key:
                    self.add_api_key_scheme(document)
                operation["security"] = [*operation.get("security", []), {marker: []}]

    def check_event_auth(self, event_id: str, path: str, method: str, event_auth: dict[str, Any],
                         api_auth: dict[str, Any]) -> None:
        """push.py, Api.add_auth_to_swagger: what SAM refuses."""
        authorizer = event_auth.get("Authorizer")
        authorizers = api_auth.get("Authorizers")
        on = f"on API method [{method.lower()}] for path [{path}]"
        if authorizer is not None and not isinstance(authorizer, str):
            raise self.fail(event_id, f"Auth.Authorizer must be a string, got {authorizer!r}")
        if authorizer and authorizer != "AWS_IAM":
            if authorizer != "NONE":
                if not authorizers:
                    raise self.fail(event_id, f"Unable to set Authorizer [{authorizer}] {on} because the related "
                                              "API does not define any Authorizers (SAM refuses it)")
                if not isinstance(authorizers, dict) or not authorizers.get(authorizer):
                    raise self.fail(event_id, f"Unable to set Authorizer [{authorizer}] {on} because it wasn't "
                                              "defined in the API's Authorizers (SAM refuses it)")
            elif not api_auth.get("DefaultAuthorizer"):
                raise self.fail(event_id, f"Unable to set Authorizer {on} because 'NONE' is only a valid value when "
                                          "a DefaultAuthorizer on the API is specified (SAM refuses it)")
        scopes = event_auth.get("AuthorizationScopes")
        if scopes:
            if not isinstance(scopes, list):
                raise self.fail(event_id, "Auth.AuthorizationScopes must be a list")
            if not authorizer:
                raise self.fail(event_id, "AuthorizationScopes works only when Authorizer is set (SAM refuses it)")
        api_key = event_auth.get("ApiKeyRequired")
        if api_key is not None and not api_key and not api_auth.get("ApiKeyRequired"):
            raise self.fail(event_id, f"Unable to set ApiKeyRequired [False] {on} because the related API does not "
                                      "specify any ApiKeyRequired (SAM refuses it)")

    @staticmethod
    def operations_at(document: dict[str, Any], path: str, key: str) -> list[dict[str, Any]]:
        item = document["paths"].get(path)
        operation = item.get(key) if isinstance(item, dict) else None
        return [operation] if isinstance(operation, dict) and INTEGRATION in operation else []

    # --- the API's own Auth and Cors ---

    def add_cors(self, document: dict[str, Any]) -> None:
        for item in document["paths"].values():
            if isinstance(item, dict) and "options" not in item:
                item["options"] = {INTEGRATION: {"type": "mock"}, "responses": {}}

    def apply_api_auth(self, document: dict[str, Any], logical_id: str, auth: dict[str, Any],
                       props: dict[str, Any]) -> None:
        unknown = set(auth) - _AUTH_KEYS
        if unknown:
            raise self.fail(logical_id, f"Invalid value for 'Auth' property ({', '.join(sorted(unknown))}; SAM "
                                        "refuses it)")
        authorizers = auth.get("Authorizers") or {}
        if not isinstance(authorizers, dict):
            raise self.fail(logical_id, "Auth.Authorizers must be a mapping")
        default = auth.get("DefaultAuthorizer")
        schemes = {}
        if default == "AWS_IAM":
            schemes["AWS_IAM"] = self.iam_scheme()
        for name, config in authorizers.items():
            if not isinstance(config, dict):
                raise self.fail(logical_id, f"Auth.Authorizers.{name} must be a mapping")
            schemes[name] = self.scheme(logical_id, name, config)
        if schemes:
            self.definitions(document).update(schemes)
            if default:
                if not isinstance(default, str):
                    raise self.fail(logical_id, "DefaultAuthorizer is not a string.")
                if default not in authorizers and default != "AWS_IAM":
                    raise self.fail(logical_id, f"Unable to set DefaultAuthorizer because '{default}' was not "
                                                "defined in 'Authorizers' (SAM refuses it)")
                preflight = auth.get("AddDefaultAuthorizerToCorsPreflight", True)
                for item in document["paths"].values():
                    self.default_authorizer(document, item, default, authorizers, preflight)
        if auth.get("ApiKeyRequired"):
            self.add_api_key_scheme(document)
            preflight = auth.get("AddApiKeyRequiredToCorsPreflight", True)
            for item in document["paths"].values():
                self.default_api_key(item, preflight)

    def default_authorizer(self, document: dict[str, Any], item: Any, default: str,
                           authorizers: dict[str, Any], preflight: Any) -> None:
        if not isinstance(item, dict):
            return
        names = {"AWS_IAM", *authorizers}
        for key, operation in item.items():
            if key in _NOT_METHODS or not isinstance(operation, dict) or INTEGRATION not in operation:
                continue
            if not preflight and key == "options":
                continue
            existing = operation.get("security", [])
            if not isinstance(existing, list):
                raise UserError(f"security of {key} {item} must be a list", where=self.where)
            others = [s for s in existing if not (isinstance(s, dict) and names & set(s))]
            named = [s for s in existing if isinstance(s, dict) and names & set(s)]
            none_at = next((i for i, s in enumerate(others) if isinstance(s, dict) and "NONE" in s), None)
            if none_at is not None:
                del others[none_at]
                chosen: list[Any] = []
            elif named:
                chosen = named
            else:
                config = authorizers.get(default)
                scopes = config.get("AuthorizationScopes") if isinstance(config, dict) else None
                chosen = [{default: scopes if scopes is not None else []}]
            security = others + chosen
            if security:  # an empty result leaves the method's security as it was (the NONE marker stays)
                operation["security"] = security
                if "AWS_IAM" in security[0]:
                    self.add_iam_scheme(document)

    def default_api_key(self, item: Any, preflight: Any) -> None:
        if not isinstance(item, dict):
            return
        for key, operation in item.items():
            if key in _NOT_METHODS or not isinstance(operation, dict) or INTEGRATION not in operation:
                continue
            existing = operation.get("security", [])
            others = [s for s in existing if not (isinstance(s, dict) and {"api_key", "api_key_false"} & set(s))]
            keyed = [s for s in existing if isinstance(s, dict) and {"api_key", "api_key_false"} & set(s)]
            false_at = next((i for i, s in enumerate(keyed) if "api_key_false" in s), None)
            if false_at is not None:
                del keyed[false_at]
                added: list[Any] = []
            else:
                added = [{"api_key": []}]
            security = others + added
            if key == "options" and not preflight:
                security = others
            if security != existing:
                operation["security"] = security

    # --- security schemes ---

    @staticmethod
    def definitions(document: dict[str, Any]) -> dict[str, Any]:
        if "openapi" in document:
            return document.setdefault("components", {}).setdefault("securitySchemes", {})
        return document.setdefault("securityDefinitions", {})

    @staticmethod
    def iam_scheme() -> dict[str, Any]:
        return {"x-amazon-apigateway-authtype": "awsSigv4", "type": "apiKey", "name": "Authorization",
                "in": "header"}

    def add_iam_scheme(self, document: dict[str, Any]) -> None:
        self.definitions(document).setdefault("AWS_IAM", self.iam_scheme())

    def add_api_key_scheme(self, document: dict[str, Any]) -> None:
        self.definitions(document).setdefault("api_key", {"type": "apiKey", "name": "x-api-key", "in": "header"})

    def scheme(self, api_id: str, name: str, config: dict[str, Any]) -> dict[str, Any]:
        """apigateway.py, ApiGatewayAuthorizer.generate_swagger (the parts that decide authorization)."""
        identity = config.get("Identity") or {}
        if not isinstance(identity, dict):
            raise self.fail(api_id, f"Auth.Authorizers.{name}.Identity must be a mapping")
        pool_arn = config.get("UserPoolArn")
        if pool_arn:
            return {"type": "apiKey", "name": identity.get("Header") or "Authorization", "in": "header",
                    "x-amazon-apigateway-authtype": "cognito_user_pools",
                    "x-amazon-apigateway-authorizer": {
                        "type": "cognito_user_pools",
                        "providerARNs": pool_arn if isinstance(pool_arn, list) else [pool_arn]}}
        payload = config.get("FunctionPayloadType") or "TOKEN"
        authorizer: dict[str, Any] = {"type": "request" if payload == "REQUEST" else "token",
                                      "authorizerUri": Deferred(f"(the invocation URI of {config.get('FunctionArn')})")}
        if identity.get("ReauthorizeEvery") is not None:
            authorizer["authorizerResultTtlInSeconds"] = identity["ReauthorizeEvery"]
        if payload == "REQUEST":
            sources = [f"{prefix}{v}" for key, prefix in (("Headers", "method.request.header."),
                                                           ("QueryStrings", "method.request.querystring."),
                                                           ("StageVariables", "stageVariables."),
                                                           ("Context", "context."))
                       for v in listing(identity.get(key), f"Auth.Authorizers.Identity.{key}", self.where)]
            if sources:
                authorizer["identitySource"] = ", ".join(sources)
        return {"type": "apiKey", "name": "Unused" if payload == "REQUEST" else identity.get("Header") or
                "Authorization", "in": "header", "x-amazon-apigateway-authtype": "custom",
                "x-amazon-apigateway-authorizer": authorizer}
