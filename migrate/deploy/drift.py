"""The drift guard: deploy does not change the methods of an API that infrastructure as code owns.

A REST API defined in a CloudFormation stack (SAM and CDK deploy through CloudFormation too) gets its methods
back from the stack's next update: the Cognito authorizer would silently return, and the migration with it. So
before deploy touches a live API's methods it asks CloudFormation which stack holds the API (DescribeStackResources
with the API id as PhysicalResourceId: tags are not reliable, a stack need not tag its resources; CloudFormation
API reference, DescribeStackResources) and stops, naming the stack, unless ``--allow-drift``. A resource of a
deleted stack (still listed for 90 days, status DELETE_COMPLETE) owns nothing.

Terraform leaves no marker in the account: ``--managed-by terraform`` (any tool's name) gives the same stop, and
on a terminal deploy asks. When CloudFormation cannot be asked (AccessDenied, an outage), the guard cannot tell:
it stops too, saying what to grant or to pass; an unknown owner is not a free hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from migrate.errors import GateRefused

NO_TOOL = "none"


@dataclass(frozen=True)
class Owner:
    tool: str  # "CloudFormation", or the tool --managed-by named
    stack: str | None = None
    logical_id: str | None = None

    def describe(self) -> str:
        if self.stack:
            return f"CloudFormation stack {self.stack!r} (logical id {self.logical_id})"
        return self.tool


def cloudformation_owner(cloudformation: Any, api_id: str) -> Owner | None:
    """The live stack that holds the API, or None. Raises what CloudFormation raised when it could not answer."""
    from botocore.exceptions import ClientError

    try:
        resources = cloudformation.describe_stack_resources(PhysicalResourceId=api_id)["StackResources"]
    except ClientError as exc:
        error = exc.response.get("Error") or {}
        if error.get("Code") == "ValidationError" and "does not exist" in str(error.get("Message")):
            return None  # no stack holds it
        raise
    for resource in resources:
        if resource.get("PhysicalResourceId") == api_id and resource.get("ResourceStatus") != "DELETE_COMPLETE" \
                and resource.get("ResourceType") in (None, "AWS::ApiGateway::RestApi"):
            return Owner("CloudFormation", resource.get("StackName"), resource.get("LogicalResourceId"))
    return None


def check_not_owned(cloudformation: Any, api_id: str, *, managed_by: str | None, allow_drift: bool,
                    ask: Callable[[str], bool] | None = None) -> str | None:
    """Stop (GateRefused) when infrastructure as code owns the API, or when that cannot be told; return a note for
    the output when ``--allow-drift`` lets deploy go ahead anyway, else None."""
    owner: Owner | None = None
    if managed_by and managed_by.lower() != NO_TOOL:
        owner = Owner(managed_by)
    else:
        try:
            owner = cloudformation_owner(cloudformation, api_id)
        except Exception as exc:  # AccessDenied, throttling, no endpoint: we cannot tell
            code = (getattr(exc, "response", None) or {}).get("Error", {}).get("Code") or type(exc).__name__
            if not allow_drift:
                raise GateRefused(
                    f"cannot tell whether a CloudFormation stack owns API {api_id} (DescribeStackResources failed: "
                    f"{code}); grant cloudformation:DescribeStackResources, or pass --allow-drift if no stack or "
                    "other IaC defines the API", where="deploy") from None
            return f"could not ask CloudFormation who owns API {api_id} ({code}); --allow-drift: going ahead"
        if owner is None and managed_by is None and ask is not None and \
                ask(f"Is API {api_id} defined by Terraform or another IaC tool that would undo these method changes?"):
            owner = Owner("infrastructure as code (your answer)")
    if owner is None:
        return None
    if allow_drift:
        return (f"API {api_id} is managed by {owner.describe()}; --allow-drift: its next update will put the "
                "methods back on their Cognito authorizer unless its definition changes too")
    raise GateRefused(
        f"API {api_id} is managed by {owner.describe()}: its next update would undo deploy's method changes "
        "(the Cognito authorizer would come back). Change the API in its IaC instead: the plan folder's "
        "cloudformation.json (or terraform/) holds the migration, `avp-migrate patch-template` moves the methods in "
        "the API's own template, then `deploy --stack NAME` (README, \"Deploy or IaC\"); or pass --allow-drift to "
        "change the live API anyway", where="deploy")
