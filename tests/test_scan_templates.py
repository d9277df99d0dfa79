"""`scan --template` / `scan --terraform`: one Pets API in five forms gives one inventory.

The same API (a default Cognito authorizer with default scopes; methods that override the scopes, clear them,
opt out with ``Authorizer: NONE``; CORS preflights left public) and the same user pool are:

* created on the embedded AWS with boto3 and scanned live (the reference);
* a SAM app (tests/fixtures/iac/sam-app.yaml), and what SAM's own translator (aws-sam-translator) turns it into;
* a CDK-synthesized template (tests/fixtures/iac/cdk-pets.template.json, hand-written in `cdk synth`'s shape);
* a Terraform state (`terraform show -json`, tests/fixtures/iac/terraform-pets.state.json, hand-written from
  HashiCorp's JSON output format).

Each must match the live scan on what decides authorization: methods (verb, path, authorization type,
authorizer, scopes, API key), authorizers (type, pools), and the pool (scopes, groups, app clients, trigger).
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform

from migrate.cli.main import main
from migrate.errors import UserError
from migrate.inventory import Inventory, load_inventory
from migrate.scan.cfn_yaml import load_yaml
from migrate.scan.iac import scan_iac
from migrate.scan.template import read_template
from migrate.scan.terraform import read_terraform

FIXTURES = Path(__file__).parent / "fixtures" / "iac"
SAM_APP = FIXTURES / "sam-app.yaml"
CDK_APP = FIXTURES / "cdk-pets.template.json"
TF_STATE = FIXTURES / "terraform-pets.state.json"
TF_PLAN = FIXTURES / "terraform-pets.plan.json"
ACCOUNT = "123456789012"
CDK_POOL = "PetsUserPool6BA7E5F2"


# --- the reference: the same API on the embedded AWS, scanned live ---------------------------------------------

def create_live_pets(region: str) -> str:
    """The Pets API and pool, made the way a console user or a script would; returns the pool id."""
    idp = boto3.client("cognito-idp", region_name=region)
    pool = idp.create_user_pool(PoolName="pets-users", LambdaConfig={"PreTokenGenerationConfig": {
        "LambdaArn": f"arn:aws:lambda:{region}:{ACCOUNT}:function:pets-pretoken", "LambdaVersion": "V2_0"}})["UserPool"]
    pool_id, pool_arn = pool["Id"], pool["Arn"]
    idp.create_resource_server(UserPoolId=pool_id, Identifier="pets", Name="Pets", Scopes=[
        {"ScopeName": "read", "ScopeDescription": "Read pets"},
        {"ScopeName": "write", "ScopeDescription": "Change pets"},
        {"ScopeName": "admin", "ScopeDescription": "Remove pets"}])
    for name, description, precedence in [("readers", "Read pets", 3), ("writers", "Change pets", 2),
                                          ("admins", "Everything", 1)]:
        idp.create_group(UserPoolId=pool_id, GroupName=name, Description=description, Precedence=precedence)
    idp.create_user_pool_client(UserPoolId=pool_id, ClientName="web", AllowedOAuthFlowsUserPoolClient=True,
                                AllowedOAuthFlows=["code"], AllowedOAuthScopes=["openid", "pets/read", "pets/write"],
                                CallbackURLs=["https://pets.example.com/callback"],
                                SupportedIdentityProviders=["COGNITO"],
                                ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"])
    idp.create_user_pool_client(UserPoolId=pool_id, ClientName="inventory-service", GenerateSecret=True,
                                AllowedOAuthFlowsUserPoolClient=True, AllowedOAuthFlows=["client_credentials"],
                                AllowedOAuthScopes=["pets/read"], ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"])
    apigw = boto3.client("apigateway", region_name=region)
    api_id = apigw.create_rest_api(name="PetsApi")["id"]
    root = next(r["id"] for r in apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/")
    pets = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="pets")["id"]
    pet = apigw.create_resource(restApiId=api_id, parentId=pets, pathPart="{petId}")["id"]
    health = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="health")["id"]
    authorizer = apigw.create_authorizer(restApiId=api_id, name="PetsAuth", type="COGNITO_USER_POOLS",
                                         providerARNs=[pool_arn],
                                         identitySource="method.request.header.Authorization")["id"]
    uri = (f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/arn:aws:lambda:{region}:{ACCOUNT}:"
           f"function:pets/invocations")
    for resource, verb, scopes in [(pets, "GET", ["pets/read"]), (pets, "POST", ["pets/write"]), (pet, "GET", []),
                                   (pet, "PUT", ["pets/read"]), (pet, "DELETE", ["pets/admin"]),
                                   (health, "GET", None), (pets, "OPTIONS", None), (pet, "OPTIONS", None),
                                   (health, "OPTIONS", None)]:
        extra: dict[str, Any] = {"authorizationType": "NONE"} if scopes is None else {
            "authorizationType": "COGNITO_USER_POOLS", "authorizerId": authorizer, "authorizationScopes": scopes}
        apigw.put_method(restApiId=api_id, resourceId=resource, httpMethod=verb, **extra)
        if verb == "OPTIONS":
            apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod=verb, type="MOCK")
        else:
            apigw.put_integration(restApiId=api_id, resourceId=resource, httpMethod=verb, type="AWS_PROXY",
                                  integrationHttpMethod="POST", uri=uri)
    deployment = apigw.create_deployment(restApiId=api_id)["id"]
    apigw.create_stage(restApiId=api_id, stageName="prod", deploymentId=deployment)
    return pool_id


def live_scan(tmp_path: Path, capsys) -> Inventory:
    out = tmp_path / "live.json"
    assert main(["scan", "--out", str(out), "--stage", "prod"]) == 0
    capsys.readouterr()
    return load_inventory(out)


# --- what must match -------------------------------------------------------------------------------------------

def essentials(inventory: Inventory) -> dict[str, Any]:
    """What decides who may call what, with the ids each source invents (pool, client, authorizer) left out."""
    (api,) = inventory.apis
    (pool,) = [p for p in inventory.user_pools if not p.known_by_arn_only]
    pool_names = {pool.arn: "POOL", pool.id: "POOL"}
    authorizers = {a.id: a for a in api.authorizers}
    return {
        "api": (api.name, api.stage),
        "methods": sorted((m.http_method, m.path, m.authorization_type,
                           authorizers[m.authorizer_id].name if m.authorizer_id else None,
                           tuple(m.authorization_scopes), m.api_key_required, m.integration_type)
                          for m in api.methods),
        "authorizers": sorted((a.name, a.type, tuple(pool_names.get(arn, arn) for arn in a.provider_arns),
                               a.identity_source) for a in api.authorizers),
        "pool": (pool.name, [(rs.identifier, [(s.name, s.description) for s in rs.scopes])
                             for rs in pool.resource_servers],
                 [(g.name, g.description, g.precedence) for g in pool.groups],
                 [(c.name, c.has_secret, c.allowed_oauth_flows, c.allowed_oauth_scopes,
                   c.allowed_oauth_flows_user_pool_client, c.explicit_auth_flows, c.supported_identity_providers)
                  for c in pool.clients],
                 (pool.pretoken_trigger.version, pool.pretoken_trigger.config_field)),
    }


def sam_transform(template_path: Path, tmp_path: Path, *, edit=None) -> Path:
    """What SAM deploys: aws-sam-translator's output for the template (offline; `sam package` would first have
    replaced the local CodeUri with an S3 location, so this does too)."""
    template = load_yaml(template_path.read_text(), str(template_path))
    template.setdefault("Globals", {}).setdefault("Function", {})["CodeUri"] = "s3://avp-migrate-tests/app.zip"
    if edit is not None:
        edit(template)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

    class NoManagedPolicies:
        def load(self) -> dict[str, str]:
            return {}

    transformed = transform(copy.deepcopy(template), {}, NoManagedPolicies())
    out = tmp_path / f"{template_path.stem}.transformed.json"
    out.write_text(json.dumps(transformed, indent=1))
    return out


def scan(tmp_path: Path, capsys, *argv: str) -> Inventory:
    out = tmp_path / "inventory.json"
    code = main(["scan", "--out", str(out), *argv])
    _, err = capsys.readouterr()
    assert code == 0, err
    return load_inventory(out)


def test_every_form_of_the_pets_api_matches_the_live_scan(embedded_aws, tmp_path, capsys):
    pool_id = create_live_pets(embedded_aws.region)
    live = live_scan(tmp_path, capsys)
    expected = essentials(live)
    # The reference is what it should be: the scopes SAM's rules give each method (see the SAM app's comments).
    assert [(m[0], m[1], m[4]) for m in expected["methods"]] == [
        ("DELETE", "/pets/{petId}", ("pets/admin",)), ("GET", "/health", ()), ("GET", "/pets", ("pets/read",)),
        ("GET", "/pets/{petId}", ()), ("OPTIONS", "/health", ()), ("OPTIONS", "/pets", ()),
        ("OPTIONS", "/pets/{petId}", ()), ("POST", "/pets", ("pets/write",)), ("PUT", "/pets/{petId}", ("pets/read",))]

    identity = ["--parameter", f"AWS::AccountId={ACCOUNT}", "--parameter", f"AWS::Region={embedded_aws.region}"]
    forms = {
        "SAM input": scan(tmp_path, capsys, "--template", str(SAM_APP), "--parameter", f"UserPool={pool_id}",
                          *identity),
        "SAM output": scan(tmp_path, capsys, "--template", str(sam_transform(SAM_APP, tmp_path)),
                           "--parameter", f"UserPool={pool_id}", *identity),
        "CDK": scan(tmp_path, capsys, "--template", str(CDK_APP), "--parameter", f"{CDK_POOL}={pool_id}", *identity),
        "Terraform": scan(tmp_path, capsys, "--terraform", str(TF_STATE)),
    }
    for form, inventory in forms.items():
        assert essentials(inventory) == expected, form
        assert inventory.total_calls == 0
    # Named with --parameter, a template's pool is the live pool: same id, same ARN, in the authorizer too.
    (live_pool,) = live.user_pools
    for form in ("SAM input", "SAM output", "CDK"):
        (pool,) = forms[form].user_pools
        assert (pool.id, pool.arn, pool.region) == (live_pool.id, live_pool.arn, live_pool.region), form
        assert forms[form].apis[0].authorizers[0].provider_arns == [live_pool.arn], form


def test_without_parameters_a_template_pool_is_known_by_its_logical_id_and_said_so(tmp_path, capsys):
    inventory = scan(tmp_path, capsys, "--template", str(SAM_APP))
    (pool,) = inventory.user_pools
    (api,) = inventory.apis
    assert (pool.id, pool.arn, pool.known_by_arn_only) == ("UserPool", "UserPool", False)
    assert api.authorizers[0].provider_arns == ["UserPool"] and api.authorizers[0].user_pool_ids == ["UserPool"]
    assert (api.id, api.name, api.stage, api.source) == ("PetsApi", "PetsApi", "prod", f"template:{SAM_APP}#PetsApi")
    assert pool.pretoken_trigger.recognised and pool.pretoken_trigger.rules_source == "ssm:/pets/pretoken-rules"
    assert inventory.warnings == [
        f"{SAM_APP}: parameter StageName: its Default 'prod' is used; give --parameter StageName=VALUE if the stack "
        "is deployed with another value",
        f"{SAM_APP}: user pool UserPool: its id only exists once deployed, so the snapshot names it 'UserPool'; give "
        "--parameter UserPool=POOL_ID (and AWS::AccountId) to name the deployed pool",
        f"{SAM_APP}: app client WebClient: its id only exists once deployed: named 'WebClient' (give --parameter "
        "WebClient=CLIENT_ID to name the deployed client)",
        f"{SAM_APP}: app client ServiceClient: its id only exists once deployed: named 'ServiceClient' (give "
        "--parameter ServiceClient=CLIENT_ID to name the deployed client)",
        "user pool UserPool: its pre-token trigger is avp-migrate's pretoken_lambda, reading rules from "
        "ssm:/pets/pretoken-rules, which an offline scan does not fetch; give them with --rules file:PATH",
    ]


def test_plan_runs_on_a_template_inventory(tmp_path, capsys):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"version": 1, "rules": [
        {"id": "readers", "when": {"groups": ["readers"]}, "then": {"add_scopes": ["pets/read"]}},
        {"id": "writers", "when": {"groups": ["writers"]}, "then": {"add_scopes": ["pets/read", "pets/write"]}}]}))
    scan(tmp_path, capsys, "--template", str(CDK_APP), "--rules", f"file:{rules}")
    code = main(["plan", str(tmp_path / "inventory.json"), "--out", str(tmp_path / "plan")])
    out, err = capsys.readouterr()
    assert code == 0, err
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text())
    assert f"user pool {CDK_POOL}" in out and "namespace PetsApi" in out
    assert json.dumps(plan).count("PUT /pets/{petId}") >= 1


# --- SAM's semantics, checked against SAM's own translator ----------------------------------------------------

def sam_app(api_auth: dict[str, Any] | None, events: dict[str, dict[str, Any]], api_extra: dict | None = None,
            implicit: bool = False) -> dict[str, Any]:
    api = {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "prod", **(api_extra or {})}}
    if api_auth is not None:
        api["Properties"]["Auth"] = api_auth
    function_events = {}
    for name, (path, method, auth) in events.items():
        props: dict[str, Any] = {"Path": path, "Method": method}
        if not implicit:
            props["RestApiId"] = {"Ref": "Api"}
        if auth is not None:
            props["Auth"] = auth
        function_events[name] = {"Type": "Api", "Properties": props}
    resources: dict[str, Any] = {
        "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "p"}},
        "Fn": {"Type": "AWS::Serverless::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "app.handler", "CodeUri": "s3://avp-migrate-tests/app.zip",
            "Events": function_events}}}
    template: dict[str, Any] = {"Transform": "AWS::Serverless-2016-10-31", "Resources": resources}
    if implicit:
        template["Globals"] = {"Api": {"Auth": api_auth}} if api_auth else {}
    else:
        resources["Api"] = api
    return template


COGNITO = {"Authorizers": {"Cog": {"UserPoolArn": {"Fn::GetAtt": ["Pool", "Arn"]},
                                   "AuthorizationScopes": ["s/default"]},
                           "Other": {"UserPoolArn": {"Fn::GetAtt": ["Pool", "Arn"]}}},
           "DefaultAuthorizer": "Cog"}

SAM_CASES = {
    "default authorizer and its scopes": (COGNITO, {"A": ("/a", "get", None)}, None, False),
    "overridden scopes": (COGNITO, {"A": ("/a", "get", {"Authorizer": "Cog", "AuthorizationScopes": ["s/x"]})},
                          None, False),
    "scopes cleared with []": (COGNITO, {"A": ("/a", "get", {"Authorizer": "Cog", "AuthorizationScopes": []})},
                               None, False),
    "[] without Authorizer changes nothing": (COGNITO, {"A": ("/a", "get", {"AuthorizationScopes": []})}, None,
                                              False),
    "Authorizer: NONE": (COGNITO, {"A": ("/a", "get", {"Authorizer": "NONE"})}, None, False),
    "another authorizer without scopes of its own": (COGNITO, {"A": ("/a", "any", {"Authorizer": "Other"})},
                                                     None, False),
    "an authorizer's scopes without a default": ({"Authorizers": COGNITO["Authorizers"]},
                                                 {"A": ("/a", "get", {"Authorizer": "Cog"}), "B": ("/b", "get", None)},
                                                 None, False),
    "CORS preflight gets the default": (COGNITO, {"A": ("/a", "get", None)}, {"Cors": "'*'"}, False),
    "CORS preflight left out": ({**COGNITO, "AddDefaultAuthorizerToCorsPreflight": False},
                                {"A": ("/a", "get", None)}, {"Cors": "'*'"}, False),
    "AWS_IAM default and an API key": ({"DefaultAuthorizer": "AWS_IAM", "ApiKeyRequired": True},
                                       {"A": ("/a", "post", None), "B": ("/b", "get", {"ApiKeyRequired": False})},
                                       None, False),
    "implicit API with Globals Auth": (COGNITO, {"A": ("/a", "get", None), "B": ("/b", "get", {"Authorizer": "NONE"})},
                                       None, True),
    "OpenAPI 3": (COGNITO, {"A": ("/a", "get", None)}, {"OpenApiVersion": "3.0.1"}, False),
}


def method_view(inventory: Inventory) -> list[tuple]:
    (api,) = inventory.apis
    return sorted((m.http_method, m.path, m.authorization_type, m.authorizer_id, tuple(m.authorization_scopes),
                   m.api_key_required) for m in api.methods)


@pytest.mark.parametrize("case", list(SAM_CASES))
def test_sam_input_reads_as_sams_translator_output(case, tmp_path):
    api_auth, events, extra, implicit = SAM_CASES[case]
    template = sam_app(api_auth, events, extra, implicit)
    source = tmp_path / "template.json"
    source.write_text(json.dumps(template))
    ours = scan_iac([source], [], parameters={})
    theirs = scan_iac([sam_transform(source, tmp_path)], [], parameters={})
    assert method_view(ours) == method_view(theirs)
    assert sorted((a.name, a.type, a.provider_arns) for a in ours.apis[0].authorizers) == \
        sorted((a.name, a.type, a.provider_arns) for a in theirs.apis[0].authorizers)


def test_sam_rules_the_cases_read_by(tmp_path):
    """The cases above, in our words: what each method ends up with."""
    def read(case: str) -> list[tuple]:
        api_auth, events, extra, implicit = SAM_CASES[case]
        source = tmp_path / "t.json"
        source.write_text(json.dumps(sam_app(api_auth, events, extra, implicit)))
        return [(m[0], m[1], m[2], m[3], m[4], m[5]) for m in method_view(scan_iac([source], [], parameters={}))]

    cog = ("COGNITO_USER_POOLS", "Cog")
    assert read("default authorizer and its scopes") == [("GET", "/a", *cog, ("s/default",), False)]
    assert read("overridden scopes") == [("GET", "/a", *cog, ("s/x",), False)]
    assert read("scopes cleared with []") == [("GET", "/a", *cog, (), False)]
    assert read("[] without Authorizer changes nothing") == [("GET", "/a", *cog, ("s/default",), False)]
    assert read("Authorizer: NONE") == [("GET", "/a", "NONE", None, (), False)]
    assert read("another authorizer without scopes of its own") == [("ANY", "/a", "COGNITO_USER_POOLS", "Other", (),
                                                                     False)]
    assert read("an authorizer's scopes without a default") == [("GET", "/a", *cog, ("s/default",), False),
                                                                ("GET", "/b", "NONE", None, (), False)]
    assert read("CORS preflight gets the default") == [("GET", "/a", *cog, ("s/default",), False),
                                                       ("OPTIONS", "/a", *cog, ("s/default",), False)]
    assert read("CORS preflight left out") == [("GET", "/a", *cog, ("s/default",), False),
                                               ("OPTIONS", "/a", "NONE", None, (), False)]
    assert read("AWS_IAM default and an API key") == [("GET", "/b", "AWS_IAM", None, (), False),
                                                      ("POST", "/a", "AWS_IAM", None, (), True)]


@pytest.mark.parametrize("auth, message", [
    ({"Authorizer": "NONE"}, "Unable to set Authorizer on API method [get] for path [/a] because 'NONE' is only a "
                             "valid value when a DefaultAuthorizer on the API is specified (SAM refuses it)"),
    ({"AuthorizationScopes": ["s/x"]}, "AuthorizationScopes works only when Authorizer is set (SAM refuses it)"),
    ({"Authorizer": "Missing"}, "Unable to set Authorizer [Missing] on API method [get] for path [/a] because it "
                                "wasn't defined in the API's Authorizers (SAM refuses it)"),
])
def test_what_sam_refuses_is_refused(tmp_path, auth, message):
    source = tmp_path / "template.json"
    source.write_text(json.dumps(sam_app({"Authorizers": COGNITO["Authorizers"]}, {"A": ("/a", "get", auth)})))
    with pytest.raises(UserError) as caught:
        read_template(source)
    assert str(caught.value) == f"{source}: Resources.Fn.Events.A: {message}"
    with pytest.raises(InvalidDocumentException):
        sam_transform(source, tmp_path)


def test_a_definition_body_keeps_its_security_unless_the_event_overrides_it(tmp_path):
    body = {"swagger": "2.0", "info": {"title": "B", "version": "1"}, "paths": {"/a": {"get": {
        "x-amazon-apigateway-integration": {"type": "aws_proxy", "httpMethod": "POST", "uri": "x"}}}}}
    for override, expected in [(False, ("s/default",)), (True, ())]:
        auth = {"Authorizer": "Cog", "AuthorizationScopes": [], **({"OverrideApiAuth": True} if override else {})}
        template = sam_app(COGNITO, {"A": ("/a", "get", auth)}, {"DefinitionBody": body})
        source = tmp_path / "template.json"
        source.write_text(json.dumps(template))
        ours = method_view(scan_iac([source], [], parameters={}))
        assert ours == method_view(scan_iac([sam_transform(source, tmp_path)], [], parameters={}))
        assert ours == [("GET", "/a", "COGNITO_USER_POOLS", "Cog", expected, False)]


# --- deploy-time values ------------------------------------------------------------------------------------------

def test_deploy_time_values_are_resolved_from_parameters_or_reported_by_name(tmp_path):
    template = {
        "Parameters": {"PoolArn": {"Type": "String"}, "Env": {"Type": "String", "Default": "dev"}},
        "Conditions": {"IsProd": {"Fn::Equals": [{"Ref": "Env"}, "prod"]}},
        "Resources": {
            "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {
                "Name": {"Fn::Sub": "pets-${Env}"},
                "Body": {"openapi": "3.0.1", "info": {"title": "x", "version": "1"}, "paths": {
                    "/a": {"get": {"security": [{"Cog": ["s/read"]}]}},
                    "/b": {"get": {"Fn::If": ["IsProd", {"security": [{"Cog": []}]}, {"security": []}]}}},
                    "components": {"securitySchemes": {"Cog": {
                        "type": "apiKey", "name": "Authorization", "in": "header",
                        "x-amazon-apigateway-authtype": "cognito_user_pools",
                        "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": [
                            {"Ref": "PoolArn"}, {"Fn::ImportValue": "shared-pool-arn"}]}}}}}}}}}
    source = tmp_path / "template.json"
    source.write_text(json.dumps(template))
    unresolved = scan_iac([source], [], parameters={})
    (api,) = unresolved.apis
    assert api.name == "pets-dev" and api.authorizers[0].provider_arns == []
    assert [m.route_key for m in api.methods] == ["GET /a", "GET /b"] and api.methods[1].authorization_type == "NONE"
    assert f"{source}: parameter PoolArn has no value; give it with --parameter PoolArn=VALUE" in unresolved.warnings
    assert (f"{source}: Fn::ImportValue 'shared-pool-arn' is another stack's export; give it with --parameter "
            "shared-pool-arn=VALUE (or read the exporting template too)") in unresolved.warnings
    assert (f"{source}: parameter Env: its Default 'dev' is used; give --parameter Env=VALUE if the stack is deployed "
            "with another value") in unresolved.warnings

    pool = "arn:aws:cognito-idp:eu-west-1:210987654321:userpool/eu-west-1_Shared1"
    resolved = scan_iac([source], [], parameters={"PoolArn": pool, "shared-pool-arn": pool, "Env": "prod"})
    (api,) = resolved.apis
    assert api.name == "pets-prod" and api.authorizers[0].provider_arns == [pool, pool]
    assert [(m.route_key, m.authorization_type) for m in api.methods] == [("GET /a", "COGNITO_USER_POOLS"),
                                                                          ("GET /b", "COGNITO_USER_POOLS")]
    (known,) = resolved.user_pools
    assert (known.id, known.known_by_arn_only) == ("eu-west-1_Shared1", True)

    with pytest.raises(UserError) as caught:
        scan_iac([source], [], parameters={"PoolArm": pool})
    assert str(caught.value) == ("--parameter: PoolArm: no template refers to it (a parameter, pseudo parameter, "
                                 "logical id, LogicalId.Attribute or export name)")


def test_body_s3_location_and_definition_uri_are_reported_not_fetched(tmp_path):
    template = {"Transform": "AWS::Serverless-2016-10-31", "Resources": {
        "Rest": {"Type": "AWS::ApiGateway::RestApi", "Properties": {
            "Name": "r", "BodyS3Location": {"Bucket": "b", "Key": "api.yaml"}}},
        "Sam": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "p", "DefinitionUri": "s3://b/api.yaml"}}}}
    source = tmp_path / "template.yaml"
    source.write_text(json.dumps(template))
    read = read_template(source)
    assert [(a.id, a.methods) for a in read.apis] == [("Rest", [])]
    assert read.warnings == [
        f"{source}: Resources.Rest.Properties.BodyS3Location: the API's definition is in S3 ({{'Bucket': 'b', 'Key': "
        "'api.yaml'}), not read: give it with --openapi, or scan the deployed API",
        f"{source}: Resources.Sam: its definition is in a file (DefinitionUri 's3://b/api.yaml'), not read: give the "
        "API's definition with --openapi, or scan the deployed API"]


def test_a_template_with_a_duplicate_key_is_refused_with_the_line(tmp_path, capsys):
    text = SAM_APP.read_text().replace("  HealthFn:\n", "  PetsFn:\n    Type: AWS::Serverless::Function\n"
                                                    "  HealthFn:\n")
    source = tmp_path / "template.yaml"
    source.write_text(text)
    line = text.splitlines().index("  PetsFn:", text.splitlines().index("  PetsFn:") + 1) + 1
    first = text.splitlines().index("  PetsFn:") + 1
    out = tmp_path / "inventory.json"
    code = main(["scan", "--out", str(out), "--template", str(source)])
    err = capsys.readouterr().err
    assert code == 1 and not out.exists()
    assert err == (f"avp-migrate: error: {source}: invalid YAML at line {line} column 3: duplicate key 'PetsFn' "
                   f"(first at line {first})\n")


def test_not_a_template(tmp_path):
    source = tmp_path / "export.yaml"
    source.write_text("openapi: 3.0.1\npaths: {}\n")
    with pytest.raises(UserError) as caught:
        read_template(source)
    assert str(caught.value) == (f"{source}: not a CloudFormation template: no 'Resources' mapping (an API export: "
                                 "read it with --openapi)")


# --- Terraform plans -----------------------------------------------------------------------------------------------

def test_a_terraform_plan_links_resources_through_its_configuration(tmp_path):
    read = read_terraform(TF_PLAN)
    pets, partner = read.apis
    assert (pets.id, pets.name) == ("aws_api_gateway_rest_api.pets", "PetsApi")
    assert [(a.id, a.name, a.provider_arns) for a in pets.authorizers] == [
        ("aws_api_gateway_authorizer.pets", "PetsAuth", ["aws_cognito_user_pool.pets"])]
    assert [(m.route_key, m.authorization_type, m.authorizer_id, m.authorization_scopes) for m in pets.methods] == [
        ("GET /pets", "COGNITO_USER_POOLS", "aws_api_gateway_authorizer.pets", ["pets/read"]),
        ("OPTIONS /pets", "NONE", None, [])]
    (pool,) = read.pools
    assert (pool.id, pool.region, [g.name for g in pool.groups], [c.name for c in pool.clients]) == (
        "aws_cognito_user_pool.pets", "", ["readers"], ["web"])
    assert [(m.route_key, m.authorization_scopes) for m in partner.methods] == [("GET /orders",
                                                                                 ["partner/orders.read"])]
    inventory = scan_iac([], [TF_PLAN], parameters={})
    assert [(p.id, p.known_by_arn_only) for p in inventory.user_pools] == [
        ("aws_cognito_user_pool.pets", False), ("eu-west-1_Partner9", True)]


# --- probe --template: a pre-token handler the template defines ---------------------------------------------------

PRETOKEN_SOURCE = '''\
from scopes_table import GROUP_SCOPES


def handler(event, context):
    scopes = set()
    for group in event["request"]["groupConfiguration"]["groupsToOverride"]:
        scopes.update(GROUP_SCOPES.get(group, []))
    event["response"]["claimsAndScopeOverrideDetails"] = {"accessTokenGeneration": {"scopesToAdd": sorted(scopes)}}
    return event
'''
SCOPES_TABLE = 'GROUP_SCOPES = {"readers": ["pets/read"], "writers": ["pets/read", "pets/write"]}\n'


def probe_rules(capsys, *argv: str) -> dict[str, Any]:
    code = main(["probe", *argv, "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(out)
    assert report["verification"]["all_reproduced"]
    return {r["id"]: r for r in report["rules"]["rules"]}


def test_probe_runs_a_sam_functions_local_code_with_the_templates_pool(tmp_path, capsys):
    """CodeUri is a local folder; the handler sits one level down (handlers.app.handler) and imports a module
    from the code's root, as Lambda allows; the pool whose trigger it is gives the groups and the V2_0 events."""
    (tmp_path / "pretoken" / "handlers").mkdir(parents=True)
    (tmp_path / "pretoken" / "handlers" / "app.py").write_text(PRETOKEN_SOURCE)
    (tmp_path / "pretoken" / "scopes_table.py").write_text(SCOPES_TABLE)
    template = SAM_APP.read_text().replace(
        "  PreTokenFn:\n    Type: AWS::Serverless::Function\n    Properties:\n",
        "  PreTokenFn:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: pretoken/\n"
        "      Handler: handlers.app.handler\n").replace("AVP_MIGRATE_RULES_SOURCE", "SOMETHING_ELSE")
    (tmp_path / "template.yaml").write_text(template)
    rules = probe_rules(capsys, "--template", str(tmp_path / "template.yaml"), "--function", "PreTokenFn")
    assert (rules["group-readers"]["when"], rules["group-readers"]["then"]) == ({"groups": ["readers"]},
                                                                              {"add_scopes": ["pets/read"]})
    assert rules["group-writers"]["then"] == {"add_scopes": ["pets/read", "pets/write"]}


