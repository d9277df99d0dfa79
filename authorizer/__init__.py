"""The Lambda REQUEST authorizer (modes scope, shadow, avp). Not built yet: see the issue on the Lambda authorizer.

This package is zipped into Lambda: it must stay free of heavy imports (no pandas, no moto)."""
