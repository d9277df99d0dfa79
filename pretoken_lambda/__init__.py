"""avp-migrate's rule-driven Cognito pre token generation trigger (zipped into Lambda).

Teams grant OAuth scopes (and claims, and group overrides) to users through a pre token generation Lambda.
Here those grants are data: a rules document (:mod:`pretoken_lambda.rules`, format version 1) kept in a
file, an SSM parameter or DynamoDB items (:mod:`pretoken_lambda.sources`), applied to every token request by
:func:`pretoken_lambda.handler.lambda_handler`.

The rules model is shared: the scanner reads a pool's rules with
:func:`pretoken_lambda.sources.load_rules` and asks :func:`pretoken_lambda.rules.evaluate` which scopes a
user's tokens carry; the translation to Cedar and the equivalence check do the same. ``migrate`` imports
this package, never the other way round, and nothing here imports boto3 or Powertools at module level: a
cold start pays only for what its rule source needs.
"""
