"""plan and verify at real pool sizes: generated APIs and user pools, each run as a user runs it.

For each size: a generated inventory (endpoints with one or two scopes each; one pre-token rule per group that
adds two scopes; users with zero to five groups drawn at random, so nearly every user has a combination of
groups of their own; three app clients: a sign-in client, a hosted-UI client and a client-credentials client)
is written to ``inventory.json``; then ``avp-migrate plan`` and ``avp-migrate verify --plan`` run, each in a
fresh process, measured from outside: wall time, peak resident memory (``wait4``'s ``ru_maxrss``) and the plan
folder's size on disk.

The issue's goals (one core): 500 endpoints x 200 rules x 10,000 users, plan + verify under 30 s and 500 MB,
the plan folder under 20 MB; 2,000 endpoints x 200 groups under 20 s. The curve: 100 / 500 / 2,000 endpoints;
20 / 200 / 1,000 groups; 1k / 10k / 100k users (the others at 500, 200, 10k).

``python -m bench plan_bench`` runs the whole curve (a few minutes); ``python -m bench.plan_bench E G U`` one size.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.generated import assemble, scoped_method
from migrate.inventory import Inventory, User, inventory_to_dict

POOL_ID = "us-east-1_BenchPlan"
CURVE = [(500, 200, 10_000), (100, 200, 10_000), (2_000, 200, 10_000), (500, 20, 10_000), (500, 1_000, 10_000),
         (500, 200, 1_000), (500, 200, 100_000)]
RESULTS = Path(__file__).parent / "results" / "plan.json"


def generated_inventory(endpoints: int, groups: int, users: int, seed: int = 7) -> Inventory:
    rng = random.Random(seed)
    scopes = [f"api/s{i:04d}" for i in range(groups)]
    verbs = ["GET", "POST", "PUT", "DELETE"]
    methods = [scoped_method(f"/area{i % 25}/items{i // 100}/r{(i // 4) % 25}" + ("/{id}" if i % 3 else ""),
                             verbs[i % 4], rng.sample(scopes, rng.choice((1, 1, 2)))) for i in range(endpoints)]
    names = [f"team-{i:04d}" for i in range(groups)]
    rules = [{"id": f"grant-{g}", "when": {"groups": [g]},
              "then": {"add_scopes": [scopes[i], scopes[(i * 7 + 1) % groups]]}} for i, g in enumerate(names)]
    people = [User(username=f"user{i:06d}", sub=f"sub-{i:06d}",
                   groups=sorted(rng.sample(names, min(groups, rng.choice((0, 1, 2, 3, 3, 4, 5))))))
              for i in range(users)]
    return assemble(pool_id=POOL_ID, api_name="BenchApi", methods=methods, scopes=scopes, groups=names,
                    users=people, rules=rules, hosted_scopes=scopes[:1], machine_scopes=scopes[1:4])


def _run(argv: list[str]) -> tuple[int, float, float, float]:
    """Exit code, wall seconds, CPU seconds (user + system) and peak RSS (MB) of one avp-migrate process."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "migrate", *argv], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 2, 3):
        raise SystemExit(f"avp-migrate {' '.join(argv)} failed: {process.stderr.read().decode()[-2000:]}")
    return process.returncode, elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(endpoints: int, groups: int, users: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="plan-bench-") as folder:
        inventory = Path(folder) / "inventory.json"
        inventory.write_text(json.dumps(inventory_to_dict(generated_inventory(endpoints, groups, users))))
        plan = Path(folder) / "plan"
        plan_code, plan_seconds, plan_cpu, plan_mb = _run(["plan", str(inventory), "--out", str(plan)])
        verify_code, verify_seconds, verify_cpu, verify_mb = _run(["verify", str(inventory), "--plan", str(plan)])
        files = [p for p in plan.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        largest = max(files, key=lambda p: p.stat().st_size)
        return {"endpoints": endpoints, "groups": groups, "users": users,
                "inventory_mb": round(inventory.stat().st_size / 2**20, 1),
                "plan_s": round(plan_seconds, 2), "plan_cpu_s": round(plan_cpu, 2), "plan_mb": round(plan_mb),
                "plan_exit": plan_code, "verify_s": round(verify_seconds, 2), "verify_cpu_s": round(verify_cpu, 2),
                "verify_mb": round(verify_mb), "verify_exit": verify_code,
                "folder_mb": round(size / 2**20, 2),
                "largest_file": f"{largest.relative_to(plan)} ({largest.stat().st_size / 2**20:.2f} MB)"}


def main(sizes: list[tuple[int, int, int]] | None = None) -> None:
    rows = [measure(*size) for size in (sizes or CURVE)]
    print("plan + verify at real pool sizes (each a fresh process: wall and CPU time, peak RSS; the plan folder)")
    print(f"{'endpoints':>9} {'groups':>6} {'users':>7} | {'plan wall/CPU':>14} {'MB':>5} | {'verify wall/CPU':>15} "
          f"{'MB':>5} | {'CPU total':>9} | {'folder':>9} | largest file")
    for r in rows:
        cpu = float(r["plan_cpu_s"]) + float(r["verify_cpu_s"])  # type: ignore[arg-type]
        print(f"{r['endpoints']:>9,} {r['groups']:>6,} {r['users']:>7,} | {r['plan_s']:>6}s/{r['plan_cpu_s']:>6}s "
              f"{r['plan_mb']:>5} | {r['verify_s']:>6}s/{r['verify_cpu_s']:>6}s  {r['verify_mb']:>5} | {cpu:>8.1f}s | "
              f"{r['folder_mb']:>6} MB | {r['largest_file']}")
    if sizes is None:
        RESULTS.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 4:
        main([tuple(int(a) for a in sys.argv[1:4])])  # type: ignore[list-item]
    else:
        main()
