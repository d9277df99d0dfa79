"""The plan folder, in one place: its file names, its manifest, and the strict reading every verb shares.

`plan` writes the folder (:func:`migrate.plan.write_plan`) and ends with :func:`write_manifest`; `verify --plan`,
`deploy`, `undeploy` and the cut-over verbs read it through :class:`PlanFolder`, so a folder one of them accepts
is never refused by another for a reason of form.

The manifest (``manifest.json``, format 1) holds the sha256 of every file `plan` wrote::

    {"format_version": 1, "plan_format_version": 1, "tool_version": "0.1.0", "algorithm": "sha256",
     "files": {"authorizer-config.json": "<hex>", "policies/001-....cedar": "<hex>", ...}}

From it, any command that reads a plan says which files changed since `plan` (:meth:`PlanFolder.drift`).
Files fall in two kinds:

* **shipped or read by deploy** (:data:`SOURCES`): ``schema.json``, ``policies/*.cedar``, ``authorizer-config.json``
  and ``cloudformation.json`` (its identity source) may be edited: deploy re-verifies them as they are on disk
  (:mod:`migrate.plan_proof`). ``plan.json`` and ``inventory.json`` (the snapshot the plan was made from, the
  ground truth of that re-verification) are records: deploy refuses them changed.
* **derived, for people** (reports, ``schema.cedarschema``, the Terraform module ``terraform/*.tf``, which reads the
  schema and policy files itself): a stale one only warns.

``deployment.json`` (written by deploy), the manifest itself and Terraform's state in ``terraform/`` (written by a
``terraform apply`` run there; kept, like ``deployment.json``, when the folder is planned again) are not in the
manifest.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import cedarpy

from authorizer.config import AuthorizerConfig, ConfigError
from migrate.errors import InvalidPlan, UserError
from migrate.fileio import read_json

PLAN_FORMAT_VERSION = 1
MANIFEST_FORMAT_VERSION = 1

SCHEMA = "schema.json"
SCHEMA_CEDAR = "schema.cedarschema"
POLICIES = "policies"
CONFIG = "authorizer-config.json"
CLOUDFORMATION = "cloudformation.json"
PLAN = "plan.json"
SNAPSHOT = "inventory.json"  # the inventory snapshot the plan was made from (deploy re-verifies against it)
MANIFEST = "manifest.json"
DEPLOYMENT = "deployment.json"
REPORTS = ("report.md", "report.html", "routes.csv", "report.json")

# Files deploy ships or reads whose edits the proof can judge.
SOURCES = (SCHEMA, CONFIG, CLOUDFORMATION)
# Files deploy reads that are records of the plan: never hand-edited (plan again instead).
RECORDS = (PLAN, SNAPSHOT)
TERRAFORM_DIR = "terraform"
# Terraform's own files in terraform/ (`terraform init`/`apply` run there); names starting with "." (.terraform/,
# .terraform.lock.hcl) are never in the manifest.
TERRAFORM_STATE = (f"{TERRAFORM_DIR}/terraform.tfstate", f"{TERRAFORM_DIR}/terraform.tfstate.backup")
NOT_IN_MANIFEST = (MANIFEST, DEPLOYMENT, *TERRAFORM_STATE)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def is_source(name: str) -> bool:
    """Shipped or read by deploy, and judged by the proof: edits allowed when the plan still verifies."""
    return name in SOURCES or is_policy(name)


def is_policy(name: str) -> bool:
    return name.startswith(f"{POLICIES}/") and name.endswith(".cedar") and name.count("/") == 1


def policy_est(statement: str) -> list[dict[str, Any]]:
    """The static policies of ``statement`` in Cedar's JSON form (raises ValueError when it does not parse)."""
    parsed = json.loads(cedarpy.policies_to_json_str(statement))
    if parsed.get("templates"):
        raise ValueError("policy templates are not supported")
    return list(parsed.get("staticPolicies", {}).values())


def policy_id_of(est: dict[str, Any]) -> str | None:
    value = (est.get("annotations") or {}).get("id")
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class PolicyFile:
    policy_id: str  # the @id annotation: the policy's identity in the store, across deploys
    file: str  # relative to the plan folder: policies/NNN-name.cedar
    text: str
    est: dict[str, Any]  # Cedar's JSON form


@dataclass(frozen=True)
class Drift:
    """What changed in the folder since `plan` wrote it, by relative file name."""

    changed: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    added: tuple[str, ...] = ()

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(sorted({*self.changed, *self.missing, *self.added}))

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(f for f in self.files if is_source(f))

    @property
    def records(self) -> tuple[str, ...]:
        return tuple(f for f in self.files if f in RECORDS)

    def describe(self, name: str) -> str:
        how = "edited" if name in self.changed else "deleted" if name in self.missing else "added"
        return f"{name} ({how})"

    def line(self, folder: Path) -> str:
        """One warning line naming every changed file; the derived files that now describe the unedited plan."""
        text = (f"warning: {folder}: {len(self.files)} file(s) changed since `avp-migrate plan`: "
                + ", ".join(self.describe(f) for f in self.files))
        if self.sources:
            text += (" (plan.json, cloudformation.json's policies and the reports still describe the plan as "
                     "written; `verify --plan` checks the files as they are)")
        return text


