"""`probe --template FILE --function LOGICAL_ID`: the code of a Python function a template defines, found on disk.

Where a template keeps a function's code, and how Lambda finds the handler in it:

* ``AWS::Lambda::Function`` ``Code.ZipFile``: the source inline; CloudFormation writes it to a file named after
  the handler's module (``index.handler`` -> ``index.py``; AWS::Lambda::Function Code, "ZipFile").
* ``AWS::Serverless::Function`` ``InlineCode`` (the same, in SAM), or ``CodeUri`` as a local folder (relative to
  the template, as ``sam build`` reads it; ``Globals.Function`` applies).
* A CDK asset: ``cdk synth`` marks a function whose code is a local folder with
  ``Metadata: {"aws:asset:path": "asset.<hash>", "aws:asset:property": "Code"}``, relative to ``cdk.out``.

The handler ``pkg/mod.func`` or ``pkg.mod.func`` names ``pkg/mod.py`` and its function ``func``; the code's root
folder goes on the import path, as Lambda puts the package root there.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate.errors import UserError
from migrate.inventory.model import UserPool
from migrate.scan.cfn_resolve import Resolver
from migrate.scan.cfn_yaml import load_document, read_text
from migrate.scan.deferred import Deferred
from migrate.scan.sam import SERVERLESS_FUNCTION, merge_globals
from migrate.scan.template import read_template

_FUNCTION_TYPES = {"AWS::Lambda::Function", SERVERLESS_FUNCTION}


@dataclass
class TemplateHandler:
    spec: str  # FILE.py:FUNCTION, for migrate.probe.invoke.InProcessInvoker
    import_root: Path
    description: str
    pool: UserPool | None = None  # the template's pool whose pre-token trigger this function is
    _scratch: tempfile.TemporaryDirectory | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._scratch is not None:
            self._scratch.cleanup()


def template_handler(path: str | Path, logical_id: str) -> TemplateHandler:
    where = str(path)
    template = load_document(read_text(Path(path), where, "template"), where)
    resources = template.get("Resources") if isinstance(template, dict) else None
    if not isinstance(resources, dict):
        raise UserError("not a CloudFormation template: no 'Resources' mapping", where=where)
    resource = resources.get(logical_id)
    functions = sorted(k for k, v in resources.items() if isinstance(v, dict) and v.get("Type") in _FUNCTION_TYPES)
    if not isinstance(resource, dict) or resource.get("Type") not in _FUNCTION_TYPES:
        raise UserError(f"no function {logical_id!r} in the template (functions: {', '.join(functions) or 'none'})",
                        where="--function")
    resolver = Resolver(template, where, {})
    props = resolver.properties(logical_id)
    if resource["Type"] == SERVERLESS_FUNCTION:
        props = merge_globals((template.get("Globals") or {}).get("Function") or {}, props)
    what = f"{where}: Resources.{logical_id}"
    runtime = resolver.resolve(props.get("Runtime"))
    if isinstance(runtime, str) and not runtime.startswith("python"):
        raise UserError(f"runtime {runtime}: only Python handlers can be probed in-process (probe the deployed "
                        "function with --function-name)", where=what)
    handler = resolver.resolve(props.get("Handler"))
    if not isinstance(handler, str) or isinstance(handler, Deferred) or "." not in handler:
        raise UserError(f"Handler {handler!r} is not MODULE.FUNCTION", where=what)
    module, function = handler.rsplit(".", 1)
    relative = Path(*module.replace("/", ".").split(".")).with_suffix(".py")
    scratch = None
    inline = (props.get("Code") or {}).get("ZipFile") if resource["Type"] != SERVERLESS_FUNCTION \
        else props.get("InlineCode")
    if inline is not None:
        source = resolver.resolve(inline)
        if not isinstance(source, str) or isinstance(source, Deferred):
            raise UserError("its inline code is only known at deploy time", where=what)
        scratch = tempfile.TemporaryDirectory(prefix="avp-migrate-probe-")
        root = Path(scratch.name)
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(source)
        origin = "inline code"
    else:
        root = _code_folder(Path(path).parent, resource, props, resource["Type"], what)
        origin = f"code folder {root}"
    file = root / relative
    if not file.is_file():
        if scratch is not None:
            scratch.cleanup()
        raise UserError(f"handler {handler}: {relative} not found in its {origin}", where=what)
    pool = next((p for p in read_template(path).pools if p.pretoken_trigger is not None
                 and _names_function(p.pretoken_trigger.lambda_arn, logical_id)), None)
    return TemplateHandler(spec=f"{file}:{function}", import_root=root, pool=pool, _scratch=scratch,
                           description=f"{logical_id} ({handler}, {origin}) from {where}")


def _code_folder(base: Path, resource: dict[str, Any], props: dict[str, Any], kind: str, what: str) -> Path:
    asset = (resource.get("Metadata") or {}).get("aws:asset:path")
    if isinstance(asset, str):
        folder = base / asset
    else:
        code = props.get("CodeUri") if kind == SERVERLESS_FUNCTION else None
        if not isinstance(code, str) or code.startswith("s3://"):
            raise UserError("its code is not in the template nor a local folder (an S3 location?): probe the "
                            "deployed function with --function-name", where=what)
        folder = base / code
    if not folder.is_dir():
        raise UserError(f"code folder {folder} not found (build the app first: sam build / cdk synth)", where=what)
    return folder


def _names_function(arn: str, logical_id: str) -> bool:
    return arn in {"${" + logical_id + ".Arn}", "${" + logical_id + "}", logical_id}
