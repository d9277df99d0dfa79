"""Shared fixtures: one embedded AWS per test session, reset before each test that uses it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from migrate.embedded import EmbeddedAws


@pytest.fixture(scope="session")
def _embedded_aws_session() -> Iterator[EmbeddedAws]:
    with EmbeddedAws(port=0) as aws:
        saved = dict(os.environ)
        aws.apply_environment()
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
            os.environ.pop(name, None)
        try:
            yield aws
        finally:
            os.environ.clear()
            os.environ.update(saved)


@pytest.fixture
def embedded_aws(_embedded_aws_session: EmbeddedAws) -> EmbeddedAws:
    """The embedded AWS, empty: moto's backends and the local services are reset for each test.

    The process environment points boto3 at it (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_VERIFIEDPERMISSIONS,
    dummy credentials, AWS_DEFAULT_REGION), exactly as `avp-migrate local up` tells a shell to.
    """
    _embedded_aws_session.reset()
    from migrate.embedded.cognito_tokens import unregister_all_triggers

    unregister_all_triggers()
    return _embedded_aws_session


@pytest.fixture
def aws_clients(embedded_aws: EmbeddedAws):
    """A factory for plain boto3 clients against the embedded AWS (no endpoint argument: the env decides)."""

    def make(service: str):
        return boto3.client(service, region_name=embedded_aws.region)

    return make


# The authorizer's real dependencies (pip, for Lambda's platform), built once and kept under .cache/ (ignored by
# git): deploy refuses a package whose handler does not import, so tests deploy a layer that really holds them.
DEPENDENCY_CACHE = Path(__file__).resolve().parent.parent / ".cache" / "avp-migrate"


@pytest.fixture(scope="session")
def dependencies_layer_zip() -> bytes:
    from migrate.deploy.package import layer_zip

    return layer_zip(cache_dir=DEPENDENCY_CACHE)


@pytest.fixture(scope="session")
def arm64_layer_zip() -> bytes:
    from migrate.deploy.package import layer_zip

    return layer_zip("arm64", cache_dir=DEPENDENCY_CACHE)


@pytest.fixture
def dependencies_layer(embedded_aws: EmbeddedAws, dependencies_layer_zip: bytes) -> str:
    """The dependencies layer published in the (fresh) embedded account: its version ARN."""
    return boto3.client("lambda", region_name=embedded_aws.region).publish_layer_version(
        LayerName="authorizer-deps", Content={"ZipFile": dependencies_layer_zip}, CompatibleRuntimes=["python3.12"],
        CompatibleArchitectures=["x86_64"])["LayerVersionArn"]


def pytest_terminal_summary(terminalreporter, config) -> None:
    """The test order's seed, also under ``-q`` (which hides pytest-randomly's header line): a failure that only
    shows in one order can then be repeated with ``-p randomly --randomly-seed=N``."""
    if not config.pluginmanager.hasplugin("randomly"):
        return
    seed = config.getoption("randomly_seed", None)
    if isinstance(seed, int):
        terminalreporter.write_line(f"test order: pytest-randomly seed {seed} (repeat: --randomly-seed={seed})")
