"""CloudFormation DescribeStackResources by PhysicalResourceId, which moto 5.2.5 ignores (it requires StackName).

The real API (CloudFormation API reference, DescribeStackResources): "If PhysicalResourceId is specified, the
associated resources of the stack that the resource belongs to are returned. ... You must specify either StackName
or PhysicalResourceId, but not both"; "A ValidationError is returned if you specify both"; "For deleted stacks,
DescribeStackResources returns resource information for up to 90 days after the stack has been deleted". With
no stack holding the resource it answers ValidationError "Stack for <id> does not exist". deploy's drift guard
(:mod:`migrate.deploy.drift`) relies on it to find the stack that owns an API.

Also ``Fn::ImportValue`` in a stack update: moto gives a stack created while the region had no export a private
empty copy of the export table (``cross_stack_resources or {}``), so its later updates cannot import what other
stacks exported since. CloudFormation resolves imports against the region's exports at update time ("Fn::
ImportValue", template reference); the update here does too.

And a resource whose ``Condition`` is false is not created, so CloudFormation does not list it; moto lists it
without a logical id or type. Here the stack's resources are the ones that exist.
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
    _imports_at_update_time()


def _imports_at_update_time() -> None:
    from moto.cloudformation.models import Stack, cloudformation_backends

    original = Stack.update

    def update(self: Any, *args: Any, **kwargs: Any) -> Any:
        exports = cloudformation_backends[self.account_id][self.region_name].exports
        self.cross_stack_resources = exports
        self.resource_map.cross_stack_resources = exports
        return original(self, *args, **kwargs)

    Stack.update = update  # type: ignore[method-assign]
    Stack.stack_resources = property(  # type: ignore[method-assign,assignment]
        lambda self: [r for r in self.resource_map.values() if r is not None])