def test_probe_runs_inline_zipfile_code(tmp_path, capsys):
    source = PRETOKEN_SOURCE.replace("from scopes_table import GROUP_SCOPES\n", SCOPES_TABLE)
    template = {"Resources": {
        "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {"LambdaConfig": {"PreTokenGenerationConfig": {
            "LambdaArn": {"Fn::GetAtt": ["Fn", "Arn"]}, "LambdaVersion": "V2_0"}}}},
        "Writers": {"Type": "AWS::Cognito::UserPoolGroup", "Properties": {"UserPoolId": {"Ref": "Pool"},
                                                                           "GroupName": "writers"}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {
            "Runtime": "python3.12", "Handler": "index.handler", "Role": "arn:aws:iam::123456789012:role/r",
            "Code": {"ZipFile": source}}}}}
    (tmp_path / "template.json").write_text(json.dumps(template))
    rules = probe_rules(capsys, "--template", str(tmp_path / "template.json"), "--function", "Fn")
    assert rules["group-writers"]["then"] == {"add_scopes": ["pets/read", "pets/write"]}


def test_probe_template_errors_name_the_function(tmp_path, capsys):
    code = main(["probe", "--template", str(CDK_APP), "--function", "Nope"])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith(
        "avp-migrate: error: --function: no function 'Nope' in the template (functions: HealthHandler4A5B6C7D, "
        "PetsHandler0C1D2E3F, PreTokenHandler8E9F0A1B)")
    code = main(["probe", "--template", str(CDK_APP), "--function", "PreTokenHandler8E9F0A1B"])
    err = capsys.readouterr().err
    assert code == 1 and "its code is not in the template nor a local folder (an S3 location?)" in err


