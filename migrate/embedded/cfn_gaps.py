"""CloudFormation DescribeStackResources by PhysicalResourceId, which moto 5.2.5 ignores (it requires StackName).

The real API (CloudFormation API reference, DescribeStackResources): "If PhysicalResourceId is specified, the
associated resources of the stack that the resource belongs to are returned. ... You must specify either StackName
or PhysicalResourceId, but not both"; "A ValidationError is returned if you specify both"; "For deleted stacks,
DescribeStackResources returns resource information for up to 90 days after the stack has been deleted". With
no stack holding the resource it answers ValidationError "Stack for <id> does not exist". deploy's drift guard
(:mod:`migrate.deploy.drift`) relies on it to find the stack that owns an API.
"""

from __future__ import annotations

from typing import Any


def install() -> None:
    from moto.cloudformation.responses import CloudFormationResponse

    original = CloudFormationResponse.describe_stack_resources

    def describe_stack_resources(self: Any) -> Any:
        from moto.cloudformation.exceptions import ValidationError
        from moto.cloudformation.responses import ActionResult, StackResourceDTO

        physical = self._get_param("PhysicalResourceId")
        if physical is None:
            return original(self)
        if self._get_param("StackName") is not None:
            raise ValidationError(message="Specify either StackName or PhysicalResourceId, not both")
        backend = self.cloudformation_backend
        logical = self._get_param("LogicalResourceId")
        for stack in [*backend.stacks.values(), *backend.deleted_stacks.values()]:
            resources = list(stack.stack_resources)
            if any(getattr(r, "physical_resource_id", None) == physical for r in resources):
                chosen = [r for r in resources if logical is None or getattr(r, "logical_resource_id", None) == logical]
                return ActionResult({"StackResources": [StackResourceDTO(stack, r) for r in chosen]})
        raise ValidationError(message=f"Stack for {physical} does not exist")

    CloudFormationResponse.describe_stack_resources = describe_stack_resources  # type: ignore[method-assign]
