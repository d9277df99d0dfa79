"""Plan and shadow reports (Markdown, HTML, CSV, JSON). Not built yet: see the issues on the plan and the shadow
report. No AWS calls here."""
