"""`avp-migrate patch-template`: the change to a team's own API template, as a unified diff they review and apply.

The plan's migrated methods (``deploy``'s selection: blocked routes never, ``--endpoint`` names routes as deploy
does) move onto the avp-migrate Lambda authorizer, which the migration stack (the plan's ``cloudformation.json``)
defines and exports; the team's template reaches it by ``Fn::ImportValue`` of
:func:`migrate.iac.names.export_name`. The authorizer starts every route in shadow (the mode document IaC creates,
:data:`migrate.iac.names.INITIAL_MODE_DOCUMENT`), so the patch changes who is asked, not who gets in: the scope
rule still enforces. Cutting a route over later is a mode change (``avp-migrate cutover``), never another patch.

What is written, per form (the template was read by :mod:`migrate.scan.template`, whose reading locates each
method of the plan and tells its authorization today):

* SAM ``AWS::Serverless::Api``: ``Auth.Authorizers.AvpMigrateAuthorizer`` (a Lambda REQUEST authorizer:
  ``FunctionArn``, ``FunctionPayloadType: REQUEST``, ``Identity`` headers/context and ``ReauthorizeEvery``), and on
  each moved method's ``Api`` event ``Auth.Authorizer: AvpMigrateAuthorizer`` (``AuthorizationScopes`` dropped:
  they only mean something to a Cognito authorizer). An event's ``Authorizer`` wins over the API's
  ``DefaultAuthorizer`` (SAM, swagger/swagger.py ``set_path_default_authorizer``: a method naming an authorizer
  keeps it), so the default is left alone and routes not selected stay where they are. SAM itself adds the
  authorizer's invoke permission (samtranslator/model/api/api_generator.py, ``_construct_authorizer_lambda_
  permission``/``_get_permission``: one ``AWS::Lambda::Permission`` per authorizer with a ``FunctionArn``, source
  ``execute-api:...:${ApiId}/authorizers/*``) and redeploys the stage (its deployment's logical id hashes the
  definition). With a user ``DefinitionBody`` (not ``MergeDefinitions``) events' ``Auth`` is not applied (push.py),
  so the body's operation gets the ``security`` instead.
* CloudFormation ``AWS::ApiGateway::Method``: an ``AWS::ApiGateway::Authorizer`` and its ``AWS::Lambda::Permission``
  are added; the methods get ``AuthorizationType: CUSTOM`` and ``AuthorizerId: !Ref AvpMigrateAuthorizer``.
* An OpenAPI ``Body`` of ``AWS::ApiGateway::RestApi``: a security scheme with ``x-amazon-apigateway-authtype:
  custom`` and ``x-amazon-apigateway-authorizer`` (as SAM writes one, apigateway.py ``ApiGatewayAuthorizer.
  generate_swagger``), the operations' ``security``, and the permission (``authorizers/*``: an imported
  authorizer's id cannot be referenced).
* CDK (``aws:cdk:path`` metadata): ``cdk.out`` is generated, so no patch: the construct calls to change.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migrate.deploy.apigw import IDENTITY_SOURCE, MAX_TTL
from migrate.deploy.deployer import select_routes
from migrate.deploy.plan_input import PlannedRoute, load_plan
from migrate.errors import UserError
from migrate.iac.names import AUTHORIZER_NAME, OUTPUT_FUNCTION_ARN, export_name
from migrate.iac.template_text import EditableTemplate
from migrate.inventory.model import Method, RestApi
from migrate.plan_folder import PlanFolder
from migrate.scan.cfn_resolve import Resolver
from migrate.scan.cfn_yaml import load_document, read_text
from migrate.scan.sam import IMPLICIT_API, SERVERLESS_API, SamReader
from migrate.scan.template import read_template

PERMISSION_NAME = f"{AUTHORIZER_NAME}Permission"
REST_API = "AWS::ApiGateway::RestApi"
METHOD = "AWS::ApiGateway::Method"
CDK_PATH = "aws:cdk:path"
# A REST API id as API Gateway makes them (10 lower-case letters and digits, e.g. "a1b2c3d4e5"); a template's logical
# id is written in CamelCase. The authorizer compares the API id of each request's method ARN with the plan's.
_DEPLOYED_API_ID = re.compile(r"^[a-z0-9]{10}$")
# API Gateway's URI for invoking a Lambda function (API Gateway API reference, CreateAuthorizer, authorizerUri), as
# SAM spells it with Fn::Sub (apigateway.py, generate_swagger).
_INVOKE_URI = ("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${FunctionArn}/"
               "invocations")
_SOURCE_ARN = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${ApiId}/authorizers/"
# IDENTITY_SOURCE's prefixes, as SAM's Identity names them (apigateway.py, _get_identity_source).
_SAM_IDENTITY = (("Headers", "method.request.header."), ("QueryStrings", "method.request.querystring."),
                 ("StageVariables", "stageVariables."), ("Context", "context."))
_AUTHORIZER_SCHEMES = {"AWS_IAM"}


@dataclass
class PatchResult:
    form: str  # "SAM", "CloudFormation", "OpenAPI body", "CDK"
    display_name: str
    diff: str = ""  # empty for CDK (guidance instead) or when nothing changes
    guidance: str = ""
    moved: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # already on the avp-migrate authorizer
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def patch_template(plan_dir: str, template: str, *, endpoints: tuple[str, ...] = (), ttl: int = 300,
                   parameters: Mapping[str, str] | None = None, cwd: Path | None = None) -> PatchResult:
    """``parameters``: the ``--parameter`` values the scan was given, so that the template reads as it did then
    (scopes built from parameters, conditions): each method's authorization is compared with the plan's."""
    if not 0 <= ttl <= MAX_TTL:
        raise UserError(f"must be between 0 and {MAX_TTL} seconds (API Gateway's limit), got {ttl}", where="--ttl")
    plan = load_plan(plan_dir)
    selected, skipped = select_routes(plan, endpoints)
    path = Path(template)
    where = str(path)
    text = read_text(path, where, "template")
    parameters = dict(parameters or {})
    logical = _api_logical_id(PlanFolder.open(plan_dir), plan.api_id, parameters)
    analysis = load_document(text, where)
    if not isinstance(analysis, dict) or not isinstance(analysis.get("Resources"), dict):
        raise UserError("not a CloudFormation template: no 'Resources' mapping", where=where)
    resources = analysis["Resources"]
    api_type = (resources.get(logical) or {}).get("Type") if isinstance(resources.get(logical), dict) else None
    if logical == IMPLICIT_API and api_type is None:
        raise UserError(f"the plan's API is SAM's implicit API {IMPLICIT_API}, which has no resource to hold an "
                        "authorizer: declare it as an AWS::Serverless::Api and point the events at it, then patch",
                        where=where)
    if api_type not in {SERVERLESS_API, REST_API}:
        raise UserError(f"not the plan's API: no REST API {logical!r} in the template (the plan in {plan.folder} is "
                        f"for API {plan.api_id} {plan.api_name!r}; planned from a live scan? name the API's logical "
                        f"id with --parameter LOGICAL_ID={plan.api_id})", where=where)
    # Matched by logical id (the source), not by id: with --parameter LOGICAL=ID the read API carries the deployed id.
    api = next((a for a in read_template(path, parameters).apis if a.source == f"template:{where}#{logical}"), None)
    if api is None or not api.methods:
        raise UserError(f"API {logical} has no methods in the template: nothing to move", where=where)
    if not selected:
        raise UserError(f"no methods to move: the plan's routes are all blocked ({', '.join(skipped) or 'none'})"
                        if skipped else "no methods to move: the plan migrates no route", where=str(plan.folder))
    result = PatchResult(form="", display_name=_display_name(path, cwd or Path.cwd()), skipped=skipped)
    located, already = _locate(api, selected, where, result)
    function_export = export_name(plan.api_id, plan.stage, OUTPUT_FUNCTION_ARN)
    if not _DEPLOYED_API_ID.match(plan.api_id):
        result.notes.append(
            f"warning: the plan's API id {plan.api_id!r} looks like the template's logical id, not a deployed REST "
            "API id: the authorizer checks the API id of each request's method ARN, so it cannot decide requests "
            f"until the plan names the deployed id (scan again with --template {where} --parameter "
            f"{logical}=<rest api id>, then plan again; the export name {function_export} changes with it)")
    if any(_is_cdk(r) for r in resources.values()):
        result.form = "CDK"
        staying = [f"{m.http_method} {m.path}" for m in api.methods
                   if f"{m.http_method} {m.path}" not in {r.route for r, _ in located + already}]
        result.guidance = _cdk_guidance(resources, logical, located, staying, function_export, ttl)
        return result
    # Windows line ends: edited as "\n" (ruamel writes "\n"), given back as they were, so only changed lines differ.
    crlf = "\r\n" in text
    editable = EditableTemplate.load(text.replace("\r\n", "\n") if crlf else text, where)
    if not editable.exact:
        result.notes.append("note: the file's layout could not be reproduced exactly: the diff also shows unchanged "
                            "lines re-indented or re-quoted; review them")
    editor = _Editor(editable, analysis, logical, function_export, ttl, where)
    if api_type == SERVERLESS_API:
        result.form = "SAM"
        editor.sam(located)
    else:
        result.form = editor.rest_api(located, already)
        result.notes.append(
            "the stage serves methods as its deployment froze them: CloudFormation does not redeploy a stage when "
            "only methods change, so give the stage a new deployment (a new AWS::ApiGateway::Deployment logical id, "
            "or your pipeline's usual redeploy) in the same update")
    result.notes.append(f"before applying: deploy the migration stack (the plan's cloudformation.json), which "
                        f"exports {function_export}; every moved route starts in shadow (the scope rule still "
                        "decides, AVP's answer is logged); cut over with `avp-migrate cutover`, no template change")
    patched = editable.dump()
    patched = patched.replace("\n", "\r\n") if crlf else patched
    result.diff = unified_diff(text, patched, result.display_name)
    return result


def _api_logical_id(folder: PlanFolder, api_id: str, parameters: Mapping[str, str]) -> str:
    """The template logical id the plan's API was read from (``scan --template`` records ``template:PATH#ID``);
    for a plan made from a live scan, the logical id ``--parameter LOGICAL_ID=API_ID`` names (as scan takes it)."""
    for api in folder.snapshot().apis:
        if api.id == api_id and api.source.startswith("template:") and "#" in api.source:
            return api.source.rsplit("#", 1)[1]
    named = [key for key, value in parameters.items() if value == api_id and "::" not in key and "." not in key]
    return named[0] if len(named) == 1 else api_id


def _display_name(path: Path, cwd: Path) -> str:
    try:
        relative = os.path.relpath(path.resolve(), cwd.resolve())
    except ValueError:  # another drive (Windows)
        relative = path.name
    return Path(path.name if relative.startswith("..") else relative).as_posix()


def _is_cdk(resource: Any) -> bool:
    return isinstance(resource, dict) and isinstance(resource.get("Metadata"), dict) \
        and CDK_PATH in resource["Metadata"]


def _locate(api: RestApi, selected: list[PlannedRoute], where: str, result: PatchResult
            ) -> tuple[list[tuple[PlannedRoute, Method]], list[tuple[PlannedRoute, Method]]]:
    """The selected methods to move, and those already on the avp-migrate authorizer (whose authorizer a run
    still writes: a new --ttl changes it)."""
    methods = {f"{m.http_method} {m.path}": m for m in api.methods}
    located, already = [], []
    for route in selected:
        method = methods.get(route.route)
        if method is None:
            raise UserError(f"route {route.route} of the plan is not a method of API {api.id} in the template "
                            "(another template, or it changed since the scan: scan and plan again)", where=where)
        if method.authorizer_id == AUTHORIZER_NAME:
            result.already.append(route.route)
            already.append((route, method))
            continue
        if (method.authorization_type, tuple(sorted(method.authorization_scopes))) != \
                (route.authorization_type, tuple(sorted(route.scopes))):
            raise UserError(f"route {route.route}: the template authorizes it with {method.authorization_type} "
                            f"{sorted(method.authorization_scopes)}, the plan with {route.authorization_type} "
                            f"{sorted(route.scopes)}: it changed since the scan (scan and plan again)", where=where)
        located.append((route, method))
        result.moved.append(route.route)
    return located, already


def unified_diff(before: str, after: str, name: str) -> str:
    """``--- a/NAME`` / ``+++ b/NAME``: what ``patch -p1`` and ``git apply`` take; a last line without a newline is
    marked as git marks it."""
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 f"a/{name}", f"b/{name}")
    return "".join(line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n" for line in lines)


class _Editor:
    def __init__(self, editable: EditableTemplate, analysis: dict[str, Any], logical: str, function_export: str,
                 ttl: int, where: str) -> None:
        self.t = editable
        self.analysis = analysis
        self.resources = editable.document["Resources"]
        self.logical = logical
        self.function_export = function_export
        self.ttl = ttl
        self.where = where

    def function_arn(self) -> Any:
        return self.t.import_value(self.function_export)

    def invoke_uri(self) -> Any:
        return self.t.sub(_INVOKE_URI, {"FunctionArn": self.function_arn()})

    # --- SAM ---

    def sam(self, located: list[tuple[PlannedRoute, Method]]) -> None:
        props = self.resources[self.logical].setdefault("Properties", self.t.mapping())
        auth = props.get("Auth")
        if auth is None:
            auth = props["Auth"] = self.t.mapping()
        authorizers = auth.get("Authorizers")
        if authorizers is None:
            authorizers = auth["Authorizers"] = self.t.mapping()
        identity = self.t.mapping()
        sources = IDENTITY_SOURCE.split(",")
        for key, prefix in _SAM_IDENTITY:
            names = [s[len(prefix):] for s in sources if s.startswith(prefix)]
            if names:
                identity[key] = self.t.sequence(names)
        identity["ReauthorizeEvery"] = self.ttl
        _put(authorizers, AUTHORIZER_NAME, self.t.mapping({
            "FunctionArn": self.function_arn(), "FunctionPayloadType": "REQUEST", "Identity": identity}))
        analysis_props = self.analysis["Resources"][self.logical].get("Properties") or {}
        body_only = analysis_props.get("DefinitionBody") is not None and not analysis_props.get("MergeDefinitions")
        events = self.sam_events()
        for route, method in located:
            event = None if body_only else events.get(route.route)
            if event is not None:
                self.sam_event(*event)
            elif isinstance(props.get("DefinitionBody"), dict):
                self.body_operation(props["DefinitionBody"], route, method)
            else:
                raise UserError(f"route {route.route}: neither an Api event of {self.logical} nor an operation of "
                                "its DefinitionBody: not patched", where=self.where)

    def sam_events(self) -> dict[str, tuple[str, str]]:
        """route -> (function, event) for the API's Api events (read as the scan reads them)."""
        resolver = Resolver(self.analysis, self.where, {})
        found = {}
        for api_id, relative, path, verb, _ in SamReader(self.analysis, resolver, self.where).api_events(
                resolver.resources):
            if api_id == self.logical:
                function, _, event = relative.partition(".Events.")
                found[f"{verb.upper()} {path}"] = (function, event)
        return found

    def sam_event(self, function: str, event: str) -> None:
        props = self.resources[function]["Properties"]["Events"][event]["Properties"]
        auth = props.get("Auth")
        if auth is None:
            props["Auth"] = self.t.mapping({"Authorizer": AUTHORIZER_NAME}, flow=True)  # one line, as events' Auth are
            return
        auth["Authorizer"] = AUTHORIZER_NAME
        auth.pop("AuthorizationScopes", None)

    # --- API Gateway resources and bodies ---

    def rest_api(self, located: list[tuple[PlannedRoute, Method]], already: list[tuple[PlannedRoute, Method]]
                 ) -> str:
        on_methods = [(r, m) for r, m in located if _type_of(self.analysis, m.resource_id) == METHOD]
        in_body = [(r, m) for r, m in located if (r, m) not in on_methods]
        already_on_methods = [(r, m) for r, m in already if _type_of(self.analysis, m.resource_id) == METHOD]
        already_in_body = [(r, m) for r, m in already if (r, m) not in already_on_methods]
        body = (self.resources[self.logical].get("Properties") or {}).get("Body")
        if (in_body or already_in_body) and not isinstance(body, dict):
            raise UserError(f"route {in_body[0][0].route}: not an AWS::ApiGateway::Method of the template nor an "
                            f"operation of {self.logical}'s Body: not patched", where=self.where)
        rest_api_id = None
        for _, method in already_on_methods:
            rest_api_id = rest_api_id or self.t.copy(self.resources[method.resource_id]["Properties"]["RestApiId"])
        for _, method in on_methods:
            props = self.resources[method.resource_id]["Properties"]
            rest_api_id = rest_api_id if rest_api_id is not None else self.t.copy(props["RestApiId"])
            _set_after(props, "AuthorizationType", "CUSTOM", None)
            _set_after(props, "AuthorizerId", self.t.ref(AUTHORIZER_NAME), "AuthorizationType")
            props.pop("AuthorizationScopes", None)
        if on_methods or already_on_methods:
            self.add_resource(AUTHORIZER_NAME, "AWS::ApiGateway::Authorizer", {
                "Name": AUTHORIZER_NAME, "RestApiId": rest_api_id, "Type": "REQUEST",
                "AuthorizerUri": self.invoke_uri(), "IdentitySource": IDENTITY_SOURCE,
                "AuthorizerResultTtlInSeconds": self.ttl})
        if in_body or already_in_body:
            self.add_scheme(body)
            for route, method in in_body:
                self.body_operation(body, route, method)
        # What API Gateway presents when it invokes the authorizer: .../authorizers/<authorizer id> (developer
        # guide, Lambda authorizers, "lambda add-permission ... --source-arn"); a Body's authorizer has no id the
        # template can name, hence "*" there (as SAM does for its authorizers).
        body_too = bool(in_body or already_in_body)
        source = _SOURCE_ARN + ("*" if body_too else "${" + AUTHORIZER_NAME + "}")
        self.add_resource(PERMISSION_NAME, "AWS::Lambda::Permission", {
            "Action": "lambda:InvokeFunction", "FunctionName": self.function_arn(),
            "Principal": "apigateway.amazonaws.com",
            # A copy per use: one node in two places would be written as a YAML anchor and alias.
            "SourceArn": self.t.sub(source, {"ApiId": self.t.copy(rest_api_id) if rest_api_id is not None
                                             else self.t.ref(self.logical)})})
        methods_too = bool(on_methods or already_on_methods)
        return "CloudFormation and OpenAPI body" if methods_too and body_too else \
            "OpenAPI body" if body_too else "CloudFormation"

    def add_resource(self, logical: str, kind: str, props: dict[str, Any]) -> None:
        resource = self.t.mapping({"Type": kind, "Properties": self.t.mapping(props)})
        keys = list(self.resources)
        if logical in self.resources:
            _put(self.resources, logical, resource)
        elif self.t.is_yaml:
            # Next to the API, where a reviewer looks for it, rather than after the template's last resource.
            position = keys.index(self.logical) + 1 + (logical == PERMISSION_NAME and AUTHORIZER_NAME in keys)
            self.resources.insert(position, logical, resource)
            if position < len(keys) and logical == PERMISSION_NAME:
                # The blank line that separated the API from the next resource now precedes ours: one more after.
                self.resources.yaml_set_comment_before_after_key(keys[position], before="\n")
        else:
            _set_after(self.resources, logical, resource,
                       AUTHORIZER_NAME if logical == PERMISSION_NAME and AUTHORIZER_NAME in keys else self.logical)

    def add_scheme(self, body: Any) -> None:
        authorizer = self.t.mapping({"type": "request", "identitySource": ", ".join(IDENTITY_SOURCE.split(",")),
                                     "authorizerUri": self.invoke_uri(), "authorizerResultTtlInSeconds": self.ttl})
        scheme = self.t.mapping({"type": "apiKey", "name": "Unused", "in": "header",
                                 "x-amazon-apigateway-authtype": "custom",
                                 "x-amazon-apigateway-authorizer": authorizer})
        if "openapi" in body:
            components = body.setdefault("components", self.t.mapping())
            schemes = components.setdefault("securitySchemes", self.t.mapping())
        else:
            schemes = body.setdefault("securityDefinitions", self.t.mapping())
        _put(schemes, AUTHORIZER_NAME, scheme)

    def body_operation(self, body: Any, route: PlannedRoute, method: Method) -> None:
        item = (body.get("paths") or {}).get(route.path)
        key = "x-amazon-apigateway-any-method" if route.verb == "ANY" else route.verb.lower()
        operation = item.get(key) if isinstance(item, dict) else None
        if not isinstance(operation, dict):
            raise UserError(f"route {route.route}: no paths[{route.path!r}].{key} in the API's definition: not "
                            "patched", where=self.where)
        schemes = body.get("securityDefinitions") or (body.get("components") or {}).get("securitySchemes") or {}
        authorizer_schemes = _AUTHORIZER_SCHEMES | {name for name, s in schemes.items() if isinstance(s, dict) and (
            "x-amazon-apigateway-authtype" in s or "x-amazon-apigateway-authorizer" in s)}
        if method.authorizer_id:
            authorizer_schemes.add(method.authorizer_id)
        # Keep what is not an authorizer (an API key requirement); the authorizer requirement is replaced.
        kept = [s for s in operation.get("security") or [] if not (isinstance(s, dict) and authorizer_schemes & set(s))]
        requirement = self.t.mapping({AUTHORIZER_NAME: self.t.sequence([])})
        security = self.t.sequence([requirement, *kept], flow=False)
        if "security" in operation:
            operation["security"] = security
        else:
            _set_after(operation, "security", security, None)


