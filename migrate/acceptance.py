"""The acceptance file: an operator's explicit "deploy this although it is not proven equivalent".

`verify INVENTORY --plan DIR --write-acceptance FILE` writes what it found, with the hashes of what it read;
`deploy --plan DIR --accept FILE --reason TEXT` re-verifies the folder as it is and passes only when the files,
the snapshot and every finding are exactly those of the acceptance. Format 1::

    {
      "format_version": 1, "kind": "avp-migrate acceptance",
      "written_at": "2026-11-26T08:00:00+00:00", "written_by": "<OS user>", "tool_version": "0.1.0",
      "plan": "<the folder as given to verify>",
      "verdict": "differences" | "unproven",
      "inventory_sha256": "<content hash of the snapshot verified against>",
      "files": {"schema.json": "<sha256>", "policies/001-....cedar": "<sha256>", "authorizer-config.json": "...",
                "cloudformation.json": "...", "plan.json": "...", "inventory.json": "..."},
      "items": ["GAINS GET /admin [GET]: group avp-group (group:avp-group)", "UNPROVEN ...", ...],
      "differences": [...], "token_mismatches": [...], "unproven_reasons": [...]   (for people and tools)
    }

``items`` is what deploy compares (one canonical line per finding, :meth:`migrate.plan_proof.Proof.items`); the
file's own sha256 is recorded by deploy with who accepted it and why.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from migrate import __version__
from migrate.errors import GateRefused, UserError
from migrate.fileio import atomic_write_text
from migrate.plan_proof import Proof

FORMAT_VERSION = 1
KIND = "avp-migrate acceptance"
MAX_NAMED = 3  # findings named in a refusal line


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return str(os.getuid()) if hasattr(os, "getuid") else "unknown"


def acceptance_document(proof: Proof, *, plan: str) -> dict[str, Any]:
    return {
        "format_version": FORMAT_VERSION, "kind": KIND,
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"), "written_by": os_user(),
        "tool_version": __version__, "plan": plan, "verdict": proof.status,
        "inventory_sha256": proof.inventory_sha256, "files": dict(sorted(proof.files.items())),
        "items": proof.items(),
        "differences": [asdict(d) for d in proof.differences],
        "token_mismatches": [asdict(m) for m in proof.token_mismatches],
        "unproven_reasons": list(proof.unproven_reasons),
    }


def write_acceptance(path: str | os.PathLike[str], proof: Proof, *, plan: str) -> dict[str, Any]:
    document = acceptance_document(proof, plan=plan)
    atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return document


@dataclass(frozen=True)
class Acceptance:
    path: str
    sha256: str  # of the file's bytes, as deploy read it
    document: dict[str, Any]

    @property
    def items(self) -> list[str]:
        return list(self.document["items"])

    @classmethod
    def load(cls, path: str) -> Acceptance:
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError:
            raise UserError("acceptance file not found (write one with `avp-migrate verify INVENTORY --plan DIR "
                            "--write-acceptance FILE`)", where=path) from None
        except OSError as exc:
            raise UserError(f"cannot read the acceptance file: {exc.strerror}", where=path) from None
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise UserError("not an acceptance file (not JSON)", where=path) from None
        if (not isinstance(document, dict) or document.get("kind") != KIND
                or document.get("format_version") != FORMAT_VERSION):
            raise UserError(f"not an acceptance file of format {FORMAT_VERSION}", where=path)
        files, items = document.get("files"), document.get("items")
        if (not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values())
                or not isinstance(items, list) or not all(isinstance(i, str) for i in items)
                or not isinstance(document.get("inventory_sha256"), str)):
            raise UserError("acceptance file without files, items or inventory_sha256", where=path)
        return cls(path=path, sha256=hashlib.sha256(raw).hexdigest(), document=document)


def check_acceptance(acceptance: Acceptance, proof: Proof, *, where: str) -> None:
    """Pass only when the acceptance was written for exactly these files, this snapshot and these findings;
    otherwise refuse, naming what changed since it was written."""
    problems: list[str] = []
    accepted_files: dict[str, str] = acceptance.document["files"]
    changed = sorted(name for name in set(accepted_files) | set(proof.files)
                     if accepted_files.get(name) != proof.files.get(name))
    if changed:
        problems.append("files changed since it was written: " + ", ".join(
            f"{name} ({'new' if name not in accepted_files else 'deleted' if name not in proof.files else 'edited'})"
            for name in changed))
    if acceptance.document["inventory_sha256"] != proof.inventory_sha256:
        problems.append("it was written against another inventory snapshot than the one the plan was made from "
                        "(verify against the plan folder's inventory.json)")
    now, accepted = set(proof.items()), set(acceptance.items)
    if now - accepted:
        problems.append(f"{len(now - accepted)} finding(s) it does not name: " + _some(now - accepted))
    if accepted - now:
        problems.append(f"{len(accepted - now)} finding(s) it names that verify no longer finds: "
                        + _some(accepted - now))
    if problems:
        raise GateRefused(f"the acceptance {acceptance.path} does not match the plan as it is: " + "; ".join(problems)
                          + ": nothing was changed; verify again and write a new acceptance if you accept the "
                            "result", where=where)


def _some(items: set[str]) -> str:
    shown = sorted(items)[:MAX_NAMED]
    return "; ".join(shown) + (f"; and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")