# --- hand-edited files: a wrong shape anywhere is a one-line error, never a traceback ------------------------------

_ODD_VALUES = [None, 1, True, "x", [], {}, [1], {"a": 1}, {"Ref": "Nope"}, {"Fn::GetAtt": ["UserPool", "Arn"]},
               {"Fn::If": ["C", 1, 2]}, "NONE", ["x"], [{"x": 1}], {"Fn::Sub": 5}]


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix] if prefix else []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        found += _paths(value, (*prefix, key))
    return found


@pytest.mark.parametrize("fixture", [SAM_APP, CDK_APP, TF_STATE, TF_PLAN])
def test_mutated_files_fail_with_a_user_error_or_read(fixture, tmp_path):
    import random

    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    original = load_yaml(fixture.read_text(), str(fixture))
    terraform = fixture.suffix == ".json" and "terraform" in fixture.name
    for trial in range(40):
        document = copy.deepcopy(original)
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(_paths(document))
            node = document
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = copy.deepcopy(rng.choice(_ODD_VALUES))
        mutated = tmp_path / f"mutated-{trial}.json"
        mutated.write_text(json.dumps(document))
        try:
            scan_iac([], [mutated], parameters={}) if terraform else scan_iac([mutated], [], parameters={})
        except UserError:
            pass
        except Exception as exc:  # pragma: no cover - the failure this test exists to catch
            pytest.fail(f"seed {seed}, trial {trial}: {type(exc).__name__}: {exc}")


