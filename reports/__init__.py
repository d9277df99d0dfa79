"""Reports for people and machines (Markdown, HTML, CSV, JSON), built with pandas and tabulate. No AWS calls here,
and never imported by the Lambda packages.

- `reports.plan_report`: the migration plan report `avp-migrate plan` writes into the plan folder.
- the shadow report: not built yet (see its issue).
"""
