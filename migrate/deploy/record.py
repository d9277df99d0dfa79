"""The deployment record: what `deploy` created and changed, so that `undeploy`, `cutover`, `rollback`,
`status`, `finalize` and `report shadow` find it again. Written to ``<plan>/deployment.json`` (atomically).

Format version 1::

    {
      "format_version": 1,
      "api_id": "a1b2c3", "api_name": "MyApi", "stage": "prod", "region": "us-east-1", "account_id": "123456789012",
      "policy_store_id": "...", "identity_source_id": "...",
      "policies": {"<@id annotation>": "<AVP policyId>"},
      "function_name": "avp-migrate-authz-a1b2c3-prod", "function_arn": "...", "role_name": "...",
      "log_group": "/aws/lambda/avp-migrate-authz-a1b2c3-prod",
      "authorizer_id": "<API Gateway authorizer id of the Lambda REQUEST authorizer>",
      "mode_parameter": "/avp-migrate/a1b2c3/prod/modes",
      "ledger_table": "avp-migrate-modes",
      "methods": {"GET /avp": {"resource_id": "...", "http_method": "GET",
                               "original": {"authorizationType": "COGNITO_USER_POOLS", "authorizerId": "...",
                                            "authorizationScopes": ["MyApi/avp.read"]}}},
      "deployed_at": "2026-11-26T08:00:00+00:00",
      "gate": {"verdict": "equivalent", "inventory_sha256": "...", "files": {"schema.json": "<sha256>", ...},
               "edited": ["policies/005-....cedar"], "skipped": {"GET /x": "blocked in the plan: ..."},
               "acceptance": null}
    }

``gate`` is the deploy gate's verdict on the plan folder as deployed (:mod:`migrate.deploy.gate`): the sha256 of
every file it verified and shipped, the files edited since `plan` (re-verified), the blocked endpoints it skipped,
and, when the plan was deployed although not proven equivalent, the acceptance (file, its sha256, who, why).

``methods`` holds only the methods deploy moved to the Lambda authorizer, each with its configuration before
the move: undeploy puts exactly that back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate.errors import UserError
from migrate.fileio import atomic_write_json, read_json
from migrate.inventory.serde import SnapshotError, from_jsonable, to_jsonable

FORMAT_VERSION = 1
FILE_NAME = "deployment.json"


@dataclass
class OriginalMethod:
    authorizationType: str  # API Gateway field names, as get_method returns them
    authorizerId: str | None = None
    authorizationScopes: list[str] = field(default_factory=list)


@dataclass
class MovedMethod:
    resource_id: str
    http_method: str
    original: OriginalMethod


@dataclass
class AcceptanceRecord:
    file: str  # the acceptance file as given to --accept
    sha256: str  # of its bytes
    accepted_by: str  # the AWS identity that deployed (sts:GetCallerIdentity)
    os_user: str  # who ran deploy on this machine
    reason: str  # --reason
    verdict: str  # "differences" or "unproven"
    items: list[str] = field(default_factory=list)  # the findings accepted
    written_by: str = ""  # who ran verify --write-acceptance, and when
    written_at: str = ""


@dataclass
class GateRecord:
    verdict: str  # equivalent, differences, unproven
    inventory_sha256: str
    files: dict[str, str] = field(default_factory=dict)
    edited: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    acceptance: AcceptanceRecord | None = None


@dataclass
class DeploymentRecord:
    api_id: str
    api_name: str
    stage: str
    region: str
    account_id: str
    policy_store_id: str
    identity_source_id: str
    function_name: str
    function_arn: str
    role_name: str
    log_group: str
    authorizer_id: str
    mode_parameter: str
    ledger_table: str
    deployed_at: str
    policies: dict[str, str] = field(default_factory=dict)
    methods: dict[str, MovedMethod] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    gate: GateRecord | None = None
    # deploy --stack: the CloudFormation stack that owns the store, the function, its role and log group, the
    # authorizer and the mode parameter; undeploy then restores methods only (migrate/deploy/stack.py)
    stack_name: str = ""
    # the API's own stack moved its methods (avp-migrate patch-template): undeploy leaves them to that template
    api_owner: str = ""


def record_path(plan: str | os.PathLike[str]) -> Path:
    return Path(plan) / FILE_NAME


def save_record(record: DeploymentRecord, plan: str | os.PathLike[str]) -> None:
    atomic_write_json(record_path(plan), to_jsonable(record))


def load_record(plan: str | os.PathLike[str]) -> DeploymentRecord:
    path = record_path(plan)
    if not path.exists():
        raise UserError("no deployment.json: this plan has not been deployed (run `avp-migrate deploy`)",
                        where=str(Path(plan)))
    data: Any = read_json(path, what="deployment record")
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise UserError(f"not a deployment record of format {FORMAT_VERSION}", where=str(path))
    try:
        return from_jsonable(DeploymentRecord, data)
    except SnapshotError as exc:
        raise UserError(f"invalid deployment record at {exc}", where=str(path)) from None
