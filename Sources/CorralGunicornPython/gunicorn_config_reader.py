"""Reads a gunicorn config file the way gunicorn does, for corrald (which has no interpreter).

Run as `python3 -c SOURCE TARGET`, where TARGET is a file path or gunicorn's `python:module.name`.
The file is executed as a module named `__config__` (a module name is imported), and each public
global is reported on the original stdout, one record per line, tab-separated:

    setting NAME KIND LINE PAYLOAD   KIND: toml, none, callable or object; LINE: 0 if unknown
    error   KIND LINE MESSAGE        KIND: syntax (the file is not Python) or raised

Payloads of kind toml are TOML values; of kind object, the Python repr. Backslashes and newlines
in payloads are escaped as \\\\ and \\n. What the file prints itself goes to stderr, as does the
traceback of an exception it raises.
"""

import ast
import importlib
import importlib.machinery
import importlib.util
import json
import math
import os
import sys
import traceback
import types


def toml(value):
    """The TOML text for value, or None if TOML cannot say it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else None
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        items = [toml(item) for item in value]
        return None if None in items else "[" + ", ".join(items) + "]"
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            text = toml(item) if isinstance(key, str) else None
            if text is None:
                return None
            pairs.append(toml(key) + " = " + text)
        return "{ " + ", ".join(pairs) + " }"
    return None


def assignment_lines(source):
    """The last line at module level where each name is bound (functions' bodies do not count)."""
    lines = {}

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                lines[child.name] = child.lineno
                continue
            if isinstance(child, ast.Lambda):
                continue
            if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Store):
                lines[child.id] = child.lineno
            visit(child)

    visit(ast.parse(source))
    return lines


def escape(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", " ")


def report(out, *fields):
    out.write("\t".join(escape(str(field)) for field in fields) + "\n")


def line_in(path, error):
    """The line of path where error was raised (its innermost frame in that file), or 0."""
    line = 0
    for frame in traceback.extract_tb(error.__traceback__):
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            line = frame.lineno or 0
    return line


def print_traceback(error):
    """The traceback from the config file's first frame on (the reader's own is not the user's)."""
    traceback.print_exception(type(error), error, error.__traceback__.tb_next, file=sys.stderr)


def load(target, out):
    """Executes target; its module, or None after reporting why it failed."""
    if target.startswith("python:"):
        name = target[len("python:"):]
        try:
            module = importlib.import_module(name)
        except SyntaxError as error:
            report(out, "error", "syntax", error.lineno or 0, f"{error.filename}: {error.msg}")
            return None
        except BaseException as error:
            print_traceback(error)
            report(out, "error", "raised", 0, f"importing {name}: {type(error).__name__}: {error}")
            return None
        return module
    try:
        with open(target, "rb") as file:
            source = file.read()
        code = compile(source, target, "exec")
    except SyntaxError as error:
        report(out, "error", "syntax", error.lineno or 0, error.msg)
        return None
    except ValueError as error:  # NUL bytes
        report(out, "error", "syntax", 0, str(error))
        return None
    loader = importlib.machinery.SourceFileLoader("__config__", target)
    spec = importlib.util.spec_from_file_location("__config__", target, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules["__config__"] = module
    try:
        exec(code, vars(module))
    except BaseException as error:
        print_traceback(error)
        report(out, "error", "raised", line_in(target, error), f"{type(error).__name__}: {error}")
        return None
    return module


def main():
    target = sys.argv[1]
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # what the config file prints goes to stderr, not into the records
    module = load(target, out)
    if module is not None:
        try:
            with open(module.__file__, "rb") as file:
                lines = assignment_lines(file.read())
        except (OSError, TypeError, SyntaxError):
            lines = {}
        for name, value in vars(module).items():
            if name.startswith("_") or isinstance(value, types.ModuleType):
                continue
            if value is None:
                kind, payload = "none", ""
            elif callable(value):
                kind, payload = "callable", ""
            else:
                kind, payload = "toml", toml(value)
                if payload is None:
                    kind, payload = "object", repr(value)
            report(out, "setting", name, kind, lines.get(name, 0), payload)
    out.flush()


if __name__ == "__main__":
    main()