def _type_of(analysis: dict[str, Any], logical: str | None) -> str | None:
    resource = analysis["Resources"].get(logical) if logical else None
    return resource.get("Type") if isinstance(resource, dict) else None


def _plain(node: Any) -> Any:
    """A value without its YAML presentation (comments, style), its tags kept: for telling a real change."""
    tag = getattr(getattr(node, "tag", None), "value", None)  # ruamel's Tag; None for plain values and JSON
    if isinstance(node, dict):
        value: Any = {k: _plain(v) for k, v in node.items()}
    elif isinstance(node, list):
        value = [_plain(v) for v in node]
    else:
        value = getattr(node, "value", node)
    return {str(tag): value} if tag and str(tag).startswith("!") else value


def _put(target: Any, key: str, value: Any) -> None:
    """Set ``target[key]``, changing only what differs when it is there already (a second run of patch-template
    on a patched template leaves the file, its comments and blank lines included, as it was)."""
    current = target.get(key)
    if isinstance(current, dict) and isinstance(value, dict):
        for sub_key, sub_value in value.items():
            _put(current, sub_key, sub_value)
    elif key not in target or _plain(current) != _plain(value):
        target[key] = value


def _set_after(target: Any, key: str, value: Any, after: str | None) -> None:
    """Set ``key``, in place when present, else right after ``after`` (at the end when None or absent)."""
    if key in target or after is None or after not in target:
        target[key] = value
        return
    position = list(target).index(after) + 1
    if hasattr(target, "insert"):  # ruamel's CommentedMap
        target.insert(position, key, value)
        return
    items = list(target.items())
    items.insert(position, (key, value))
    target.clear()
    target.update(items)