def test_a_body_included_from_elsewhere_is_reported_not_read(tmp_path):
    include = {"Fn::Transform": {"Name": "AWS::Include", "Parameters": {"Location": "s3://b/api.yaml"}}}
    template = {"Transform": "AWS::Serverless-2016-10-31", "Resources": {
        "Rest": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "r", "Body": include}},
        "Sam": {"Type": "AWS::Serverless::Api", "Properties": {"StageName": "p", "DefinitionBody": include}}}}
    source = tmp_path / "template.json"
    source.write_text(json.dumps(template))
    read = read_template(source)
    assert [(a.id, a.methods) for a in read.apis] == [("Rest", [])]
    text = 'Fn::Transform({"Name":"AWS::Include","Parameters":{"Location":"s3://b/api.yaml"}})'
    assert read.warnings == [
        f"{source}: Resources.Rest.Properties.Body: {text} is only known at deploy time: not read; give the API's "
        "definition with --openapi, or scan the deployed API",
        f"{source}: Resources.Sam.Properties.DefinitionBody: {text} is only known at deploy time: not read; give the "
        "API's definition with --openapi, or scan the deployed API"]


def test_a_pretoken_lambda_whose_rules_source_is_a_parameter(tmp_path):
    template = {"Parameters": {"RulesSource": {"Type": "String"}}, "Resources": {
        "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {"LambdaConfig": {
            "PreTokenGeneration": {"Fn::GetAtt": ["Fn", "Arn"]}}}},
        "Fn": {"Type": "AWS::Lambda::Function", "Properties": {"Environment": {"Variables": {
            "AVP_MIGRATE_RULES_SOURCE": {"Ref": "RulesSource"}}}}}}}
    source = tmp_path / "template.json"
    source.write_text(json.dumps(template))
    inventory = scan_iac([source], [], parameters={})
    (pool,) = inventory.user_pools
    assert (pool.pretoken_trigger.version, pool.pretoken_trigger.config_field, pool.pretoken_trigger.recognised) == (
        "V1_0", "PreTokenGeneration", True)
    assert inventory.warnings[-1] == ("user pool Pool: its pre-token trigger is avp-migrate's pretoken_lambda, but "
                                      "where it reads its rules is only known at deploy time; give them with --rules "
                                      "file:PATH")
    given = scan_iac([source], [], parameters={"RulesSource": "ssm:/rules"})
    assert given.user_pools[0].pretoken_trigger.rules_source == "ssm:/rules"


