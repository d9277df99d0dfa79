"""`scan --terraform`: REST APIs and user pools from ``terraform show -json`` output (a state or a saved plan).

The format is HashiCorp's "JSON Output Format" (Terraform internals documentation): a state has
``values.root_module``, a plan ``planned_values.root_module``; each module has ``resources[]`` (``address``,
``type``, ``name``, ``values``: the provider's attributes) and ``child_modules[]`` of the same shape. Values that
are only known after apply are left out of a plan's ``planned_values``; a plan's ``configuration`` then says
which resource an argument refers to (``expressions.<argument>.references``: ``["aws_api_gateway_rest_api.api.id",
"aws_api_gateway_rest_api.api"]``), which is how this reader links a method to its API, resource and authorizer
before anything has an id.

Resources read (attribute names from the AWS provider's documentation): ``aws_api_gateway_rest_api`` (``name``,
``body``, ``root_resource_id``), ``aws_api_gateway_resource`` (``parent_id``, ``path_part``, ``path``),
``aws_api_gateway_method`` (``http_method``, ``authorization``, ``authorizer_id``, ``authorization_scopes``,
``api_key_required``, ``operation_name``), ``aws_api_gateway_integration`` (``type``, ``request_templates``,
``request_parameters``), ``aws_api_gateway_authorizer`` (``type``, ``provider_arns``, ``identity_source``,
``authorizer_uri``, ``authorizer_result_ttl_in_seconds``), ``aws_api_gateway_stage``; ``aws_cognito_user_pool``
(``lambda_config``: ``pre_token_generation``, ``pre_token_generation_config``), ``aws_cognito_user_group``,
``aws_cognito_resource_server``, ``aws_cognito_user_pool_client``; ``aws_lambda_function`` (its environment,
to recognise avp-migrate's pretoken_lambda).
"""

from __future__ import annotations

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
from migrate.scan.cfn_yaml import load_document, read_text
from migrate.scan.openapi import read_api_document
from migrate.scan.shape import listing, mapping, strings, text
from migrate.scan.template import RULES_SOURCE_VARIABLE, TemplateRead

_AUTHORIZATION_TYPES = {"NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"}
_AUTHORIZER_TYPES = {"TOKEN", "REQUEST", "COGNITO_USER_POOLS"}


@dataclass
class _Resource:
    address: str
    type: str
    values: dict[str, Any]
    module: str  # "" or "module.a." (addresses in configuration are relative to it)
    references: dict[str, list[str]] = field(default_factory=dict)  # argument -> referenced addresses (absolute)

    def get(self, key: str) -> Any:
        return self.values.get(key)


def read_terraform(path: str | Path) -> TemplateRead:
    where = str(path)
    document = load_document(read_text(Path(path), where, "terraform show -json output"), where)
    return _TerraformReader(document, where).read()


