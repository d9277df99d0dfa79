"""The plan's Terraform module (migrate/iac/terraform.py): `terraform fmt -check`, every resource parsed (python-hcl2)
and checked against the arguments the Terraform AWS provider documents, and the parts that need no provider
evaluated by terraform itself (`validate` and `plan` need the provider, which cannot be downloaded here)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import hcl2
import pytest

from authorizer.settings import ENV_JWKS_URL_TEMPLATE, ENV_MODES, ENV_MODES_PARAMETER, ENV_POLICY_STORE_ID
from bench.large_api import large_inventory
from migrate.cli.main import main
from migrate.deploy.apigw import IDENTITY_SOURCE
from migrate.deploy.function import MEMORY_MB, TIMEOUT_SECONDS, TRUST_POLICY, role_policy
from migrate.deploy.names import LEDGER_TABLE
from migrate.deploy.package import HANDLER, RUNTIME
from migrate.embedded.seed import seed_demo
from migrate.errors import ExitCode
from migrate.iac.names import INITIAL_MODE_DOCUMENT, default_function_name, mode_parameter_name
from migrate.iac.terraform import MODULE_DIR, module_files
from migrate.inventory import save_inventory
from migrate.plan import check, write_plan
from migrate.plan_folder import PlanFolder
from migrate.translate import translate
from tests.inventory_builder import inventory, method, rule

TERRAFORM = shutil.which("terraform") or ("/usr/local/bin/terraform" if Path("/usr/local/bin/terraform").exists()
                                          else None)
needs_terraform = pytest.mark.skipif(TERRAFORM is None, reason="the terraform binary is not installed: "
                                     "`terraform fmt -check` and the provider-free evaluation need it")

# --- what the provider documents ---------------------------------------------------------------------------------
# Arguments and nested blocks of each resource, from the Terraform AWS provider's documentation
# (registry.terraform.io/providers/hashicorp/aws/latest/docs/resources/<name>; source: the provider's repository,
# website/docs/r/<name>.html.markdown): {"args": {...}, "required": {...}, "blocks": {name: same shape}}.


def spec(args: set[str] | tuple[str, ...] = (), required: tuple[str, ...] = (),
         blocks: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"args": set(args) | set(required), "required": set(required), "blocks": blocks or {}}


DOCUMENTED: dict[str, dict[str, Any]] = {
    "aws_verifiedpermissions_policy_store": spec(
        {"deletion_protection", "description", "region", "tags"}, ("validation_settings",),
        blocks={"validation_settings": spec(required=("mode",))}),
    "aws_verifiedpermissions_schema": spec(
        {"region"}, ("policy_store_id", "definition"), blocks={"definition": spec(required=("value",))}),
    "aws_verifiedpermissions_identity_source": spec(
        {"region", "principal_entity_type"}, ("policy_store_id", "configuration"),
        blocks={"configuration": spec(blocks={
            "cognito_user_pool_configuration": spec(
                {"client_ids"}, ("user_pool_arn",),
                blocks={"group_configuration": spec(required=("group_entity_type",))}),
            "open_id_connect_configuration": spec(
                {"entity_id_prefix"}, ("issuer",),
                blocks={"token_selection": spec(), "group_configuration": spec(
                    required=("group_claim", "group_entity_type"))}),
        })}),
    "aws_verifiedpermissions_policy": spec(
        {"policy_name", "region"}, ("policy_store_id", "definition"), blocks={"definition": spec(blocks={
            "static": spec({"description"}, ("statement",)),
            "template_linked": spec({"principal", "resource"}, ("policy_template_id",)),
        })}),
    "aws_cloudwatch_log_group": spec({"name", "name_prefix", "retention_in_days", "kms_key_id", "tags"}),
    "aws_iam_role": spec(
        {"description", "force_detach_policies", "managed_policy_arns", "max_session_duration", "name",
         "name_prefix", "path", "permissions_boundary", "tags"}, ("assume_role_policy",),
        blocks={"inline_policy": spec({"name", "policy"})}),
    "aws_iam_role_policy": spec({"name", "name_prefix"}, ("policy", "role")),
    "aws_lambda_function": spec(
        {"architectures", "code_signing_config_arn", "description", "filename", "handler", "image_uri",
         "kms_key_arn", "layers", "memory_size", "package_type", "publish", "reserved_concurrent_executions",
         "replace_security_groups_on_destroy", "replacement_security_group_ids", "runtime", "s3_bucket", "s3_key",
         "s3_object_version", "skip_destroy", "source_code_hash", "tags", "timeout"}, ("function_name", "role"),
        blocks={"environment": spec({"variables"}), "dead_letter_config": spec(required=("target_arn",)),
                "ephemeral_storage": spec(required=("size",)), "tracing_config": spec(required=("mode",)),
                "vpc_config": spec(required=("security_group_ids", "subnet_ids"))}),
    "aws_api_gateway_authorizer": spec(
        {"authorizer_uri", "identity_source", "type", "authorizer_credentials", "authorizer_result_ttl_in_seconds",
         "identity_validation_expression", "provider_arns"}, ("name", "rest_api_id")),
    "aws_lambda_permission": spec(
        {"event_source_token", "function_url_auth_type", "qualifier", "source_account", "source_arn",
         "statement_id", "statement_id_prefix", "principal_org_id"}, ("action", "function_name", "principal")),
    "aws_ssm_parameter": spec({"description", "tier", "key_id", "allowed_pattern", "tags"},
                              ("name", "type", "value")),
    "aws_dynamodb_table": spec(
        {"billing_mode", "deletion_protection_enabled", "range_key", "read_capacity", "write_capacity",
         "stream_enabled", "stream_view_type", "table_class", "tags"}, ("attribute", "hash_key", "name"),
        blocks={"attribute": spec(required=("name", "type")), "point_in_time_recovery": spec(required=("enabled",)),
                "server_side_encryption": spec({"kms_key_arn"}, ("enabled",)),
                "ttl": spec({"attribute_name", "enabled"})}),
}
# Attributes each type exports (the pages' "Attribute Reference"), for the references the module makes.
EXPORTED = {
    "aws_verifiedpermissions_policy_store": {"arn", "policy_store_id", "id", "tags_all"},
    "aws_verifiedpermissions_schema": {"namespaces", "id"},
    "aws_lambda_function": {"arn", "invoke_arn", "qualified_arn", "qualified_invoke_arn", "version", "id"},
    "aws_cloudwatch_log_group": {"arn", "id"},
    "aws_iam_role": {"arn", "id", "name", "unique_id", "create_date"},
    "aws_iam_role_policy": {"id", "name", "policy", "role"},
    "aws_api_gateway_authorizer": {"arn", "id"},
    "aws_ssm_parameter": {"arn", "version", "id"},
    "aws_dynamodb_table": {"arn", "id", "stream_arn"},
}
DATA_SOURCES = {  # website/docs/d/<name>.html.markdown: no arguments used; exported attributes
    "aws_partition": {"partition", "dns_suffix", "reverse_dns_prefix"},
    "aws_region": {"region", "description", "endpoint"},  # `name` is deprecated since provider 6.0
    "aws_caller_identity": {"account_id", "arn", "user_id"},
}
META = {"count", "for_each", "depends_on", "provider"}  # Terraform meta-arguments (lifecycle is a block)
LIFECYCLE = {"create_before_destroy", "prevent_destroy", "ignore_changes", "replace_triggered_by"}

# What the plan's module holds: every resource of the migration, one policy resource for all policy files.
EXPECTED_RESOURCES = {
    ("aws_verifiedpermissions_policy_store", "this"), ("aws_verifiedpermissions_schema", "this"),
    ("aws_verifiedpermissions_identity_source", "cognito"), ("aws_verifiedpermissions_policy", "plan"),
    ("aws_cloudwatch_log_group", "authorizer"), ("aws_iam_role", "authorizer"), ("aws_iam_role_policy", "authorizer"),
    ("aws_lambda_function", "authorizer"), ("aws_api_gateway_authorizer", "avp"),
    ("aws_lambda_permission", "apigateway"),
    ("aws_ssm_parameter", "modes"), ("aws_dynamodb_table", "ledger"),
}


# --- reading the module ------------------------------------------------------------------------------------------


def unquote(text: Any) -> Any:
    """python-hcl2 keeps a string literal's quotes (and a label's): the literal's value, for plain strings (the
    escaping of ``${``/``%{`` is checked by terraform itself, below)."""
    if isinstance(text, str) and len(text) >= 2 and text[0] == text[-1] == '"':
        return json.loads(text)
    return text


def plain(item: Any) -> Any:
    """A parsed value with every literal unquoted and python-hcl2's block markers dropped."""
    if isinstance(item, dict):
        return {unquote(k): plain(v) for k, v in item.items() if k != "__is_block__"}
    if isinstance(item, list):
        return [plain(v) for v in item]
    return unquote(item)


def parse(folder: Path) -> dict[str, Any]:
    """{"resource": {(type, name): body}, "data": {...}, "locals": {...}, "variable": {...}, "output": {...},
    "check": {...}, "terraform": [...]} over every .tf of the module."""
    module: dict[str, Any] = {"resource": {}, "data": {}, "locals": {}, "variable": {}, "output": {}, "check": {},
                              "terraform": []}
    for path in sorted(folder.glob("*.tf")):
        with open(path, encoding="utf-8") as handle:
            parsed = hcl2.load(handle)
        for kind in ("resource", "data"):
            for entry in parsed.get(kind, []):
                for type_, named in entry.items():
                    for name, body in named.items():
                        module[kind][(unquote(type_), unquote(name))] = body
        for entry in parsed.get("locals", []):
            module["locals"].update({k: v for k, v in entry.items() if k != "__is_block__"})
        for kind in ("variable", "output", "check"):
            for entry in parsed.get(kind, []):
                module[kind].update({unquote(k): v for k, v in entry.items()})
        module["terraform"] += parsed.get("terraform", [])
    return module


def check_against(body: dict[str, Any], documented: dict[str, Any], where: str, *, top: bool) -> None:
    allowed = documented["args"] | (META if top else set())
    for name, item in body.items():
        if name.startswith("__"):  # python-hcl2's markers: __is_block__, __comments__
            continue
        if name == "lifecycle" and top:
            assert isinstance(item, list) and {k for k in item[0] if not k.startswith("__")} <= LIFECYCLE, where
            continue
        if isinstance(item, list) and item and all(isinstance(b, dict) and b.get("__is_block__") for b in item):
            assert name in documented["blocks"], f"{where}: block {name!r} is not documented"
            for block in item:
                check_against(block, documented["blocks"][name], f"{where}.{name}", top=False)
        else:
            assert name in allowed, f"{where}: argument {name!r} is not documented"
    missing = documented["required"] - set(body)
    assert not missing, f"{where}: required {sorted(missing)} missing"


def expression(item: str) -> str:
    """A parsed non-literal attribute, e.g. '${file("x")}', as the HCL expression 'file("x")'."""
    assert item.startswith("${") and item.endswith("}"), item
    return item[2:-1]


# --- terraform itself ----------------------------------------------------------------------------------------------


def terraform(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert TERRAFORM is not None
    # An empty CLI configuration (no warning about a missing one, no mirrors), outside the folders checked.
    config = Path(tempfile.gettempdir()) / "avp-migrate-test.terraformrc"
    config.write_text("", encoding="utf-8")
    env = {**os.environ, "TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
    return subprocess.run([TERRAFORM, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def evaluate(plan: Path, files: tuple[str, ...], outputs: dict[str, str]) -> tuple[dict[str, Any], str]:
    """Apply a configuration of the module's provider-free files (copied next to terraform/, so ``path.module/..``
    is still the plan folder) plus ``outputs`` (name -> HCL expression): terraform's own evaluation of them."""
    work = plan / "eval"
    if work.exists():
        shutil.rmtree(work)
    work.mkdir()
    for name in files:
        shutil.copy(plan / MODULE_DIR / name, work / name)
    (work / "outputs.tf").write_text("".join(f'output "{name}" {{\n  value = {text}\n}}\n'
                                             for name, text in outputs.items()), encoding="utf-8")
    init = terraform("init", "-input=false", "-no-color", cwd=work)
    assert init.returncode == 0, init.stdout + init.stderr
    applied = terraform("apply", "-auto-approve", "-input=false", "-no-color", cwd=work)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    shown = terraform("output", "-json", cwd=work)
    assert shown.returncode == 0, shown.stderr
    values = {name: entry["value"] for name, entry in json.loads(shown.stdout).items()}
    shutil.rmtree(work)
    return values, applied.stdout + applied.stderr


# --- plans ---------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_plan(_embedded_aws_session, tmp_path_factory) -> Path:
    """`avp-migrate plan` of the demo account's scan (once for this module; the plan folder is all the tests read)."""
    _embedded_aws_session.reset()
    account = seed_demo(region=_embedded_aws_session.region)
    folder = tmp_path_factory.mktemp("demo")
    scanned = folder / "inventory.json"
    assert main(["scan", "--api-id", account.api_id, "--stage", "prod", "--all-users", "--out", str(scanned)]) == 0
    assert main(["plan", str(scanned), "--out", str(folder / "plan")]) == ExitCode.OK
    return folder / "plan"


HOSTILE_GROUP = 'ops-${env}-%{if x}"q"\\ ünï 日本'  # ${ and %{ openers, quote, backslash, non-ASCII


def hostile_plan(out: Path) -> Path:
    """A plan whose group name (so policy text, @id and description) holds ``${`` and ``%{``."""
    inv = inventory([method("GET", "/items", ["api/read"]), method("POST", "/items", ["api/write"])],
                    users={"ana": [HOSTILE_GROUP], "ben": ["writers"]},
                    rules=[rule("readers", ["api/read"], groups=[HOSTILE_GROUP]),
                           rule("writers", ["api/write"], groups=["writers"])], api_name="Shop ${var.x} %{y}")
    translation = translate(inv)
    result = check(translation)
    assert result.equivalent
    write_plan(translation, result, out, inventory=inv, inventory_path="inventory.json")
    return out


def write_module(translation: Any, folder: Path) -> Path:
    folder.mkdir(parents=True)
    for name, text in module_files(translation).items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


# --- tests ---------------------------------------------------------------------------------------------------------


@needs_terraform
def test_the_demo_plan_holds_a_module_terraform_fmt_leaves_unchanged(demo_plan):
    folder = demo_plan / MODULE_DIR
    assert sorted(p.name for p in folder.iterdir()) == ["main.tf", "outputs.tf", "plan.tf", "plan_files.tf",
                                                        "variables.tf", "versions.tf"]
    formatted = terraform("fmt", "-check", "-recursive", "-diff", "-no-color", ".", cwd=demo_plan)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_every_resource_and_block_is_one_the_provider_documents(demo_plan):
    module = parse(demo_plan / MODULE_DIR)
    assert set(module["resource"]) == EXPECTED_RESOURCES
    for (type_, name), body in module["resource"].items():
        check_against(body, DOCUMENTED[type_], f"{type_}.{name}", top=True)
    assert {t for t, _ in module["data"]} == set(DATA_SOURCES)
    assert all(all(k.startswith("__") for k in body) for body in module["data"].values())  # no arguments
    # every attribute the module reads from a resource or data source is one its page lists
    text = "\n".join(p.read_text() for p in (demo_plan / MODULE_DIR).glob("*.tf"))
    references = re.findall(r"\b(data\.)?(aws_[a-z_]+)\.([a-z_]+)(?:\[(?:\d+|\*)\])?\.([a-z_]+)\b", text)
    assert len(references) > 15
    for data, type_, name, attribute in references:
        known = DATA_SOURCES[type_] if data else EXPORTED[type_] | DOCUMENTED[type_]["args"]
        assert attribute in known, f"{data}{type_}.{name}.{attribute} is not documented"
        assert (type_, name) in (module["data"] if data else module["resource"])
    (providers,) = [b["required_providers"][0]["aws"] for b in module["terraform"]]
    assert plain(providers)["source"] == "hashicorp/aws" and plain(providers)["version"].startswith(">= 6.0")


def test_the_function_role_and_authorizer_are_as_deploy_makes_them(demo_plan):
    plan = json.loads((demo_plan / "plan.json").read_text())
    api_id, stage = plan["api"]["id"], plan["api"]["stage"]
    module = parse(demo_plan / MODULE_DIR)
    resources, local = module["resource"], plain(module["locals"])

    # the role policy is role_policy's three statements, exactly (same Sids, actions and resources)
    assert resources[("aws_iam_role_policy", "authorizer")]["policy"] == "${jsonencode(local.role_policy)}"
    assert local["role_policy"] == role_policy("${aws_verifiedpermissions_policy_store.this.arn}",
                                               "${aws_ssm_parameter.modes.arn}",
                                               "${aws_cloudwatch_log_group.authorizer.arn}:*")
    assert resources[("aws_iam_role_policy", "authorizer")]["role"] == "${aws_iam_role.authorizer.id}"
    assert plain(resources[("aws_cloudwatch_log_group", "authorizer")])["name"] == "/aws/lambda/${var.function_name}"

    function = plain(resources[("aws_lambda_function", "authorizer")])
    assert (function["runtime"], function["handler"], function["timeout"], function["memory_size"]) == (
        RUNTIME, HANDLER, TIMEOUT_SECONDS, MEMORY_MB)
    assert (function["s3_bucket"], function["s3_key"]) == ("${var.artifact_bucket}", "${var.artifact_key}")
    assert function["architectures"] == ["${var.architecture}"]
    assert function["environment"][0]["variables"] == "${merge(local.function_environment, local.jwks_environment)}"
    assert set(local["function_environment"]) == {ENV_POLICY_STORE_ID, ENV_MODES_PARAMETER}
    assert ENV_JWKS_URL_TEMPLATE in local["jwks_environment"] and "var.jwks_url_template" in local["jwks_environment"]

    def keys(item: Any) -> set[str]:
        if isinstance(item, dict):
            return set(item) | {k for v in item.values() for k in keys(v)}
        if isinstance(item, list):
            return {k for v in item for k in keys(v)}
        return set()

    everything = {**module["locals"], **{str(k): v for k, v in module["resource"].items()}}
    assert ENV_MODES not in keys(everything)  # never the fallback mode document (migrate/iac/names.py)
    assert not re.search(rf"\b{ENV_MODES}\b(?!_)", (demo_plan / MODULE_DIR / "main.tf").read_text().replace(
        f"Never {ENV_MODES}:", ""))

    authorizer = plain(resources[("aws_api_gateway_authorizer", "avp")])
    assert (authorizer["type"], authorizer["identity_source"], authorizer["rest_api_id"]) == (
        "REQUEST", IDENTITY_SOURCE, "${local.api_id}")
    assert authorizer["authorizer_uri"] == "${aws_lambda_function.authorizer.invoke_arn}"
    assert authorizer["authorizer_result_ttl_in_seconds"] == "${var.authorizer_ttl_seconds}"
    assert authorizer["count"] == "${var.create_authorizer ? 1 : 0}"
    permission = plain(resources[("aws_lambda_permission", "apigateway")])
    assert permission["principal"] == "apigateway.amazonaws.com" and permission["action"] == "lambda:InvokeFunction"
    assert permission["source_arn"].endswith("${local.api_id}/authorizers/${aws_api_gateway_authorizer.avp[0].id}")
    assert "${data.aws_partition.current.partition}" in permission["source_arn"]
    assert "arn:aws:" not in (demo_plan / MODULE_DIR / "main.tf").read_text()  # the partition is looked up

    variables = plain(module["variable"])
    assert variables["function_name"]["default"] == default_function_name(api_id, stage)
    assert variables["log_retention_days"]["default"] == 30
    assert variables["authorizer_ttl_seconds"]["default"] == 300
    assert variables["create_authorizer"]["default"] is True and variables["create_ledger_table"]["default"] is True
    assert "default" not in variables["artifact_bucket"] and "default" not in variables["artifact_key"]
    outputs = set(module["output"])
    assert outputs == {"policy_store_id", "authorizer_function_name", "authorizer_function_arn", "authorizer_id",
                       "mode_parameter_name", "ledger_table_name"}
    assert local["mode_parameter_name"] == mode_parameter_name(api_id, stage)


def test_a_later_apply_never_undoes_a_cut_over_nor_drops_the_ledger(demo_plan):
    resources = parse(demo_plan / MODULE_DIR)["resource"]
    parameter = plain(resources[("aws_ssm_parameter", "modes")])
    assert parameter["name"] == "${local.mode_parameter_name}" and parameter["type"] == "String"
    assert "value" in parameter["lifecycle"][0]["ignore_changes"]  # the value belongs to cutover
    assert "tier" in parameter["lifecycle"][0]["ignore_changes"]  # a tier downgrade would recreate it
    table = plain(resources[("aws_dynamodb_table", "ledger")])
    assert table["lifecycle"][0]["prevent_destroy"] is True and table["deletion_protection_enabled"] is True
    assert table["count"] == "${var.create_ledger_table ? 1 : 0}"
    assert (table["billing_mode"], table["hash_key"], table["range_key"]) == ("PAY_PER_REQUEST", "pk", "version")
    assert sorted((a["name"], a["type"]) for a in table["attribute"]) == [("pk", "S"), ("version", "N")]
    assert plain(parse(demo_plan / MODULE_DIR)["locals"])["ledger_table_name"] == LEDGER_TABLE


@needs_terraform
def test_jsonencoded_documents_are_the_trust_policy_and_the_initial_modes(demo_plan):
    resources = parse(demo_plan / MODULE_DIR)["resource"]
    values, _ = evaluate(demo_plan, (), {
        "trust": expression(resources[("aws_iam_role", "authorizer")]["assume_role_policy"]),
        "modes": expression(resources[("aws_ssm_parameter", "modes")]["value"])})
    assert json.loads(values["trust"]) == TRUST_POLICY
    assert json.loads(values["modes"]) == INITIAL_MODE_DOCUMENT


@needs_terraform
def test_the_module_deploys_exactly_the_plans_policy_files_and_warns_when_they_change(tmp_path):
    plan = hostile_plan(tmp_path / "plan")
    assert terraform("fmt", "-check", "-recursive", "-no-color", ".", cwd=plan).returncode == 0
    resources = parse(plan / MODULE_DIR)["resource"]
    policy = resources[("aws_verifiedpermissions_policy", "plan")]
    static = policy["definition"][0]["static"][0]
    # the statement and description expressions as the module writes them, evaluated per policy file by terraform
    statement = expression(static["statement"]).replace("each.key", "f")
    description = expression(static["description"]).replace("each.key", "f")
    assert expression(policy["for_each"]) == "local.policy_files"
    source = resources[("aws_verifiedpermissions_identity_source", "cognito")]
    cognito = source["configuration"][0]["cognito_user_pool_configuration"][0]
    outputs = {"files": "local.policy_files", "changed": "local.changed_plan_files",
               "statements": f"{{ for f in local.policy_files : f => {statement} }}",
               "descriptions": f"{{ for f in local.policy_files : f => {description} }}",
               "schema": expression(resources[("aws_verifiedpermissions_schema", "this")]["definition"][0]["value"]),
               "store_description": expression(resources[("aws_verifiedpermissions_policy_store", "this")]
                                               ["description"]),
               "identity_source": "{ " + ", ".join(f"{k} = {expression(v)}" for k, v in (
                   ("pool", cognito["user_pool_arn"]), ("clients", cognito["client_ids"]),
                   ("principal", source["principal_entity_type"]),
                   ("group", cognito["group_configuration"][0]["group_entity_type"]))) + " }"}
    values, _ = evaluate(plan, ("plan.tf", "plan_files.tf"), outputs)

    files = {p.name: p.read_text(encoding="utf-8") for p in (plan / "policies").glob("*.cedar")}
    assert values["files"] == sorted(files) and values["changed"] == []
    assert values["statements"] == files  # exactly the plan's policy files, byte for byte
    assert any("${env}" in text and "%{if x}" in text for text in files.values())  # the hostile group's policy
    template = json.loads((plan / "cloudformation.json").read_text())
    planned = {r["Properties"]["Definition"]["Static"]["Statement"]: r["Properties"]["Definition"]["Static"]
               ["Description"] for r in template["Resources"].values()
               if r["Type"] == "AWS::VerifiedPermissions::Policy"}
    assert {files[f]: d for f, d in values["descriptions"].items()} == planned  # ${ and %{ stayed literal
    assert any("${env}-%{if x}" in d for d in planned.values())
    assert values["schema"] == (plan / "schema.json").read_text()
    properties = template["Resources"]["PolicyStore"]["Properties"]
    assert values["store_description"] == properties["Description"] and "${var.x} %{y}" in values["store_description"]
    identity = template["Resources"]["IdentitySource"]["Properties"]
    pool = identity["Configuration"]["CognitoUserPoolConfiguration"]
    assert values["identity_source"] == {"pool": pool["UserPoolArn"], "clients": pool["ClientIds"],
                                         "principal": identity["PrincipalEntityType"],
                                         "group": pool["GroupConfiguration"]["GroupEntityType"]}

    # an edited, a deleted and an added policy file: deployed as they are, and named by the check's warning
    edited, deleted = sorted(files)[:2]
    (plan / "policies" / edited).write_text(files[edited].replace("permit", "forbid"), encoding="utf-8")
    (plan / "policies" / deleted).unlink()
    (plan / "policies" / "900-added.cedar").write_text(files[deleted], encoding="utf-8")
    values, log = evaluate(plan, ("plan.tf", "plan_files.tf"), outputs)
    assert values["changed"] == [f"policies/{name}" for name in sorted((edited, deleted, "900-added.cedar"))]
    assert sorted(values["statements"]) == sorted([edited, "900-added.cedar"])
    assert values["statements"][edited] == files[edited].replace("permit", "forbid")
    assert "Check block assertion failed" in log and "changed since avp-migrate plan" in log


def test_the_manifest_covers_the_module_and_a_new_plan_keeps_terraform_state(tmp_path):
    plan = hostile_plan(tmp_path / "plan")
    folder = PlanFolder.open(plan)
    recorded = folder.manifest() or {}
    assert {f"{MODULE_DIR}/{name}" for name in ("main.tf", "plan.tf", "plan_files.tf")} <= set(recorded)
    (plan / MODULE_DIR / "main.tf").write_text("# edited\n", encoding="utf-8")
    drift = folder.drift()
    assert drift is not None and drift.changed == (f"{MODULE_DIR}/main.tf",) and not drift.sources

    # terraform init/apply run in terraform/: its state is not the plan's, and survives planning again
    (plan / MODULE_DIR / "terraform.tfstate").write_text('{"version": 4}', encoding="utf-8")
    (plan / MODULE_DIR / ".terraform" / "providers").mkdir(parents=True)
    (plan / MODULE_DIR / ".terraform.lock.hcl").write_text("# lock\n", encoding="utf-8")
    assert folder.drift().added == ()
    hostile_plan(plan)
    assert (plan / MODULE_DIR / "terraform.tfstate").read_text() == '{"version": 4}'
    assert (plan / MODULE_DIR / ".terraform" / "providers").is_dir()
    assert (plan / MODULE_DIR / ".terraform.lock.hcl").exists()
    assert PlanFolder.open(plan).drift() == type(drift)()  # the new plan's files as recorded, the state unrecorded


@needs_terraform
def test_a_routes_layout_plan_gives_a_module_that_parses(tmp_path, capsys):
    inv = inventory([method(verb, f"/items/{i}", [f"api/s{i % 3}"]) for i in range(6) for verb in ("GET", "PUT")],
                    users={"ana": ["g0"], "ben": ["g1"]},
                    rules=[rule("r0", ["api/s0", "api/s1"], groups=["g0"]), rule("r1", ["api/s2"], groups=["g1"])])
    save_inventory(inv, tmp_path / "inventory.json")
    assert main(["plan", str(tmp_path / "inventory.json"), "--store-layout", "routes", "--out",
                 str(tmp_path / "plan")]) == ExitCode.OK
    capsys.readouterr()
    assert json.loads((tmp_path / "plan" / "plan.json").read_text())["store_layout"] == "routes"
    module = parse(tmp_path / "plan" / MODULE_DIR)
    assert set(module["resource"]) == EXPECTED_RESOURCES
    assert terraform("fmt", "-check", "-recursive", "-no-color", ".", cwd=tmp_path / "plan").returncode == 0


@needs_terraform
def test_five_hundred_policies_give_a_module_that_parses(tmp_path):
    translation = translate(large_inventory(160, groups=500))
    assert len(translation.policies) >= 300
    folder = write_module(translation, tmp_path / MODULE_DIR)
    module = parse(folder)
    descriptions = plain(module["locals"])["policy_descriptions"]
    assert len(descriptions) == len(translation.policies)
    assert sorted(descriptions.values()) == sorted(p.description for p in translation.policies)
    assert terraform("fmt", "-check", "-no-color", ".", cwd=folder).returncode == 0
