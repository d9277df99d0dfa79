"""What each part may import: the offline commands run without the embedded AWS's dependencies, and the Lambda
packages without pandas, moto or anything of `migrate`."""

from __future__ import annotations

import subprocess
import sys


def loaded_after(statement: str, *names: str) -> dict[str, bool]:
    code = f"import sys\n{statement}\nprint(','.join(str(n in sys.modules) for n in {list(names)!r}))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()
    return dict(zip(names, (v == "True" for v in out.split(",")), strict=True))


def test_plan_verify_and_probe_need_no_embedded_aws():
    loaded = loaded_after("import migrate.cli.main, migrate.plan, migrate.equivalence, migrate.translate, "
                          "migrate.probe.events, migrate.probe.verify",
                          "moto", "werkzeug", "flask")
    assert loaded == {"moto": False, "werkzeug": False, "flask": False}


def test_pretoken_lambda_stays_light():
    loaded = loaded_after("import pretoken_lambda.handler", "pandas", "moto", "migrate", "boto3", "cedarpy")
    assert not any(loaded.values()), loaded
