"""The deployed Lambda authorizer, run in this process as Lambda would run it, and traffic through it.

moto stores Lambda functions but cannot invoke them without Docker. The embedded AWS therefore runs a function
deployed by `avp-migrate deploy` here: the ``authorizer-config.json`` inside the function's own code package,
the function's own environment variables (policy store id, mode parameter, fallback document), the
``authorizer`` package's handler code. Two things differ from Lambda, and only in where things are:

* ``AVP_AUTHZ_JWKS_URL_TEMPLATE`` points at the embedded Cognito's JWKS (served by moto, not at the issuer URL);
* everything the function writes to stdout (its log lines and EMF metrics) is shipped to its CloudWatch log
  group with PutLogEvents, as the Lambda runtime does, so that `report shadow` reads the log group.
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from authorizer.routes import split_route_key


@dataclass
class Invocation:
    status: str  # ALLOW, DENY, or 401
    response: dict[str, Any] | None


class LocalAuthorizerFunction:
    def __init__(self, aws: Any, function_name: str) -> None:
        from authorizer.handler import build_authorizer
        from authorizer.telemetry import make_logger

        self.aws = aws
        lam = boto3.client("lambda", region_name=aws.region)
        function = lam.get_function(FunctionName=function_name)
        configuration = function["Configuration"]
        self.log_group = f"/aws/lambda/{configuration['FunctionName']}"
        self._folder = tempfile.TemporaryDirectory(prefix="avp-migrate-function-")
        config_path = Path(self._folder.name) / "authorizer-config.json"
        config_path.write_bytes(zipfile.ZipFile(io.BytesIO(self._code(function_name))).read(
            "authorizer/authorizer-config.json"))
        environment = dict((configuration.get("Environment") or {}).get("Variables") or {})
        environment.update(AVP_AUTHZ_CONFIG_PATH=str(config_path),
                           AVP_AUTHZ_JWKS_URL_TEMPLATE=f"{aws.moto_url}/{{pool_id}}/.well-known/jwks.json")
        self._buffer = io.StringIO()
        self.authorizer = build_authorizer(environment, logger=make_logger(
            f"avp-migrate-authorizer-{uuid.uuid4().hex[:8]}", stream=self._buffer))
        self._stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        self._logs = boto3.client("logs", region_name=aws.region)
        self._logs.create_log_stream(logGroupName=self.log_group, logStreamName=self._stream)

    def _code(self, function_name: str) -> bytes:
        from moto.awslambda.models import lambda_backends

        from migrate.embedded.server import DEFAULT_ACCOUNT_ID

        return lambda_backends[DEFAULT_ACCOUNT_ID][self.aws.region].get_function(function_name).code_bytes

    def invoke(self, event: dict[str, Any]) -> Invocation:
        with contextlib.redirect_stdout(self._buffer):  # EMF metrics are printed, as in Lambda
            try:
                answer = self.authorizer(event, None)
            except Exception as exc:
                if str(exc) != "Unauthorized":
                    raise
                return Invocation("401", None)
        (statement,) = answer["policyDocument"]["Statement"]
        return Invocation(statement["Effect"].upper(), answer)

    def pending_records(self) -> list[dict[str, Any]]:
        """The shadow records written since logs were last shipped (each log line's ``shadow`` object)."""
        records = []
        for line in self._buffer.getvalue().splitlines():
            with contextlib.suppress(ValueError, AttributeError):
                record = json.loads(line).get("shadow")
                if isinstance(record, dict):
                    records.append(record)
        return records

    def ship_logs(self) -> int:
        """Send what the function wrote since the last call to its log group; returns the number of lines."""
        lines = [line for line in self._buffer.getvalue().splitlines() if line.strip()]
        self._buffer.seek(0)
        self._buffer.truncate()
        now = int(time.time() * 1000)
        for start in range(0, len(lines), 1000):
            self._logs.put_log_events(logGroupName=self.log_group, logStreamName=self._stream, logEvents=[
                {"timestamp": now, "message": line} for line in lines[start:start + 1000]])
        return len(lines)

    def close(self) -> None:
        self._folder.cleanup()


def request_event(api_id: str, stage: str, region: str, account: str, route: str, verb: str,
                  authorization: str) -> dict[str, Any]:
    """A REST API ``REQUEST`` authorizer event as API Gateway sends it (developer guide, "Input to an API Gateway
    Lambda authorizer"), for a concrete path of ``route`` (path parameters filled in)."""
    _, template = split_route_key(route)
    path = "/".join("demo" + str(len(part)) if part.startswith("{") else part for part in template.split("/"))
    return {
        "type": "REQUEST", "methodArn": f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{verb}{path}",
        "resource": template, "path": path, "httpMethod": verb,
        "headers": {"Authorization": authorization}, "multiValueHeaders": {"Authorization": [authorization]},
        "queryStringParameters": {}, "pathParameters": {}, "stageVariables": {},
        "requestContext": {"resourcePath": template, "httpMethod": verb, "path": f"/{stage}{path}", "stage": stage,
                           "apiId": api_id, "accountId": account, "requestId": str(uuid.uuid4())},
    }


@dataclass
class Traffic:
    calls: int = 0
    by_status: dict[str, int] = field(default_factory=dict)  # what API Gateway answers: ALLOW / DENY (403) / 401
    # What the shadow report counts, in its words: "allowed" and "denied" are decisions (a scope refusal is answered
    # 401, as the Cognito authorizer answers it; a policy refusal 403); "token refused" is the report's 401 (token
    # refused), no decision; "refused" is a request refused before any decision (configuration).
    outcomes: dict[str, int] = field(default_factory=dict)

    def describe(self) -> str:
        """The outcomes in the shadow report's terms (one meaning per word)."""
        order = ("allowed", "denied", "token refused", "refused")
        return ", ".join(f"{self.outcomes[k]} {k}" for k in order if self.outcomes.get(k))
    enforced_by_avp: dict[str, int] = field(default_factory=dict)  # route -> requests whose answer AVP decided


def demo_traffic(function: LocalAuthorizerFunction, account: Any, *, rounds: int = 1,
                 skip_routes: tuple[str, ...] = ()) -> Traffic:
    """Every demo user (real sign-in through the pre-token trigger) and the client-credentials client call every
    route the authorizer serves, with the token type the route takes; ``rounds`` times."""
    from migrate.embedded.seed import DEMO

    config = function.authorizer.config
    tokens = {user.username: account.sign_in(user.username) for user in DEMO.users}
    machine = function.aws.tokens.client_credentials_token(account.client_ids["reporting-service"],
                                                           account.client_secrets["reporting-service"])
    tokens["reporting-service"] = {"access": machine["access_token"]}
    from migrate.embedded.server import DEFAULT_ACCOUNT_ID

    traffic = Traffic()
    for _ in range(rounds):
        for caller_tokens in tokens.values():
            for route, route_config in config.routes.items():
                token = caller_tokens.get(route_config.token_use)
                if route in skip_routes or token is None:
                    continue
                for verb in route_config.actions:
                    event = request_event(config.api_id, config.stage or "prod", account.region, DEFAULT_ACCOUNT_ID,
                                          route, verb, f"Bearer {token}")
                    status = function.invoke(event).status
                    traffic.calls += 1
                    traffic.by_status[status] = traffic.by_status.get(status, 0) + 1
    for record in function.pending_records():
        outcome = ("token refused" if record.get("token_error") else "refused" if record.get("reason") else
                   "allowed" if record.get("enforced") == "ALLOW" else "denied")
        traffic.outcomes[outcome] = traffic.outcomes.get(outcome, 0) + 1
        if record.get("decision_source") in {"avp", "avp_error"}:
            traffic.enforced_by_avp[record["route"]] = traffic.enforced_by_avp.get(record["route"], 0) + 1
    function.ship_logs()
    return traffic
