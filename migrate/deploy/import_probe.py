"""Run by :mod:`migrate.deploy.package_check` as a script, in a clean interpreter of the function's Python version
(``python3.12 -I -S import_probe.py ARGS``): never imported by avp-migrate itself.

It sees only what Lambda would put on ``sys.path`` (the unpacked package, the unpacked layers, the runtime's own
SDK) plus the interpreter's standard library, then imports the handler's module, checks the handler is callable,
and imports every module the packaged ``authorizer/`` code names anywhere (at the top of a module or inside a
function, where the authorizer imports boto3 and botocore lazily), so a dependency that is
only needed on the first SSM read or the first AVP call cannot be missing unnoticed. The answer is one line,
``AVP-MIGRATE-PROBE <json>``, on standard output.

Written for Python 3.9 and later (the probe runs under the function's Python, not avp-migrate's).
"""

import ast
import importlib
import json
import os
import sys

MARKER = "AVP-MIGRATE-PROBE "


def _is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(package_dir, package_name):
    """(module, attribute or None) for every import statement in the package, in a stable order; imports under
    ``if TYPE_CHECKING:`` are for type checkers only and are skipped."""
    found = []
    for root, _dirs, files in os.walk(package_dir):
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            path = os.path.join(root, name)
            relative = os.path.relpath(path, package_dir)[:-3].replace(os.sep, ".")
            module_name = package_name if relative == "__init__" else f"{package_name}.{relative}"
            if module_name.endswith(".__init__"):
                module_name = module_name[: -len(".__init__")]
            with open(path, encoding="utf-8") as handle:
                tree = ast.parse(handle.read(), path)
            skipped = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.If) and _is_type_checking(node.test):
                    for inner in node.body:
                        skipped.update(id(n) for n in ast.walk(inner))
            for node in ast.walk(tree):
                if id(node) in skipped:
                    continue
                if isinstance(node, ast.Import):
                    found += [(alias.name, None) for alias in node.names]
                elif isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        parts = module_name.split(".")
                        is_package = name == "__init__.py"
                        anchor = parts if is_package else parts[:-1]
                        anchor = anchor[: len(anchor) - (node.level - 1)]
                        base = ".".join([*anchor, base] if base else anchor)
                    if base == "__future__":
                        continue
                    found += [(base, alias.name) for alias in node.names if alias.name != "*"]
    return sorted(set(found), key=lambda item: (item[0], item[1] or ""))


def main():
    args = json.loads(sys.argv[1])
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = list(args["paths"]) + [p for p in sys.path if p and os.path.abspath(p) != here]
    result = {"python": sys.version.split()[0], "executable": sys.executable, "missing": None, "error": None,
              "checked": 0, "origins": {}}
    try:
        module_name, attribute = args["handler"].rsplit(".", 1)
        module = importlib.import_module(module_name)
        if not callable(getattr(module, attribute, None)):
            raise AttributeError(f"module {module_name!r} has no callable {attribute!r}")
        wanted = imports_of(args["scan"], args["package"])
        for name, attr in wanted:
            imported = importlib.import_module(name)
            if attr is not None and not hasattr(imported, attr):
                importlib.import_module(f"{name}.{attr}")  # a submodule, or ModuleNotFoundError/ImportError
        result["checked"] = len(wanted)
        if "jwt" in sys.modules:
            # PyJWT imports without cryptography and then cannot verify RS256 (Cognito's algorithm) at all.
            algorithms = importlib.import_module("jwt.algorithms")
            if not getattr(algorithms, "has_crypto", False):
                raise ModuleNotFoundError("No module named 'cryptography' (PyJWT cannot verify RS256 without it)",
                                          name="cryptography")
    except ModuleNotFoundError as exc:
        result["missing"] = exc.name
        result["error"] = str(exc)
    except Exception as exc:  # ImportError for a wrong binary, SyntaxError for a newer Python's syntax...
        result["error"] = f"{type(exc).__name__}: {exc}"
    for name, module in list(sys.modules.items()):
        if "." in name or module is None:
            continue
        origin = getattr(module, "__file__", None)
        if origin:
            result["origins"][name] = origin
    sys.stdout.write("\n" + MARKER + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
