"""Names shared by every IaC output of a plan: the CloudFormation template (``cloudformation.json``), the
Terraform module (``terraform/``) and the patch of a team's own API template (``avp-migrate patch-template``).

They must agree with what ``deploy`` makes (:mod:`migrate.deploy.names`), so ``cutover``, ``status`` and the
authorizer find the same resources whichever path created them.

**Who owns the mode state.** The IaC creates the mode parameter once, with :data:`INITIAL_MODE_DOCUMENT`, a value
that never depends on the plan: a later stack update or ``terraform apply`` therefore never rewrites it, and the
document's later versions belong to ``cutover``/``rollback`` (Terraform: ``lifecycle { ignore_changes = [value] }``).
The function's fallback copy (``AVP_AUTHZ_MODES``) is never set by IaC: a stack update replaces the whole
environment, and a fallback written by a template would be stale after the first cut-over (a route in ``avp``
decided by the scope rule whenever SSM cannot be read). Without it, the authorizer decides a route whose published
mode cannot be read by both rules (``authorizer/README.md``, "Mode state"): never a wrong Allow.
"""

from __future__ import annotations

import re

from migrate.deploy.names import FUNCTION_PREFIX, LEDGER_TABLE

# Version 0: made by IaC, not by a ledger write. Every route starts in shadow ("shadow first": the scope rule
# enforces, AVP is asked and both decisions are logged); deploy --stack records it as the ledger's first entry.
INITIAL_MODE_DOCUMENT = {"version": 0, "default": "shadow", "routes": {}}

# Logical ids in the team's own API template (patch-template) and names in the generated template/module.
AUTHORIZER_NAME = "AvpMigrateAuthorizer"
LEDGER_TABLE_NAME = LEDGER_TABLE

# Outputs of the generated CloudFormation template (and of the Terraform module, in snake_case).
OUTPUT_POLICY_STORE_ID = "PolicyStoreId"
OUTPUT_FUNCTION_NAME = "AuthorizerFunctionName"
OUTPUT_FUNCTION_ARN = "AuthorizerFunctionArn"
OUTPUT_AUTHORIZER_ID = "AuthorizerId"
OUTPUT_MODE_PARAMETER = "ModeParameterName"
OUTPUT_LEDGER_TABLE = "LedgerTableName"

# CloudFormation export names: "alphanumeric characters, colons, hyphens" (AWS CloudFormation user guide, Outputs,
# Export Name); stage names may hold "_" and API ids are alphanumeric.
_EXPORT_UNSAFE = re.compile(r"[^A-Za-z0-9:-]")


def default_function_name(api_id: str, stage: str) -> str:
    return f"{FUNCTION_PREFIX}-{api_id}-{stage}"


def mode_parameter_name(api_id: str, stage: str) -> str:
    return f"/avp-migrate/{api_id}/{stage}/modes"


def export_name(api_id: str, stage: str, output: str) -> str:
    """The export of one output of the migration stack, e.g. ``avp-migrate-a1b2c3-prod-AuthorizerFunctionArn``:
    what a team's API template imports (``Fn::ImportValue``) to reach the authorizer."""
    return _EXPORT_UNSAFE.sub("-", f"avp-migrate-{api_id}-{stage}-{output}")
