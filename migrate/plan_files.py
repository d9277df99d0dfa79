"""Reading a plan folder back (for `verify --plan`): the schema and policies as they are on disk, maybe edited.

The reading itself lives in :mod:`migrate.plan_folder` (one owner for the folder) and the proof in
:mod:`migrate.plan_proof`; this module keeps the older entry point.
"""

from __future__ import annotations

import os

from migrate.equivalence import EquivalenceResult
from migrate.inventory.model import Inventory
from migrate.plan_folder import PlanFolder
from migrate.plan_proof import prove


def check_plan_folder(inventory: Inventory, plan: str | os.PathLike[str], *, api_id: str | None = None,
                      pool_id: str | None = None) -> EquivalenceResult:
    return prove(PlanFolder.open(plan), inventory, api_id=api_id, pool_id=pool_id).result
