"""IaC outputs of a plan: CloudFormation, Terraform, and patches of a team's own API template."""
