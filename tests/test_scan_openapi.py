"""Reading API Gateway exports offline (migrate.scan.openapi): exact model objects, exact messages."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from migrate.errors import UserError
from migrate.inventory.model import Authorizer, Method, RestApi
from migrate.scan.openapi import read_api_export

FIXTURES = Path(__file__).parent / "fixtures" / "openapi"
PETS_POOL = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_PetsPool1"
ORDERS_POOL = "arn:aws:cognito-idp:eu-central-1:210987654321:userpool/eu-central-1_Orders7"
STAFF_POOL = "arn:aws:cognito-idp:eu-west-1:345678901234:userpool/eu-west-1_Staff01"
CONTRACTORS_POOL = "arn:aws:cognito-idp:eu-west-1:345678901234:userpool/eu-west-1_Contractors9"
LAMBDA_URI = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
              "arn:aws:lambda:us-east-1:123456789012:function:{}/invocations")
POOL_SHAPE = "arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID"


def fixture(name: str) -> str:
    return str(FIXTURES / name)


# --- the three fixtures, object for object ----------------------------------------------------------------


def test_openapi3_json_export_gives_every_method_and_authorizer():
    path = fixture("petstore-oas3.json")
    result = read_api_export(path)

    cognito = Authorizer(id="PetsCognito", name="PetsCognito", type="COGNITO_USER_POOLS",
                         provider_arns=[PETS_POOL], identity_source="method.request.header.Authorization")
    token = Authorizer(id="LegacyTokenAuth", name="LegacyTokenAuth", type="TOKEN",
                       identity_source="method.request.header.Authorization",
                       authorizer_uri=LAMBDA_URI.format("legacy-token-authorizer"), result_ttl_seconds=300)
    read_scope = ["pets.example.com/pets.read"]
    assert result.api == RestApi(
        id="a1b2c3d4e5", name="PetStore", source=f"openapi:{path}",
        description="Pets, their photos and the admin reports.", stage="prod", stages=["prod"],
        authorizers=[cognito, token],
        methods=[
            Method("/admin/reports", "GET", "AWS_IAM", operation_name="getReports", integration_type="HTTP"),
            Method("/pets", "GET", "COGNITO_USER_POOLS", authorizer_id="PetsCognito",
                   authorization_scopes=read_scope, operation_name="listPets", integration_type="AWS_PROXY"),
            Method("/pets", "OPTIONS", "NONE", integration_type="MOCK"),
            Method("/pets", "POST", "COGNITO_USER_POOLS", authorizer_id="PetsCognito",
                   authorization_scopes=["pets.example.com/pets.write", "pets.example.com/admin"],
                   api_key_required=True, operation_name="createPet", integration_type="AWS",
                   claims_to_backend=["cognito:groups", "email"]),
            Method("/pets/{petId}", "DELETE", "CUSTOM", authorizer_id="LegacyTokenAuth",
                   operation_name="deletePet", integration_type="AWS_PROXY"),
            Method("/pets/{petId}", "GET", "COGNITO_USER_POOLS", authorizer_id="PetsCognito",
                   authorization_scopes=[], operation_name="getPet", integration_type="HTTP_PROXY"),
            Method("/pets/{petId}/photos/{photoId}", "GET", "NONE", integration_type="MOCK"),
            Method("/{proxy+}", "ANY", "COGNITO_USER_POOLS", authorizer_id="PetsCognito",
                   authorization_scopes=read_scope, integration_type="AWS_PROXY"),
        ])
    assert result.user_pool_arns == [PETS_POOL]
    assert result.warnings == []


def orders_api(path: str, provider_arns: list[str]) -> RestApi:
    read_scope = ["orders.example.com/orders.read"]
    return RestApi(
        id="orders-api", name="Orders API", source=f"openapi:{path}",
        description="Orders for the shop front and the warehouse.", stage="staging", stages=["staging"],
        authorizers=[Authorizer(id="OrdersCognito", name="OrdersCognito", type="COGNITO_USER_POOLS",
                                provider_arns=provider_arns,
                                identity_source="method.request.header.Authorization")],
        methods=[
            # No security of its own: the document's.
            Method("/orders", "GET", "COGNITO_USER_POOLS", authorizer_id="OrdersCognito",
                   authorization_scopes=read_scope, operation_name="listOrders",
                   integration_type="AWS_PROXY"),
            Method("/orders", "POST", "COGNITO_USER_POOLS", authorizer_id="OrdersCognito",
                   authorization_scopes=["orders.example.com/orders.write"], operation_name="createOrder",
                   integration_type="HTTP", claims_to_backend=["custom:tenant", "sub"]),
            # security: [] overrides the document: open.
            Method("/orders/{orderId}", "GET", "NONE", operation_name="getOrderStatus",
                   integration_type="HTTP_PROXY"),
            Method("/orders/{orderId}", "PATCH", "COGNITO_USER_POOLS", authorizer_id="OrdersCognito",
                   authorization_scopes=[], operation_name="amendOrder", integration_type="AWS_PROXY"),
            Method("/orders/{orderId}/items/{itemId}", "DELETE", "NONE", api_key_required=True,
                   operation_name="cancelItem", integration_type="MOCK"),
            Method("/orders/{orderId}/items/{itemId}", "PUT", "AWS_IAM", operation_name="pickItem",
                   integration_type="AWS_PROXY"),
        ])


def test_openapi3_yaml_without_provider_arns_is_read_and_says_how_to_name_the_pool():
    path = fixture("orders-api.yaml")
    result = read_api_export(path)

    assert result.api == orders_api(path, provider_arns=[])
    assert result.user_pool_arns == []
    assert result.warnings == [
        f"{path}: components.securitySchemes.OrdersCognito: Cognito authorizer 'OrdersCognito' names no user "
        f"pool (no providerARNs in the export), so its methods cannot be tied to a pool; give it with "
        f"--user-pool-arn OrdersCognito={POOL_SHAPE}"]


def test_user_pool_arn_option_supplies_the_pool_an_export_lacks():
    path = fixture("orders-api.yaml")
    result = read_api_export(path, user_pool_arns={"OrdersCognito": ORDERS_POOL})

    assert result.api == orders_api(path, provider_arns=[ORDERS_POOL])
    assert result.user_pool_arns == [ORDERS_POOL]
    assert result.warnings == []


def test_swagger2_json_export_gives_every_method_and_authorizer():
    path = fixture("inventory-swagger2.json")
    result = read_api_export(path)

    staff = Authorizer(id="StaffPool", name="StaffPool", type="COGNITO_USER_POOLS",
                       provider_arns=[STAFF_POOL, CONTRACTORS_POOL],
                       identity_source="method.request.header.Authorization", result_ttl_seconds=120)
    tenant = Authorizer(id="TenantRequestAuth", name="TenantRequestAuth", type="REQUEST",
                        identity_source="method.request.header.Authorization, method.request.header.X-Tenant",
                        authorizer_uri=("arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/"
                                        "arn:aws:lambda:eu-west-1:345678901234:function:tenant-authorizer/invocations"),
                        result_ttl_seconds=0)
    assert result.api == RestApi(
        id="k7q2z9x1ab", name="Warehouse Inventory", source=f"openapi:{path}", stage="dev", stages=["dev"],
        authorizers=[staff, tenant],
        methods=[
            Method("/", "GET", "NONE", integration_type="MOCK"),
            Method("/reports/{proxy+}", "ANY", "CUSTOM", authorizer_id="TenantRequestAuth",
                   integration_type="HTTP_PROXY"),
            # "*": one template hands over the whole claims map.
            Method("/stock", "GET", "COGNITO_USER_POOLS", authorizer_id="StaffPool",
                   authorization_scopes=["inventory.example.com/stock.read"], api_key_required=True,
                   integration_type="AWS", claims_to_backend=["*", "custom:site", "email"]),
            Method("/stock/{sku}", "GET", "COGNITO_USER_POOLS", authorizer_id="StaffPool",
                   authorization_scopes=[], integration_type="HTTP_PROXY"),
            Method("/stock/{sku}", "PUT", "CUSTOM", authorizer_id="TenantRequestAuth",
                   integration_type="AWS_PROXY"),
        ])
    assert result.user_pool_arns == [STAFF_POOL, CONTRACTORS_POOL]
    assert result.warnings == []


@pytest.mark.parametrize("original, copy_name", [
    ("petstore-oas3.json", "export.yaml"),
    ("orders-api.yaml", "orders-api.json"),
    ("inventory-swagger2.json", "inventory"),
])
def test_json_and_yaml_are_told_apart_by_content_not_by_extension(tmp_path, original, copy_name):
    copy = tmp_path / copy_name
    shutil.copyfile(FIXTURES / original, copy)
    expected = read_api_export(fixture(original)).api
    if expected.id == Path(original).stem:  # an id from the file name follows the file
        expected = dataclasses.replace(expected, id=copy.stem)
    assert read_api_export(copy).api == dataclasses.replace(expected, source=f"openapi:{copy}")


def test_yaml_with_unquoted_swagger_version_and_a_byte_order_mark(tmp_path):
    path = tmp_path / "api.yml"
    path.write_bytes("\ufeffswagger: 2.0\ninfo: {title: Tiny}\nbasePath: /\npaths:\n  /a:\n    get: {}\n"
                     .encode())
    api = read_api_export(path).api
    assert (api.id, api.name, api.stage, api.methods) == ("api", "Tiny", None, [Method("/a", "GET", "NONE")])


# --- security, one rule at a time --------------------------------------------------------------------------

HEADER = {"type": "apiKey", "name": "Authorization", "in": "header"}
SCHEMES: dict[str, Any] = {
    "Cog": {**HEADER, "x-amazon-apigateway-authtype": "cognito_user_pools",
            "x-amazon-apigateway-authorizer": {"type": "cognito_user_pools", "providerARNs": [PETS_POOL]}},
    "Lambda": {**HEADER, "x-amazon-apigateway-authtype": "custom",
               "x-amazon-apigateway-authorizer": {"type": "token",
                                                  "authorizerUri": LAMBDA_URI.format("authz")}},
    "sigv4": {**HEADER, "x-amazon-apigateway-authtype": "awsSigv4"},
    "api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"},
}


def write_oas3(tmp_path: Path, operation: dict[str, Any], *, schemes: dict[str, Any] | None = None,
               **top: Any) -> Path:
    """A minimal OpenAPI 3 document with one operation, GET /pets."""
    document = {"openapi": "3.0.1", "info": {"title": "t"}, "paths": {"/pets": {"get": operation}},
                "components": {"securitySchemes": SCHEMES if schemes is None else schemes}, **top}
    path = tmp_path / "api.json"
    path.write_text(json.dumps(document))
    return path


def only_method(path: Path, **kwargs: Any) -> tuple[Method, list[str]]:
    result = read_api_export(path, **kwargs)
    assert len(result.api.methods) == 1
    return result.api.methods[0], [w.removeprefix(f"{path}: ") for w in result.warnings]


def test_api_key_and_cognito_in_one_requirement_are_both_required(tmp_path):
    method, warnings = only_method(write_oas3(tmp_path, {"security": [{"Cog": ["a/read"], "api_key": []}]}))
    assert method == Method("/pets", "GET", "COGNITO_USER_POOLS", authorizer_id="Cog",
                            authorization_scopes=["a/read"], api_key_required=True)
    assert warnings == []


def test_api_key_alone_requires_a_key_and_leaves_the_method_open(tmp_path):
    method, warnings = only_method(write_oas3(tmp_path, {"security": [{"api_key": []}]}))
    assert method == Method("/pets", "GET", "NONE", api_key_required=True)
    assert warnings == []


def test_alternative_scope_lists_of_one_cognito_scheme_merge_into_any_of(tmp_path):
    security = [{"Cog": ["a/read"]}, {"Cog": ["a/admin", "a/read"]}]
    method, warnings = only_method(write_oas3(tmp_path, {"security": security}))
    assert method.authorization_scopes == ["a/read", "a/admin"]
    assert warnings == []


def test_id_token_or_access_token_alternatives_warn_and_take_the_first(tmp_path):
    method, warnings = only_method(write_oas3(tmp_path, {"security": [{"Cog": []}, {"Cog": ["a/read"]}]}))
    assert (method.authorization_type, method.authorization_scopes) == ("COGNITO_USER_POOLS", [])
    assert warnings == [
        "paths['/pets'].get.security: UNCONFIRMED: 'Cog' is listed both without scopes (ID token) and with "
        "scopes (access token) as alternatives; a method is one or the other. Read with the first listed: "
        "no scopes"]


@pytest.mark.parametrize("security, relation", [
    ([{"Lambda": []}, {"Cog": ["a/read"]}], "as alternatives"),
    ([{"Lambda": [], "Cog": ["a/read"]}], "all required together"),
])
def test_two_authorizers_on_one_method_warn_loudly_and_take_the_first(tmp_path, security, relation):
    method, warnings = only_method(write_oas3(tmp_path, {"security": security}))
    assert method == Method("/pets", "GET", "CUSTOM", authorizer_id="Lambda")
    assert warnings == [
        f"paths['/pets'].get.security: UNCONFIRMED: security names 'Lambda', 'Cog' {relation}, but a REST "
        f"API method has one authorization type and at most one authorizer; read as 'Lambda' (the first "
        f"listed). Which one API Gateway applies on import is not documented: check the live method (scan "
        f"the account) before trusting this one"]


def test_scopes_on_a_lambda_authorizer_are_ignored_with_a_warning(tmp_path):
    method, warnings = only_method(write_oas3(tmp_path, {"security": [{"Lambda": ["a/read"]}]}))
    assert method == Method("/pets", "GET", "CUSTOM", authorizer_id="Lambda")
    assert warnings == ["paths['/pets'].get.security: scopes on 'Lambda' ignored: API Gateway applies "
                        "authorization scopes only with a Cognito user pool authorizer"]


def test_an_empty_requirement_is_ignored_with_a_warning(tmp_path):
    method, warnings = only_method(write_oas3(tmp_path, {"security": [{"Cog": ["a/read"]}, {}]}))
    assert method.authorization_scopes == ["a/read"]
    assert warnings == ["paths['/pets'].get.security[1]: an empty security requirement (anonymous access as "
                        "an alternative) has no API Gateway equivalent; ignored"]


def test_document_security_problems_are_reported_once_not_per_operation(tmp_path):
    document = {"openapi": "3.0.1", "info": {"title": "t"}, "security": [{"Lambda": ["x"]}],
                "paths": {"/a": {"get": {}, "put": {}}, "/b": {"x-amazon-apigateway-any-method": {}}},
                "components": {"securitySchemes": SCHEMES}}
    path = tmp_path / "api.json"
    path.write_text(json.dumps(document))
    result = read_api_export(path)
    assert [(m.route_key, m.authorization_type) for m in result.api.methods] == [
        ("GET /a", "CUSTOM"), ("PUT /a", "CUSTOM"), ("ANY /b", "CUSTOM")]
    assert result.warnings == [f"{path}: security: scopes on 'Lambda' ignored: API Gateway applies "
                               f"authorization scopes only with a Cognito user pool authorizer"]


def test_schemes_api_gateway_ignores_leave_the_method_open(tmp_path):
    schemes = {"oauth": {"type": "oauth2", "flows": {}}}
    method, warnings = only_method(write_oas3(tmp_path, {"security": [{"oauth": ["read"]}]}, schemes=schemes))
    assert method == Method("/pets", "GET", "NONE")
    assert warnings == ["components.securitySchemes.oauth: security scheme 'oauth' of type 'oauth2' has "
                        "no API Gateway meaning (API Gateway ignores it on import); operations naming it are "
                        "read as if it were absent"]


def test_an_api_key_scheme_outside_the_x_api_key_header_warns(tmp_path):
    schemes = {"key": {"type": "apiKey", "name": "key", "in": "query"}}
    method, warnings = only_method(write_oas3(tmp_path, {"security": [{"key": []}]}, schemes=schemes))
    assert method == Method("/pets", "GET", "NONE", api_key_required=True)
    assert warnings == ["components.securitySchemes.key: API key scheme 'key' reads 'query' 'key', but "
                        "API Gateway takes API keys from the x-api-key header (or from a Lambda authorizer); "
                        "read as 'API key required' all the same"]


@pytest.mark.parametrize("auth_type, expected", [("aws_iam", "AWS_IAM"), ("NONE", "NONE")])
def test_x_amazon_apigateway_auth_sets_the_type_when_security_does_not(tmp_path, auth_type, expected):
    operation = {"x-amazon-apigateway-auth": {"type": auth_type}}
    method, warnings = only_method(write_oas3(tmp_path, operation))
    assert method == Method("/pets", "GET", expected)
    assert warnings == []


def test_x_amazon_apigateway_auth_contradicting_security_warns(tmp_path):
    operation = {"security": [{"Cog": []}], "x-amazon-apigateway-auth": {"type": "AWS_IAM"}}
    method, warnings = only_method(write_oas3(tmp_path, operation))
    assert method.authorization_type == "COGNITO_USER_POOLS"
    assert warnings == ["paths['/pets'].get.x-amazon-apigateway-auth: UNCONFIRMED: says AWS_IAM while "
                        "security says COGNITO_USER_POOLS; read as COGNITO_USER_POOLS"]


def test_cognito_scheme_exported_without_the_authorizer_extension(tmp_path):
    # get-export without extensions='authorizers' keeps only the authtype.
    schemes = {"Pool": {"type": "apiKey", "name": "Auth", "in": "header",
                        "x-amazon-apigateway-authtype": "cognito_user_pools"}}
    path = write_oas3(tmp_path, {"security": [{"Pool": ["a/read"]}]}, schemes=schemes)
    result = read_api_export(path, user_pool_arns={"Pool": PETS_POOL})
    assert result.api.authorizers == [Authorizer(id="Pool", name="Pool", type="COGNITO_USER_POOLS",
                                                 provider_arns=[PETS_POOL],
                                                 identity_source="method.request.header.Auth")]
    assert result.api.methods == [Method("/pets", "GET", "COGNITO_USER_POOLS", authorizer_id="Pool",
                                         authorization_scopes=["a/read"])]
    assert (result.user_pool_arns, result.warnings) == ([PETS_POOL], [])


def test_unusable_provider_arns_are_ignored_and_the_option_fills_in(tmp_path):
    schemes = {"Cog": {**SCHEMES["Cog"], "x-amazon-apigateway-authorizer": {
        "type": "cognito_user_pools", "providerARNs": ["arn:aws:cognito-idp:${AWS::Region}:1:userpool/x"]}}}
    path = write_oas3(tmp_path, {"security": [{"Cog": []}]}, schemes=schemes)
    result = read_api_export(path, user_pool_arns={"Cog": PETS_POOL})
    assert result.api.authorizers[0].provider_arns == [PETS_POOL]
    assert [w.removeprefix(f"{path}: ") for w in result.warnings] == [
        "components.securitySchemes.Cog.x-amazon-apigateway-authorizer.providerARNs[0]: "
        f"'arn:aws:cognito-idp:${{AWS::Region}}:1:userpool/x' is not a user pool ARN ({POOL_SHAPE}); ignored"]


def test_the_export_wins_over_a_disagreeing_option(tmp_path):
    path = write_oas3(tmp_path, {"security": [{"Cog": []}]})
    result = read_api_export(path, user_pool_arns={"Cog": ORDERS_POOL})
    assert result.api.authorizers[0].provider_arns == [PETS_POOL]
    assert result.warnings == [
        f"{path}: components.securitySchemes.Cog.x-amazon-apigateway-authorizer.providerARNs: "
        f"--user-pool-arn Cog={ORDERS_POOL} ignored: the export names {PETS_POOL}"]


def test_request_authorizer_identity_source_from_the_scheme_and_ttl_as_text(tmp_path):
    authorizer = {"type": "REQUEST", "authorizerUri": LAMBDA_URI.format("r"),
                  "authorizerResultTtlInSeconds": "60"}
    schemes = {"Req": {"type": "apiKey", "name": "tenant", "in": "query",
                       "x-amazon-apigateway-authtype": "custom",
                       "x-amazon-apigateway-authorizer": authorizer}}
    result = read_api_export(write_oas3(tmp_path, {"security": [{"Req": []}]}, schemes=schemes))
    assert result.api.authorizers == [Authorizer(
        id="Req", name="Req", type="REQUEST", identity_source="method.request.querystring.tenant",
        authorizer_uri=LAMBDA_URI.format("r"), result_ttl_seconds=60)]


def test_local_refs_are_followed(tmp_path):
    document = {"openapi": "3.0.1", "info": {"title": "t"},
                "paths": {"/pets": {"$ref": "#/components/x-paths/pets"}},
                "components": {"securitySchemes": {"Cog": {"$ref": "#/components/x-schemes/Cog"}},
                               "x-schemes": {"Cog": SCHEMES["Cog"]},
                               "x-paths": {"pets": {"post": {"security": [{"Cog": ["a/write"]}]}}}}}
    path = tmp_path / "api.json"
    path.write_text(json.dumps(document))
    assert read_api_export(path).api.methods == [
        Method("/pets", "POST", "COGNITO_USER_POOLS", authorizer_id="Cog", authorization_scopes=["a/write"])]


def test_claims_mapped_through_request_parameters_are_reported(tmp_path):
    integration = {"type": "http", "requestParameters": {
        "integration.request.header.x-user": "context.authorizer.claims.email",
        "integration.request.header.x-groups": "context.authorizer.claims['cognito:groups']",
        "integration.request.path.id": "method.request.path.id"}}
    method, warnings = only_method(write_oas3(tmp_path, {"x-amazon-apigateway-integration": integration}))
    assert (method.integration_type, method.claims_to_backend) == ("HTTP", ["cognito:groups", "email"])
    assert warnings == []


def test_non_operation_keys_are_skipped_and_trace_is_reported(tmp_path):
    document = {"openapi": "3.0.1", "info": {"title": "t"}, "paths": {"/a": {
        "summary": "s", "description": "d", "parameters": [], "servers": [], "trace": {},
        "x-amazon-apigateway-integration": {"type": "mock"}, "head": {}}}}
    path = tmp_path / "api.json"
    path.write_text(json.dumps(document))
    result = read_api_export(path)
    assert result.api.methods == [Method("/a", "HEAD", "NONE")]
    assert result.warnings == [
        f"{path}: paths['/a'].trace: API Gateway REST APIs have no TRACE method; skipped"]


@pytest.mark.parametrize("top, expected_id, expected_stage, warning", [
    ({"x-amazon-apigateway-api-id": "zz99yy88xx", "servers": [{"url": "https://q1w2e3r4t5.execute-api.x/"}]},
     "zz99yy88xx", None, None),
    ({"servers": [{"url": "https://api.example.com"},
                  {"url": "https://q1w2e3r4t5.execute-api.eu-north-1.amazonaws.com/{basePath}",
                   "variables": {"basePath": {"default": "v1"}}}]}, "q1w2e3r4t5", "v1", None),
    ({"servers": [{"url": "/", "variables": {"basePath": {"default": "/"}}}]}, "api", None, None),
    ({"servers": [{"url": "/{basePath}", "variables": {"basePath": {"default": "/v1/pets"}}}]}, "api", None,
     "servers[0].variables.basePath.default: base path '/v1/pets' is not a stage name; the stage is left "
     "unset"),
])
def test_api_id_and_stage(tmp_path, top, expected_id, expected_stage, warning):
    path = write_oas3(tmp_path, {}, **top)
    result = read_api_export(path)
    assert (result.api.id, result.api.stage, result.api.stages) == (
        expected_id, expected_stage, [expected_stage] if expected_stage else [])
    assert result.warnings == ([f"{path}: {warning}"] if warning else [])


def test_a_missing_title_falls_back_to_the_id(tmp_path):
    path = tmp_path / "api.json"
    path.write_text(json.dumps({"swagger": "2.0", "info": {}, "paths": {}}))
    result = read_api_export(path)
    assert result.api.name == "api"
    assert result.warnings == [f"{path}: paths: no paths: the API has no methods",
                               f"{path}: info.title: no API name; using the API id 'api'"]


# --- bad input: one line, naming the file and where in it ---------------------------------------------


def expect_error(path: Path | str, message: str, **kwargs: Any) -> None:
    with pytest.raises(UserError) as caught:
        read_api_export(path, **kwargs)
    assert str(caught.value) == message
    assert "\n" not in str(caught.value)


def test_missing_file_and_directory(tmp_path):
    expect_error(tmp_path / "nope.json", f"{tmp_path / 'nope.json'}: API export not found")
    expect_error(tmp_path, f"{tmp_path}: expected an API export file, found a directory")


@pytest.mark.parametrize("content, message", [
    (b"info:\n  title: caf\xe9!\n", "API export is not UTF-8 text (invalid continuation byte at byte 18)"),
    (b'{\n  "openapi": "3.0.1",\n  "paths": {,}\n}',
     "invalid JSON at line 3 column 13: Expecting property name enclosed in double quotes"),
    (b"openapi: 3.0.1\ninfo:\n  title: x\n  - y\n",
     "invalid YAML at line 4 column 3: expected <block end>, but found '-'"),
    (b"paths: [1, 2\n", "invalid YAML at line 2 column 1: expected ',' or ']', but got '<stream end>'"),
    (b"", "not an OpenAPI 3.0 or Swagger 2.0 document (the file is empty)"),
    (b"[1, 2]",
     "not an OpenAPI 3.0 or Swagger 2.0 document (expected a mapping at the top level, got a list)"),
    (b"title: just some YAML\n",
     "not an OpenAPI 3.0 or Swagger 2.0 document (no 'openapi' or 'swagger' field)"),
    (b'{"openapi": "3.1.0", "paths": {}}',
     "openapi: OpenAPI version '3.1.0' is not supported (API Gateway exports OpenAPI 3.0.x and Swagger 2.0)"),
    (b'{"swagger": "1.2", "paths": {}}', "swagger: Swagger version '1.2' is not supported (expected '2.0')"),
    (b'{"swagger": "2.0", "openapi": "3.0.0"}',
     "both 'openapi' and 'swagger' fields: not one OpenAPI version"),
    (b'{"swagger": "2.0", "info": {"title": "t"}}', "no 'paths': not an API definition"),
    (b'{"swagger": "2.0", "paths": []}', "paths: expected a mapping, got a list"),
    (b'{"swagger": "2.0", "paths": {"pets": {}}}', "paths['pets']: a resource path must start with '/'"),
    (b'{"swagger": "2.0", "paths": {"/pets": {"get": "x"}}}',
     "paths['/pets'].get: expected a mapping, got the string 'x'"),
    (b'{"swagger": "2.0", "paths": {"/p": {"$ref": "other.yaml#/p"}}}',
     "paths['/p']: $ref 'other.yaml#/p' points outside this file; bundle the document first"),
    (b'{"swagger": "2.0", "paths": {"/p": {"$ref": "#/x/p"}}}',
     "paths['/p']: $ref '#/x/p' points to nothing in this file"),
])
def test_unreadable_documents(tmp_path, content, message):
    path = tmp_path / "export.json"
    path.write_bytes(content)
    expect_error(path, f"{path}: {message}")


def with_scheme(scheme: dict[str, Any]) -> dict[str, Any]:
    return {"Cog": scheme}


@pytest.mark.parametrize("operation, schemes, top, message", [
    ({"security": [{"Nope": []}]}, SCHEMES, {},
     "paths['/pets'].get.security[0]: names security scheme 'Nope', which is not defined in "
     "components.securitySchemes (defined: 'Cog', 'Lambda', 'sigv4', 'api_key')"),
    ({}, {}, {"security": [{"Cog": []}]},
     "security[0]: names security scheme 'Cog', which is not defined in components.securitySchemes "
     "(defined: none)"),
    ({"security": {"Cog": []}}, SCHEMES, {},
     "paths['/pets'].get.security: expected a list of security requirements, got a mapping"),
    ({"security": ["Cog"]}, SCHEMES, {},
     "paths['/pets'].get.security[0]: expected a mapping of scheme names to scopes, got the string 'Cog'"),
    ({"security": [{"Cog": ["a/read", 7]}]}, SCHEMES, {},
     "paths['/pets'].get.security[0].Cog[1]: expected a string, got int 7"),
    ({"security": [{"Cog": "a/read"}]}, SCHEMES, {},
     "paths['/pets'].get.security[0].Cog: expected a list of strings, got the string 'a/read'"),
    ({}, with_scheme({"type": "apiKey", "x-amazon-apigateway-authorizer": {"type": "jwt"}}), {},
     "components.securitySchemes.Cog.x-amazon-apigateway-authorizer.type: 'jwt' is not a REST API "
     "authorizer type (expected token, request or cognito_user_pools)"),
    ({}, with_scheme({"type": "apiKey", "x-amazon-apigateway-authorizer": {"providerARNs": []}}), {},
     "components.securitySchemes.Cog.x-amazon-apigateway-authorizer.type: missing (expected token, "
     "request or cognito_user_pools)"),
    # An intrinsic in providerARNs is now reported and the rest read: tests/test_scan_openapi_forms.py.
    ({}, with_scheme({"type": "apiKey", "x-amazon-apigateway-authorizer": {
        "type": "token", "authorizerResultTtlInSeconds": "soon"}}), {},
     "components.securitySchemes.Cog.x-amazon-apigateway-authorizer.authorizerResultTtlInSeconds: expected a "
     "number of seconds, got the string 'soon'"),
    ({}, with_scheme({"type": "apiKey", "name": "Authorization", "in": "header",
                      "x-amazon-apigateway-authtype": "custom"}), {},
     "components.securitySchemes.Cog: scheme 'Cog' is a Lambda authorizer (x-amazon-apigateway-authtype "
     "'custom') without x-amazon-apigateway-authorizer, so its type and function are unknown; export the "
     "API again with --parameters extensions='integrations,authorizers'"),
    ({}, with_scheme({"type": "apiKey", "x-amazon-apigateway-authtype": "awsSigv5"}), {},
     "components.securitySchemes.Cog.x-amazon-apigateway-authtype: 'awsSigv5' is reserved by AWS and not one "
     "avp-migrate knows (expected 'awsSigv4' for IAM authorization)"),
    ({}, with_scheme([]), {}, "components.securitySchemes.Cog: expected a mapping, got a list"),
    ({"x-amazon-apigateway-integration": {"type": 1}}, SCHEMES, {},
     "paths['/pets'].get.x-amazon-apigateway-integration.type: expected a string, got int 1"),
    ({"x-amazon-apigateway-integration": {"type": "aws", "requestTemplates": {"application/json": ["x"]}}},
     SCHEMES, {},
     "paths['/pets'].get.x-amazon-apigateway-integration.requestTemplates['application/json']: expected a "
     "string, got a list"),
    ({"x-amazon-apigateway-auth": {"type": "CUSTOM"}}, SCHEMES, {},
     "paths['/pets'].get.x-amazon-apigateway-auth.type: 'CUSTOM' is not NONE or AWS_IAM"),
    ({"operationId": 12}, SCHEMES, {}, "paths['/pets'].get.operationId: expected a string, got int 12"),
    ({}, SCHEMES, {"info": "t"}, "info: expected a mapping, got the string 't'"),
    ({}, SCHEMES, {"servers": [{"url": "/{basePath}", "variables": {"basePath": {"default": 1}}}]},
     "servers[0].variables.basePath.default: expected a string, got int 1"),
])
def test_wrong_types_and_names_where_we_depend_on_them(tmp_path, operation, schemes, top, message):
    path = write_oas3(tmp_path, operation, schemes=schemes, **top)
    expect_error(path, f"{path}: {message}")


def test_a_bad_user_pool_arn_option_names_the_option(tmp_path):
    path = write_oas3(tmp_path, {})
    expect_error(path,
                 f"--user-pool-arn: Cog=arn:aws:s3:::bucket: not a user pool ARN (expected {POOL_SHAPE})",
                 user_pool_arns={"Cog": "arn:aws:s3:::bucket"})


def test_a_user_pool_arn_option_for_no_cognito_scheme_names_the_option(tmp_path):
    path = write_oas3(tmp_path, {})
    expect_error(path, f"--user-pool-arn: Lambda=...: {path} has no Cognito user pool authorizer 'Lambda' "
                       f"(it has: 'Cog')", user_pool_arns={"Lambda": PETS_POOL})
