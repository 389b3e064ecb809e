"""Static analysis of generated code on its AST: syntax, security risks, control-system access.

The analyser resolves names through the code's imports (``import epics as e``,
``from os import system as run``, ``from os import *``) and through attribute chains
(``pathlib.os.system``), so ``e.caput`` is a write and ``run("ls")`` is a shell command,
while an ordinary ``d.get(k)`` is nothing. It is advisory: a guard against the mistakes
of a code generator, not a boundary. A determined author can hide a call from any static
check; the sandbox (``executor/sandbox``) is what contains the code, and the service,
not the code, decides every control-system write.
"""

from __future__ import annotations

import ast
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

__all__ = [
    "ChannelAccess",
    "CodeAnalysis",
    "RiskLevel",
    "SecurityFinding",
    "SyntaxIssue",
    "analyze_code",
]


class RiskLevel(StrEnum):
    """How bad a finding is: HIGH is never executed, MEDIUM is reported as a warning."""

    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True)
class SecurityFinding:
    """One risky construct, with the rule that found it and its line."""

    rule: str
    message: str
    line: int
    risk: RiskLevel

    def __str__(self) -> str:
        return f"line {self.line}: {self.message} [{self.risk} risk]"


@dataclass(frozen=True)
class ChannelAccess:
    """A read or write of the control system; ``channel`` is None when not a literal."""

    kind: Literal["read", "write"]
    function: str
    channel: str | None
    line: int

    def __str__(self) -> str:
        target = repr(self.channel) if self.channel is not None else "<computed channel>"
        return f"line {self.line}: {self.function}({target})"


@dataclass(frozen=True)
class SyntaxIssue:
    """Why the code does not compile, and where."""

    error_type: str
    message: str
    line: int | None
    text: str | None = None

    def __str__(self) -> str:
        where = f" (line {self.line})" if self.line is not None else ""
        shown = f": {self.text.strip()}" if self.text and self.text.strip() else ""
        return f"{self.error_type}: {self.message}{where}{shown}"


@dataclass(frozen=True)
class CodeAnalysis:
    """Everything the analyser found in one piece of code."""

    syntax_error: SyntaxIssue | None = None
    security_findings: tuple[SecurityFinding, ...] = ()
    channel_reads: tuple[ChannelAccess, ...] = ()
    channel_writes: tuple[ChannelAccess, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    @property
    def high_risk_findings(self) -> tuple[SecurityFinding, ...]:
        return tuple(f for f in self.security_findings if f.risk is RiskLevel.HIGH)

    @property
    def is_high_risk(self) -> bool:
        """True when the code must not run."""
        return bool(self.high_risk_findings)

    @property
    def writes_channels(self) -> bool:
        return bool(self.channel_writes)

    @property
    def reads_channels(self) -> bool:
        return bool(self.channel_reads)

    def all_warnings(self) -> list[str]:
        """Warnings plus findings below HIGH, one line each (what a successful result reports)."""
        lower = [str(f) for f in self.security_findings if f.risk is not RiskLevel.HIGH]
        return [*self.warnings, *lower]


# --- rules -----------------------------------------------------------------------------

_DANGEROUS_MODULES = {
    "subprocess": "runs external commands via subprocess",
    "_posixsubprocess": "runs external commands via _posixsubprocess",
    "pty": "spawns processes via pty",
    "ctypes": "loads native code via ctypes",
    "socket": "opens network connections via socket",
    "_socket": "opens network connections via _socket",
}
# Network use: whole modules, or the network part of a package (``urllib.parse`` is fine).
_NETWORK_MODULES = frozenset(
    {
        "requests", "httpx", "aiohttp", "urllib3", "ftplib", "smtplib", "poplib",
        "imaplib", "telnetlib", "socketserver", "websocket", "websockets",
        "urllib.request", "http.client", "http.server", "xmlrpc.client", "xmlrpc.server",
        "asyncio.open_connection", "asyncio.start_server", "asyncio.open_unix_connection",
        "asyncio.start_unix_server",
    }
)  # fmt: skip
_ASYNCIO_PROCESSES = ("asyncio.create_subprocess_shell", "asyncio.create_subprocess_exec")
_STAR_IMPORT_MODULES = frozenset({"os", "posix", "subprocess", "pty", "socket", "ctypes"})
_OS_MODULES = frozenset({"os", "posix"})
_OS_EXACT = frozenset({"system", "popen", "fork", "forkpty", "kill", "killpg"})
_OS_PREFIXES = ("exec", "spawn", "posix_spawn")
_DYNAMIC_CODE = {
    "builtins.eval": "evaluates dynamic code via eval()",
    "builtins.exec": "executes dynamic code via exec()",
    "builtins.compile": "compiles dynamic code via compile()",
}
_DYNAMIC_IMPORTS = frozenset(
    {"builtins.__import__", "importlib.import_module", "importlib.__import__"}
)
_OPEN_FUNCTIONS = frozenset({"builtins.open", "io.open", "codecs.open"})
_OS_OPEN_WRITE_FLAGS = frozenset({"O_WRONLY", "O_RDWR", "O_CREAT", "O_APPEND", "O_TRUNC"})
_OS_DELETE_FUNCTIONS = frozenset({"os.remove", "os.unlink", "os.rmdir", "os.removedirs"})
_PATH_CONSTRUCTORS = frozenset({"Path", "PurePath", "PosixPath", "PurePosixPath"})
_PATH_WRITE_METHODS = frozenset(
    {
        "write_text",
        "write_bytes",
        "touch",
        "mkdir",
        "unlink",
        "rmdir",
        "rename",
        "replace",
        "symlink_to",
        "hardlink_to",
        "chmod",
    }
)
_HARMLESS_WRITE_TARGETS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})