class _TerraformReader:
    def __init__(self, document: Any, where: str) -> None:
        self.where = where
        self.warnings: list[str] = []
        if not isinstance(document, dict) or "format_version" not in document:
            raise UserError("not `terraform show -json` output (no format_version)", where=where)
        self.is_plan = "planned_values" in document
        values = document.get("planned_values") if self.is_plan else document.get("values")
        if values is None:
            raise UserError("no values in this state (an empty state?)" if not self.is_plan else
                            "no planned_values in this plan", where=where)
        root = values.get("root_module") if isinstance(values, dict) else None
        if not isinstance(root, dict):
            raise UserError("no root_module", where=where)
        self.resources: dict[str, _Resource] = {}
        self.collect(root, "values" if not self.is_plan else "planned_values")
        configuration = mapping(document.get("configuration"), "configuration", where).get("root_module")
        if isinstance(configuration, dict):
            self.collect_references(configuration, "")
        self.pools: dict[str, UserPool] = {}  # address -> pool

    def warn(self, text: str) -> None:
        line = f"{self.where}: {text}"
        if line not in self.warnings:
            self.warnings.append(line)

    # --- the document ---

    def collect(self, module: dict[str, Any], jpath: str) -> None:
        address = module.get("address")
        prefix = f"{address}." if isinstance(address, str) and address else ""
        for i, raw in enumerate(listing(module.get("resources"), f"{jpath}.resources", self.where)):
            if not isinstance(raw, dict) or raw.get("mode", "managed") != "managed":
                continue
            if not isinstance(raw.get("address"), str) or not isinstance(raw.get("type"), str):
                raise UserError(f"{jpath}.resources[{i}]: no address or type", where=self.where)
            values = mapping(raw.get("values"), f"{raw['address']}.values", self.where)
            self.resources[raw["address"]] = _Resource(raw["address"], raw["type"], values, prefix)
        for i, child in enumerate(listing(module.get("child_modules"), f"{jpath}.child_modules", self.where)):
            if isinstance(child, dict):
                self.collect(child, f"{jpath}.child_modules[{i}]")

    def collect_references(self, module: dict[str, Any], prefix: str) -> None:
        for raw in module.get("resources") or [] if isinstance(module.get("resources"), list) else []:
            if not isinstance(raw, dict) or not isinstance(raw.get("address"), str):
                continue
            base = prefix + raw["address"]
            expressions = raw.get("expressions") if isinstance(raw.get("expressions"), dict) else {}
            refs = {arg: [prefix + r for r in expr.get("references") or [] if isinstance(r, str)]
                    for arg, expr in expressions.items()
                    if isinstance(expr, dict) and isinstance(expr.get("references") or [], list)}
            for resource in self.resources.values():
                if resource.address == base or resource.address.startswith(base + "["):
                    resource.references = refs
        calls = module.get("module_calls") if isinstance(module.get("module_calls"), dict) else {}
        for name, call in calls.items():
            if isinstance(call, dict) and isinstance(call.get("module"), dict):
                self.collect_references(call["module"], f"{prefix}module.{name}.")

    def of_type(self, kind: str) -> list[_Resource]:
        return [r for r in self.resources.values() if r.type == kind]

    def target(self, resource: _Resource, argument: str, kind: str, attribute: str = "id") -> _Resource | None:
        """The resource of type ``kind`` that ``argument`` refers to: by value (state) or by the configuration's
        reference (a plan, before the value exists)."""
        value = resource.get(argument)
        if isinstance(value, str):
            for other in self.of_type(kind):
                if other.get(attribute) == value:
                    return other
        for reference in resource.references.get(argument, []):
            for other in self.of_type(kind):
                if reference in {f"{other.address}.{attribute}", other.address} or \
                        reference.split("[")[0] == other.address.split("[")[0]:
                    return other
        return None

    def refers_to(self, resource: _Resource, argument: str, target: _Resource, attribute: str) -> bool:
        value = resource.get(argument)
        if isinstance(value, str) and value == target.get(attribute):
            return True
        return f"{target.address}.{attribute}" in resource.references.get(argument, [])

    # --- reading ---

    def read(self) -> TemplateRead:
        self.read_pools()
        apis = [self.api(r) for r in self.of_type("aws_api_gateway_rest_api")]
        if not apis:
            self.warn("no aws_api_gateway_rest_api in this " + ("plan" if self.is_plan else "state"))
        return TemplateRead(apis=apis, pools=list(self.pools.values()), warnings=self.warnings)

    def read_pools(self) -> None:
        for resource in self.of_type("aws_cognito_user_pool"):
            pool_id, arn = resource.get("id"), resource.get("arn")
            region = pool_id.split("_", 1)[0] if isinstance(pool_id, str) and "_" in pool_id else ""
            if not isinstance(pool_id, str):
                self.warn(f"user pool {resource.address}: its id is only known after apply, so the snapshot names it "
                          f"{resource.address!r}; scan the state (terraform show -json) once applied")
                pool_id = resource.address
            if not isinstance(arn, str):
                arn = pool_id
            region = (parse_user_pool_arn(arn) or ("",))[0] or region
            where = f"{resource.address}.values"
            pool = UserPool(id=pool_id, arn=arn, name=text(resource.get("name"), f"{where}.name", self.where)
                            or resource.address, region=region,
                            feature_plan=text(resource.get("user_pool_tier"), f"{where}.user_pool_tier", self.where))
            pool.pretoken_trigger = self.trigger(resource)
            self.pools[resource.address] = pool
        for resource in self.of_type("aws_cognito_user_group"):
            pool = self.pool_of(resource)
            if pool is not None:
                precedence = resource.get("precedence")
                where = f"{resource.address}.values"
                pool.groups.append(Group(name=text(resource.get("name"), f"{where}.name", self.where)
                                         or resource.address,
                                         description=text(resource.get("description"), f"{where}.description",
                                                          self.where) or "",
                                         precedence=precedence if isinstance(precedence, int) else None))
        for resource in self.of_type("aws_cognito_resource_server"):
            pool = self.pool_of(resource)
            if pool is not None:
                identifier = text(resource.get("identifier"), f"{resource.address}.values.identifier", self.where)
                if identifier is None:
                    raise UserError(f"{resource.address}: identifier only known after apply, and scope names "
                                    "depend on it", where=self.where)
                where = f"{resource.address}.values"
                scopes = [mapping(s, f"{where}.scope[{i}]", self.where)
                          for i, s in enumerate(listing(resource.get("scope"), f"{where}.scope", self.where))]
                pool.resource_servers.append(ResourceServer(
                    identifier=identifier, name=text(resource.get("name"), f"{where}.name", self.where) or identifier,
                    scopes=[Scope(text(s.get("scope_name"), f"{where}.scope[{i}].scope_name", self.where) or "",
                                  text(s.get("scope_description"), f"{where}.scope[{i}].scope_description",
                                       self.where) or "")
                            for i, s in enumerate(scopes)]))
        for resource in self.of_type("aws_cognito_user_pool_client"):
            pool = self.pool_of(resource)
            if pool is not None:
                where = f"{resource.address}.values"
                client_id = resource.get("id")
                if not isinstance(client_id, str):
                    self.warn(f"app client {resource.address}: its id is only known after apply: named "
                              f"{resource.address!r}")
                pool.clients.append(AppClient(
                    client_id=client_id if isinstance(client_id, str) else resource.address,
                    name=text(resource.get("name"), f"{where}.name", self.where) or resource.address,
                    has_secret=bool(resource.get("generate_secret") or resource.get("client_secret")),
                    allowed_oauth_flows=sorted(strings(resource.get("allowed_oauth_flows"),
                                                       f"{where}.allowed_oauth_flows", self.where)),
                    allowed_oauth_scopes=sorted(strings(resource.get("allowed_oauth_scopes"),
                                                        f"{where}.allowed_oauth_scopes", self.where)),
                    allowed_oauth_flows_user_pool_client=bool(resource.get("allowed_oauth_flows_user_pool_client")),
                    explicit_auth_flows=sorted(strings(resource.get("explicit_auth_flows"),
                                                       f"{where}.explicit_auth_flows", self.where)),
                    supported_identity_providers=sorted(strings(resource.get("supported_identity_providers"),
                                                                f"{where}.supported_identity_providers",
                                                                self.where))))
        for pool in self.pools.values():
            pool.groups.sort(key=lambda g: g.name)
            pool.clients.sort(key=lambda c: (c.name, c.client_id))

    def pool_of(self, resource: _Resource) -> UserPool | None:
        target = self.target(resource, "user_pool_id", "aws_cognito_user_pool")
        if target is None:
            self.warn(f"{resource.address}: its user pool ({resource.get('user_pool_id')}) is not in this "
                      f"{'plan' if self.is_plan else 'state'}: not read")
            return None
        return self.pools[target.address]

    def trigger(self, pool: _Resource) -> PreTokenTrigger | None:
        where = f"{pool.address}.values.lambda_config"
        configs = listing(pool.get("lambda_config"), where, self.where)
        config = mapping(configs[0] if configs else None, f"{where}[0]", self.where)
        moderns = listing(config.get("pre_token_generation_config"), f"{where}[0].pre_token_generation_config",
                          self.where)
        modern = mapping(moderns[0] if moderns else None, f"{where}[0].pre_token_generation_config[0]", self.where)
        text(modern.get("lambda_arn"), f"{where}[0].pre_token_generation_config[0].lambda_arn", self.where)
        text(config.get("pre_token_generation"), f"{where}[0].pre_token_generation", self.where)
        if modern.get("lambda_arn"):
            version = text(modern.get("lambda_version"), f"{where}[0].pre_token_generation_config[0].lambda_version",
                           self.where) or "V1_0"
            if version not in {"V1_0", "V2_0", "V3_0"}:
                raise UserError(f"{pool.address}: lambda_version {version!r} is not V1_0, V2_0 or V3_0",
                                where=self.where)
            trigger = PreTokenTrigger(modern["lambda_arn"], version, "PreTokenGenerationConfig")
        elif config.get("pre_token_generation"):
            trigger = PreTokenTrigger(config["pre_token_generation"], "V1_0", "PreTokenGeneration")
        else:
            if self.is_plan and pool.references.get("lambda_config"):
                self.warn(f"{pool.address}: lambda_config only known after apply: its pre-token trigger is not read")
            return None
        for function in self.of_type("aws_lambda_function"):
            if function.get("arn") == trigger.lambda_arn:
                environment = listing(function.get("environment"), f"{function.address}.values.environment",
                                      self.where)
                first = mapping(environment[0] if environment else None, f"{function.address}.values.environment[0]",
                                self.where)
                variables = first.get("variables") or {}
                if isinstance(variables, dict) and isinstance(variables.get(RULES_SOURCE_VARIABLE), str):
                    trigger.recognised = True
                    trigger.rules_source = variables[RULES_SOURCE_VARIABLE]
        return trigger

    # --- API Gateway ---

    def api(self, resource: _Resource) -> RestApi:
        api_id = resource.get("id") if isinstance(resource.get("id"), str) else resource.address
        name = resource.get("name") if isinstance(resource.get("name"), str) else None
        source = f"terraform:{self.where}#{resource.address}"
        body = resource.get("body")
        if isinstance(body, str) and body.strip():
            result = read_api_document(load_document(body, f"{self.where}: {resource.address}.body"),
                                       f"{self.where}: {resource.address}.body", api_id=api_id, name=name,
                                       source=source, pool_of=self.pool_arn_of)
            api = result.api
            self.warnings.extend(result.warnings)
        else:
            if self.is_plan and resource.references.get("body"):
                self.warn(f"{resource.address}: body only known after apply: its methods are not read from it")
            api = RestApi(id=api_id, name=name or resource.address, source=source,
                          description=text(resource.get("description"), f"{resource.address}.values.description",
                                           self.where) or "")
        authorizers = [a for a in self.of_type("aws_api_gateway_authorizer")
                       if self.target(a, "rest_api_id", "aws_api_gateway_rest_api") is resource]
        api.authorizers.extend(self.authorizer(a) for a in authorizers)
        for method in self.of_type("aws_api_gateway_method"):
            if self.target(method, "rest_api_id", "aws_api_gateway_rest_api") is resource:
                api.methods.append(self.method(resource, method, authorizers))
        api.methods.sort(key=lambda m: (m.path, m.http_method))
        api.stages = sorted({s.get("stage_name") for s in self.of_type("aws_api_gateway_stage")
                             if isinstance(s.get("stage_name"), str)
                             and self.target(s, "rest_api_id", "aws_api_gateway_rest_api") is resource})
        api.stage = api.stages[0] if len(api.stages) == 1 else None
        return api

    def path(self, api: _Resource, holder: _Resource, argument: str, seen: tuple[str, ...] = ()) -> str:
        if self.refers_to(holder, argument, api, "root_resource_id"):
            return "/"
        parent = self.target(holder, argument, "aws_api_gateway_resource")
        if parent is None or parent.address in seen:
            raise UserError(f"{holder.address}.{argument}: neither the API's root_resource_id nor an "
                            "aws_api_gateway_resource of this document", where=self.where)
        if isinstance(parent.get("path"), str):
            return parent.get("path")
        above = self.path(api, parent, "parent_id", (*seen, parent.address))
        part = text(parent.get("path_part"), f"{parent.address}.values.path_part", self.where)
        if not part:
            raise UserError(f"{parent.address}: no path_part", where=self.where)
        return f"{above.rstrip('/')}/{part}"

    def method(self, api: _Resource, method: _Resource, authorizers: list[_Resource]) -> Method:
        where = f"{method.address}.values"
        verb = (text(method.get("http_method"), f"{where}.http_method", self.where) or "").upper()
        kind = (text(method.get("authorization"), f"{where}.authorization", self.where) or "NONE").upper()
        if kind not in _AUTHORIZATION_TYPES:
            raise UserError(f"{method.address}.authorization: {kind!r} is not NONE, AWS_IAM, CUSTOM or "
                            "COGNITO_USER_POOLS", where=self.where)
        authorizer = self.target(method, "authorizer_id", "aws_api_gateway_authorizer")
        if authorizer is None and (method.get("authorizer_id") or method.references.get("authorizer_id")):
            self.warn(f"{method.address}: authorizer {method.get('authorizer_id')} is not in this document")
        integration = next((i for i in self.of_type("aws_api_gateway_integration")
                            if self.target(i, "rest_api_id", "aws_api_gateway_rest_api") is api
                            and self.same_resource(i, method)
                            and (str(i.get("http_method") or "").upper() == verb
                                 or self.target(i, "http_method", "aws_api_gateway_method", "http_method")
                                 is method)), None)
        return Method(
            path=self.path(api, method, "resource_id"), http_method=verb,
            authorization_type=kind,  # type: ignore[arg-type]
            resource_id=method.get("resource_id") if isinstance(method.get("resource_id"), str) else None,
            authorizer_id=self.authorizer_id(authorizer) if authorizer is not None else None,
            authorization_scopes=list(strings(method.get("authorization_scopes"),
                                              f"{method.address}.values.authorization_scopes", self.where)),
            api_key_required=bool(method.get("api_key_required")),
            operation_name=text(method.get("operation_name"), f"{where}.operation_name", self.where) or None,
            integration_type=text(integration.get("type"), f"{integration.address}.values.type", self.where)
            if integration is not None else None,
            claims_to_backend=claims_passed_to_backend(integration.get("request_templates"),
                                                       integration.get("request_parameters"))
            if integration is not None else [])

    def same_resource(self, integration: _Resource, method: _Resource) -> bool:
        value = integration.get("resource_id")
        if isinstance(value, str) and value == method.get("resource_id"):
            return True
        mine = integration.references.get("resource_id", [])
        return bool(mine) and mine == method.references.get("resource_id", [])

    @staticmethod
    def authorizer_id(resource: _Resource) -> str:
        return resource.get("id") if isinstance(resource.get("id"), str) else resource.address

    def authorizer(self, resource: _Resource) -> Authorizer:
        where = f"{resource.address}.values"
        kind = (text(resource.get("type"), f"{where}.type", self.where) or "TOKEN").upper()  # the provider's default
        if kind not in _AUTHORIZER_TYPES:
            raise UserError(f"{resource.address}.type: {kind!r} is not TOKEN, REQUEST or COGNITO_USER_POOLS",
                            where=self.where)
        arns: list[str] = []
        values = resource.get("provider_arns")
        if isinstance(values, list):
            for value in values:
                arn = self.pool_arn_of(value) or (value if isinstance(value, str) and parse_user_pool_arn(value)
                                                  else None)
                if arn is None:
                    self.warn(f"{resource.address}.provider_arns: {value!r} is not a user pool ARN")
                else:
                    arns.append(arn)
        else:  # a plan, before the pools exist: the configuration says which pools
            for reference in resource.references.get("provider_arns", []):
                pool = next((self.pools[p.address] for p in self.of_type("aws_cognito_user_pool")
                             if reference == f"{p.address}.arn"), None)
                if pool is not None and pool.arn not in arns:
                    arns.append(pool.arn)
            if kind == "COGNITO_USER_POOLS" and not arns:
                self.warn(f"{resource.address}.provider_arns: only known after apply and not a pool of this plan")
        ttl = resource.get("authorizer_result_ttl_in_seconds")
        return Authorizer(id=self.authorizer_id(resource),
                          name=text(resource.get("name"), f"{where}.name", self.where) or resource.address,
                          type=kind, provider_arns=arns,  # type: ignore[arg-type]
                          identity_source=text(resource.get("identity_source"), f"{where}.identity_source",
                                               self.where) or None,
                          authorizer_uri=text(resource.get("authorizer_uri"), f"{where}.authorizer_uri",
                                              self.where) or None,
                          result_ttl_seconds=ttl if isinstance(ttl, int) else None)

    def pool_arn_of(self, value: Any) -> str | None:
        if isinstance(value, str):
            for pool in self.pools.values():
                if value in {pool.arn, pool.id}:
                    return pool.arn
        return None
