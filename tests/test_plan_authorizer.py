"""The whole chain on the embedded AWS: what `plan` predicts is what the real authorizer decides.

Demo account -> scan -> plan; the plan's schema, identity source and policies loaded into the local Verified
Permissions endpoint with boto3; the plan's authorizer-config.json given to the real Lambda authorizer. Then
every demo user (real sign-in, real pre-token trigger, real signatures) and the client-credentials client call
every migrated route: the authorizer in ``scope`` mode (today) and in ``avp`` mode (after) must decide alike.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from authorizer.config import AuthorizerConfig
from migrate.awsconfig import AwsSession, AwsTarget
from migrate.embedded.seed import DEMO, seed_demo
from migrate.plan import check, write_plan
from migrate.scan.aws import AwsScanner, ScanOptions
from migrate.translate import translate
from tests.authorizer_helpers import harness, modes_env, request_event


def load_store(plan: Path, pool_arn: str) -> str:
    """Create the policy store as the plan's CloudFormation template describes it, through boto3."""
    avp = boto3.client("verifiedpermissions")
    template = json.loads((plan / "cloudformation.json").read_text())["Resources"]
    store = avp.create_policy_store(validationSettings={"mode": "STRICT"})["policyStoreId"]
    avp.put_schema(policyStoreId=store, definition={"cedarJson": (plan / "schema.json").read_text()})
    source = template["IdentitySource"]["Properties"]
    cognito = source["Configuration"]["CognitoUserPoolConfiguration"]
    assert cognito["UserPoolArn"] == pool_arn
    avp.create_identity_source(policyStoreId=store, principalEntityType=source["PrincipalEntityType"],
                               configuration={"cognitoUserPoolConfiguration": {
                                   "userPoolArn": cognito["UserPoolArn"], "clientIds": cognito["ClientIds"],
                                   "groupConfiguration": {"groupEntityType": cognito["GroupConfiguration"]
                                                          ["GroupEntityType"]}}})
    for file in sorted((plan / "policies").glob("*.cedar")):
        avp.create_policy(policyStoreId=store, definition={"static": {"statement": file.read_text()}})
    return store


@pytest.fixture
def chain(embedded_aws, tmp_path):
    account = seed_demo(region=embedded_aws.region)
    inventory = AwsScanner(AwsSession(AwsTarget()), ScanOptions(api_ids=[account.api_id], stage="prod",
                                                               all_users=True)).scan()
    translation = translate(inventory)
    result = check(translation)
    assert result.equivalent
    plan = tmp_path / "plan"
    write_plan(translation, result, plan, inventory=inventory, inventory_path="inventory.json")
    store = load_store(plan, account.user_pool_arn)
    config = AuthorizerConfig.from_json((plan / "authorizer-config.json").read_text())
    return account, config, store, result


def tokens_of(account, embedded_aws) -> dict[str, dict[str, str]]:
    tokens = {user.username: account.sign_in(user.username) for user in DEMO.users}
    machine = embedded_aws.tokens.client_credentials_token(account.client_ids["reporting-service"],
                                                           account.client_secrets["reporting-service"])
    tokens["reporting-service"] = {"access": machine["access_token"]}
    return tokens


def test_the_authorizer_in_avp_mode_decides_as_the_scope_regime_for_every_demo_caller(chain, embedded_aws,
                                                                                      tmp_path):
    account, config, store, _ = chain
    routes = list(config.routes)
    today = harness(tmp_path, embedded_aws, config, store_id=store, env=modes_env({}, default="scope"))
    after = harness(tmp_path, embedded_aws, config, store_id=store,
                    env={**modes_env({}, default="avp"), "AVP_AUTHZ_CACHE_SIZE": "0"})
    calls = allowed = 0
    for caller, tokens in tokens_of(account, embedded_aws).items():
        for route in routes:
            token = tokens.get(config.routes[route].token_use)
            if token is None:
                continue  # a machine has no ID token to present
            for verb in config.routes[route].actions:
                event = request_event(route, f"Bearer {token}", verb=verb, api_id=account.api_id)
                scope_result, avp_result = today.call(event).status, after.call(event).status
                # Today a scope mismatch is 401 (the Cognito authorizer); after, AVP's DENY is 403. Same access.
                assert (scope_result == "ALLOW") == (avp_result == "ALLOW"), (caller, route, verb, scope_result,
                                                                               avp_result)
                calls += 1
                allowed += scope_result == "ALLOW"
                if caller == "reporting-service" and route == "GET /reports":
                    assert scope_result == avp_result == "ALLOW"  # the machine client keeps its access
    assert calls > 100 and 0 < allowed < calls
    decided_by_avp = [r for r in after.records() if r.decision_source == "avp"]
    assert len(decided_by_avp) == calls and all(r.avp_error is None for r in decided_by_avp)


def test_a_plan_that_drops_a_policy_shows_in_shadow_records(chain, embedded_aws, tmp_path):
    account, config, store, _ = chain
    avp = boto3.client("verifiedpermissions")
    for item in avp.list_policies(policyStoreId=store, maxResults=50)["policies"]:
        statement = avp.get_policy(policyStoreId=store, policyId=item["policyId"])["definition"]["static"]["statement"]
        if '@rule("avp-group")' in statement:
            avp.delete_policy(policyStoreId=store, policyId=item["policyId"])
    shadow = harness(tmp_path, embedded_aws, config, store_id=store, env=modes_env({"GET /avp": "shadow"}))
    alice = tokens_of(account, embedded_aws)["alice"]["access"]
    result = shadow.call(request_event("GET /avp", f"Bearer {alice}", api_id=account.api_id))
    assert result.status == "ALLOW"  # shadow enforces today's scope decision
    record = shadow.last()
    assert (record.scope_decision, record.avp_decision, record.agree) == ("ALLOW", "DENY", False)