@dataclass
class PlanFolder:
    """The plan folder. Reading methods raise :class:`InvalidPlan` naming the file and what is wrong."""

    path: Path
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> PlanFolder:
        folder = Path(path)
        if not folder.is_dir():
            raise InvalidPlan("plan folder not found", where=str(folder))
        if not (folder / PLAN).is_file():
            raise InvalidPlan(f"not a plan folder (no {PLAN}; write one with `avp-migrate plan`)", where=str(folder))
        return cls(folder)

    def file(self, name: str) -> Path:
        return self.path / name

    def where(self, name: str) -> str:
        return str(self.path / name)

    # --- the manifest -----------------------------------------------------------------------------------------

    def manifest(self) -> dict[str, str] | None:
        """The hashes `plan` recorded, or None for a folder written before manifests existed."""
        path = self.file(MANIFEST)
        if not path.exists():
            return None
        data = read_json(path, what="plan manifest")
        files = data.get("files") if isinstance(data, dict) else None
        if (not isinstance(data, dict) or data.get("format_version") != MANIFEST_FORMAT_VERSION
                or not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values())):
            raise InvalidPlan(f"not a plan manifest of format {MANIFEST_FORMAT_VERSION}", where=str(path))
        return dict(files)

    def present_files(self) -> list[str]:
        """Every file in the folder the manifest can speak for (relative, sorted)."""
        names = []
        for path in self.path.rglob("*"):
            relative = path.relative_to(self.path).as_posix()
            if path.is_file() and relative not in NOT_IN_MANIFEST and not any(
                    part.startswith(".") for part in path.relative_to(self.path).parts):
                names.append(relative)
        return sorted(names)

    def hashes(self, names: list[str] | None = None) -> dict[str, str]:
        """sha256 of the named files as they are now (all present files by default); absent ones are left out."""
        return {name: sha256_file(self.file(name)) for name in (self.present_files() if names is None else names)
                if self.file(name).is_file()}

    def drift(self) -> Drift | None:
        recorded = self.manifest()
        if recorded is None:
            return None
        present = self.hashes()
        return Drift(changed=tuple(sorted(n for n in recorded if n in present and present[n] != recorded[n])),
                     missing=tuple(sorted(n for n in recorded if n not in present)),
                     added=tuple(sorted(n for n in present if n not in recorded)))

    def warn_drift(self, stream: TextIO | None = None, *, without_manifest: bool = True) -> Drift | None:
        """Print the one warning line when anything changed since `plan` (or, if ``without_manifest``, when there
        is no manifest to tell)."""
        out = stream or sys.stderr
        drift = self.drift()
        if drift is None and without_manifest:
            print(f"warning: {self.path}: no {MANIFEST} (written by an older avp-migrate): cannot tell which files "
                  "changed since `avp-migrate plan`", file=out)
        elif drift is not None and drift.files:
            print(drift.line(self.path), file=out)
        return drift

    # --- the files --------------------------------------------------------------------------------------------

    def plan_document(self) -> dict[str, Any]:
        if "plan" not in self._cache:
            document = read_json(self.file(PLAN), what="plan")
            if not isinstance(document, dict) or document.get("format_version") != PLAN_FORMAT_VERSION:
                raise InvalidPlan(f"not a plan of format {PLAN_FORMAT_VERSION}", where=self.where(PLAN))
            self._cache["plan"] = document
        return dict(self._cache["plan"])

    def schema(self) -> dict[str, Any]:
        schema = read_json(self.file(SCHEMA), what="Cedar schema")
        try:
            cedarpy.Schema.from_json_str(json.dumps(schema))
        except ValueError as exc:
            raise InvalidPlan(f"not a valid Cedar schema: {' '.join(str(exc).split())[:300]}",
                              where=self.where(SCHEMA)) from None
        return dict(schema)

    def config_text(self) -> str:
        return _read_text(self.file(CONFIG), "authorizer config")

    def config(self) -> AuthorizerConfig:
        try:
            return AuthorizerConfig.from_json(self.config_text())
        except ConfigError as exc:
            raise InvalidPlan(str(exc), where=self.where(CONFIG)) from None

    def policy_paths(self) -> list[Path]:
        directory = self.file(POLICIES)
        if not directory.is_dir():
            raise InvalidPlan(f"no {POLICIES}/ folder: not a plan folder", where=str(self.path))
        return sorted(directory.glob("*.cedar"))

    def policies(self, schema: dict[str, Any]) -> tuple[PolicyFile, ...]:
        """Every ``policies/*.cedar``: one policy per file, each with a unique ``@id``, all valid in STRICT mode
        against ``schema`` (as AVP validates a STRICT store), each error naming its file."""
        policies: list[PolicyFile] = []
        seen: dict[str, str] = {}
        for path in self.policy_paths():
            relative = f"{POLICIES}/{path.name}"
            text = _read_text(path, "Cedar policy")
            try:
                ests = policy_est(text)
            except ValueError as exc:
                raise InvalidPlan(f"not valid Cedar: {' '.join(str(exc).split())[:300]}", where=str(path)) from None
            if len(ests) != 1:
                raise InvalidPlan(f"holds {len(ests)} policies; a plan has exactly one per file (each becomes one "
                                  "AVP policy)", where=str(path))
            policy_id = policy_id_of(ests[0])
            if policy_id is None:
                raise InvalidPlan('no @id("...") annotation: deploy recognises policies in the store by it',
                                  where=str(path))
            if policy_id in seen:
                raise InvalidPlan(f"@id {policy_id!r} is also used by {seen[policy_id]}", where=str(path))
            seen[policy_id] = relative
            policies.append(PolicyFile(policy_id=policy_id, file=relative, text=text, est=ests[0]))
        if policies:
            result = cedarpy.validate_policies("\n".join(p.text for p in policies), json.dumps(schema))
            if not result.validation_passed:
                first = result.errors[0]
                ids = result.id_annotations_by_policy_id
                raise InvalidPlan(f"policy {ids.get(first.policy_id, first.policy_id)!r} fails strict validation "
                                  f"against {SCHEMA}: {first.error}", where=self.where(POLICIES))
        return tuple(policies)

    def cloudformation(self) -> dict[str, Any]:
        template = read_json(self.file(CLOUDFORMATION), what="CloudFormation template")
        if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
            raise InvalidPlan("no Resources object", where=self.where(CLOUDFORMATION))
        return template

    def identity_source(self) -> dict[str, Any]:
        """The identity source deploy creates: ``cloudformation.json``'s ``Resources.IdentitySource.Properties``."""
        try:
            source = self.cloudformation()["Resources"]["IdentitySource"]["Properties"]
            cognito = source["Configuration"]["CognitoUserPoolConfiguration"]
            return {"pool_arn": cognito["UserPoolArn"], "client_ids": list(cognito.get("ClientIds") or []),
                    "principal_entity_type": source["PrincipalEntityType"],
                    "group_entity_type": cognito["GroupConfiguration"]["GroupEntityType"]}
        except (KeyError, TypeError):
            raise InvalidPlan("no Resources.IdentitySource with a CognitoUserPoolConfiguration",
                              where=self.where(CLOUDFORMATION)) from None

    def snapshot(self) -> Any:
        """The inventory snapshot the plan was made from (a copy `plan` keeps in the folder)."""
        from migrate.inventory import load_inventory

        if not self.file(SNAPSHOT).is_file():
            raise InvalidPlan(f"no {SNAPSHOT}: the plan folder was written by an older avp-migrate, without the "
                              "snapshot it was made from; plan again (a re-plan keeps deployment.json)",
                              where=str(self.path))
        return load_inventory(self.file(SNAPSHOT))


