"""Size limits moto 5.2.5 does not enforce, enforced as AWS answers them (installed by :mod:`.moto_gaps`).

Production code must meet these limits on AWS; an embedded AWS that accepts more would let a test pass that fails
in an account. Each check runs before moto's own handler, so a refused call changes nothing (not even a Lambda
RevisionId or an SSM version).

* **SSM PutParameter** value size by tier. moto stores any size in any tier. AWS: "Standard parameters have a
  value limit of 4 KB. Advanced parameters have a value limit of 8 KB" (botocore ``ssm`` model, PutParameter
  ``Value``). A larger value in a Standard parameter is a ValidationException "Standard tier parameters support a
  maximum parameter value of 4096 characters. To create a larger parameter value, upgrade the parameter to use the
  advanced-parameter tier. For more information, see ..." (the message as AWS returns it, quoted in
  aws/aws-sdk-net#3157 and hashicorp/terraform-provider-aws#18521). Over 8 KB in an Advanced parameter: a
  ValidationException too; its exact wording is UNCONFIRMED (none found published). The tier of a request
  without ``Tier`` is the parameter's current one when it exists (AWS cannot revert Advanced to Standard: Tier
  documentation), else the account's default tier; ``Intelligent-Tiering`` picks Advanced when the value needs it
  ("Parameter Store evaluates each request", SSM user guide, "Managing parameter tiers"). Counted in UTF-8 bytes:
  the message says characters and the documentation says KB; for ASCII values (ours) they are the same.
* **Lambda environment**: "The maximum size of the variables object that is stored in the function's
  configuration must not exceed 4096 bytes. This includes key names, values, quotes, commas, and brackets",
  measured as the JSON without white space (Lambda developer guide, "Troubleshoot deployment issues in Lambda").
  CreateFunction and UpdateFunctionConfiguration answer InvalidParameterValueException "Lambda was unable to
  configure your environment variables because the environment variables you have provided exceeded the 4KB
  limit. String measured: {...}". moto accepts any size.
* **DynamoDB item size**: moto refuses items over 405,000 bytes of its own count (names and values, without the
  List/Map overheads). DynamoDB refuses items over 400 KB by the documented count (DynamoDB developer guide,
  "DynamoDB item sizes and formats": 3 bytes per List or Map, 1 byte per element, numbers by significant digits;
  moto's own comment measured the real limit "between 409 and 410KB"). PutItem is checked by the documented count
  against 409,600 bytes, with DynamoDB's ValidationException "Item size has exceeded the maximum allowed size";
  moto's own (lower) count keeps guarding its other writes, at the same 409,600 bytes.
"""

from __future__ import annotations

import json
from typing import Any

from migrate.cutover.limits import (
    DYNAMODB_ITEM_BYTES,
    LAMBDA_ENVIRONMENT_BYTES,
    SSM_ADVANCED_BYTES,
    SSM_STANDARD_BYTES,
    dynamodb_item_size,
    lambda_environment_size,
)

SSM_TIERS_URL = "https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-advanced-parameters.html"


def install() -> None:
    _ssm_value_size()
    _lambda_environment_size()
    _dynamodb_item_size()


# --- SSM ---------------------------------------------------------------------------------------------------------


def _ssm_value_size() -> None:
    from moto.ssm.exceptions import ValidationException
    from moto.ssm.models import SimpleSystemManagerBackend

    original = SimpleSystemManagerBackend.put_parameter

    def put_parameter(self: Any, name: str, description: str, value: str, parameter_type: str,
                      allowed_pattern: str, keyid: str, overwrite: bool, tags: Any, data_type: str,
                      tier: str | None, policies: str | None) -> Any:
        # ParameterDict normalizes names in __contains__ and __getitem__, not in get()
        existing = self._parameters[name] if name in self._parameters else None  # noqa: SIM401
        effective = tier
        if effective is None:
            effective = existing[-1].tier if existing and overwrite else self.default_parameter_tier
        size = len((value or "").encode())
        if effective == "Intelligent-Tiering":
            effective = "Advanced" if size > SSM_STANDARD_BYTES else "Standard"
            tier = effective
        if effective == "Standard" and size > SSM_STANDARD_BYTES:
            raise ValidationException(
                f"Standard tier parameters support a maximum parameter value of {SSM_STANDARD_BYTES} characters. To "
                "create a larger parameter value, upgrade the parameter to use the advanced-parameter tier. For more "
                f"information, see {SSM_TIERS_URL}")
        if effective == "Advanced" and size > SSM_ADVANCED_BYTES:
            raise ValidationException(  # wording UNCONFIRMED (module docstring)
                f"Advanced tier parameters support a maximum parameter value of {SSM_ADVANCED_BYTES} characters.")
        return original(self, name, description, value, parameter_type, allowed_pattern, keyid, overwrite, tags,
                        data_type, tier, policies)

    SimpleSystemManagerBackend.put_parameter = put_parameter  # type: ignore[method-assign]


# --- Lambda ------------------------------------------------------------------------------------------------------


def _check_environment(body: dict[str, Any] | None) -> None:
    from moto.awslambda.exceptions import InvalidParameterValueException

    environment = (body or {}).get("Environment")
    if not isinstance(environment, dict):
        return  # not given: the environment does not change
    variables = environment.get("Variables") or {}
    if lambda_environment_size(variables) > LAMBDA_ENVIRONMENT_BYTES:
        measured = json.dumps(variables, separators=(",", ":"), ensure_ascii=False)
        raise InvalidParameterValueException(
            "Lambda was unable to configure your environment variables because the environment variables you have "
            f"provided exceeded the 4KB limit. String measured: {measured}")


def _lambda_environment_size() -> None:
    from moto.awslambda.models import LambdaBackend

    create, update = LambdaBackend.create_function, LambdaBackend.update_function_configuration

    def create_function(self: Any, spec: dict[str, Any]) -> Any:
        _check_environment(spec)
        return create(self, spec)

    def update_function_configuration(self: Any, function_name: str, qualifier: str, body: dict[str, Any]) -> Any:
        _check_environment(body)
        return update(self, function_name, qualifier, body)

    LambdaBackend.create_function = create_function  # type: ignore[method-assign]
    LambdaBackend.update_function_configuration = update_function_configuration  # type: ignore[method-assign]


# --- DynamoDB ----------------------------------------------------------------------------------------------------


def _dynamodb_item_size() -> None:
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict, bytesize
    from moto.dynamodb.models.table import Table

    put_item = Table.put_item

    def checked_put_item(self: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        if dynamodb_item_size(item_attrs) > DYNAMODB_ITEM_BYTES:
            raise ItemSizeTooLarge
        return put_item(self, item_attrs, *args, **kwargs)

    def setitem(self: Any, key: str, value: Any) -> None:
        # moto's own check (dynamo_type.LimitedSizeDict), with DynamoDB's limit instead of 405,000 bytes.
        current = sum(item.size() if type(item) is DynamoType else bytesize(str(item))
                      for item in (list(self.keys()) + list(self.values())))
        new = bytesize(key) + (value.size() if type(value) is DynamoType else bytesize(str(value)))
        if current + new > DYNAMODB_ITEM_BYTES:
            raise ItemSizeTooLarge
        dict.__setitem__(self, key, value)

    Table.put_item = checked_put_item  # type: ignore[method-assign]
    LimitedSizeDict.__setitem__ = setitem  # type: ignore[method-assign]
