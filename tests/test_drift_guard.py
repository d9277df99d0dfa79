"""The drift guard (issue 12): deploy stops before changing the methods of an API that a CloudFormation stack
(SAM, CDK) or another IaC tool owns, unless --allow-drift; a dry run stops the same way."""

from __future__ import annotations

import json

import boto3

from migrate.cli.main import main
from migrate.deploy.drift import cloudformation_owner
from migrate.errors import ExitCode
from tests.test_deploy import demo as demo  # the fixture
from tests.test_guard_rails import Terminal

STACK = {"AWSTemplateFormatVersion": "2010-09-09", "Resources": {
    "PetsApi": {"Type": "AWS::ApiGateway::RestApi", "Properties": {"Name": "PetsFromStack"}}}}


def _stack_api(name: str = "pets-stack") -> str:
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(StackName=name, TemplateBody=json.dumps(STACK))
    resources = cloudformation.describe_stack_resources(StackName=name)["StackResources"]
    return next(r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] == "PetsApi")


def test_cloudformation_names_the_stack_that_holds_an_api_and_none_for_others(embedded_aws):
    cloudformation = boto3.client("cloudformation")
    api_id = _stack_api()
    owner = cloudformation_owner(cloudformation, api_id)
    assert owner is not None and (owner.stack, owner.logical_id) == ("pets-stack", "PetsApi")
    loose = boto3.client("apigateway").create_rest_api(name="by-hand")["id"]
    assert cloudformation_owner(cloudformation, loose) is None
    cloudformation.delete_stack(StackName="pets-stack")
    assert cloudformation_owner(cloudformation, api_id) is None  # a deleted stack's resources own nothing


def _owned_plan(demo, api_id: str) -> None:
    path = demo.plan / "authorizer-config.json"
    config = json.loads(path.read_text())
    config["api"]["id"] = api_id
    path.write_text(json.dumps(config, indent=2))


def test_deploy_stops_on_an_api_a_stack_owns_or_another_tool_manages(demo, capsys, monkeypatch):
    from botocore.exceptions import ClientError

    # --managed-by: the same stop, unless --allow-drift ('none' says no tool manages it)
    code = main(demo.deploy_args("--dry-run", "--managed-by", "terraform"))
    assert code == ExitCode.ERROR and "is managed by terraform" in capsys.readouterr().err
    code = main(demo.deploy_args("--dry-run", "--managed-by", "terraform", "--allow-drift"))
    out = capsys.readouterr().out
    assert code == ExitCode.DIFFERENCES and "note: API" in out and "--allow-drift" in out
    assert main(demo.deploy_args("--dry-run", "--managed-by", "none")) == ExitCode.DIFFERENCES
    capsys.readouterr()

    # on a terminal, deploy asks whether IaC defines the API
    monkeypatch.setattr("sys.stdin", Terminal("y\n"))
    code = main(demo.deploy_args("--dry-run"))
    captured = capsys.readouterr()
    assert code == ExitCode.ERROR and "defined by Terraform or another IaC tool" in captured.out
    assert "is managed by infrastructure as code (your answer)" in captured.err
    monkeypatch.undo()

    # a stack holds the API: the dry run and the apply stop alike, before anything is created
    _owned_plan(demo, _stack_api())
    for mode in ("--dry-run", "--yes"):
        code = main(demo.deploy_args(mode))
        err = capsys.readouterr().err
        assert code == ExitCode.ERROR, mode
        assert "is managed by CloudFormation stack 'pets-stack' (logical id PetsApi)" in err and "--allow-drift" in err
    assert not (demo.plan / "deployment.json").exists()
    assert boto3.client("verifiedpermissions").list_policy_stores()["policyStores"] == []

    # CloudFormation cannot be asked: deploy cannot tell, and stops
    def denied(*_args, **_kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "DescribeStackResources")

    monkeypatch.setattr("migrate.deploy.drift.cloudformation_owner", denied)
    code = main(demo.deploy_args("--dry-run"))
    err = capsys.readouterr().err
    assert code == ExitCode.ERROR and "cannot tell whether a CloudFormation stack owns API" in err
    assert "AccessDenied" in err and "cloudformation:DescribeStackResources" in err