_WRITE_FUNCTIONS = frozenset({"write_channel", "write_channels", "caput", "caput_many"})
_READ_FUNCTIONS = frozenset({"read_channel", "caget", "caget_many"})
_PV_CONSTRUCTORS = frozenset({"PV", "get_pv"})
_CHANNEL_KEYWORDS = ("name", "channel", "pvname")

_RESULTS_NAME = "results"
_BUILTIN_NAMES = frozenset({"eval", "exec", "compile", "__import__", "open", "getattr"})


def analyze_code(code: str) -> CodeAnalysis:
    """Analyse ``code`` without running it."""
    syntax_issue = _check_syntax(code)
    if syntax_issue is not None:
        return CodeAnalysis(syntax_error=syntax_issue)
    tree = ast.parse(code)
    return _Analyzer(tree).run()


def _check_syntax(code: str) -> SyntaxIssue | None:
    try:
        # compile() also rejects what the parser accepts, e.g. ``return`` outside a function.
        compile(code, "<generated code>", "exec", dont_inherit=True)
    except SyntaxError as exc:
        return SyntaxIssue(type(exc).__name__, exc.msg, exc.lineno, exc.text)
    except (ValueError, RecursionError, MemoryError) as exc:
        return SyntaxIssue("SyntaxError", f"cannot compile: {exc}", None)
    return None


