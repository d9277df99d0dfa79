"""Reports for people and machines (Markdown, HTML, CSV, JSON), built with pandas and tabulate. Never imported by
the Lambda packages; the only AWS calls are the shadow report's reads of CloudWatch Logs.

- `reports.plan_report`: the migration plan report `avp-migrate plan` writes into the plan folder.
- `reports.shadow_report`: the shadow report `avp-migrate report shadow` writes; `reports.shadow_readiness`
  decides each endpoint's readiness (written into shadow-report.json, which `cutover` reads).
"""
