"""The deployed API stage a command works on: the deployment record, its AWS clients, the caller, the delays."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from authorizer.config import AuthorizerConfig, ConfigError
from authorizer.settings import CONFIG_FILE_NAME
from migrate.awsconfig import AwsSession, describe_aws_error
from migrate.cutover.fallback import FunctionFallback
from migrate.cutover.ledger import Ledger
from migrate.cutover.publish import ModeParameter
from migrate.deploy.record import DeploymentRecord, load_record
from migrate.errors import UserError
from migrate.fileio import read_json

# The authorizer's own default for AVP_AUTHZ_MODES_MAX_AGE (authorizer/settings.py): used when the function's
# configuration cannot be read.
DEFAULT_MODES_MAX_AGE = 30
MODES_MAX_AGE_VARIABLE = "AVP_AUTHZ_MODES_MAX_AGE"


@contextmanager
def aws_errors(what: str) -> Iterator[None]:
    """A botocore failure the user can fix becomes one line naming ``what`` was being read or written."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        error = describe_aws_error(exc, what=what)
        if error is None:
            raise
        raise error from None


@dataclass(frozen=True)
class Delay:
    """How long until every caller sees a mode change."""

    max_age: int  # the authorizer's mode document cache, seconds
    max_age_from: str  # where max_age comes from, in words
    ttl: int | None  # API Gateway's authorizer result cache (authorizerResultTtlInSeconds), None if unknown

    def text(self) -> str:
        line = f"effective within {self.max_age} s (the authorizer caches the mode document {self.max_age_from})"
        if self.ttl:
            line += (f"; API Gateway may reuse a cached authorizer answer for up to {self.ttl} s more "
                     "(authorizerResultTtlInSeconds)")
        return line

    def to_json(self) -> dict[str, Any]:
        return {"mode_document_max_age": self.max_age, "max_age_from": self.max_age_from,
                "authorizer_result_ttl": self.ttl}


@dataclass
class Deployment:
    plan_dir: Path
    record: DeploymentRecord
    session: AwsSession
    _ledger: Ledger | None = field(default=None, repr=False)
    _route_keys: tuple[str, ...] | None = field(default=None, repr=False)

    @classmethod
    def load(cls, plan_dir: str, session: AwsSession) -> Deployment:
        record = load_record(plan_dir)
        check_region(session.target.region, record.region, plan_dir)
        return cls(Path(plan_dir), record, session)

    @property
    def pk(self) -> str:
        return f"{self.record.api_id}#{self.record.stage}"

    @property
    def routes(self) -> list[str]:
        """The endpoints deploy moved to the Lambda authorizer: the only ones whose mode means anything."""
        return sorted(self.record.methods)

    @property
    def label(self) -> str:
        return f"API {self.record.api_name} ({self.record.api_id}) stage {self.record.stage}"

    def client(self, service: str) -> Any:
        return self.session.client(service, region=self.record.region)

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self.client("dynamodb"), self.record.ledger_table, self.pk)
        return self._ledger

    @property
    def parameter(self) -> ModeParameter:
        return ModeParameter(self.client("ssm"), self.record.mode_parameter, self.route_keys)

    @property
    def route_keys(self) -> tuple[str, ...]:
        """Every route of the plan's authorizer-config.json (the configuration the function runs): the compact
        mode documents are spelled over these."""
        if self._route_keys is None:
            path = self.plan_dir / CONFIG_FILE_NAME
            try:
                config = AuthorizerConfig.from_json(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise UserError(f"cannot read it: {exc.strerror or exc}", where=str(path)) from None
            except ConfigError as exc:
                raise UserError(str(exc), where=str(path)) from None
            self._route_keys = tuple(sorted(config.routes))
        return self._route_keys

    @property
    def fallback(self) -> FunctionFallback:
        return FunctionFallback(self.client("lambda"), self.record.function_name, self.route_keys)

    def caller(self) -> str:
        """Who is changing the modes, for the audit log: STS GetCallerIdentity's ARN (it needs no permission:
        STS API reference, GetCallerIdentity)."""
        with aws_errors("caller identity"):
            return str(self.client("sts").get_caller_identity()["Arn"])

    def plan_document(self) -> dict[str, Any] | None:
        """plan.json next to deployment.json, when there is one."""
        path = self.plan_dir / "plan.json"
        if not path.exists():
            return None
        data = read_json(path, what="plan")
        if not isinstance(data, dict):
            raise UserError("not a plan (expected a JSON object)", where=str(path))
        return data

    def delay(self) -> Delay:
        """Read the authorizer function's cache age and the API Gateway authorizer's TTL; unreadable parts fall back
        to the authorizer's default (and an unknown TTL), because this is information, not a precondition."""
        max_age, source = DEFAULT_MODES_MAX_AGE, "for its default 30 s"
        try:
            config = self.client("lambda").get_function_configuration(FunctionName=self.record.function_name)
            value = ((config.get("Environment") or {}).get("Variables") or {}).get(MODES_MAX_AGE_VARIABLE)
            if value is not None and str(value).isdigit():
                max_age, source = int(value), f"for {MODES_MAX_AGE_VARIABLE}={value} s"
        except (ClientError, BotoCoreError):
            pass
        ttl: int | None = None
        try:
            authorizer = self.client("apigateway").get_authorizer(restApiId=self.record.api_id,
                                                                  authorizerId=self.record.authorizer_id)
            raw = authorizer.get("authorizerResultTtlInSeconds")
            ttl = int(raw) if raw is not None else None
        except (ClientError, BotoCoreError):
            pass
        return Delay(max_age, source, ttl)


def check_region(requested: str | None, recorded: str, plan_dir: str) -> None:
    """The deployment lives in the region its record names: an explicit --region that differs is a mistake to say,
    not a wish to follow (the calls go to the record's region either way)."""
    if requested and requested != recorded:
        raise UserError(f"{plan_dir}/deployment.json records region {recorded}: the deployment lives there, so "
                        f"--region {requested} would not be used (drop --region, or give the plan folder of the "
                        f"deployment in {requested})", where="--region")