class _Analyzer:
    """Two passes over the tree: collect bindings, then judge every node."""

    def __init__(self, tree: ast.Module) -> None:
        self.tree = tree
        self.aliases: dict[str, str] = {"__builtins__": "builtins"}
        self.bound: set[str] = set()
        self.constants: dict[str, str | None] = {}
        self.path_vars: dict[str, str | None] = {}
        self.pv_vars: dict[str, str | None] = {}
        self.star_modules: list[str] = []
        self.uses_epics = False
        self.findings: dict[tuple[str, int], SecurityFinding] = {}
        self.reads: list[ChannelAccess] = []
        self.writes: list[ChannelAccess] = []

    def run(self) -> CodeAnalysis:
        self._collect_bindings()
        for node in ast.walk(self.tree):
            self._judge(node)
        warnings: list[str] = []
        if not self._assigns_results():
            warnings.append(
                "'results' is never assigned: the code must create a dict named results "
                "at module level, e.g. results = {'value': 42}"
            )
        return CodeAnalysis(
            security_findings=tuple(sorted(self.findings.values(), key=lambda f: f.line)),
            channel_reads=tuple(self.reads),
            channel_writes=tuple(self.writes),
            warnings=tuple(warnings),
        )

    # --- pass 1: what names mean ------------------------------------------------------

    def _collect_bindings(self) -> None:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:
                        head = alias.name.split(".")[0]
                        self.aliases[head] = head
                    self.uses_epics |= alias.name.split(".")[0] == "epics"
            elif isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                self.uses_epics |= module.split(".")[0] == "epics"
                for alias in node.names:
                    if alias.name == "*":
                        self.star_modules.append(module)
                    else:
                        self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.bound.add(node.name)
            elif isinstance(node, ast.arg):
                self.bound.add(node.arg)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                self.bound.add(node.id)
        assignments: dict[str, list[ast.expr]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        assignments.setdefault(target.id, []).append(node.value)
        for name, values in assignments.items():
            self._record_assignment(name, values)

    def _record_assignment(self, name: str, values: list[ast.expr]) -> None:
        """Remember what a name holds; a name assigned more than once is not decidable."""
        value = values[0]
        single = len(values) == 1
        if isinstance(value, ast.Name | ast.Attribute) and single:
            # ``w = write_channel`` makes ``w`` another name for write_channel.
            target = self._qualname(value)
            if target is not None and name not in self.aliases:
                self.aliases[name] = target
        if _string_literal(value) is not None:
            self.constants[name] = _string_literal(value) if single else None
        if self._is_pv_constructor(value):
            assert isinstance(value, ast.Call)
            self.pv_vars[name] = self._channel_argument(value) if single else None
        if self._path_object(value) is not None:
            self.path_vars[name] = self._path_object(value) if single else None

    def _qualname(self, node: ast.expr) -> str | None:
        """The dotted name an expression refers to (``np.mean`` -> ``numpy.mean``), if known."""
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            if node.id in self.bound:
                return None  # a variable of the code itself: its meaning is not known
            if node.id in _BUILTIN_NAMES:
                return f"builtins.{node.id}"
            for module in self.star_modules:  # ``from os import *`` then ``system(...)``
                if _dangerous(f"{module}.{node.id}") is not None:
                    return f"{module}.{node.id}"
            return node.id
        if isinstance(node, ast.Attribute):
            base = self._qualname(node.value)
            return f"{base}.{node.attr}" if base is not None else None
        if isinstance(node, ast.Call):
            func = self._qualname(node.func)
            first = _string_literal(node.args[0]) if node.args else None
            if func in _DYNAMIC_IMPORTS and first is not None:
                return first
            if func == "builtins.getattr" and len(node.args) >= 2:
                base = self._qualname(node.args[0])
                attr = _string_literal(node.args[1])
                if base is not None and attr is not None:
                    return f"{base}.{attr}"
        if isinstance(node, ast.Subscript):
            return self._subscript_qualname(node)
        return None

    def _subscript_qualname(self, node: ast.Subscript) -> str | None:
        """``sys.modules["os"]``, ``os.__dict__["system"]``, ``vars(os)["system"]``."""
        key = _string_literal(node.slice)
        if key is None:
            return None
        container = node.value
        if isinstance(container, ast.Call) and container.args:
            if self._qualname(container.func) == "vars":
                base = self._qualname(container.args[0])
                return f"{base}.{key}" if base is not None else None
            return None
        base = self._qualname(container)
        if base == "sys.modules":
            return key
        if base is not None and base.endswith(".__dict__"):
            return f"{base.removesuffix('.__dict__')}.{key}"
        return None

    # --- pass 2: judge each node -------------------------------------------------------

    def _judge(self, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                self._check_reference(alias.name, node.lineno, imported=True)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            self._check_reference(node.module, node.lineno, imported=True)
            for alias in node.names:
                if alias.name != "*":
                    self._check_reference(f"{node.module}.{alias.name}", node.lineno, True)
                elif node.module in _STAR_IMPORT_MODULES:
                    self._add_finding(
                        "star-import",
                        f"imports every name of {node.module} via a star import "
                        f"({node.module}.system, ... among them); import what you use by name",
                        node.lineno,
                        RiskLevel.HIGH,
                    )
        elif isinstance(node, ast.Name | ast.Attribute) and isinstance(node.ctx, ast.Load):
            qualname = self._qualname(node)
            if qualname is not None:
                self._check_reference(qualname, node.lineno)
            if isinstance(node, ast.Attribute) and node.attr == "value":
                self._check_pv_value(node)
        elif isinstance(node, ast.Attribute) and node.attr == "value":
            self._check_pv_value(node)
        elif isinstance(node, ast.Call):
            self._judge_call(node)

    def _check_reference(self, qualname: str, line: int, imported: bool = False) -> None:
        verdict = _dangerous(qualname)
        if verdict is not None:
            rule, message = verdict
            if imported:
                message = f"imports {qualname}: {message}"
            elif qualname not in (rule, f"builtins.{rule}"):
                message = f"{message} ({qualname})"
            self._add_finding(rule, message, line, RiskLevel.HIGH)

    def _judge_call(self, call: ast.Call) -> None:
        qualname = self._qualname(call.func)
        self._check_dynamic_import(call, qualname)
        if qualname is not None:
            self._check_reference(qualname, call.lineno)
        resolved = self._qualname(call)  # getattr(os, "system") names os.system
        if resolved is not None:
            self._check_reference(resolved, call.lineno)
        self._check_file_write(call, qualname)
        self._check_channel_call(call, qualname)

    def _check_dynamic_import(self, call: ast.Call, qualname: str | None) -> None:
        if qualname not in _DYNAMIC_IMPORTS:
            return
        module = _string_literal(call.args[0]) if call.args else None
        if module is None:
            self._add_finding(
                "dynamic-import",
                f"imports a computed module name via {qualname.split('.')[-1]}(); "
                "it cannot be checked",
                call.lineno,
                RiskLevel.MEDIUM,
            )
        else:
            self._check_reference(module, call.lineno, imported=True)

    def _check_file_write(self, call: ast.Call, qualname: str | None) -> None:
        target: str | None = None
        how = ""
        path = _argument(call, 0, "file", "path")
        if qualname in _OPEN_FUNCTIONS and path is not None:
            if self._may_write(_argument(call, 1, "mode")):
                target, how = self._static_path(path), "open()"
        elif qualname == "os.open" and path is not None:
            if self._os_open_may_write(_argument(call, 1, "flags")):
                target, how = self._static_path(path), "os.open()"
        elif qualname in _OS_DELETE_FUNCTIONS and path is not None:
            target, how = self._static_path(path), f"{qualname}()"
        elif isinstance(call.func, ast.Attribute):
            method = call.func.attr
            receiver = self._path_object(call.func.value)
            if method in _PATH_WRITE_METHODS or (
                method == "open" and self._may_write(_argument(call, 0, "mode"))
            ):
                target, how = receiver, f".{method}()"
        if target is not None and _escapes_folder(target):
            self._add_finding(
                "write-outside-folder",
                f"writes to {target!r} via {how}, outside the execution folder; "
                "write files with relative paths instead",
                call.lineno,
                RiskLevel.HIGH,
            )

    def _check_channel_call(self, call: ast.Call, qualname: str | None) -> None:
        func = call.func
        syntactic = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        leaf = qualname.split(".")[-1] if qualname else syntactic
        shown = (qualname or syntactic or "?").removeprefix("replaycodegen.runtime.")
        if leaf in _WRITE_FUNCTIONS:
            self._add_access("write", shown, self._channel_argument(call), call.lineno)
        elif leaf in _READ_FUNCTIONS:
            self._add_access("read", shown, self._channel_argument(call), call.lineno)
        elif isinstance(func, ast.Attribute) and func.attr in ("put", "get"):
            pv = self._pv_reference(func.value)
            if pv is not None:
                kind: Literal["read", "write"] = "write" if func.attr == "put" else "read"
                self._add_access(kind, f"PV.{func.attr}", pv.channel, call.lineno)
            elif func.attr == "put" and self.uses_epics:
                # With epics imported, an unknown ``x.put(...)`` may be a PV write: ask.
                self._add_access("write", f"{ast.unparse(func)}", None, call.lineno)

    def _check_pv_value(self, node: ast.Attribute) -> None:
        pv = self._pv_reference(node.value)
        if pv is None:
            return
        kind: Literal["read", "write"] = "write" if isinstance(node.ctx, ast.Store) else "read"
        self._add_access(kind, "PV.value", pv.channel, node.lineno)

    def _may_write(self, mode: ast.expr | None) -> bool:
        """Whether an ``open`` mode may write: a write mode, or one not known statically
        (a computed mode counts as a possible write)."""
        if mode is None:
            return False
        text = _string_literal(mode)
        if text is None and isinstance(mode, ast.Name) and mode.id in self.constants:
            text = self.constants[mode.id]
        return text is None or any(flag in text for flag in "wax+")

    def _os_open_may_write(self, flags: ast.expr | None) -> bool:
        if flags is None:
            return False
        names = {
            n.attr if isinstance(n, ast.Attribute) else n.id
            for n in ast.walk(flags)
            if isinstance(n, ast.Attribute | ast.Name)
        }
        known = {n for n in names if n.startswith("O_")}
        return bool(known & _OS_OPEN_WRITE_FLAGS) or not known

    # --- helpers -----------------------------------------------------------------------

    def _add_finding(self, rule: str, message: str, line: int, risk: RiskLevel) -> None:
        self.findings.setdefault((rule, line), SecurityFinding(rule, message, line, risk))

    def _add_access(
        self, kind: Literal["read", "write"], function: str, channel: str | None, line: int
    ) -> None:
        access = ChannelAccess(kind, function, channel, line)
        bucket = self.writes if kind == "write" else self.reads
        if access not in bucket:
            bucket.append(access)

    def _channel_argument(self, call: ast.Call) -> str | None:
        node = _argument(call, 0, *_CHANNEL_KEYWORDS)
        if node is None:
            return None
        if isinstance(node, ast.Name):
            return self.constants.get(node.id)
        if isinstance(node, ast.List | ast.Tuple):
            names = [_string_literal(e) for e in node.elts]
            return ", ".join(n for n in names if n) or None
        if isinstance(node, ast.Dict):  # write_channels({"A": 1, "B": 2})
            keys = [_string_literal(k) for k in node.keys if k is not None]
            return ", ".join(k for k in keys if k) or None
        return _string_literal(node)

    def _is_pv_constructor(self, node: ast.expr) -> bool:
        if not isinstance(node, ast.Call):
            return False
        qualname = self._qualname(node.func)
        return qualname is not None and qualname.split(".")[-1] in _PV_CONSTRUCTORS

    def _pv_reference(self, receiver: ast.expr) -> _PvReference | None:
        """The PV an expression denotes (``PV("X")`` or a name bound to one), if any."""
        if isinstance(receiver, ast.Call) and self._is_pv_constructor(receiver):
            return _PvReference(self._channel_argument(receiver))
        if isinstance(receiver, ast.Name) and receiver.id in self.pv_vars:
            return _PvReference(self.pv_vars[receiver.id])
        return None

    def _static_path(self, node: ast.expr) -> str | None:
        """The path a string or Path expression denotes, when decidable without running it."""
        text = _string_literal(node)
        if text is not None:
            return text
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.constants[node.id]
        if isinstance(node, ast.Call) and self._qualname(node.func) == "os.path.join":
            return self._joined(node.args)
        return self._path_object(node)

    def _path_object(self, node: ast.expr) -> str | None:
        """The path of a ``pathlib`` expression (``Path("/x") / "y"``), when decidable."""
        if isinstance(node, ast.Name):
            return self.path_vars.get(node.id)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            left, right = self._path_object(node.left), self._static_path(node.right)
            return posixpath.join(left, right) if left is not None and right is not None else None
        if isinstance(node, ast.Call):
            qualname = self._qualname(node.func) or ""
            leaf = qualname.split(".")[-1]
            if leaf == "home" and qualname.split(".")[-2:-1] == ["Path"]:
                return "~"
            if leaf in _PATH_CONSTRUCTORS:
                return self._joined(node.args)
        return None

    def _joined(self, args: list[ast.expr]) -> str | None:
        parts = [self._static_path(a) for a in args]
        if not parts or any(p is None for p in parts):
            return None
        return posixpath.join(*[p for p in parts if p is not None])

    def _assigns_results(self) -> bool:
        return any(_binds_results(node) for node in ast.walk(self.tree))


@dataclass(frozen=True)
class _PvReference:
    channel: str | None


def _dangerous(qualname: str) -> tuple[str, str] | None:
    """(rule, message) when ``qualname`` names something that must not run.

    Any segment of a chain counts: ``pathlib.os.system`` reaches ``os.system`` too.
    """
    parts = qualname.split(".")
    for index, part in enumerate(parts):
        if part in _DANGEROUS_MODULES and (index == 0 or parts[index - 1] != "asyncio"):
            return part, _DANGEROUS_MODULES[part]
        if part in _OS_MODULES and index + 1 < len(parts):
            member = parts[index + 1]
            if member in _OS_EXACT or member.startswith(_OS_PREFIXES):
                return f"os.{member}", f"runs processes via os.{member}"
    if qualname.startswith(_ASYNCIO_PROCESSES) or qualname.split(".")[:2] == [
        "asyncio",
        "subprocess",
    ]:
        return "asyncio-subprocess", f"runs external commands via {qualname}"
    for module in _NETWORK_MODULES:
        if qualname == module or qualname.startswith(module + "."):
            return "network", f"uses the network via {module}"
    if qualname == "shutil.rmtree":
        return "shutil.rmtree", "deletes directory trees via shutil.rmtree"
    if qualname in _DYNAMIC_CODE:
        return qualname.removeprefix("builtins."), _DYNAMIC_CODE[qualname]
    return None


def _binds_results(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id == _RESULTS_NAME and isinstance(node.ctx, ast.Store | ast.Del)
    if isinstance(node, ast.alias):
        return (node.asname or node.name) == _RESULTS_NAME
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
        return _string_literal(node.slice) == _RESULTS_NAME  # globals()["results"] = ...
    return False


def _string_literal(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _argument(call: ast.Call, position: int, *keywords: str) -> ast.expr | None:
    if len(call.args) > position and not any(isinstance(a, ast.Starred) for a in call.args):
        return call.args[position]
    for keyword in call.keywords:
        if keyword.arg in keywords:
            return keyword.value
    return None


def _is_write_mode(node: ast.expr | None) -> bool:
    mode = _string_literal(node) if node is not None else None
    return mode is not None and any(flag in mode for flag in "wax+")


def _escapes_folder(path: str) -> bool:
    """True for absolute paths, home paths and relative paths climbing out with ``..``."""
    if path in _HARMLESS_WRITE_TARGETS:
        return False
    if path.startswith(("/", "~")):
        return True
    normalised = posixpath.normpath(path)
    return normalised == ".." or normalised.startswith("../")


def iter_issue_lines(analysis: CodeAnalysis) -> Iterator[str]:
    """The lines an error chain shows for a refused analysis: syntax, then HIGH findings."""
    if analysis.syntax_error is not None:
        yield str(analysis.syntax_error)
    for finding in analysis.high_risk_findings:
        yield str(finding)
