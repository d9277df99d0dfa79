"""The moto gaps filled by the harness: API Gateway UpdateMethod and GetResources paging, through boto3."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

LAMBDA_URI = ("arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
              "arn:aws:lambda:us-east-1:123456789012:function:authz/invocations")
POOL_ARN = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Example"


@pytest.fixture
def api(aws_clients):
    apigw = aws_clients("apigateway")
    api_id = apigw.create_rest_api(name="gaps")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    cognito = apigw.create_authorizer(restApiId=api_id, name="cognito", type="COGNITO_USER_POOLS",
                                      providerARNs=[POOL_ARN], identitySource="method.request.header.Authorization")
    lam = apigw.create_authorizer(restApiId=api_id, name="lambda", type="REQUEST", authorizerUri=LAMBDA_URI,
                                  identitySource="method.request.header.Authorization,context.httpMethod")
    apigw.put_method(restApiId=api_id, resourceId=root, httpMethod="GET", authorizationType="COGNITO_USER_POOLS",
                     authorizerId=cognito["id"], authorizationScopes=["api/a", "api/b"])
    apigw.put_integration(restApiId=api_id, resourceId=root, httpMethod="GET", type="MOCK")
    return apigw, api_id, root, cognito["id"], lam["id"]


def test_update_method_moves_a_method_to_a_lambda_authorizer_and_back(api):
    apigw, api_id, root, cognito_id, lambda_id = api
    moved = apigw.update_method(restApiId=api_id, resourceId=root, httpMethod="GET", patchOperations=[
        {"op": "replace", "path": "/authorizationType", "value": "CUSTOM"},
        {"op": "replace", "path": "/authorizerId", "value": lambda_id},
        {"op": "remove", "path": "/authorizationScopes", "value": "api/a"},
        {"op": "remove", "path": "/authorizationScopes", "value": "api/b"},
    ])
    assert (moved["authorizationType"], moved["authorizerId"]) == ("CUSTOM", lambda_id)
    assert "authorizationScopes" not in moved
    method = apigw.get_method(restApiId=api_id, resourceId=root, httpMethod="GET")
    assert method["authorizationType"] == "CUSTOM" and method["methodIntegration"]["type"] == "MOCK"

    back = apigw.update_method(restApiId=api_id, resourceId=root, httpMethod="GET", patchOperations=[
        {"op": "replace", "path": "/authorizationType", "value": "COGNITO_USER_POOLS"},
        {"op": "replace", "path": "/authorizerId", "value": cognito_id},
        {"op": "add", "path": "/authorizationScopes", "value": "api/a"},
        {"op": "add", "path": "/authorizationScopes", "value": "api/b"},
    ])
    assert back["authorizationScopes"] == ["api/a", "api/b"]
    assert back["authorizerId"] == cognito_id


@pytest.mark.parametrize("patch, message", [
    ([{"op": "replace", "path": "/authorizerId", "value": "nope"}], "Invalid authorizer ID"),
    ([{"op": "replace", "path": "/authorizationType", "value": "CUSTOM"}], "authorizationType CUSTOM"),
    ([{"op": "replace", "path": "/authorizationType", "value": "MAGIC"}], "Invalid authorization type"),
    ([{"op": "replace", "path": "/httpMethod", "value": "POST"}], "Invalid patch path"),
    ([{"op": "replace", "path": "/authorizationScopes", "value": "x"}], "Invalid patch path"),
])
def test_update_method_rejects_what_api_gateway_rejects_and_changes_nothing(api, patch, message):
    apigw, api_id, root, cognito_id, _ = api
    with pytest.raises(ClientError) as caught:
        apigw.update_method(restApiId=api_id, resourceId=root, httpMethod="GET", patchOperations=patch)
    assert caught.value.response["Error"]["Code"] == "BadRequestException"
    assert message in caught.value.response["Error"]["Message"]
    method = apigw.get_method(restApiId=api_id, resourceId=root, httpMethod="GET")
    assert (method["authorizationType"], method["authorizerId"]) == ("COGNITO_USER_POOLS", cognito_id)
    assert method["authorizationScopes"] == ["api/a", "api/b"]


def test_update_method_on_unknown_method_is_not_found(api):
    apigw, api_id, root, _, _ = api
    with pytest.raises(ClientError) as caught:
        apigw.update_method(restApiId=api_id, resourceId=root, httpMethod="PATCH", patchOperations=[])
    assert caught.value.response["Error"]["Code"] == "NotFoundException"


def test_get_resources_pages_like_api_gateway(aws_clients):
    apigw = aws_clients("apigateway")
    api_id = apigw.create_rest_api(name="paging")["id"]
    root = apigw.get_resources(restApiId=api_id)["items"][0]["id"]
    for i in range(59):
        apigw.create_resource(restApiId=api_id, parentId=root, pathPart=f"r{i}")
    first = apigw.get_resources(restApiId=api_id)
    assert len(first["items"]) == 25 and "position" in first  # the documented default page size
    pages = list(apigw.get_paginator("get_resources").paginate(restApiId=api_id,
                                                                 PaginationConfig={"PageSize": 500}))
    assert len(pages) == 1 and len(pages[0]["items"]) == 60
    small = list(apigw.get_paginator("get_resources").paginate(restApiId=api_id, PaginationConfig={"PageSize": 7}))
    assert [len(p["items"]) for p in small] == [7] * 8 + [4]
    assert len({i["id"] for p in small for i in p["items"]}) == 60
    with pytest.raises(ClientError) as caught:
        apigw.get_resources(restApiId=api_id, limit=501)
    assert caught.value.response["Error"]["Code"] == "BadRequestException"


def test_lambda_updates_check_and_change_the_revision_id(aws_clients):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    iam = aws_clients("iam")
    role = iam.create_role(RoleName="gaps-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = aws_clients("lambda")
    lam.create_function(FunctionName="gaps", Runtime="python3.12", Role=role, Handler="handler.handler",
                        Code={"ZipFile": buffer.getvalue()})
    first = lam.get_function_configuration(FunctionName="gaps")["RevisionId"]
    second = lam.update_function_configuration(FunctionName="gaps", RevisionId=first,
                                               Environment={"Variables": {"A": "1"}})["RevisionId"]
    assert second != first
    assert lam.get_function_configuration(FunctionName="gaps")["RevisionId"] == second
    with pytest.raises(ClientError) as refused:  # a writer that read the function before the update above
        lam.update_function_configuration(FunctionName="gaps", RevisionId=first,
                                          Environment={"Variables": {"A": "2"}})
    assert refused.value.response["Error"]["Code"] == "PreconditionFailedException"
    assert lam.get_function_configuration(FunctionName="gaps")["Environment"]["Variables"] == {"A": "1"}
    third = lam.update_function_code(FunctionName="gaps", ZipFile=buffer.getvalue())["RevisionId"]
    assert third not in (first, second)
