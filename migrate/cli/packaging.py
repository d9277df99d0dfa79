"""The packaging options `deploy` and `package` share: one spelling, one meaning (migrate.deploy.package)."""

from __future__ import annotations

import argparse
from typing import Any


def add_packaging_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dependencies", choices=["pip", "layers"], default="pip",
                        help="pip (default): bundle authorizer/requirements.txt built for manylinux2014_x86_64 (or "
                             "aarch64) CPython 3.12; layers: bundle only our code and use --layer")
    parser.add_argument("--layer", action="append", default=[], metavar="ARN",
                        help="with --dependencies layers: a layer version ARN (repeatable), e.g. the Powertools "
                             "public layer AWSLambdaPowertoolsPythonV3-python312-x86_64; downloaded to check the "
                             "package imports with it")
    parser.add_argument("--wheelhouse", metavar="DIR",
                        help="with --dependencies pip: install from the wheels in DIR only (no index)")
    parser.add_argument("--architecture", choices=["x86_64", "arm64"], default="x86_64",
                        help="the function's architecture; dependencies are built for manylinux2014_x86_64 or "
                             "manylinux2014_aarch64 (default x86_64)")
    parser.add_argument("--check-python", metavar="PATH",
                        help="the CPython 3.12 that compiles the package's bytecode and imports the package before "
                             "it is used (default: python3.12 on PATH or under pyenv)")
    parser.add_argument("--no-import-check", action="store_true",
                        help="go ahead even when no CPython 3.12 is at hand to import the package (recorded as a "
                             "note; wheel tags and shared objects are still checked)")


def add_acceptance_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--accept", metavar="FILE",
                        help=f"{what} a plan that is not proven equivalent: the acceptance `verify --plan DIR "
                             "--write-acceptance FILE` wrote; refused unless it still matches exactly (needs --reason)")
    parser.add_argument("--reason", metavar="TEXT", help="with --accept: why, recorded")


def packaging_options(args: Any) -> tuple[Any, Any]:
    """(PackageOptions, CheckOptions) from the parsed options."""
    from migrate.deploy.package import PackageOptions
    from migrate.deploy.package_check import CheckOptions

    return (PackageOptions(dependencies=args.dependencies, layers=tuple(args.layer), wheelhouse=args.wheelhouse,
                           architecture=args.architecture, interpreter=args.check_python),
            CheckOptions(interpreter=args.check_python, skip_import=args.no_import_check))