# --- CDK: guidance, not a patch of generated output ---------------------------------------------------------------

def _construct_path(resources: dict[str, Any], api_logical: str, method: Method) -> str:
    own = (resources.get(method.resource_id or "") or {}).get("Metadata") or {}
    if CDK_PATH in own:
        return str(own[CDK_PATH]).removesuffix("/Resource")
    # CDK names a RestApi's methods <api>/Default/<path parts>/<VERB> (aws-cdk-lib aws-apigateway: the root
    # resource's id is "Default", each Resource is its pathPart, each Method its verb).
    api_path = str(((resources.get(api_logical) or {}).get("Metadata") or {}).get(CDK_PATH, api_logical))
    parts = [p for p in method.path.split("/") if p]
    return "/".join([api_path.removesuffix("/Resource"), "Default", *parts, method.http_method])


def _cdk_guidance(resources: dict[str, Any], api_logical: str, located: list[tuple[PlannedRoute, Method]],
                  staying: list[str], function_export: str, ttl: int) -> str:
    sources = ",\n      ".join(f"apigateway.IdentitySource.{_cdk_source(s)}" for s in IDENTITY_SOURCE.split(","))
    lines = [
        "This template is AWS CDK output (aws:cdk:path metadata): cdk.out is generated, so it is not patched.",
        "Change the CDK app instead (TypeScript shown; other languages take the same construct calls):",
        "",
        # fromFunctionAttributes with sameEnvironment: an imported function's permissions are only added by CDK
        # when it knows the function is in the stack's account; for an ARN that is a token (Fn.importValue) in an
        # environment-agnostic stack it assumes not (aws-cdk-lib aws-lambda, FunctionAttributes.sameEnvironment).
        "  const avpMigrateFunction = lambda.Function.fromFunctionAttributes(this, 'AvpMigrateFunction', {",
        f"    functionArn: cdk.Fn.importValue('{function_export}'), sameEnvironment: true }});",
        f"  const avpMigrateAuthorizer = new apigateway.RequestAuthorizer(this, '{AUTHORIZER_NAME}', {{",
        "    handler: avpMigrateFunction,",
        f"    identitySources: [{sources}],",
        f"    resultsCacheTtl: cdk.Duration.seconds({ttl}) }});",
        "",
        "Then, for each method below, give its addMethod call the authorizer (its integration unchanged; its",
        "authorizationScopes removed: a Lambda authorizer has none):",
        "  resource.addMethod(VERB, integration, { authorizer: avpMigrateAuthorizer,",
        "    authorizationType: apigateway.AuthorizationType.CUSTOM });",
        # defaultMethodOptions reaches every method of the RestApi: right only when they all move.
        "(defaultMethodOptions on the RestApi instead: not here, it would also move " + ", ".join(staying) + ")."
        if staying else "(or defaultMethodOptions on the RestApi: every method of the API moves).",
        "Methods to move:",
    ]
    lines += [f"  {route.route:<28} construct {_construct_path(resources, api_logical, method)}"
              for route, method in located]
    lines += ["", "RequestAuthorizer adds the Lambda permission (sameEnvironment lets it); the RestApi's deployment "
                  "changes with its methods (CDK hashes them into the deployment's logical id), so `cdk deploy` "
                  "serves them. The function is the migration stack's: deploy it (the plan's cloudformation.json) "
                  "first."]
    return "\n".join(lines)


def _cdk_source(source: str) -> str:
    for prefix, call in (("method.request.header.", "header"), ("method.request.querystring.", "queryString"),
                         ("stageVariables.", "stageVariable"), ("context.", "context")):
        if source.startswith(prefix):
            return f"{call}('{source[len(prefix):]}')"
    return f"context('{source}')"
