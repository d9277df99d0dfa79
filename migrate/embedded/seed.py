"""The demo account: the API `MyApi` from the blog post that started this project, grown to a realistic size.

Everything is created through ordinary boto3 calls (the environment points them at the embedded AWS), exactly
as an engineer would set such an account up by hand. The data is declared once in ``DEMO`` so that tests can
check that a scan brings back exactly what was seeded.

The story: `MyApi` has GET /scope and GET /avp (the blog post's pair) plus pets, orders, reports, an admin proxy,
a profile endpoint that takes ID tokens and a public health check. Users get scopes from a pre-token trigger
(avp-migrate's pretoken_lambda) whose rules map groups, one user and one attribute to scopes. The web client
allows the hosted-UI code flow with `MyApi/pets.read`, so any user of that client can obtain that scope
whatever their groups: a latent exposure the plan must report.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

RESOURCE_SERVER = "MyApi"
PASSWORD = "Demo-Passw0rd!"  # the demo users live only in the embedded AWS


def _s(name: str) -> str:
    return f"{RESOURCE_SERVER}/{name}"


@dataclass(frozen=True)
class DemoMethod:
    verb: str
    path: str
    scopes: tuple[str, ...] = ()
    auth: str = "COGNITO_USER_POOLS"  # or NONE
    integration: str = "MOCK"  # MOCK, AWS_PROXY or AWS
    request_template: str | None = None


@dataclass(frozen=True)
class DemoUser:
    username: str
    groups: tuple[str, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class DemoClient:
    name: str
    oauth_flows: tuple[str, ...] = ()
    oauth_scopes: tuple[str, ...] = ()
    secret: bool = False
    auth_flows: tuple[str, ...] = ()


@dataclass(frozen=True)
class DemoSpec:
    api_name: str
    stage: str
    pool_name: str
    scopes: tuple[tuple[str, str], ...]
    groups: tuple[tuple[str, str], ...]
    users: tuple[DemoUser, ...]
    clients: tuple[DemoClient, ...]
    methods: tuple[DemoMethod, ...]
    rules: dict[str, Any]
    rules_parameter: str
    trigger_function: str
    trigger_version: str


DEMO = DemoSpec(
    api_name="MyApi",
    stage="prod",
    pool_name="MyApiUsers",
    scopes=(
        ("scope.read", "GET /scope, the blog post's scope-protected endpoint"),
        ("avp.read", "GET /avp, the blog post's endpoint to move to Verified Permissions"),
        ("pets.read", "read pets"),
        ("pets.write", "create and change pets"),
        ("orders.read", "read orders"),
        ("orders.write", "place orders"),
        ("reports.read", "read reports"),
        ("admin", "administration"),
    ),
    groups=(
        ("avp-group", "the blog post's group"),
        ("admins", "administrators"),
        ("pets-readers", "can browse pets"),
        ("pets-writers", "can manage pets"),
        ("orders-team", "order handling"),
        ("auditors", "read-only audit"),
    ),
    users=(
        DemoUser("alice", ("avp-group",)),
        DemoUser("bob", ("admins",)),
        DemoUser("carol", ("orders-team", "pets-readers")),
        DemoUser("dave", ("pets-readers", "pets-writers")),
        DemoUser("erin"),
        DemoUser("frank", ("auditors", "avp-group")),
        DemoUser("grace", ("orders-team",), (("custom:department", "finance"),)),
        DemoUser("heidi", ("pets-readers",), (("custom:department", "engineering"),)),
    ),
    clients=(
        DemoClient("web", oauth_flows=("code",), oauth_scopes=("openid", "email", _s("pets.read"),
                                                               _s("scope.read")),
                   auth_flows=("ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH")),
        DemoClient("mobile", auth_flows=("ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH",
                                         "ALLOW_USER_PASSWORD_AUTH")),
        # As the Cognito console creates a machine-to-machine client: no user sign-in flow.
        DemoClient("reporting-service", oauth_flows=("client_credentials",),
                   oauth_scopes=(_s("orders.read"), _s("reports.read")), secret=True,
                   auth_flows=("ALLOW_REFRESH_TOKEN_AUTH",)),
    ),
    methods=(
        DemoMethod("GET", "/scope", (_s("scope.read"),)),
        DemoMethod("GET", "/avp", (_s("avp.read"),)),
        DemoMethod("GET", "/pets", (_s("pets.read"),), integration="AWS_PROXY"),
        DemoMethod("POST", "/pets", (_s("pets.write"),), integration="AWS_PROXY"),
        DemoMethod("GET", "/pets/{petId}", (_s("pets.read"),), integration="AWS_PROXY"),
        DemoMethod("PUT", "/pets/{petId}", (_s("pets.write"),), integration="AWS_PROXY"),
        DemoMethod("DELETE", "/pets/{petId}", (_s("admin"),), integration="AWS_PROXY"),
        DemoMethod("GET", "/orders", (_s("orders.read"),)),
        DemoMethod("POST", "/orders", (_s("orders.write"),)),
        DemoMethod("GET", "/orders/{orderId}/items", (_s("orders.read"), _s("reports.read"))),
        DemoMethod("GET", "/reports", (_s("reports.read"),), integration="AWS",
                   request_template='{"requestedBy": "$context.authorizer.claims.email"}'),
        DemoMethod("ANY", "/admin/{proxy+}", (_s("admin"),), integration="AWS_PROXY"),
        DemoMethod("GET", "/profile"),  # Cognito authorizer, no scopes: takes ID tokens
        DemoMethod("GET", "/health", auth="NONE"),  # public
    ),
    rules={
        "version": 1,
        "rules": [
            {"id": "everyone-scope-read", "description": "every signed-in user may call GET /scope",
             # Every user flow, not client credentials: a first sign-in that sets a new password, and a device
             # sign-in, are sign-ins too (verify reports a rule that leaves them out: AVP cannot see the flow).
             "when": {"trigger_sources": ["TokenGeneration_Authentication", "TokenGeneration_HostedAuth",
                                         "TokenGeneration_RefreshTokens", "TokenGeneration_NewPasswordChallenge",
                                         "TokenGeneration_AuthenticateDevice"]},
             "then": {"add_scopes": [_s("scope.read")]}},
            {"id": "avp-group", "when": {"groups": ["avp-group"]}, "then": {"add_scopes": [_s("avp.read")]}},
            {"id": "admins", "when": {"groups": ["admins"]},
             "then": {"add_scopes": [_s(s) for s in ("avp.read", "pets.read", "pets.write", "orders.read",
                                                     "orders.write", "reports.read", "admin")]}},
            {"id": "pets-readers", "when": {"groups": ["pets-readers"]}, "then": {"add_scopes": [_s("pets.read")]}},
            {"id": "pets-writers", "when": {"groups": ["pets-writers"]},
             "then": {"add_scopes": [_s("pets.read"), _s("pets.write")]}},
            {"id": "orders-team", "when": {"groups": ["orders-team"]},
             "then": {"add_scopes": [_s("orders.read"), _s("orders.write")]}},
            {"id": "auditors", "when": {"groups": ["auditors"]},
             "then": {"add_scopes": [_s("orders.read"), _s("reports.read")]}},
            {"id": "erin-pets-read", "description": "a one-off grant to one user",
             "when": {"users": ["erin"]}, "then": {"add_scopes": [_s("pets.read")]}},
            {"id": "finance-reports", "when": {"attributes": {"custom:department": "finance"}},
             "then": {"add_scopes": [_s("reports.read")]}},
        ],
    },
    rules_parameter="/myapi/pretoken-rules",
    trigger_function="myapi-pretoken",
    trigger_version="V3_0",
)


@dataclass
class DemoAccount:
    """What seeding created: ids the rest of the demo needs."""

    region: str
    api_id: str
    stage: str
    user_pool_id: str
    user_pool_arn: str
    client_ids: dict[str, str] = field(default_factory=dict)
    client_secrets: dict[str, str] = field(default_factory=dict)
    trigger_arn: str = ""
    password: str = PASSWORD

    def sign_in(self, username: str, client: str = "mobile") -> dict[str, str]:
        """A demo user's tokens through the password flow of an app client (the pre-token trigger runs):
        ``{"access": ..., "id": ...}``."""
        result = boto3.client("cognito-idp", region_name=self.region).admin_initiate_auth(
            UserPoolId=self.user_pool_id, ClientId=self.client_ids[client], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": self.password})["AuthenticationResult"]
        return {"access": result["AccessToken"], "id": result["IdToken"]}

    def describe(self) -> list[str]:
        lines = [f"demo API {DEMO.api_name}: {self.api_id} (stage {self.stage})",
                 f"demo user pool {DEMO.pool_name}: {self.user_pool_id}"]
        lines += [f"app client {name}: {cid}" for name, cid in self.client_ids.items()]
        lines.append(f"users {', '.join(u.username for u in DEMO.users)} (password {self.password})")
        return lines


def seed_demo(*, region: str = "us-east-1", spec: DemoSpec = DEMO) -> DemoAccount:
    session = boto3.Session(region_name=region)
    pool_id, pool_arn, client_ids, secrets = _seed_user_pool(session, spec)
    trigger_arn = _seed_trigger(session, spec, pool_id)
    api_id = _seed_api(session, spec, pool_arn)
    return DemoAccount(region=region, api_id=api_id, stage=spec.stage, user_pool_id=pool_id, user_pool_arn=pool_arn,
                       client_ids=client_ids, client_secrets=secrets, trigger_arn=trigger_arn)


def _seed_user_pool(session: boto3.Session, spec: DemoSpec) -> tuple[str, str, dict[str, str], dict[str, str]]:
    idp = session.client("cognito-idp")
    pool = idp.create_user_pool(
        PoolName=spec.pool_name,
        UserPoolTier="ESSENTIALS",  # access-token customization (V2_0/V3_0 triggers) needs Essentials or Plus
        Schema=[{"Name": "department", "AttributeDataType": "String", "Mutable": True}],
    )["UserPool"]
    pool_id, pool_arn = pool["Id"], pool["Arn"]
    idp.create_resource_server(
        UserPoolId=pool_id, Identifier=RESOURCE_SERVER, Name=RESOURCE_SERVER,
        Scopes=[{"ScopeName": name, "ScopeDescription": text} for name, text in spec.scopes])
    for name, text in spec.groups:
        idp.create_group(UserPoolId=pool_id, GroupName=name, Description=text)
    for user in spec.users:
        idp.admin_create_user(
            UserPoolId=pool_id, Username=user.username, MessageAction="SUPPRESS", TemporaryPassword=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": f"{user.username}@example.com"},
                            {"Name": "email_verified", "Value": "true"},
                            *({"Name": k, "Value": v} for k, v in user.attributes)])
        idp.admin_set_user_password(UserPoolId=pool_id, Username=user.username, Password=PASSWORD, Permanent=True)
        for group in user.groups:
            idp.admin_add_user_to_group(UserPoolId=pool_id, Username=user.username, GroupName=group)
    client_ids, secrets = {}, {}
    for client in spec.clients:
        kwargs: dict[str, Any] = {"UserPoolId": pool_id, "ClientName": client.name,
                                  "GenerateSecret": client.secret}
        if client.auth_flows:
            kwargs["ExplicitAuthFlows"] = list(client.auth_flows)
        if client.oauth_flows:
            kwargs.update(AllowedOAuthFlows=list(client.oauth_flows), AllowedOAuthScopes=list(client.oauth_scopes),
                          AllowedOAuthFlowsUserPoolClient=True, SupportedIdentityProviders=["COGNITO"])
            if "code" in client.oauth_flows:
                kwargs["CallbackURLs"] = ["https://app.example.com/callback"]
        created = idp.create_user_pool_client(**kwargs)["UserPoolClient"]
        client_ids[client.name] = created["ClientId"]
        if created.get("ClientSecret"):
            secrets[client.name] = created["ClientSecret"]
    return pool_id, pool_arn, client_ids, secrets


def _seed_trigger(session: boto3.Session, spec: DemoSpec, pool_id: str) -> str:
    """avp-migrate's pretoken_lambda as the pool's V3_0 pre-token trigger, its rules in SSM."""
    session.client("ssm").put_parameter(Name=spec.rules_parameter, Type="String", Overwrite=True,
                                        Value=json.dumps(spec.rules))
    iam = session.client("iam")
    role = iam.create_role(
        RoleName=f"{spec.trigger_function}-role",
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}),
    )["Role"]
    function = session.client("lambda").create_function(
        FunctionName=spec.trigger_function, Runtime="python3.12", Role=role["Arn"],
        Handler="pretoken_lambda.handler.lambda_handler", Code={"ZipFile": pretoken_zip()},
        Environment={"Variables": {"AVP_MIGRATE_RULES_SOURCE": f"ssm:{spec.rules_parameter}",
                                   "AVP_MIGRATE_RULES_MAX_AGE": "60"}},
        Timeout=5,
    )
    session.client("cognito-idp").update_user_pool(
        UserPoolId=pool_id,
        LambdaConfig={"PreTokenGenerationConfig": {"LambdaArn": function["FunctionArn"],
                                                   "LambdaVersion": spec.trigger_version}})
    return function["FunctionArn"]


def pretoken_zip() -> bytes:
    """The pretoken_lambda package as a Lambda deployment zip (its dependencies come from a layer)."""
    import pretoken_lambda

    package = Path(pretoken_lambda.__file__).parent
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(package.rglob("*.py")):
            archive.write(path, f"pretoken_lambda/{path.relative_to(package)}")
    return buffer.getvalue()


def _seed_api(session: boto3.Session, spec: DemoSpec, pool_arn: str) -> str:
    apigw = session.client("apigateway")
    api = apigw.create_rest_api(name=spec.api_name, description="the demo API of avp-migrate")
    api_id = api["id"]
    authorizer = apigw.create_authorizer(
        restApiId=api_id, name=f"{spec.api_name}Cognito", type="COGNITO_USER_POOLS", providerARNs=[pool_arn],
        identitySource="method.request.header.Authorization")
    resources = {"/": next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")}
    account = session.client("sts").get_caller_identity()["Account"]
    backend_arn = f"arn:aws:lambda:{session.region_name}:{account}:function:myapi-backend"
    for method in spec.methods:
        resource_id = _ensure_resource(apigw, api_id, resources, method.path)
        kwargs: dict[str, Any] = {"restApiId": api_id, "resourceId": resource_id, "httpMethod": method.verb,
                                  "authorizationType": method.auth}
        if method.auth == "COGNITO_USER_POOLS":
            kwargs["authorizerId"] = authorizer["id"]
            if method.scopes:
                kwargs["authorizationScopes"] = list(method.scopes)
        apigw.put_method(**kwargs)
        integration: dict[str, Any] = {"restApiId": api_id, "resourceId": resource_id, "httpMethod": method.verb,
                                       "type": method.integration}
        if method.integration in {"AWS_PROXY", "AWS"}:
            integration.update(integrationHttpMethod="POST", uri=(
                f"arn:aws:apigateway:{session.region_name}:lambda:path/2015-03-31/functions/{backend_arn}/invocations"))
        if method.request_template:
            integration["requestTemplates"] = {"application/json": method.request_template}
        elif method.integration == "MOCK":
            integration["requestTemplates"] = {"application/json": '{"statusCode": 200}'}
        apigw.put_integration(**integration)
    apigw.create_deployment(restApiId=api_id, stageName=spec.stage)
    return api_id


def _ensure_resource(apigw: Any, api_id: str, resources: dict[str, str], path: str) -> str:
    parent = "/"
    for part in [p for p in path.split("/") if p]:
        current = f"{parent.rstrip('/')}/{part}"
        if current not in resources:
            resources[current] = apigw.create_resource(restApiId=api_id, parentId=resources[parent],
                                                       pathPart=part)["id"]
        parent = current
    return resources[parent]
