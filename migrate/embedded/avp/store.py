"""The local service's state: policy stores with their schema, identity source and policies.

Plain dataclasses guarded by one lock in :class:`~migrate.embedded.avp.service.LocalVerifiedPermissions`. Each
store keeps its cedarpy ``PolicySet`` compiled once per change (lazily, at the first authorization after a
change, so a deploy that creates a hundred policies compiles once).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import cedarpy

from migrate.embedded.avp.policies import ParsedPolicy, build_policy_set
from migrate.embedded.avp.schema import StoreSchema

DEFAULT_ACCOUNT_ID = "123456789012"  # moto's default account: the embedded AWS is one account
_ID_ALPHABET = string.ascii_letters + string.digits
# AVP ids look like "PSEXAMPLEabcdefg111111": 22 characters (botocore model examples); random alphanumerics.
_ID_LENGTH = 22
# Cognito user pool ARN, as the botocore model's UserPoolArn pattern defines it.
USER_POOL_ARN = re.compile(
    r"arn:([a-zA-Z0-9-]+):cognito-idp:([a-zA-Z0-9-]+):(\d{12}):userpool/([\w-]+_[0-9a-zA-Z]+)")
# A ClientToken is remembered for eight hours (botocore model, CreatePolicyStoreInput.clientToken).
CLIENT_TOKEN_TTL_SECONDS = 8 * 3600
# "If you don't specify a principal entity type ... an entity type of AWS::Cognito" (AVP user guide,
# "Creating Amazon Verified Permissions Amazon Cognito identity sources").
DEFAULT_PRINCIPAL_ENTITY_TYPE = "AWS::Cognito"
# GroupEntityType "Defaults to AWS::CognitoGroup" (botocore model, CognitoGroupConfiguration.groupEntityType).
DEFAULT_GROUP_ENTITY_TYPE = "AWS::CognitoGroup"


def new_id() -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(_ID_LENGTH))


def iso_timestamp(epoch: float) -> str:
    """The model's TimestampFormat is iso8601: AWS writes UTC with milliseconds."""
    seconds = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{seconds}.{int(epoch * 1000) % 1000:03d}Z"


@dataclass
class PolicyRecord:
    policy_id: str
    statement: str
    description: str | None
    name: str | None
    parsed: ParsedPolicy
    created: float
    updated: float


@dataclass
class IdentitySourceRecord:
    identity_source_id: str
    user_pool_arn: str
    client_ids: list[str]
    group_entity_type: str | None  # None when groupConfiguration was not given (AWS::CognitoGroup applies)
    principal_entity_type: str
    created: float
    updated: float

    @property
    def region(self) -> str:
        match = USER_POOL_ARN.fullmatch(self.user_pool_arn)
        return match.group(2) if match else ""

    @property
    def user_pool_id(self) -> str:
        match = USER_POOL_ARN.fullmatch(self.user_pool_arn)
        return match.group(4) if match else ""

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool_id}"

    @property
    def effective_group_entity_type(self) -> str:
        return self.group_entity_type or DEFAULT_GROUP_ENTITY_TYPE


@dataclass
class PolicyStoreRecord:
    policy_store_id: str
    arn: str
    validation_mode: str
    description: str | None
    deletion_protection: str
    tags: dict[str, str]
    created: float
    updated: float
    encryption: dict[str, Any] | None = None  # encryptionSettings, echoed back as encryptionState
    schema: StoreSchema | None = None
    policies: dict[str, PolicyRecord] = field(default_factory=dict)
    identity_sources: dict[str, IdentitySourceRecord] = field(default_factory=dict)
    _compiled: cedarpy.PolicySet | None = None

    def policies_changed(self) -> None:
        self._compiled = None

    def policy_set(self) -> cedarpy.PolicySet:
        """The store's policies as one parsed set, rebuilt only after a policy was created/updated/deleted."""
        if self._compiled is None:
            self._compiled = build_policy_set({pid: p.parsed for pid, p in self.policies.items()})
        return self._compiled

    def find_policy(self, reference: str) -> PolicyRecord | None:
        """By id, or by name with the ``name/`` prefix (botocore model, GetPolicyInput.policyId)."""
        if reference in self.policies:
            return self.policies[reference]
        if reference.startswith("name/"):
            wanted = reference[len("name/"):]
            for policy in self.policies.values():
                if policy.name is not None and policy.name.removeprefix("name/") == wanted:
                    return policy
        return None

    @property
    def schema_handle(self) -> cedarpy.Schema | None:
        return self.schema.handle if self.schema is not None else None


@dataclass
class _Remembered:
    fingerprint: str
    result: dict[str, Any]
    resource: tuple[str, str]
    at: float


@dataclass
class IdempotencyCache:
    """ClientToken handling: same token and parameters -> the first answer; other parameters -> conflict."""

    clock: Callable[[], float]
    entries: dict[tuple[str, str], _Remembered] = field(default_factory=dict)

    @staticmethod
    def fingerprint(params: dict[str, Any]) -> str:
        body = {k: v for k, v in params.items() if k != "clientToken"}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()

    def lookup(self, operation: str, token: str | None) -> _Remembered | None:
        """The answer remembered for this token (its fingerprint tells a retry from a conflicting reuse)."""
        if not token:
            return None
        entry = self.entries.get((operation, token))
        if entry is None or self.clock() - entry.at > CLIENT_TOKEN_TTL_SECONDS:
            return None
        return entry

    def remember(self, operation: str, token: str | None, params: dict[str, Any], result: dict[str, Any],
                 resource: tuple[str, str]) -> None:
        if token:
            entry = _Remembered(self.fingerprint(params), result, resource, self.clock())
            self.entries[(operation, token)] = entry


@dataclass
class State:
    stores: dict[str, PolicyStoreRecord] = field(default_factory=dict)
