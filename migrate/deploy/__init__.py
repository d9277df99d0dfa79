"""Deploying a plan in shadow mode, and undoing it: AVP resources, the Lambda authorizer, the mode document."""
