"""API exports in the forms SAM output and templates leave them: short-form intrinsics, SAM's undeclared NONE
marker, duplicate keys (refused, with the line)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from migrate.errors import UserError
from migrate.inventory.model import Method
from migrate.scan.openapi import read_api_export

POOL = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Pets1"

SAM_BODY = textwrap.dedent(f"""\
    swagger: '2.0'
    info:
      version: '1.0'
      title: !Ref AWS::StackName
    paths:
      /pets:
        get:
          x-amazon-apigateway-integration:
            type: aws_proxy
            httpMethod: POST
            uri: !Sub arn:aws:apigateway:${{AWS::Region}}:lambda:path/2015-03-31/functions/${{PetsFn.Arn}}/invocations
          security:
            - PetsAuth: [pets/read]
        post:
          x-amazon-apigateway-integration: {{type: aws_proxy, httpMethod: POST, uri: x}}
          security:
            - Partner: []
      /health:
        get:
          x-amazon-apigateway-integration: {{type: aws_proxy, httpMethod: POST, uri: x}}
          security:
            - NONE: []
    securityDefinitions:
      PetsAuth:
        type: apiKey
        name: Authorization
        in: header
        x-amazon-apigateway-authtype: cognito_user_pools
        x-amazon-apigateway-authorizer:
          type: cognito_user_pools
          providerARNs: ['{POOL}']
      Partner:
        type: apiKey
        name: Authorization
        in: header
        x-amazon-apigateway-authtype: cognito_user_pools
        x-amazon-apigateway-authorizer:
          type: cognito_user_pools
          providerARNs: [!ImportValue partner-pool-arn]
    """)


def test_sam_output_body_is_read_with_what_is_deferred_reported(tmp_path):
    path = tmp_path / "body.yaml"
    path.write_text(SAM_BODY)
    result = read_api_export(path)

    # The undeclared NONE marker: no authorization, and no complaint about an undefined scheme.
    assert result.api.methods == [
        Method("/health", "GET", "NONE", integration_type="AWS_PROXY"),
        Method("/pets", "GET", "COGNITO_USER_POOLS", authorizer_id="PetsAuth", authorization_scopes=["pets/read"],
               integration_type="AWS_PROXY"),
        Method("/pets", "POST", "COGNITO_USER_POOLS", authorizer_id="Partner", integration_type="AWS_PROXY"),
    ]
    assert result.api.name == "body"  # the title is an intrinsic: the API id (here the file's stem) stands in
    assert [a.provider_arns for a in result.api.authorizers] == [[POOL], []]
    assert result.warnings == [
        f"{path}: securityDefinitions.Partner.x-amazon-apigateway-authorizer.providerARNs[0]: "
        "Fn::ImportValue(partner-pool-arn) is only known at deploy time: not a pool this file names",
        f"{path}: securityDefinitions.Partner: Cognito authorizer 'Partner' names no user pool (its providerARNs "
        "are only known at deploy time), so its methods cannot be tied to a pool; give it with "
        "--user-pool-arn Partner=arn:aws:cognito-idp:REGION:ACCOUNT:userpool/POOL_ID",
        f"{path}: info.title: ${{AWS::StackName}} is only known at deploy time (an intrinsic function); read as "
        "the API id 'body'",
    ]


def test_a_declared_scheme_named_none_keeps_its_declared_meaning(tmp_path):
    body = SAM_BODY.replace("  Partner:\n", "  NONE:\n    type: apiKey\n    name: x-api-key\n    in: header\n"
                                            "  Partner:\n")
    path = tmp_path / "body.yaml"
    path.write_text(body)
    (health, *_) = read_api_export(path).api.methods
    assert health == Method("/health", "GET", "NONE", api_key_required=True, integration_type="AWS_PROXY")


def test_a_duplicated_path_is_refused_with_the_line_of_the_second(tmp_path):
    body = SAM_BODY.replace("  /health:\n", "  /pets:\n    delete: {}\n  /health:\n")
    path = tmp_path / "body.yaml"
    path.write_text(body)
    with pytest.raises(UserError) as caught:
        read_api_export(path)
    line = body.splitlines().index("  /pets:", 6) + 1
    assert str(caught.value) == (f"{path}: invalid YAML at line {line} column 3: duplicate key '/pets' "
                                 f"(first at line 6)")


def test_a_duplicated_key_in_json_is_refused(tmp_path):
    path = tmp_path / "export.json"
    path.write_text('{"openapi": "3.0.1", "info": {"title": "x"}, "paths": {"/a": {"get": {}}, "/a": {}}}')
    with pytest.raises(UserError) as caught:
        read_api_export(path)
    assert str(caught.value) == f"{path}: invalid JSON: duplicate key '/a' in one object"


def test_an_intrinsic_standing_for_an_operation_is_reported_and_the_rest_read(tmp_path):
    body = SAM_BODY.replace("    post:\n", "    delete: !If [IsProd, {security: []}, !Ref AWS::NoValue]\n    post:\n")
    path = tmp_path / "body.yaml"
    path.write_text(body)
    result = read_api_export(path)
    assert [m.route_key for m in result.api.methods] == ["GET /health", "GET /pets", "POST /pets"]
    assert (f"{path}: paths['/pets'].delete: Fn::If(IsProd, {{\"security\":[]}}, ${{AWS::NoValue}}) is only known "
            "at deploy time (a condition?): not read") in result.warnings


def test_every_yaml_the_tool_reads_goes_through_the_strict_loader():
    """Duplicate keys are refused only where migrate.scan.cfn_yaml loads: no other YAML load in the packages."""
    root = Path(__file__).resolve().parent.parent
    offenders = [str(path.relative_to(root)) for package in ("migrate", "pretoken_lambda", "authorizer", "reports")
                 for path in (root / package).rglob("*.py")
                 if path.name != "cfn_yaml.py" and re.search(r"yaml\.(safe_)?(load|full_load)\b|yaml\.load_all",
                                                             path.read_text())]
    assert offenders == []
