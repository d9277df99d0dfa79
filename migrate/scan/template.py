"""`scan --template`: REST APIs and Cognito user pools as a CloudFormation, SAM or CDK template defines them.

What is read (each rule's source in the code that applies it):

* ``AWS::ApiGateway::RestApi`` with ``Body``: the inline OpenAPI document, read as an export is
  (:mod:`migrate.scan.openapi`). ``BodyS3Location`` is reported, not fetched.
* ``AWS::ApiGateway::Resource``/``Method``/``Authorizer``, as the AWS CDK synthesizes a ``RestApi``
  (``cdk.out/*.template.json``): paths from the ``ParentId`` chain up to the API's ``RootResourceId``,
  ``AuthorizationType``, ``AuthorizerId``, ``AuthorizationScopes``, ``ApiKeyRequired``, the integration; the
  authorizer's ``Type``, ``ProviderARNs``, ``IdentitySource``.
* ``AWS::Serverless::Api`` and the ``Api`` events of ``AWS::Serverless::Function``: :mod:`migrate.scan.sam`.
* ``AWS::Cognito::UserPool`` (``LambdaConfig``: the pre-token trigger and its version; SAM's ``Cognito`` events
  add to it), ``UserPoolGroup``, ``UserPoolResourceServer``, ``UserPoolClient``. A pool defined here is known by
  its logical id (its real id only exists once deployed) unless ``--parameter LOGICAL_ID=POOL_ID`` names it.
* Deploy-time values: :mod:`migrate.scan.cfn_resolve`.

Users are not in templates: a template's pools list none (``users_complete`` false), which later steps treat
as they treat a live scan of group members only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate.errors import UserError
from migrate.inventory.model import (
    AppClient,
    Authorizer,
    Group,
    Method,
    PreTokenTrigger,
    ResourceServer,
    RestApi,
    Scope,
    UserPool,
    claims_passed_to_backend,
    parse_user_pool_arn,
)
from migrate.scan.cfn_resolve import USER_POOL, Resolver
from migrate.scan.cfn_yaml import load_document, read_text
from migrate.scan.deferred import Deferred
from migrate.scan.openapi import read_api_document
from migrate.scan.sam import SERVERLESS_FUNCTION, SamReader, is_sam, merge_globals
from migrate.scan.shape import listing, mapping

RULES_SOURCE_VARIABLE = "AVP_MIGRATE_RULES_SOURCE"
_FUNCTION_TYPES = {"AWS::Lambda::Function", SERVERLESS_FUNCTION}
_TRIGGER_VERSIONS = {"V1_0", "V2_0", "V3_0"}
_AUTHORIZATION_TYPES = {"NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"}
_AUTHORIZER_TYPES = {"TOKEN", "REQUEST", "COGNITO_USER_POOLS"}


@dataclass
class TemplateRead:
    apis: list[RestApi] = field(default_factory=list)
    pools: list[UserPool] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    used_parameters: set[str] = field(default_factory=set)


def read_template(path: str | Path, parameters: Mapping[str, str] | None = None, *,
                  imports: Mapping[str, str] | None = None,
                  foreign_pools: Mapping[str, str] | None = None) -> TemplateRead:
    """``imports``: other templates' exports (name -> value), for ``Fn::ImportValue``; ``foreign_pools``: the user
    pools those templates define (inventory id -> ARN), so that an authorizer importing one is tied to it."""
    where = str(path)
    reader = _TemplateReader(_load(path), where, parameters or {}, imports or {})
    reader.foreign_pools = dict(foreign_pools or {})
    return reader.read()


def template_exports(path: str | Path, parameters: Mapping[str, str] | None = None
                     ) -> tuple[dict[str, str], dict[str, str]]:
    """The template's ``Outputs`` exports whose values are known (a pool's ``Fn::GetAtt Pool.Arn``/``Ref Pool``
    export as the pool's ARN/id as the inventory names them), and its pools (inventory id -> ARN)."""
    where = str(path)
    reader = _TemplateReader(_load(path), where, parameters or {}, {})
    pools = {}
    for logical, _ in reader.of_type(USER_POOL):
        pool_id = reader.resolver.lookup(logical) or logical
        pools[logical] = (pool_id, reader.resolver.pool_arn(logical) or pool_id)
    exports = {}
    outputs = reader.template.get("Outputs")
    for output in (outputs.values() if isinstance(outputs, dict) else ()):
        export = output.get("Export") if isinstance(output, dict) else None
        name = reader.resolver.resolve(export.get("Name")) if isinstance(export, dict) else None
        if not isinstance(name, str) or isinstance(name, Deferred):
            continue
        value = reader.resolver.resolve(output.get("Value"))
        if isinstance(value, Deferred) and value.ref is not None and value.ref[0] in pools:
            pool_id, arn = pools[value.ref[0]]
            if value.ref[1] in {None, "Arn", "UserPoolId"}:
                exports[name] = arn if value.ref[1] == "Arn" else pool_id
        elif isinstance(value, str) and not isinstance(value, Deferred):
            exports[name] = value
    return exports, dict(pools.values())


