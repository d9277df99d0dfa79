"""Deploy's gate: the plan folder, as it is on disk, must be proven equivalent, or accepted exactly as verified.

Runs before any AWS call (it is offline), on every deploy, dry runs included:

1. The manifest must exist (`plan` writes it); ``plan.json`` and ``inventory.json`` must be as `plan` wrote them:
   deploy reads the endpoints' status and today's configuration from the first, and the second is the ground truth
   of the proof. Neither can be re-verified, so a change there is refused ("plan again").
2. The folder is verified as it is (:func:`migrate.plan_proof.prove`: ``schema.json``, every ``policies/*.cedar``,
   ``authorizer-config.json``, ``cloudformation.json``'s identity source) against the snapshot it was made from.
   That re-verification is what makes an edited file deployable: an edited policy that still verifies equivalent
   passes, and deploy says it was edited; the deployment record keeps the hashes of the files so verified.
3. Anything but ``equivalent`` is refused unless ``--accept FILE --reason TEXT`` names an acceptance written by
   `verify --write-acceptance` for exactly these files, this snapshot and these findings
   (:func:`migrate.acceptance.check_acceptance`).

Blocked endpoints (``plan.json`` status ``blocked``) are never moved, accepted or named by ``--endpoint``;
:func:`migrate.deploy.deployer.select_routes` skips them and the gate's lines say why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from migrate.acceptance import Acceptance, check_acceptance, os_user
from migrate.deploy.record import AcceptanceRecord, GateRecord
from migrate.errors import GateRefused, UserError
from migrate.plan_folder import MANIFEST, SNAPSHOT, Drift, PlanFolder
from migrate.plan_proof import Proof, prove


@dataclass
class Gate:
    folder: PlanFolder
    proof: Proof
    drift: Drift
    acceptance: Acceptance | None = None
    reason: str | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # route -> why it is not moved
    unused_acceptance: str | None = None

    def lines(self) -> list[str]:
        policies = len(self.proof.policies)
        what = (f"{policies} policies, schema.json, authorizer-config.json and cloudformation.json as they are on "
                f"disk, against the snapshot the plan was made from")
        if self.acceptance is None:
            lines = [f"gate: proven equivalent: {what}"]
        else:
            lines = [f"gate: NOT proven equivalent ({self.proof.summary()}), deployed under the acceptance "
                     f"{self.acceptance.path} (sha256 {self.acceptance.sha256[:12]}): {self.reason}"]
        if self.drift.sources:
            lines.append("gate: edited since `avp-migrate plan`, and re-verified: "
                         + ", ".join(self.drift.describe(f) for f in self.drift.sources))
        others = [f for f in self.drift.files if f not in self.drift.sources]
        if others:
            lines.append("warning: changed since `avp-migrate plan` (deploy does not use them; they may describe "
                         "another plan): " + ", ".join(self.drift.describe(f) for f in others))
        if self.unused_acceptance:
            lines.append(f"gate: the plan is proven equivalent: the acceptance {self.unused_acceptance} is not needed "
                         "(not recorded)")
        lines += [f"skipped {route}: {why}" for route, why in self.skipped.items()]
        return lines

    def record(self, caller_arn: str) -> GateRecord:
        acceptance = None
        if self.acceptance is not None:
            document = self.acceptance.document
            acceptance = AcceptanceRecord(
                file=self.acceptance.path, sha256=self.acceptance.sha256, accepted_by=caller_arn, os_user=os_user(),
                reason=self.reason or "", verdict=str(document.get("verdict") or self.proof.status),
                items=self.acceptance.items, written_by=str(document.get("written_by") or ""),
                written_at=str(document.get("written_at") or ""))
        return GateRecord(verdict=self.proof.status, inventory_sha256=self.proof.inventory_sha256,
                          files=dict(sorted(self.proof.files.items())), edited=list(self.drift.sources),
                          skipped=dict(self.skipped), acceptance=acceptance)


def check_options(accept: str | None, reason: str | None) -> None:
    if accept is not None and not (reason or "").strip():
        raise UserError("--accept needs --reason TEXT: why this plan may be deployed although it is not proven "
                        "equivalent (recorded in deployment.json)", where="--reason")
    if reason is not None and accept is None:
        raise UserError("--reason goes with --accept FILE", where="--reason")


def run_gate(folder: PlanFolder, *, accept: str | None = None, reason: str | None = None) -> Gate:
    check_options(accept, reason)
    where = f"deploy gate ({folder.path})"
    drift = folder.drift()
    if drift is None:
        raise GateRefused(f"no {MANIFEST}: the plan folder was written by an older avp-migrate, so deploy cannot "
                          "tell what changed since `plan`: nothing was changed; plan again (a re-plan keeps "
                          "deployment.json)", where=where)
    if drift.records:
        raise GateRefused(", ".join(drift.describe(f) for f in drift.records) + " changed since `avp-migrate plan`: "
                          "deploy takes the endpoints' status and the snapshot to verify against from there and "
                          "cannot re-verify them: nothing was changed; plan again", where=where)
    proof = prove(folder, folder.snapshot())
    gate = Gate(folder=folder, proof=proof, drift=drift, reason=reason)
    if proof.status == "equivalent":
        gate.unused_acceptance = accept
        return gate
    if accept is None:
        edited = (f"; edited since plan: {', '.join(drift.sources)}" if drift.sources else "")
        first = proof.items()[:2]
        raise GateRefused(
            f"the plan as it is on disk is not proven equivalent ({proof.summary()}: {'; '.join(first)}"
            f"{'; ...' if len(proof.items()) > 2 else ''}{edited}): nothing was changed; see `avp-migrate verify "
            f"{folder.where(SNAPSHOT)} --plan {folder.path}`, fix the plan, or accept exactly what it reports with "
            "`verify ... --write-acceptance FILE` and `deploy --accept FILE --reason TEXT`", where=where)
    acceptance = Acceptance.load(accept)
    check_acceptance(acceptance, proof, where=where)
    gate.acceptance = acceptance
    return gate