def test_stacks_read_together_resolve_each_others_exports(tmp_path, capsys):
    pool_stack = {"Resources": {
        "Pool": {"Type": "AWS::Cognito::UserPool", "Properties": {"UserPoolName": "shared"}},
        "Staff": {"Type": "AWS::Cognito::UserPoolGroup", "Properties": {"UserPoolId": {"Ref": "Pool"},
                                                                         "GroupName": "staff"}}},
        "Outputs": {"PoolArn": {"Value": {"Fn::GetAtt": ["Pool", "Arn"]}, "Export": {"Name": "auth-PoolArn"}},
                    "PoolId": {"Value": {"Ref": "Pool"}, "Export": {"Name": "auth-PoolId"}}}}
    api_stack = {"Resources": {
        "Api": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "staff-api"}},
        "Auth": {"Type": "AWS::ApiGateway::Authorizer", "Properties": {
            "RestApiId": {"Ref": "Api"}, "Type": "COGNITO_USER_POOLS", "Name": "StaffAuth",
            "ProviderARNs": [{"Fn::ImportValue": "auth-PoolArn"}]}},
        "Get": {"Type": "AWS::ApiGateway::Method", "Properties": {
            "RestApiId": {"Ref": "Api"}, "ResourceId": {"Fn::GetAtt": ["Api", "RootResourceId"]},
            "HttpMethod": "GET", "AuthorizationType": "COGNITO_USER_POOLS", "AuthorizerId": {"Ref": "Auth"},
            "AuthorizationScopes": ["staff/read"]}}}}
    (tmp_path / "pool.json").write_text(json.dumps(pool_stack))
    (tmp_path / "api.json").write_text(json.dumps(api_stack))
    alone = scan_iac([tmp_path / "api.json"], [], parameters={})
    assert alone.apis[0].authorizers[0].provider_arns == []
    together = scan_iac([tmp_path / "pool.json", tmp_path / "api.json"], [], parameters={})
    (pool,) = together.user_pools
    assert (pool.id, [g.name for g in pool.groups]) == ("Pool", ["staff"])
    assert together.apis[0].authorizers[0].provider_arns == ["Pool"]
    named = scan_iac([tmp_path / "pool.json", tmp_path / "api.json"], [],
                     parameters={"Pool": "us-east-1_Staff1", "AWS::AccountId": ACCOUNT})
    arn = f"arn:aws:cognito-idp:us-east-1:{ACCOUNT}:userpool/us-east-1_Staff1"
    assert (named.user_pools[0].arn, named.apis[0].authorizers[0].provider_arns) == (arn, [arn])
