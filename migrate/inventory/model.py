"""The inventory snapshot: how an API is authorized today, as `scan` read it.

Every later step (plan, verify, the reports) runs from this model alone, offline. It is plain data: dataclasses
with type hints, no AWS calls, no behaviour beyond small derived properties. ``FORMAT_VERSION`` changes whenever
a field changes meaning or is removed; readers refuse versions they do not know.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

FORMAT_VERSION = 1

# API Gateway's authorizationType values for a method (botocore apigateway model, Method.authorizationType).
AuthorizationType = Literal["NONE", "AWS_IAM", "CUSTOM", "COGNITO_USER_POOLS"]
# Authorizer.type values (botocore apigateway model, AuthorizerType).
AuthorizerType = Literal["TOKEN", "REQUEST", "COGNITO_USER_POOLS"]
# Pre-token generation event versions (Cognito LambdaConfig.PreTokenGenerationConfig.LambdaVersion).
TriggerVersion = Literal["V1_0", "V2_0", "V3_0"]

# A user pool id (botocore cognito-idp model, UserPoolIdType: [\w-]+_[0-9a-zA-Z]+, at most 55 characters).
COGNITO_POOL_ID = re.compile(r"[\w-]+_[0-9A-Za-z]+")
_POOL_ARN = re.compile(r"^arn:aws[\w-]*:cognito-idp:([\w-]+):(\d{12}):userpool/([\w-]+_[0-9A-Za-z]+)$")
_CLAIMS_IN_TEMPLATE = re.compile(r"\$context\.authorizer\.claims(?:\.([A-Za-z0-9_:]+)|\[['\"]([^'\"]+)['\"]\])?")


def parse_user_pool_arn(arn: str) -> tuple[str, str, str] | None:
    """``arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID`` -> (region, account, pool id), else None."""
    match = _POOL_ARN.match(arn)
    return (match.group(1), match.group(2), match.group(3)) if match else None


def claims_read_by_template(template: str) -> list[str]:
    """Names of ``$context.authorizer.claims`` entries a mapping template reads (``*`` when it reads them all)."""
    names = []
    for match in _CLAIMS_IN_TEMPLATE.finditer(template):
        names.append(match.group(1) or match.group(2) or "*")
    return sorted(set(names))


def claims_passed_to_backend(request_templates: Any, request_parameters: Any) -> list[str]:
    """Claims an integration hands to its backend: read in request mapping templates
    (``$context.authorizer.claims.email``) or mapped into request parameters
    (``"integration.request.header.X": "context.authorizer.claims.email"``)."""
    names: set[str] = set()
    for template in (request_templates or {}).values() if isinstance(request_templates, dict) else ():
        if isinstance(template, str):
            names.update(claims_read_by_template(template))
    for value in (request_parameters or {}).values() if isinstance(request_parameters, dict) else ():
        if isinstance(value, str) and value.startswith("context.authorizer.claims"):
            names.update(claims_read_by_template("$" + value))  # the template pattern wants the "$"
    return sorted(names)


# --- API Gateway -------------------------------------------------------------------------------------------


@dataclass
class Authorizer:
    id: str
    name: str
    type: AuthorizerType
    provider_arns: list[str] = field(default_factory=list)  # user pool ARNs, COGNITO_USER_POOLS only
    identity_source: str | None = None
    authorizer_uri: str | None = None  # Lambda authorizers
    result_ttl_seconds: int | None = None

    @property
    def user_pool_ids(self) -> list[str]:
        ids = []
        for arn in self.provider_arns:
            parsed = parse_user_pool_arn(arn)
            ids.append(parsed[2] if parsed else arn)
        return ids


@dataclass
class Method:
    path: str  # resource path template, as API Gateway writes it: /pets/{petId}
    http_method: str  # GET, POST, ..., or ANY
    authorization_type: AuthorizationType
    resource_id: str | None = None
    authorizer_id: str | None = None
    authorization_scopes: list[str] = field(default_factory=list)
    api_key_required: bool = False
    operation_name: str | None = None
    integration_type: str | None = None  # AWS_PROXY, HTTP_PROXY, AWS, HTTP, MOCK
    # Claims the integration hands to the backend (mapping templates or request parameters reading
    # context.authorizer.claims). A Lambda authorizer cannot return claims, only a flat context, so these
    # backends change behaviour when the method moves.
    claims_to_backend: list[str] = field(default_factory=list)

    @property
    def route_key(self) -> str:
        """The shared route key: ``"<VERB> <path template>"``, verb as API Gateway writes it."""
        return f"{self.http_method} {self.path}"

    @property
    def backend_may_read_claims(self) -> bool:
        """Proxy integrations hand the backend requestContext.authorizer.claims: it may read them."""
        return bool(self.claims_to_backend) or self.integration_type in {"AWS_PROXY", "HTTP_PROXY"}


@dataclass
class RestApi:
    id: str
    name: str
    source: str  # "apigateway" or "openapi:<file>"
    description: str = ""
    stage: str | None = None  # the stage the scan was asked about, if any
    stages: list[str] = field(default_factory=list)
    authorizers: list[Authorizer] = field(default_factory=list)
    methods: list[Method] = field(default_factory=list)

    def authorizer(self, authorizer_id: str | None) -> Authorizer | None:
        return next((a for a in self.authorizers if a.id == authorizer_id), None)


# --- Cognito ------------------------------------------------------------------------------------------------


@dataclass
class Scope:
    name: str
    description: str = ""


@dataclass
class ResourceServer:
    identifier: str
    name: str
    scopes: list[Scope] = field(default_factory=list)

    @property
    def full_scope_names(self) -> list[str]:
        """Scopes as tokens carry them: ``<identifier>/<scope>``."""
        return [f"{self.identifier}/{scope.name}" for scope in self.scopes]


@dataclass
class Group:
    name: str
    description: str = ""
    precedence: int | None = None


@dataclass
class User:
    username: str
    sub: str
    groups: list[str] = field(default_factory=list)
    enabled: bool = True
    status: str = ""
    # Only the attributes later steps need (those the pre-token rules test, plus any asked for): a snapshot
    # should not become a copy of the user directory.
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class AppClient:
    client_id: str
    name: str
    has_secret: bool = False
    allowed_oauth_flows: list[str] = field(default_factory=list)  # code, implicit, client_credentials
    allowed_oauth_scopes: list[str] = field(default_factory=list)
    allowed_oauth_flows_user_pool_client: bool = False
    explicit_auth_flows: list[str] = field(default_factory=list)
    supported_identity_providers: list[str] = field(default_factory=list)

    @property
    def user_oauth_flows(self) -> list[str]:
        """Hosted OAuth flows through which users obtain tokens with the scopes they request."""
        if not self.allowed_oauth_flows_user_pool_client:
            return []
        return [f for f in self.allowed_oauth_flows if f in {"code", "implicit"}]

    @property
    def is_client_credentials(self) -> bool:
        return self.allowed_oauth_flows_user_pool_client and "client_credentials" in self.allowed_oauth_flows


@dataclass
class PreTokenTrigger:
    lambda_arn: str
    version: TriggerVersion
    # Which LambdaConfig field held it: PreTokenGenerationConfig (V1_0/V2_0/V3_0) or the legacy
    # PreTokenGeneration (always V1_0: ID token only).
    config_field: Literal["PreTokenGenerationConfig", "PreTokenGeneration"]
    # True when the function is avp-migrate's pretoken_lambda (its configuration names a rules source).
    recognised: bool = False
    rules_source: str | None = None


@dataclass
class RuleSet:
    """The pre-token rules document (pretoken_lambda.rules format) and where it came from."""

    source: str  # e.g. ssm:/avp-migrate/rules, dynamodb:table-name, file:rules.json
    obtained_from: Literal["trigger", "option"]  # read from the trigger's configuration, or given with --rules
    document: dict[str, Any] = field(default_factory=dict)


@dataclass
class UserPool:
    id: str
    arn: str
    name: str = ""
    region: str = ""
    feature_plan: str | None = None  # UserPoolTier: LITE, ESSENTIALS, PLUS
    estimated_users: int | None = None
    # False when only group members (and users the rules name) were read; users in no group are then not
    # listed one by one, only counted in estimated_users.
    users_complete: bool = False
    resource_servers: list[ResourceServer] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    users: list[User] = field(default_factory=list)
    clients: list[AppClient] = field(default_factory=list)
    pretoken_trigger: PreTokenTrigger | None = None
    pretoken_rules: RuleSet | None = None
    # True when only the ARN is known (an offline scan of exports): groups, users, clients and the trigger
    # were not read, so their being empty means nothing.
    known_by_arn_only: bool = False

    @property
    def defined_scopes(self) -> list[str]:
        return [s for server in self.resource_servers for s in server.full_scope_names]


# --- The snapshot -------------------------------------------------------------------------------------------


@dataclass
class ReadRecord:
    """Provenance of one part of the snapshot: what was read, from where, and what it cost."""

    part: str  # e.g. "apigateway:a1b2c3 (MyApi)", "cognito-idp:us-east-1_AbC", "openapi:api.yaml"
    source: str  # region and endpoint, or a file path
    calls: dict[str, int] = field(default_factory=dict)  # "service.Operation" -> count
    seconds: float = 0.0

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())


@dataclass
class Inventory:
    format_version: int
    tool_version: str
    created_at: str  # ISO 8601, UTC
    region: str | None = None
    account_id: str | None = None
    endpoint_url: str | None = None
    apis: list[RestApi] = field(default_factory=list)
    user_pools: list[UserPool] = field(default_factory=list)
    provenance: list[ReadRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def user_pool(self, pool_id: str) -> UserPool | None:
        return next((p for p in self.user_pools if p.id == pool_id), None)

    @property
    def total_calls(self) -> int:
        return sum(r.total_calls for r in self.provenance)