def _load(path: str | Path) -> dict[str, Any]:
    where = str(path)
    document = load_document(read_text(Path(path), where, "template"), where)
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        hint = (" (an API export: read it with --openapi)" if isinstance(document, dict)
                and ("openapi" in document or "swagger" in document) else "")
        raise UserError(f"not a CloudFormation template: no 'Resources' mapping{hint}", where=where)
    return document


class _TemplateReader:
    def __init__(self, template: dict[str, Any], where: str, parameters: Mapping[str, str],
                 imports: Mapping[str, str]) -> None:
        self.template = template
        self.where = where
        self.foreign_pools: dict[str, str] = {}
        self.resolver = Resolver(template, where, parameters, imports)
        self.resources: dict[str, Any] = {k: v for k, v in template["Resources"].items() if isinstance(v, dict)}
        self.warnings: list[str] = []
        self.pools: dict[str, UserPool] = {}  # logical id -> pool

    def warn(self, text: str) -> None:
        line = f"{self.where}: {text}"
        if line not in self.warnings:
            self.warnings.append(line)

    def of_type(self, *types: str) -> list[tuple[str, dict[str, Any]]]:
        return [(logical, self.resolver.properties(logical)) for logical, resource in self.resources.items()
                if resource.get("Type") in types and self.resolver.resource_present(logical)]

    def read(self) -> TemplateRead:
        self.read_pools()
        apis = self.rest_apis()
        if is_sam(self.template):
            sam = SamReader(self.template, self.resolver, self.where)
            for sam_api in sam.apis():
                result = read_api_document(sam_api.document, sam_api.where,
                                           api_id=self.resolver.lookup(sam_api.logical_id) or sam_api.logical_id,
                                           name=sam_api.name, source=self.source(sam_api.logical_id),
                                           pool_of=self.pool_arn_of)
                result.api.stage = sam_api.stage
                result.api.stages = [sam_api.stage] if sam_api.stage else []
                apis.append(result.api)
                self.warnings.extend(result.warnings)
            self.warnings.extend(sam.warnings)
        elif any(str(r.get("Type")).startswith("AWS::Serverless::") for r in self.resources.values()):
            self.warn("AWS::Serverless resources without 'Transform: AWS::Serverless-2016-10-31': not read as SAM")
        if not apis:
            self.warn("no REST API (AWS::ApiGateway::RestApi or AWS::Serverless::Api) in the template")
        return TemplateRead(apis=apis, pools=list(self.pools.values()),
                            warnings=[*self.resolver.notes, *self.warnings], used_parameters=self.resolver.used)

    def source(self, logical_id: str) -> str:
        return f"template:{self.where}#{logical_id}"

    # --- values -------------------------------------------------------------------------------------------

    def text(self, value: Any, what: str) -> str | None:
        """A resolved string, or None (reported) when it is only known at deploy time."""
        value = self.resolver.resolve(value)
        if value is None:
            return None
        if isinstance(value, Deferred):
            self.warn(f"{what}: {value} is only known at deploy time")
            return None
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UserError(f"{what}: expected a string, got {type(value).__name__}", where=self.where)

    def strings(self, value: Any, what: str) -> list[str]:
        value = self.resolver.resolve(value)
        if value is None:
            return []
        if isinstance(value, Deferred) or not isinstance(value, list):
            if isinstance(value, Deferred):
                raise UserError(f"{what}: {value} is only known at deploy time, and the list it stands for decides "
                                "authorization; give its inputs with --parameter", where=self.where)
            raise UserError(f"{what}: expected a list of strings", where=self.where)
        result = []
        for i, item in enumerate(value):
            if isinstance(item, Deferred):
                raise UserError(f"{what}[{i}]: {item} is only known at deploy time, and it decides authorization; "
                                "give its inputs with --parameter", where=self.where)
            if not isinstance(item, str):
                raise UserError(f"{what}[{i}]: expected a string", where=self.where)
            result.append(item)
        return result

    def flag(self, value: Any, what: str) -> bool:
        value = self.resolver.resolve(value)
        if isinstance(value, bool) or value is None:
            return bool(value)
        if isinstance(value, str) and value.lower() in {"true", "false"} and not isinstance(value, Deferred):
            return value.lower() == "true"  # CloudFormation takes "true"/"false" strings for booleans
        raise UserError(f"{what}: expected true or false, got {value!r}", where=self.where)

    def logical_target(self, value: Any) -> str | None:
        """The logical id a reference points to (``Ref``/``GetAtt``/a given physical id), if any."""
        resolved = self.resolver.resolve(value)
        if isinstance(resolved, Deferred) and resolved.ref is not None:
            return resolved.ref[0]
        if isinstance(resolved, str):
            for logical in self.resources:
                if self.resolver.given.get(logical) == resolved:
                    return logical
        return None

    # --- Cognito ------------------------------------------------------------------------------------------

    def read_pools(self) -> None:
        sam_triggers = self.sam_cognito_triggers() if is_sam(self.template) else {}
        for logical, props in self.of_type(USER_POOL):
            pool_id = self.resolver.lookup(logical)
            arn = self.resolver.pool_arn(logical)
            region = self.resolver.lookup("AWS::Region") or (pool_id.split("_", 1)[0] if pool_id else "")
            name = self.text(props.get("UserPoolName"), f"Resources.{logical}.Properties.UserPoolName") or logical
            tier = self.text(props.get("UserPoolTier"), f"Resources.{logical}.Properties.UserPoolTier")
            pool = UserPool(id=pool_id or logical, arn=arn or pool_id or logical, name=name, region=region,
                            feature_plan=tier)
            config = merge_globals(sam_triggers.get(logical, {}), mapping(
                props.get("LambdaConfig"), f"Resources.{logical}.Properties.LambdaConfig", self.where))
            pool.pretoken_trigger = self.trigger(logical, config)
            if pool_id is None:
                self.warn(f"user pool {logical}: its id only exists once deployed, so the snapshot names it "
                          f"{logical!r}; give --parameter {logical}=POOL_ID (and AWS::AccountId) to name the "
                          "deployed pool")
            self.pools[logical] = pool
        for logical, props in self.of_type("AWS::Cognito::UserPoolGroup"):
            pool = self.pool_of(props.get("UserPoolId"), logical)
            if pool is not None:
                name = self.text(props.get("GroupName"), f"Resources.{logical}.Properties.GroupName")
                if name is None:
                    self.warn(f"group {logical}: no GroupName (CloudFormation makes one up): named {logical!r}")
                precedence = self.resolver.resolve(props.get("Precedence"))
                pool.groups.append(Group(name=name or logical,
                                         description=self.text(props.get("Description"), logical) or "",
                                         precedence=int(precedence) if isinstance(precedence, (int, str))
                                         and str(precedence).isdigit() else None))
        for logical, props in self.of_type("AWS::Cognito::UserPoolResourceServer"):
            pool = self.pool_of(props.get("UserPoolId"), logical)
            if pool is not None:
                what = f"Resources.{logical}.Properties"
                identifier = self.text(props.get("Identifier"), f"{what}.Identifier")
                if identifier is None:
                    raise UserError(f"{what}.Identifier: only known at deploy time, and scope names depend on it; "
                                    "give its inputs with --parameter", where=self.where)
                scopes = listing(self.resolver.resolve(props.get("Scopes")), f"{what}.Scopes", self.where)
                pool.resource_servers.append(ResourceServer(
                    identifier=identifier, name=self.text(props.get("Name"), f"{what}.Name") or identifier,
                    scopes=[Scope(self.text(s.get("ScopeName"), f"{what}.Scopes[{i}].ScopeName") or "",
                                  self.text(s.get("ScopeDescription"), f"{what}.Scopes") or "")
                            for i, s in enumerate(scopes) if isinstance(s, dict)]))
        for logical, props in self.of_type("AWS::Cognito::UserPoolClient"):
            pool = self.pool_of(props.get("UserPoolId"), logical)
            if pool is not None:
                pool.clients.append(self.client(logical, props))
        for pool in self.pools.values():
            pool.groups.sort(key=lambda g: g.name)
            pool.clients.sort(key=lambda c: (c.name, c.client_id))

    def pool_of(self, value: Any, logical: str) -> UserPool | None:
        target = self.logical_target(value)
        if target in self.pools:
            return self.pools[target]
        self.warn(f"{logical}: its user pool ({self.resolver.resolve(value)!s}) is not defined in this template: "
                  "not read (scan the account, or read the pool's template too)")
        return None

    def client(self, logical: str, props: dict[str, Any]) -> AppClient:
        what = f"Resources.{logical}.Properties"
        client_id = self.resolver.lookup(logical)
        if client_id is None:
            self.warn(f"app client {logical}: its id only exists once deployed: named {logical!r} "
                      f"(give --parameter {logical}=CLIENT_ID to name the deployed client)")
        return AppClient(
            client_id=client_id or logical, name=self.text(props.get("ClientName"), f"{what}.ClientName") or logical,
            has_secret=self.flag(props.get("GenerateSecret"), f"{what}.GenerateSecret"),
            allowed_oauth_flows=sorted(self.strings(props.get("AllowedOAuthFlows"), f"{what}.AllowedOAuthFlows")),
            allowed_oauth_scopes=sorted(self.strings(props.get("AllowedOAuthScopes"),
                                                     f"{what}.AllowedOAuthScopes")),
            allowed_oauth_flows_user_pool_client=self.flag(props.get("AllowedOAuthFlowsUserPoolClient"),
                                                           f"{what}.AllowedOAuthFlowsUserPoolClient"),
            explicit_auth_flows=sorted(self.strings(props.get("ExplicitAuthFlows"), f"{what}.ExplicitAuthFlows")),
            supported_identity_providers=sorted(self.strings(props.get("SupportedIdentityProviders"),
                                                             f"{what}.SupportedIdentityProviders")))

    def sam_cognito_triggers(self) -> dict[str, dict[str, Any]]:
        """SAM ``Cognito`` events put the function's ARN into the pool's ``LambdaConfig`` under the trigger's name
        (model/eventsources/push.py, ``Cognito._inject_lambda_config``)."""
        found: dict[str, dict[str, Any]] = {}
        for function, props in self.of_type(SERVERLESS_FUNCTION):
            for event in mapping(props.get("Events"), f"Resources.{function}.Properties.Events", self.where).values():
                if not isinstance(event, dict) or event.get("Type") != "Cognito":
                    continue
                event_props = mapping(event.get("Properties"), f"Resources.{function}.Properties.Events", self.where)
                target = self.logical_target(event_props.get("UserPool"))
                triggers = event_props.get("Trigger")
                for trigger in triggers if isinstance(triggers, list) else [triggers]:
                    if target is not None and isinstance(trigger, str):
                        found.setdefault(target, {})[trigger] = {"Fn::GetAtt": [function, "Arn"]}
        return found

    def trigger(self, pool_logical: str, config: dict[str, Any]) -> PreTokenTrigger | None:
        what = f"Resources.{pool_logical}.Properties.LambdaConfig"
        modern = mapping(self.resolver.resolve(config.get("PreTokenGenerationConfig")),
                         f"{what}.PreTokenGenerationConfig", self.where)
        if modern.get("LambdaArn") is not None:
            version = self.text(modern.get("LambdaVersion"), f"{what}.PreTokenGenerationConfig.LambdaVersion") \
                or "V1_0"
            if version not in _TRIGGER_VERSIONS:
                raise UserError(f"{what}.PreTokenGenerationConfig.LambdaVersion: {version!r} is not V1_0, V2_0 or "
                                "V3_0", where=self.where)
            trigger = PreTokenTrigger(lambda_arn=str(self.resolver.resolve(modern["LambdaArn"])),
                                      version=version, config_field="PreTokenGenerationConfig")  # type: ignore[arg-type]
            self.recognise(trigger, modern["LambdaArn"])
            return trigger
        if config.get("PreTokenGeneration") is not None:
            trigger = PreTokenTrigger(lambda_arn=str(self.resolver.resolve(config["PreTokenGeneration"])),
                                      version="V1_0", config_field="PreTokenGeneration")
            self.recognise(trigger, config["PreTokenGeneration"])
            return trigger
        return None

    def recognise(self, trigger: PreTokenTrigger, reference: Any) -> None:
        """A trigger function defined in the template is avp-migrate's pretoken_lambda when its environment
        names a rules source (as the live scan tells it: the function's configuration)."""
        function = self.logical_target(reference)
        if function is None or self.resolver.type_of(function) not in _FUNCTION_TYPES:
            return
        props = self.resolver.properties(function)
        if self.resolver.type_of(function) == SERVERLESS_FUNCTION:
            globals_ = mapping(self.template.get("Globals"), "Globals", self.where)
            props = merge_globals(mapping(globals_.get("Function"), "Globals.Function", self.where), props)
        environment = mapping(props.get("Environment"), f"Resources.{function}.Properties.Environment", self.where)
        variables = self.resolver.resolve(environment.get("Variables"))
        source = variables.get(RULES_SOURCE_VARIABLE) if isinstance(variables, dict) else None
        if isinstance(source, str) and not isinstance(source, Deferred):
            trigger.recognised = True
            trigger.rules_source = source
        elif isinstance(source, Deferred):
            trigger.recognised = True
            self.warn(f"pre-token function {function}: its rules source {source} is only known at deploy time")

    # --- API Gateway resources ----------------------------------------------------------------------------

    def rest_apis(self) -> list[RestApi]:
        apis = []
        methods = self.of_type("AWS::ApiGateway::Method")
        authorizers = self.of_type("AWS::ApiGateway::Authorizer")
        for logical, props in self.of_type("AWS::ApiGateway::RestApi"):
            what = f"Resources.{logical}.Properties"
            api_id = self.resolver.lookup(logical) or logical
            name = self.text(props.get("Name"), f"{what}.Name")
            body = self.resolver.resolve(props.get("Body"))
            if isinstance(body, Deferred):  # Fn::Transform AWS::Include, an Fn::If on the whole body, ...
                self.warn(f"{what}.Body: {body} is only known at deploy time: not read; give the API's definition "
                          "with --openapi, or scan the deployed API")
                body = None
            if body is not None:
                result = read_api_document(body, f"{self.where}: {what}.Body",
                                           api_id=api_id, name=name, source=self.source(logical),
                                           pool_of=self.pool_arn_of)
                api = result.api
                self.warnings.extend(result.warnings)
            else:
                if props.get("BodyS3Location") is not None:
                    location = self.resolver.resolve(props["BodyS3Location"])
                    self.warn(f"{what}.BodyS3Location: the API's definition is in S3 ({location}), not read: give "
                              "it with --openapi, or scan the deployed API")
                api = RestApi(id=api_id, name=name or logical, source=self.source(logical),
                              description=self.text(props.get("Description"), f"{what}.Description") or "")
            mine = [(m, p) for m, p in methods if self.logical_target(p.get("RestApiId")) == logical]
            api.authorizers.extend(self.authorizer(a, p) for a, p in authorizers
                                   if self.logical_target(p.get("RestApiId")) == logical)
            api.methods.extend(self.method(logical, m, p) for m, p in mine)
            api.methods.sort(key=lambda m: (m.path, m.http_method))
            api.stages, api.stage = self.stages(logical)
            apis.append(api)
        return apis

    def stages(self, api_logical: str) -> tuple[list[str], str | None]:
        """Every stage the template creates for the API, and the one to migrate when that is clear: the only
        ``AWS::ApiGateway::Stage`` (SAM's deployment also creates a stage named ``Stage``, as its
        ``AWS::ApiGateway::Deployment`` carries ``StageName: Stage``; that one is not the API's stage of record)."""
        names, staged = set(), set()
        for logical, props in self.of_type("AWS::ApiGateway::Stage", "AWS::ApiGateway::Deployment"):
            if self.logical_target(props.get("RestApiId")) == api_logical and props.get("StageName") is not None:
                name = self.text(props["StageName"], f"Resources.{logical}.Properties.StageName")
                if name:
                    names.add(name)
                    if self.resolver.type_of(logical) == "AWS::ApiGateway::Stage":
                        staged.add(name)
        chosen = staged if staged else names
        return sorted(names), (next(iter(chosen)) if len(chosen) == 1 else None)

    def resource_path(self, api_logical: str, reference: Any, seen: tuple[str, ...] = ()) -> str:
        resolved = self.resolver.resolve(reference)
        if isinstance(resolved, Deferred) and resolved.ref == (api_logical, "RootResourceId"):
            return "/"
        target = self.logical_target(reference)
        if target is None or self.resolver.type_of(target) != "AWS::ApiGateway::Resource" or target in seen:
            raise UserError(f"resource {resolved!s} of API {api_logical}: not the API's root (Fn::GetAtt "
                            f"{api_logical}.RootResourceId) nor an AWS::ApiGateway::Resource of the template",
                            where=self.where)
        props = self.resolver.properties(target)
        part = self.text(props.get("PathPart"), f"Resources.{target}.Properties.PathPart")
        if part is None:
            raise UserError(f"Resources.{target}.Properties.PathPart: only known at deploy time", where=self.where)
        parent = self.resource_path(api_logical, props.get("ParentId"), (*seen, target))
        return f"{parent.rstrip('/')}/{part}"

    def method(self, api_logical: str, logical: str, props: dict[str, Any]) -> Method:
        what = f"Resources.{logical}.Properties"
        verb = (self.text(props.get("HttpMethod"), f"{what}.HttpMethod") or "").upper()
        if not verb:
            raise UserError(f"{what}.HttpMethod: missing", where=self.where)
        kind = (self.text(props.get("AuthorizationType"), f"{what}.AuthorizationType") or "NONE").upper()
        if kind not in _AUTHORIZATION_TYPES:
            raise UserError(f"{what}.AuthorizationType: {kind!r} is not NONE, AWS_IAM, CUSTOM or COGNITO_USER_POOLS",
                            where=self.where)
        authorizer_id = None
        if props.get("AuthorizerId") is not None:
            authorizer_id = self.logical_target(props["AuthorizerId"]) or self.text(props["AuthorizerId"],
                                                                                   f"{what}.AuthorizerId")
        integration = self.resolver.resolve(props.get("Integration")) or {}
        integration_type = integration.get("Type") if isinstance(integration, dict) else None
        return Method(
            path=self.resource_path(api_logical, props.get("ResourceId")), http_method=verb,
            authorization_type=kind,  # type: ignore[arg-type]
            resource_id=logical, authorizer_id=authorizer_id,
            authorization_scopes=self.strings(props.get("AuthorizationScopes"), f"{what}.AuthorizationScopes"),
            api_key_required=self.flag(props.get("ApiKeyRequired"), f"{what}.ApiKeyRequired"),
            operation_name=self.text(props.get("OperationName"), f"{what}.OperationName"),
            integration_type=str(integration_type).upper() if isinstance(integration_type, str) else None,
            claims_to_backend=claims_passed_to_backend(integration.get("RequestTemplates"),
                                                       integration.get("RequestParameters"))
            if isinstance(integration, dict) else [])

    def authorizer(self, logical: str, props: dict[str, Any]) -> Authorizer:
        what = f"Resources.{logical}.Properties"
        kind = (self.text(props.get("Type"), f"{what}.Type") or "").upper()
        if kind not in _AUTHORIZER_TYPES:
            raise UserError(f"{what}.Type: {kind!r} is not TOKEN, REQUEST or COGNITO_USER_POOLS", where=self.where)
        arns = []
        raw = self.resolver.resolve(props.get("ProviderARNs")) or []
        for i, value in enumerate(raw if isinstance(raw, list) else [raw]):
            arn = self.pool_arn_of(value) or (value if isinstance(value, str) and parse_user_pool_arn(value) else None)
            if arn is None:
                self.warn(f"{what}.ProviderARNs[{i}]: {value!s} is not a user pool of this template nor a user "
                          "pool ARN: its methods cannot be tied to a pool; give its value with --parameter")
            else:
                arns.append(arn)
        ttl = self.resolver.resolve(props.get("AuthorizerResultTtlInSeconds"))
        uri = self.resolver.resolve(props.get("AuthorizerUri"))
        return Authorizer(id=logical, name=self.text(props.get("Name"), f"{what}.Name") or logical,
                          type=kind, provider_arns=arns,  # type: ignore[arg-type]
                          identity_source=self.text(props.get("IdentitySource"), f"{what}.IdentitySource"),
                          authorizer_uri=str(uri) if uri is not None else None,
                          result_ttl_seconds=int(ttl) if isinstance(ttl, (int, str)) and str(ttl).isdigit() else None)

    def pool_arn_of(self, value: Any) -> str | None:
        """The inventory ARN of the template pool a provider value names (logical reference, given id or ARN)."""
        if isinstance(value, Deferred) and value.ref is not None and value.ref[0] in self.pools:
            return self.pools[value.ref[0]].arn
        if isinstance(value, str):
            known = {**self.foreign_pools, **{pool.id: pool.arn for pool in self.pools.values()}}
            for pool_id, arn in known.items():
                if value in {arn, pool_id} or value.endswith(f":userpool/{pool_id}"):
                    return arn
        return None
