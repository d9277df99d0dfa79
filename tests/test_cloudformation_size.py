"""The plan's CloudFormation template at CloudFormation's limits (issue 12): 51,200 bytes inline, 1 MB from S3,
500 resources per template. Past either of the last two the policies go into nested stacks, each a child template
that cfn-lint accepts, every policy in exactly one of them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from migrate.translate import translate
from migrate.translate.cloudformation import (
    CHILD_MAX_RESOURCES,
    INLINE_TEMPLATE_BYTES,
    MAX_RESOURCES,
    S3_TEMPLATE_BYTES,
    size_note,
    template,
    templates,
)
from tests.inventory_builder import inventory, method, rule


def many_groups(groups: int):
    """One pre-token rule per group, each granting one of five scopes: one policy per group."""
    scopes = [f"s{i}" for i in range(5)]
    methods = [method("GET", f"/r{i}", [f"api/{scope}"]) for i, scope in enumerate(scopes)]
    users = {f"u{g}": [f"g{g:04}"] for g in range(groups)}
    rules = [rule(f"r{g:04}", [f"api/{scopes[g % 5]}"], groups=[f"g{g:04}"]) for g in range(groups)]
    return translate(inventory(methods, users=users, rules=rules, scopes=scopes))


def lint(*paths: Path) -> subprocess.CompletedProcess[str]:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    return subprocess.run([str(cfn_lint), *map(str, paths)], capture_output=True, text=True)


def test_a_small_plan_is_one_template_deployable_inline():
    translation = many_groups(3)
    files = templates(translation).files()
    assert list(files) == ["cloudformation.json"]
    assert len(files["cloudformation.json"].encode()) <= INLINE_TEMPLATE_BYTES
    assert "deployable inline" in size_note(files)


def test_past_500_resources_the_policies_go_into_nested_stacks(tmp_path):
    translation = many_groups(520)
    whole = template(translation)
    assert len(whole["Resources"]) > MAX_RESOURCES  # one template could not hold them
    result = templates(translation)
    files = result.files()
    assert len(files) >= 3
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        body = json.loads(text)
        assert len(body["Resources"]) <= MAX_RESOURCES and len(text.encode()) <= S3_TEMPLATE_BYTES, name
    parent = result.parent["Resources"]
    nested = {logical: r for logical, r in parent.items() if r["Type"] == "AWS::CloudFormation::Stack"}
    assert {r["Properties"]["TemplateURL"] for r in nested.values()} == set(result.children)
    assert all(r["Properties"]["Parameters"] == {"PolicyStoreId": {"Ref": "PolicyStore"}} for r in nested.values())
    assert not any(r["Type"] == "AWS::VerifiedPermissions::Policy" for r in parent.values())
    # every policy exactly once, in order, each child within its share
    statements = [r["Properties"]["Definition"]["Static"]["Statement"]
                  for child in result.children.values() for r in child["Resources"].values()]
    assert statements == [p.text for p in translation.policies]
    assert all(len(child["Resources"]) <= CHILD_MAX_RESOURCES for child in result.children.values())
    assert all(r["Properties"]["PolicyStoreId"] == {"Ref": "PolicyStoreId"}
               for child in result.children.values() for r in child["Resources"].values())
    assert "nested stack" in size_note(files) and "aws cloudformation package" in size_note(files)
    # cfn-lint on the parent and on the smallest child (the children are built alike; linting each 400-policy one
    # would cost seconds each)
    smallest = min(result.children, key=lambda name: len(files[name]))
    checked = lint(tmp_path / "cloudformation.json", tmp_path / smallest)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_between_51200_bytes_and_1_mb_the_note_says_deploy_through_s3():
    translation = many_groups(120)
    files = templates(translation).files()
    size = len(files["cloudformation.json"].encode())
    assert list(files) == ["cloudformation.json"] and INLINE_TEMPLATE_BYTES < size <= S3_TEMPLATE_BYTES
    assert "--s3-bucket" in size_note(files)
