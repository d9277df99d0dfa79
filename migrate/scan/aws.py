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

Members are listed a page at a time and merged once a group is listed whole: time linear in the memberships,
memory that of the snapshot's users plus one group's members. With a checkpoint file, what was read is kept there
(throttled, and when the scan stops) so that ``scan --resume`` continues it (:mod:`migrate.scan.checkpoint`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from migrate import __version__
from migrate.awsconfig import AwsSession, describe_aws_error
from migrate.errors import Interrupted, UserError
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
from migrate.scan.checkpoint import KIND as CHECKPOINT_KIND
from migrate.scan.checkpoint import VERSION as CHECKPOINT_VERSION
from migrate.scan.checkpoint import CheckpointFile, GroupInProgress, PoolProgress, ScanCheckpoint, ScanKey
from migrate.scan.progress import Progress
from pretoken_lambda.rules import parse_rules

RULES_SOURCE_VARIABLE = "AVP_MIGRATE_RULES_SOURCE"  # how our pretoken_lambda names its rules source
PAGE_SIZE = 60  # ListUsersInGroup and ListUsers: Limit at most 60 (Cognito API reference)
_NO_KEY = ScanKey(tool_version=__version__, region="", endpoint_url=None, profile=None, api_ids=[], stage=None,
                  rules_source=None, all_users=False, user_attributes=[])
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

    def __init__(self, session: AwsSession, options: ScanOptions, progress: Progress | None = None, *,
                 checkpoint: CheckpointFile | None = None, resume: ScanCheckpoint | None = None) -> None:
        self.session = session
        self.options = options
        self.progress = progress or Progress(enabled=False)
        self.warnings: list[str] = []
        self.provenance: list[ReadRecord] = []
        self.notes: list[str] = []  # for the console, not the snapshot (a resumed scan's snapshot is a straight one's)
        self.checkpoint = checkpoint  # None: nothing is kept if the scan stops
        self._resume = resume
        # What the checkpoint holds: the parts finished, and the pool being read. Provenance and warnings are kept
        # up to the last finished part only, so that a resumed scan does not repeat those of a part it reads again.
        self._state: ScanCheckpoint | None = None
        self._stable = (0, 0)  # (provenance records, warnings) of the finished parts
        self._users: dict[str, User] = {}  # the users of the pool being read
        self._current_part: tuple[dict[str, int], float, dict[str, int], float] | None = None
        self._aws_failure = False

    # --- the whole scan -------------------------------------------------------------------------------------

    def scan(self) -> Inventory:
        """Scan; when it stops (Ctrl-C, an AWS failure) with a checkpoint file, keep what was read in it."""
        try:
            return self._scan()
        except KeyboardInterrupt:
            if self._keep_progress():
                raise Interrupted(f"{self._how_far()}; what was read is kept in {self.checkpoint_path}") from None
            raise
        except UserError as exc:
            # Only an AWS failure (throttling past the retries, an endpoint gone, access withdrawn): bad input
            # would fail the same way again.
            if self._aws_failure and self._keep_progress():
                raise type(exc)(f"{exc.message}; what was read is kept in {self.checkpoint_path} "
                                "(--resume continues from it)", where=exc.where) from None
            raise

    @property
    def checkpoint_path(self) -> str:
        return str(self.checkpoint.path) if self.checkpoint else ""

    def _how_far(self) -> str:
        progress = self._state.pool if self._state is not None else None
        if progress is None:
            return f"stopped after {len(self._state.pools_done) if self._state else 0} user pools"
        listed = f"{progress.groups_done} of {len(progress.pool.groups)} groups listed"
        if progress.groups_done == len(progress.pool.groups) and self.options.all_users:
            listed += ", ListUsers under way"
        return f"stopped in user pool {progress.pool.id} ({listed}, {len(self._users)} users)"

    def _keep_progress(self) -> bool:
        """Write the checkpoint after a stop, when there is one to write and the API part was read."""
        if self.checkpoint is None or self._state is None or self._state.apis is None:
            return False
        self._write_checkpoint()
        return True

    def _scan(self) -> Inventory:
        region = self.session.region
        account_id = self._part("sts", "caller identity", self._account_id, service="sts")
        state = ScanCheckpoint(kind=CHECKPOINT_KIND, version=CHECKPOINT_VERSION,
                               key=self.checkpoint.key if self.checkpoint else _NO_KEY, account_id=account_id)
        resume = self._resume
        if resume is not None:
            if resume.account_id != account_id:
                raise UserError(f"checkpoint of a scan of account {resume.account_id}, these credentials are for "
                                f"account {account_id}; run without --resume to start over",
                                where=self.checkpoint_path or "--resume")
            state.apis, state.pools_done = resume.apis, resume.pools_done
            self.provenance = _merged(resume.provenance, self.provenance)
            self.warnings[:] = resume.warnings
        self._state = state
        self._mark_stable()
        if state.apis is None:
            state.apis = self._read_apis()
            self._mark_stable()
        apis = state.apis
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
        finished = {pool.id: pool for pool in state.pools_done}
        in_progress = resume.pool if resume is not None else None
        pools = []
        for pool_id, arn in pool_arns.items():
            if pool_id in finished:
                pools.append(finished[pool_id])
                continue
            progress = in_progress if in_progress is not None and in_progress.pool.id == pool_id else None
            pool = self._part(f"cognito-idp:{pool_id}", f"user pool {pool_id}",
                              lambda a=arn, p=progress: self._read_pool(a, p), service="cognito-idp",
                              region=(parse_user_pool_arn(arn) or (None,))[0],
                              carried=(progress.calls, progress.seconds) if progress else None)
            state.pools_done.append(pool)
            state.pool = None
            self._mark_stable()
            pools.append(pool)
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
              region: str | None = None, carried: tuple[dict[str, int], float] | None = None) -> T:
        """Run one read, recording its calls and time (plus ``carried``: what a stopped scan spent on it before);
        AWS failures become one-line UserErrors."""
        before = dict(self.session.counter.calls)
        started = time.perf_counter()
        carried_calls, carried_seconds = carried or ({}, 0.0)
        self._current_part = (before, started, carried_calls, carried_seconds)
        try:
            result = read()
        except UserError:
            raise
        except Exception as exc:
            user_error = describe_aws_error(exc, what=what)
            if user_error is None:
                raise
            self._aws_failure = True
            raise user_error from None
        calls, seconds = self._part_cost()
        self._current_part = None
        endpoint = self.session.client(service, region).meta.endpoint_url
        self.provenance.append(ReadRecord(part=part, source=f"{service} {region or self.session.region} {endpoint}",
                                          calls=calls, seconds=round(seconds, 3)))
        return result

    def _part_cost(self) -> tuple[dict[str, int], float]:
        """Calls and seconds of the part being read so far, with what was carried over from a stopped scan."""
        assert self._current_part is not None
        before, started, carried_calls, carried_seconds = self._current_part
        calls = dict(carried_calls)
        for key, value in self.session.counter.calls.items():
            if value != before.get(key, 0):
                calls[key] = calls.get(key, 0) + value - before.get(key, 0)
        return dict(sorted(calls.items())), carried_seconds + time.perf_counter() - started

    # --- the checkpoint -------------------------------------------------------------------------------------

    def _mark_stable(self) -> None:
        self._stable = (len(self.provenance), len(self.warnings))

    def _checkpoint_if_due(self) -> None:
        if self.checkpoint is not None and self._state is not None and self.checkpoint.due():
            self._write_checkpoint()

    def _write_checkpoint(self) -> None:
        assert self.checkpoint is not None and self._state is not None
        state = self._state
        records, warnings = self._stable
        state.provenance, state.warnings = self.provenance[:records], self.warnings[:warnings]
        if state.pool is not None:
            state.pool.users = list(self._users.values())
            if self._current_part is not None:
                calls, seconds = self._part_cost()
                state.pool.calls, state.pool.seconds = calls, round(seconds, 3)
        self.checkpoint.write(state)

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

    def _read_pool(self, arn: str, progress: PoolProgress | None = None) -> UserPool:
        """Read a pool: its description first, then group members in group name order, then the other users.

        ``progress``: what a stopped scan read of it (from its checkpoint), continued from there."""
        region, _, pool_id = parse_user_pool_arn(arn) or ("", "", arn)
        idp = self.session.client("cognito-idp", region)
        self.progress.describe(f"user pool {pool_id}")
        if progress is None:
            progress = PoolProgress(pool=self._describe_pool(idp, arn, region, pool_id))
        pool = progress.pool
        assert self._state is not None
        self._state.pool = progress
        self._mark_stable()  # the description's warnings are in
        # The users the rules name and the attributes they test, as the rules model itself reads the document.
        rules = parse_rules(pool.pretoken_rules.document) if pool.pretoken_rules else None
        named_users = rules.named_users() if rules else frozenset()
        tested_attributes = rules.tested_attributes() if rules else frozenset()
        keep = set(self.options.user_attributes) | tested_attributes
        self._users = users = {user.username: user for user in progress.users}
        for index in range(progress.groups_done, len(pool.groups)):
            self._read_members(idp, pool_id, progress, index, keep)
        if self.options.all_users:
            self._read_all_users(idp, pool_id, progress, keep)
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
        self._users = {}
        return pool

    def _describe_pool(self, idp: Any, arn: str, region: str, pool_id: str) -> UserPool:
        """Everything of a pool but its users: description, resource servers, groups, clients, trigger, rules."""
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
        return pool

    def _read_members(self, idp: Any, pool_id: str, progress: PoolProgress, index: int, keep: set[str]) -> None:
        """List one group's members a page at a time (ListUsersInGroup), continuing a stopped scan's listing;
        merge them into the pool's users once the group is listed whole. Cost: linear in the members."""
        group = progress.pool.groups[index]
        users = self._users
        resumed = progress.group if index == progress.groups_done else None
        members = resumed.members if resumed else []
        token = resumed.next_token if resumed else None
        while True:
            try:
                page = idp.list_users_in_group(UserPoolId=pool_id, GroupName=group.name, Limit=PAGE_SIZE,
                                               **({"NextToken": token} if token else {}))
            except idp.exceptions.InvalidParameterException:
                if resumed is None or token != resumed.next_token:
                    raise
                members, token, resumed = self._token_refused(f"group {group.name}"), None, None
                continue
            except idp.exceptions.ResourceNotFoundException:
                # Deleted after ListGroups listed it (or, resuming, since the checkpoint): the pool changed under
                # the scan, and reading it again is the only way to a consistent snapshot.
                again = "scan again without --resume" if self._resume is not None else "scan again"
                raise UserError(f"group {group.name} was deleted while the pool was read; {again}",
                                where=f"user pool {pool_id}") from None
            for raw in page.get("Users", []):
                members.append(users.get(raw["Username"]) or _user(raw, keep))
                self.progress.advance()
            token = page.get("NextToken")
            if not token:
                break
            progress.group = GroupInProgress(next_token=token, members=members)
            self._checkpoint_if_due()
        for member in members:
            users.setdefault(member.username, member).groups.append(group.name)
        progress.groups_done, progress.group = index + 1, None
        self._checkpoint_if_due()

    def _read_all_users(self, idp: Any, pool_id: str, progress: PoolProgress, keep: set[str]) -> None:
        """--all-users: ListUsers a page at a time, continuing a stopped scan's listing."""
        users = self._users
        resumed = token = progress.list_users_token
        while True:
            try:
                page = idp.list_users(UserPoolId=pool_id, Limit=PAGE_SIZE,
                                      **({"PaginationToken": token} if token else {}))
            except idp.exceptions.InvalidParameterException:
                if resumed is None or token != resumed:
                    raise
                self._token_refused("ListUsers")
                token = resumed = None
                continue
            for raw in page.get("Users", []):
                users.setdefault(raw["Username"], _user(raw, keep))
                self.progress.advance()
            token = page.get("PaginationToken")
            if not token:
                break
            progress.list_users_token = token
            self._checkpoint_if_due()

    def _token_refused(self, listing: str) -> list[User]:
        """A resumed listing whose pagination token Cognito refuses (tokens expire) starts that listing over.

        Cognito answers a token it no longer accepts with InvalidParameterException ("Paging marker ... is
        invalid for request"; the ListUsers/ListUsersInGroup API reference lists InvalidParameterException for
        invalid parameters, aws/aws-sdk-js#3705 shows the message). Only the listing is read again."""
        self.notes.append(f"the checkpoint's pagination token for {listing} was refused (tokens expire): "
                          "that listing was read again from its start")
        return []

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


def _merged(records: list[ReadRecord], new: list[ReadRecord]) -> list[ReadRecord]:
    """A stopped scan's records with a resumed scan's: the same part's calls and seconds add up."""
    merged = [ReadRecord(r.part, r.source, dict(r.calls), r.seconds) for r in records]
    by_part = {r.part: r for r in merged}
    for record in new:
        old = by_part.get(record.part)
        if old is None:
            merged.append(record)
            continue
        for key, value in record.calls.items():
            old.calls[key] = old.calls.get(key, 0) + value
        old.calls = dict(sorted(old.calls.items()))
        old.seconds = round(old.seconds + record.seconds, 3)
    return merged


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