def write_manifest(folder: Path, *, tool_version: str) -> dict[str, Any]:
    """Hash every file in ``folder`` (as `plan` has just written it) into ``manifest.json``."""
    plan = PlanFolder(folder)
    document = {"format_version": MANIFEST_FORMAT_VERSION, "plan_format_version": PLAN_FORMAT_VERSION,
                "tool_version": tool_version, "algorithm": "sha256", "files": plan.hashes()}
    folder.joinpath(MANIFEST).write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return document


def inventory_sha256(inventory: Any) -> str:
    """The snapshot's content hash, independent of its file's formatting: the same for the file `verify` read and
    the copy in the plan folder."""
    from migrate.inventory import inventory_to_dict

    text = json.dumps(inventory_to_dict(inventory), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidPlan(f"{what} not found", where=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidPlan(f"cannot read {what}: {exc}", where=str(path)) from None



def warn_if_changed(path: str | os.PathLike[str], stream: TextIO | None = None, *,
                    without_manifest: bool = False) -> None:
    """For the verbs that read a plan folder (or the deployment.json in it): the one warning line naming what
    changed since `plan`. Silent when ``path`` is not a plan folder (the verb's own error says so) and, unless
    ``without_manifest``, when the folder predates manifests (deploy's gate refuses those; the cut-over verbs,
    which only read deployment.json and plan.json, keep working on them)."""
    try:
        folder = PlanFolder.open(path)
    except InvalidPlan:
        return
    try:
        folder.warn_drift(stream, without_manifest=without_manifest)
    except UserError as exc:  # a damaged manifest: say so, and let the verb judge the files themselves
        print(f"warning: {exc}", file=stream or sys.stderr)
