"""Read how REST APIs are authorized today from an AWS account (boto3), into the inventory model.

Cost is part of the contract: a scan makes about ``resources/500 + groups + members/60 + clients`` calls, never
one call per method:

* API Gateway: ``GetResources(embed=["methods"], limit=500)`` returns every resource with its methods,
  authorizer ids and scopes (and integrations); ``GetAuthorizers(limit=500)``; ``GetStages`` once per API.
* Cognito, per user pool an authorizer names: ``DescribeUserPool``; ``ListResourceServers`` (50 a page);
  ``ListGroups`` (60 a page); ``ListUsersInGroup`` per group (60 a page, attributes included);
  ``ListUserPoolClients`` (60 a page) and ``DescribeUserPoolClient`` per client (the list omits OAuth settings).
* The pre-token trigger: ``GetFunctionConfiguration`` once, and the rules from their source.
* Users the rules name and are not group members: ``AdminGetUser`` each (bounded by the rules, not the pool).

Users in no group are only counted (``EstimatedNumberOfUsers``) unless ``--all-users`` asks for ``ListUsers``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from migrate import __version__
from migrate.awsconfig import AwsSession, describe_aws_error
from migrate.errors import UserError
from migrate.inventory.model import (
    FORMAT_VERSION,
    AppClient,
    Authorizer,
    Group,
    Inventory,
    Method,
    PreTokenTrigger,
    ReadRecord,
    ResourceServer,
    RestApi,
    RuleSet,
    Scope,
    User,
    UserPool,
    claims_passed_to_backend,
    parse_user_pool_arn,
)
from migrate.scan.progress import Progress
from pretoken_lambda.rules import parse_rules

RULES_SOURCE_VARIABLE = "AVP_MIGRATE_RULES_SOURCE"  # how our pretoken_lambda names its rules source
T = TypeVar("T")


@dataclass
class ScanOptions:
    api_ids: list[str] = field(default_factory=list)  # empty: every REST API in the region
    stage: str | None = None
    rules_source: str | None = None  # --rules: where the pre-token rules are when the trigger is not ours
    all_users: bool = False  # also list users in no group (ListUsers)
    user_attributes: list[str] = field(default_factory=list)  # attributes to keep beyond what the rules test


class AwsScanner:
    """Reads APIs and user pools through an :class:`AwsSession`; one instance per scan."""

    def __init__(self, session: AwsSession, options: ScanOptions, progress: Progress | None = None) -> None:
        self.session = session
        self.options = options
        self.progress = progress or Progress(enabled=False)
        self.warnings: list[str] = []
        self.provenance: list[ReadRecord] = []

    # --- the whole scan -------------------------------------------------------------------------------------

    def scan(self) -> Inventory:
        region = self.session.region
        account_id = self._part("sts", "caller identity", self._account_id, service="sts")
        apis = self._read_apis()
        pool_arns: dict[str, str] = {}
        for api in apis:
            for authorizer in api.authorizers:
                for arn in authorizer.provider_arns:
                    parsed = parse_user_pool_arn(arn)
                    if parsed is None:
                        self.warnings.append(f"API {api.id} authorizer {authorizer.name}: "
                                             f"provider {arn!r} is not a user pool ARN; skipped")
                        continue
                    pool_arns.setdefault(parsed[2], arn)
        pools = [self._part(f"cognito-idp:{pool_id}", f"user pool {pool_id}", lambda a=arn: self._read_pool(a),
                            service="cognito-idp", region=(parse_user_pool_arn(arn) or (None,))[0])
                 for pool_id, arn in pool_arns.items()]
        self.progress.close()
        return Inventory(
            format_version=FORMAT_VERSION,
            tool_version=__version__,
            created_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
            region=region,
            account_id=account_id,
            endpoint_url=self.session.client("apigateway").meta.endpoint_url,
            apis=apis,
            user_pools=pools,
            provenance=self.provenance,
            warnings=self.warnings,
        )

    def _part(self, part: str, what: str, read: Callable[[], T], *, service: str,
              region: str | None = None) -> T:
        """Run one read, recording its calls and time; AWS failures become one-line UserErrors."""
        before = dict(self.session.counter.calls)
        started = time.perf_counter()
        try:
            result = read()
        except UserError:
            raise
        except Exception as exc:
            user_error = describe_aws_error(exc, what=what)
            if user_error is None:
                raise
            raise user_error from None
        calls = {k: v - before.get(k, 0) for k, v in self.session.counter.calls.items() if v != before.get(k, 0)}
        endpoint = self.session.client(service, region).meta.endpoint_url
        self.provenance.append(ReadRecord(part=part, source=f"{service} {region or self.session.region} {endpoint}",
                                          calls=dict(sorted(calls.items())),
                                          seconds=round(time.perf_counter() - started, 3)))
        return result

    def _account_id(self) -> str:
        return self.session.client("sts").get_caller_identity()["Account"]

    # --- API Gateway ----------------------------------------------------------------------------------------

    def _read_apis(self) -> list[RestApi]:
        apigw = self.session.client("apigateway")
        if self.options.api_ids:
            return [self._part(f"apigateway:{api_id}", f"REST API {api_id}",
                               lambda i=api_id: self._read_api(self._get_rest_api(i)), service="apigateway")
                    for api_id in self.options.api_ids]
        summaries = self._part("apigateway:list", "REST APIs", lambda: list(
            _paginate(apigw, "get_rest_apis", "items", limit=500)), service="apigateway")
        if not summaries:
            self.warnings.append(f"no REST APIs in {self.session.region}")
        return [self._part(f"apigateway:{summary['id']}", f"REST API {summary['id']}",
                           lambda s=summary: self._read_api(s), service="apigateway")
                for summary in summaries]

    def _get_rest_api(self, api_id: str) -> dict[str, Any]:
        apigw = self.session.client("apigateway")
        try:
            return apigw.get_rest_api(restApiId=api_id)
        except apigw.exceptions.NotFoundException:
            raise UserError(f"unknown REST API id {api_id!r} in {self.session.region}", where="--api-id") from None

    def _read_api(self, summary: dict[str, Any]) -> RestApi:
        apigw = self.session.client("apigateway")
        api_id = summary["id"]
        self.progress.describe(f"API {summary.get('name', api_id)}")
        stages = sorted(s["stageName"] for s in apigw.get_stages(restApiId=api_id).get("item", []))
        stage = self.options.stage
        if stage is not None and stage not in stages:
            raise UserError(f"API {api_id} has no stage {stage!r} (stages: {', '.join(stages) or 'none'})",
                            where="--stage")
        authorizers = [_authorizer(a) for a in _paginate(apigw, "get_authorizers", "items", restApiId=api_id,
                                                         limit=500)]
        methods: list[Method] = []
        for resource in _paginate(apigw, "get_resources", "items", restApiId=api_id, embed=["methods"],
                                  limit=500):
            self.progress.advance()
            for verb, method in sorted((resource.get("resourceMethods") or {}).items()):
                methods.append(_method(resource, verb, method))
        methods.sort(key=lambda m: (m.path, m.http_method))
        return RestApi(id=api_id, name=summary.get("name", ""), description=summary.get("description", "") or "",
                       source="apigateway", stage=stage, stages=stages, authorizers=authorizers, methods=methods)

    # --- Cognito --------------------------------------------------------------------------------------------

    def _read_pool(self, arn: str) -> UserPool:
        region, _, pool_id = parse_user_pool_arn(arn) or ("", "", arn)
        idp = self.session.client("cognito-idp", region)
        self.progress.describe(f"user pool {pool_id}")
        try:
            described = idp.describe_user_pool(UserPoolId=pool_id)["UserPool"]
        except idp.exceptions.ResourceNotFoundException:
            raise UserError(f"user pool {pool_id} (named by an authorizer) does not exist in {region}",
                            where=arn) from None
        pool = UserPool(id=pool_id, arn=described.get("Arn") or arn, name=described.get("Name", ""), region=region,
                        feature_plan=described.get("UserPoolTier"),
                        estimated_users=described.get("EstimatedNumberOfUsers"))
        pool.resource_servers = [
            ResourceServer(identifier=rs["Identifier"], name=rs.get("Name", ""),
                           scopes=[Scope(s["ScopeName"], s.get("ScopeDescription", "")) for s in rs.get("Scopes", [])])
            for rs in _paginate(idp, "list_resource_servers", "ResourceServers", UserPoolId=pool_id, MaxResults=50)
        ]
        pool.groups = sorted(
            (Group(name=g["GroupName"], description=g.get("Description", "") or "", precedence=g.get("Precedence"))
             for g in _paginate(idp, "list_groups", "Groups", UserPoolId=pool_id, Limit=60)),
            key=lambda g: g.name)
        pool.clients = [self._read_client(idp, pool_id, c["ClientId"])
                        for c in _paginate(idp, "list_user_pool_clients", "UserPoolClients", UserPoolId=pool_id,
                                           MaxResults=60)]
        pool.clients.sort(key=lambda c: (c.name, c.client_id))
        pool.pretoken_trigger = _trigger(described.get("LambdaConfig") or {})
        pool.pretoken_rules = self._read_rules(pool.pretoken_trigger, region)
        # The users the rules name and the attributes they test, as the rules model itself reads the document.
        rules = parse_rules(pool.pretoken_rules.document) if pool.pretoken_rules else None
        named_users = rules.named_users() if rules else frozenset()
        tested_attributes = rules.tested_attributes() if rules else frozenset()
        keep = set(self.options.user_attributes) | tested_attributes
        users: dict[str, User] = {}
        for group in pool.groups:
            for raw in _paginate(idp, "list_users_in_group", "Users", UserPoolId=pool_id, GroupName=group.name,
                                 Limit=60):
                user = users.get(raw["Username"]) or _user(raw, keep)
                users[user.username] = user
                user.groups.append(group.name)
                self.progress.advance()
        if self.options.all_users:
            for raw in _paginate(idp, "list_users", "Users", UserPoolId=pool_id, Limit=60):
                users.setdefault(raw["Username"], _user(raw, keep))
                self.progress.advance()
            pool.users_complete = True
        else:
            known = set(users) | {u.sub for u in users.values()}
            for name in sorted(named_users - known):
                found = self._user_named(idp, pool_id, name, keep)
                if found is None:
                    self.warnings.append(f"user pool {pool_id}: pre-token rules name user {name!r}, "
                                         "who does not exist")
                else:
                    users.setdefault(found.username, found)
            if tested_attributes and (pool.estimated_users or 0) > len(users):
                self.warnings.append(
                    f"user pool {pool_id}: pre-token rules test user attributes "
                    f"({', '.join(sorted(tested_attributes))}); users in no group were not read, "
                    "rescan with --all-users to include them")
        for user in users.values():
            user.groups.sort()
        pool.users = sorted(users.values(), key=lambda u: u.username)
        return pool

    def _read_client(self, idp: Any, pool_id: str, client_id: str) -> AppClient:
        c = idp.describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)["UserPoolClient"]
        self.progress.advance()
        return AppClient(
            client_id=c["ClientId"], name=c.get("ClientName", "") or "",
            has_secret=bool(c.get("ClientSecret")),
            allowed_oauth_flows=sorted(c.get("AllowedOAuthFlows") or []),
            allowed_oauth_scopes=sorted(c.get("AllowedOAuthScopes") or []),
            allowed_oauth_flows_user_pool_client=bool(c.get("AllowedOAuthFlowsUserPoolClient")),
            explicit_auth_flows=sorted(c.get("ExplicitAuthFlows") or []),
            supported_identity_providers=sorted(c.get("SupportedIdentityProviders") or []),
        )

    def _user_named(self, idp: Any, pool_id: str, name: str, keep: set[str]) -> User | None:
        """A user the rules name by username (AdminGetUser) or by sub (ListUsers filtered on sub)."""
        try:
            raw = idp.admin_get_user(UserPoolId=pool_id, Username=name)
            return _user({"Username": raw["Username"], "Attributes": raw.get("UserAttributes", []),
                          "Enabled": raw.get("Enabled", True), "UserStatus": raw.get("UserStatus", "")}, keep)
        except idp.exceptions.UserNotFoundException:
            pass
        found = idp.list_users(UserPoolId=pool_id, Filter=f'sub = "{name}"', Limit=1).get("Users", [])
        return _user(found[0], keep) if found else None

    def _read_rules(self, trigger: PreTokenTrigger | None, region: str) -> RuleSet | None:
        source, obtained = None, "option"
        if trigger is not None:
            function = self._trigger_function(trigger, region)
            variables = ((function or {}).get("Environment") or {}).get("Variables") or {}
            if variables.get(RULES_SOURCE_VARIABLE):
                trigger.recognised = True
                trigger.rules_source = variables[RULES_SOURCE_VARIABLE]
                source, obtained = trigger.rules_source, "trigger"
        if self.options.rules_source:
            if source and source != self.options.rules_source:
                self.warnings.append(f"--rules {self.options.rules_source} given; the trigger itself reads "
                                     f"{source}; using --rules")
            source, obtained = self.options.rules_source, "option"
        if source is None:
            if trigger is not None:
                self.warnings.append(
                    f"pre-token trigger {trigger.lambda_arn} is not avp-migrate's pretoken_lambda: its rules are "
                    "unknown; describe them with --rules SOURCE (or derive them with `avp-migrate probe`)")
            return None
        return read_rules(source, obtained, client_for=lambda service: self.session.client(service, region))

    def _trigger_function(self, trigger: PreTokenTrigger, region: str) -> dict[str, Any] | None:
        function_region = trigger.lambda_arn.split(":")[3] if trigger.lambda_arn.count(":") >= 6 else region
        lam = self.session.client("lambda", function_region)
        try:
            return lam.get_function_configuration(FunctionName=trigger.lambda_arn)
        except Exception as exc:
            error = describe_aws_error(exc, what=f"pre-token trigger {trigger.lambda_arn}")
            if error is None:
                raise
            self.warnings.append(str(error))
            return None


def read_rules(source: str, obtained_from: str, *, client_for: Callable[[str], Any] | None = None) -> RuleSet:
    """Read and validate pre-token rules with pretoken_lambda's own loader (the code the trigger runs).

    ``client_for(service)`` gives the scan's own client for an AWS source (same profile, region, endpoint and
    retries as the rest of the scan)."""
    from pretoken_lambda.rules import to_document
    from pretoken_lambda.sources import RulesSourceError, load_rules, parse_source

    try:
        kind = parse_source(source).kind
        client = client_for(kind) if client_for is not None and kind in {"ssm", "dynamodb"} else None
        ruleset = load_rules(source, max_age=0, boto3_client=client)
    except RulesSourceError as exc:
        raise UserError(str(exc), where="pre-token rules") from None
    return RuleSet(source=source, obtained_from=obtained_from, document=to_document(ruleset))


# --- record builders (pure) -----------------------------------------------------------------------------------


def _paginate(client: Any, operation: str, key: str, limit: int | None = None, **kwargs: Any) -> Iterator[Any]:
    paginator = client.get_paginator(operation)
    config = {"PageSize": limit} if limit else {}
    for page in paginator.paginate(**kwargs, PaginationConfig=config):
        yield from page.get(key, [])


def _authorizer(raw: dict[str, Any]) -> Authorizer:
    return Authorizer(id=raw["id"], name=raw.get("name", ""), type=raw["type"],
                      provider_arns=list(raw.get("providerARNs") or []),
                      identity_source=raw.get("identitySource"), authorizer_uri=raw.get("authorizerUri"),
                      result_ttl_seconds=raw.get("authorizerResultTtlInSeconds"))


def _method(resource: dict[str, Any], verb: str, raw: dict[str, Any]) -> Method:
    integration = raw.get("methodIntegration") or {}
    return Method(
        path=resource["path"], http_method=raw.get("httpMethod") or verb,
        authorization_type=raw.get("authorizationType") or "NONE", resource_id=resource["id"],
        authorizer_id=raw.get("authorizerId"), authorization_scopes=list(raw.get("authorizationScopes") or []),
        api_key_required=bool(raw.get("apiKeyRequired")), operation_name=raw.get("operationName"),
        integration_type=integration.get("type"),
        claims_to_backend=claims_passed_to_backend(integration.get("requestTemplates"),
                                                   integration.get("requestParameters")))


def _trigger(config: dict[str, Any]) -> PreTokenTrigger | None:
    modern = config.get("PreTokenGenerationConfig") or {}
    if modern.get("LambdaArn"):
        return PreTokenTrigger(lambda_arn=modern["LambdaArn"], version=modern.get("LambdaVersion") or "V1_0",
                               config_field="PreTokenGenerationConfig")
    if config.get("PreTokenGeneration"):
        return PreTokenTrigger(lambda_arn=config["PreTokenGeneration"], version="V1_0",
                               config_field="PreTokenGeneration")
    return None


def _user(raw: dict[str, Any], keep: set[str]) -> User:
    attributes = {a["Name"]: a["Value"] for a in raw.get("Attributes") or []}
    return User(username=raw["Username"], sub=attributes.get("sub", ""), enabled=bool(raw.get("Enabled", True)),
                status=raw.get("UserStatus", "") or "",
                attributes={k: v for k, v in sorted(attributes.items()) if k in keep})
