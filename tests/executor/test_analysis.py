"""The static analyser: syntax, security findings, channel reads/writes, the results warning."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replaycodegen.executor import RiskLevel, analyze_code


def analyze(code: str):  # type: ignore[no-untyped-def]
    return analyze_code(textwrap.dedent(code))


# --- syntax ----------------------------------------------------------------------------


def test_syntax_error_reports_type_message_and_line() -> None:
    analysis = analyze("x = 1\ny = 2\ndef broken(\n")

    assert analysis.syntax_error is not None
    assert analysis.syntax_error.error_type == "SyntaxError"
    assert analysis.syntax_error.line == 3
    assert "never closed" in str(analysis.syntax_error)
    assert "(line 3)" in str(analysis.syntax_error)


def test_indentation_error_keeps_its_own_type() -> None:
    analysis = analyze_code("x = 1\n    y = 2\n")

    assert analysis.syntax_error is not None
    assert analysis.syntax_error.error_type == "IndentationError"
    assert analysis.syntax_error.line == 2


def test_errors_only_the_compiler_sees_are_syntax_errors() -> None:
    analysis = analyze_code("return 5\n")

    assert analysis.syntax_error is not None
    assert "outside function" in analysis.syntax_error.message


def test_valid_code_has_no_syntax_error() -> None:
    assert analyze_code("results = {'value': 42}\n").syntax_error is None


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_is_analysed_without_crashing(code: str) -> None:
    analysis = analyze_code(code)

    assert analysis.syntax_error is not None or isinstance(analysis.warnings, tuple)


# --- security --------------------------------------------------------------------------

HIGH_RISK = {
    "import subprocess": ("import subprocess\nresults = {}", "subprocess"),
    "subprocess.run": ("import subprocess\nsubprocess.run(['ls'])", "subprocess"),
    "from subprocess import as": ("from subprocess import run as r\nr(['ls'])", "subprocess"),
    "os.system": ("import os\nos.system('ls')", "os.system"),
    "os.popen": ("import os\nos.popen('ls')", "os.popen"),
    "os.execv": ("import os\nos.execv('/bin/ls', ['ls'])", "os.execv"),
    "os.spawnl": ("import os\nos.spawnl(os.P_WAIT, '/bin/ls')", "os.spawnl"),
    "from os import system as": ("from os import system as sh\nsh('ls')", "os.system"),
    "import os as": ("import os as o\no.system('ls')", "os.system"),
    "eval": ("x = eval('1 + 1')", "eval"),
    "exec": ("exec('x = 1')", "exec"),
    "compile builtin": ("c = compile('1', 'f', 'eval')", "compile"),
    "__import__ subprocess": ("m = __import__('subprocess')", "subprocess"),
    "__import__ os.system": ("__import__('os').system('ls')", "os.system"),
    "importlib ctypes": ("import importlib\nimportlib.import_module('ctypes')", "ctypes"),
    "getattr os.system": ("import os\ngetattr(os, 'system')('ls')", "os.system"),
    "alias of os.system": ("import os\nrun = os.system\nrun('ls')", "os.system"),
    "ctypes": ("import ctypes\nctypes.CDLL(None)", "ctypes"),
    "socket": ("import socket\ns = socket.socket()", "socket"),
    "from socket import": ("from socket import create_connection", "socket"),
    "shutil.rmtree": ("import shutil\nshutil.rmtree('data')", "shutil.rmtree"),
    "shutil as": ("import shutil as sh\nsh.rmtree('data')", "shutil.rmtree"),
    "open absolute write": ("open('/etc/motd', 'w').write('x')", "write-outside-folder"),
    "open mode keyword": ("open('/tmp/x.txt', mode='a')", "write-outside-folder"),
    "open parent dir": ("open('../escape.txt', 'w')", "write-outside-folder"),
    "Path.write_text": (
        "from pathlib import Path\nPath('/tmp/x').write_text('x')",
        "write-outside-folder",
    ),
    "pathlib.Path variable": (
        "import pathlib\nbase = pathlib.Path('/var')\n(base / 'x').write_bytes(b'')",
        "write-outside-folder",
    ),
    "Path.home touch": (
        "from pathlib import Path\n(Path.home() / '.bashrc').touch()",
        "write-outside-folder",
    ),
    "Path open w": (
        "from pathlib import Path\nPath('/etc/x').open('w')",
        "write-outside-folder",
    ),
    "os.remove absolute": ("import os\nos.remove('/etc/hosts')", "write-outside-folder"),
    "os.path.join absolute": (
        "import os\nopen(os.path.join('/etc', 'x'), 'w')",
        "write-outside-folder",
    ),
    # The plain forms of issue 10.4.
    "star import of os": ("from os import *\nsystem('ls')", "star-import"),
    "star-imported system": ("from os import *\nsystem('ls')", "os.system"),
    "star import of subprocess": ("from subprocess import *\nrun(['ls'])", "subprocess"),
    "pathlib.os.system": ("import pathlib\npathlib.os.system('ls')", "os.system"),
    "shutil.os.system": ("import shutil\nshutil.os.system('ls')", "os.system"),
    "getattr chain": ("import pathlib\ngetattr(pathlib, 'os').system('ls')", "os.system"),
    "sys.modules": ("import sys\nsys.modules['os'].system('ls')", "os.system"),
    "vars(os)": ("import os\nvars(os)['system']('ls')", "os.system"),
    "os.__dict__": ("import os\nos.__dict__['system']('ls')", "os.system"),
    "asyncio shell": (
        "import asyncio\nasyncio.create_subprocess_shell('ls')",
        "asyncio-subprocess",
    ),
    "asyncio exec as": (
        "from asyncio import create_subprocess_exec as run\nrun('ls')",
        "asyncio-subprocess",
    ),
    "open file= mode= keywords": ("p = '/etc/x'\nopen(file=p, mode='w')", "write-outside-folder"),
    "open mode in a variable": ("m = 'w'\nopen('/etc/x', m)", "write-outside-folder"),
    "open computed mode": ("open('/etc/x', pick_mode())", "write-outside-folder"),
    "os.open for writing": ("import os\nos.open('/etc/x', os.O_WRONLY)", "write-outside-folder"),
    "urllib.request": ("import urllib.request\nurllib.request.urlopen('http://x')", "network"),
    "from urllib.request import": ("from urllib.request import urlopen", "network"),
    "http.client": ("import http.client\nhttp.client.HTTPConnection('x')", "network"),
    "requests": ("import requests\nrequests.get('http://x')", "network"),
    "httpx": ("import httpx\nhttpx.get('http://x')", "network"),
    "aiohttp": ("import aiohttp\nsession = aiohttp.ClientSession()", "network"),
}


@pytest.mark.parametrize(("code", "rule"), HIGH_RISK.values(), ids=HIGH_RISK.keys())
def test_high_risk_constructs_are_found(code: str, rule: str) -> None:
    analysis = analyze_code(code)

    assert analysis.is_high_risk
    assert rule in {f.rule for f in analysis.high_risk_findings}
    finding = next(f for f in analysis.high_risk_findings if f.rule == rule)
    assert finding.risk is RiskLevel.HIGH
    assert finding.line >= 1
    assert f"line {finding.line}" in str(finding)


SAFE = {
    "re.compile": "import re\npattern = re.compile('a+')",
    "own eval function": "def eval(x):\n    return x\n\nvalue = eval(3)",
    "variable named socket": "socket = 3\nprint(socket)",
    "relative write": "open('out.txt', 'w').write('x')",
    "absolute read": "text = open('/etc/hostname').read()",
    "string method replace": "s = '/etc/x'.replace('x', 'y')",
    "write to /dev/null": "open('/dev/null', 'w').write('x')",
    "import_module of a safe module": "import importlib\nm = importlib.import_module('math')",
    "os helpers": "import os\nhere = os.getcwd()\np = os.path.join(here, 'x')",
    "Path relative write": "from pathlib import Path\nPath('out') .mkdir()\n",
    "dict get": "d = {'a': 1}\nv = d.get('a')",
    "urllib.parse": "import urllib.parse\nq = urllib.parse.quote('a b')",
    "http status": "from http import HTTPStatus\nok = HTTPStatus.OK",
    "asyncio sleep": "import asyncio\nasyncio.run(asyncio.sleep(0))",
    "relative open, computed mode": "open('out.txt', pick_mode())",
    "os.open read only": "import os\nfd = os.open('/etc/hostname', os.O_RDONLY)",
    "star import of math": "from math import *\nvalue = sqrt(2)",
}


@pytest.mark.parametrize("code", SAFE.values(), ids=SAFE.keys())
def test_ordinary_code_is_not_flagged(code: str) -> None:
    analysis = analyze_code(code)

    assert analysis.security_findings == ()
    assert not analysis.is_high_risk


def test_a_computed_dynamic_import_is_a_medium_warning_not_a_refusal() -> None:
    analysis = analyze_code("import importlib\nm = importlib.import_module(name)\nresults = {}")

    assert not analysis.is_high_risk
    assert [f.risk for f in analysis.security_findings] == [RiskLevel.MEDIUM]
    assert any("cannot be checked" in w for w in analysis.all_warnings())


def test_each_line_is_reported_once_per_rule() -> None:
    analysis = analyze_code("import subprocess\nsubprocess.run(['a'])\nsubprocess.run(['b'])")

    assert [f.line for f in analysis.high_risk_findings] == [1, 2, 3]


# --- control system --------------------------------------------------------------------

WRITES = {
    "write_channel": (
        "from replaycodegen.runtime import write_channel\nwrite_channel('A:B', 1)",
        "A:B",
    ),
    "write_channel as": (
        "from replaycodegen.runtime import write_channel as set_it\nset_it('A:B', 1)",
        "A:B",
    ),
    "module alias": ("import replaycodegen.runtime as rt\nrt.write_channel('A:B', 1)", "A:B"),
    "predefined name": ("write_channel('A:B', 1)", "A:B"),
    "name bound to write_channel": ("w = write_channel\nw('A:B', 1)", "A:B"),
    "channel in a constant": ("CH = 'A:B'\nwrite_channel(CH, 1)", "A:B"),
    "caput": ("from epics import caput\ncaput('A:B', 1)", "A:B"),
    "caput as": ("from epics import caput as put_value\nput_value('A:B', 1)", "A:B"),
    "import epics": ("import epics\nepics.caput('A:B', 1)", "A:B"),
    "import epics as": ("import epics as ep\nep.caput('A:B', 1)", "A:B"),
    "PV().put": ("from epics import PV\nPV('A:B').put(1)", "A:B"),
    "pv variable put": ("import epics\npv = epics.PV('A:B')\npv.put(1)", "A:B"),
    "pv value assignment": ("from epics import PV\npv = PV('A:B')\npv.value = 3", "A:B"),
    "computed channel": ("write_channel(name_of_channel(), 1)", None),
    "write_channels": ("write_channels({'A:B': 1, 'C:D': 2})", "A:B, C:D"),
    "write_channels imported": (
        "from replaycodegen.runtime import write_channels\nwrite_channels({'A:B': 1})",
        "A:B",
    ),
    "write_channels computed": ("write_channels(new_values)", None),
}


@pytest.mark.parametrize(("code", "channel"), WRITES.values(), ids=WRITES.keys())
def test_control_system_writes_are_found(code: str, channel: str | None) -> None:
    analysis = analyze_code(code)

    assert analysis.writes_channels
    assert [w.channel for w in analysis.channel_writes] == [channel]
    assert analysis.channel_writes[0].kind == "write"
    assert analysis.channel_writes[0].line == len(code.splitlines())


READS = {
    "read_channel": ("from replaycodegen.runtime import read_channel\nread_channel('A:B')", "A:B"),
    "caget": ("from epics import caget\nv = caget('A:B')", "A:B"),
    "epics.caget": ("import epics\nv = epics.caget('A:B')", "A:B"),
    "PV.get": ("from epics import PV\np = PV('A:B')\nv = p.get()", "A:B"),
    "PV.value": ("from epics import PV\nv = PV('A:B').value", "A:B"),
}


@pytest.mark.parametrize(("code", "channel"), READS.values(), ids=READS.keys())
def test_control_system_reads_are_found_and_are_not_writes(code: str, channel: str | None) -> None:
    analysis = analyze_code(code)

    assert [r.channel for r in analysis.channel_reads] == [channel]
    assert not analysis.writes_channels


@pytest.mark.parametrize(
    "code",
    [
        "d = {'a': 1}\nv = d.get('a')",
        "results = {}\nv = results.get('x', 0)",
        "import os\nhome = os.environ.get('HOME')",
        "import queue\nq = queue.Queue()\nq.put(1)\nq.get()",
    ],
)
def test_ordinary_get_and_put_are_not_channel_access(code: str) -> None:
    analysis = analyze_code(code)

    assert analysis.channel_reads == ()
    assert analysis.channel_writes == ()


def test_channel_write_behaviour_code_writes_the_setpoint_and_reads_it() -> None:
    analysis = analyze(
        """
        from replaycodegen.runtime import read_channel, write_channel

        previous = read_channel("MAGNET:QF1:SETPOINT")
        write_channel("MAGNET:QF1:SETPOINT", previous + 1.5)
        results = {"previous": previous}
        """
    )

    assert [str(w) for w in analysis.channel_writes] == [
        "line 5: write_channel('MAGNET:QF1:SETPOINT')"
    ]
    assert [r.channel for r in analysis.channel_reads] == ["MAGNET:QF1:SETPOINT"]
    assert analysis.security_findings == ()


# --- results ---------------------------------------------------------------------------


def test_warns_when_results_is_never_assigned() -> None:
    analysis = analyze_code("value = 42\nprint(value)\n")

    assert len(analysis.warnings) == 1
    assert "'results' is never assigned" in analysis.warnings[0]


@pytest.mark.parametrize(
    "code",
    [
        "results = {'value': 42}",
        "results: dict = {}",
        "results = {}\nresults['x'] = 1",
        "def f():\n    global results\n    results = {}\nf()",
        "globals()['results'] = {}",
        "for results in [{}]:\n    pass",
        "with open('f') as results:\n    pass",
        "(results := {})",
    ],
)
def test_no_results_warning_when_results_is_assigned(code: str) -> None:
    assert analyze_code(code).warnings == ()
