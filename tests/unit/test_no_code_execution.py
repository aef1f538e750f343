"""Model output and dataset content are never executed: the package, the launcher and the Slurm scripts are scanned
for eval/exec/compile, shell=True, os.system/popen, pickle-style loaders, unsafe YAML and torch.load without
weights_only. The scanner itself is checked against snippets holding each pattern, so a miss would show."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PY_DIRS = ("toolcall_dist", "launch", "slurm")
SHELL_GLOBS = ("slurm/**/*.sh", "slurm/**/*.sbatch", "slurm/**/*.slurm", "launch/**/*.sh", "*.sh")

BUILTINS = {"eval", "exec", "compile", "__import__", "breakpoint", "input"}
# module -> attributes that run code or unpickle; "*" means any use of the module
CALLS = {"os": {"system", "popen", "execv", "execve", "execvp", "execvpe", "execl", "execlp", "spawnv", "spawnl",
                "spawnlp", "spawnvp", "startfile"},
         "pickle": {"*"}, "cPickle": {"*"}, "dill": {"*"}, "cloudpickle": {"*"}, "marshal": {"*"}, "shelve": {"*"},
         "joblib": {"load"}, "pty": {"spawn"}, "code": {"*"}, "runpy": {"*"}, "yaml": {"unsafe_load", "full_load",
                                                                                         "load_all"}}
SHELL_PATTERNS = {
    r"(^|[;&|]\s*)eval\b": "eval of a string",
    r"\b(ba|z|k)?sh\s+-c\b": "a command line built as one shell string",
    r"\$\*": "arguments re-split by the shell ($*); pass \"$@\"",
    r"(?<![\"'])\$@": "unquoted $@ re-splits arguments; pass \"$@\"",
    r"\$\{@\}(?![\"'])": "unquoted ${@}",
}


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def scan_python(source: str, name: str = "<snippet>") -> list[str]:
    """Every forbidden construct in ``source``, as ``name:line: what``."""
    found = []
    tree = ast.parse(source)
    aliases: dict[str, str] = {}  # local name -> "module" or "module.attr" it was imported as
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name
                if CALLS.get(a.name.split(".")[0]) == {"*"}:
                    found.append(f"{name}:{node.lineno}: import {a.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            mod = node.module.split(".")[0]
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
                if mod in CALLS and (CALLS[mod] == {"*"} or a.name in CALLS[mod]):
                    found.append(f"{name}:{node.lineno}: from {node.module} import {a.name}")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = _dotted(node.func)
        head, _, rest = func.partition(".")
        full = f"{aliases.get(head, head)}{'.' + rest if rest else ''}"
        mod, _, attr = full.rpartition(".")
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        if isinstance(node.func, ast.Name) and node.func.id in BUILTINS and node.func.id not in aliases:
            found.append(f"{name}:{node.lineno}: {node.func.id}()")
        elif mod.split(".")[0] in CALLS and (CALLS[mod.split(".")[0]] == {"*"} or attr in CALLS[mod.split(".")[0]]):
            found.append(f"{name}:{node.lineno}: {full}()")
        elif full == "yaml.load" and not ("Loader" in kw and "Safe" in _dotted(kw["Loader"])):
            found.append(f"{name}:{node.lineno}: yaml.load without SafeLoader")
        elif full in ("torch.load", "torch.serialization.load") and not (
                isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True):
            found.append(f"{name}:{node.lineno}: torch.load without weights_only=True (unpickles)")
        if isinstance(kw.get("shell"), ast.Constant) and kw["shell"].value is not False:
            found.append(f"{name}:{node.lineno}: {func}(shell=True)")
        elif "shell" in kw and not isinstance(kw["shell"], ast.Constant):
            found.append(f"{name}:{node.lineno}: {func}(shell=<expression>)")
    return sorted(found)


def scan_shell(source: str, name: str = "<script>") -> list[str]:
    """Forbidden shell constructs, comments and ``#SBATCH`` lines aside."""
    found = []
    for n, line in enumerate(source.splitlines(), start=1):
        code = line.split("#", 1)[0] if not line.lstrip().startswith("#") else ""
        for pattern, what in SHELL_PATTERNS.items():
            if re.search(pattern, code):
                found.append(f"{name}:{n}: {what}: {line.strip()}")
    return found


def _python_files() -> list[Path]:
    return sorted(p for d in PY_DIRS if (ROOT / d).is_dir() for p in (ROOT / d).rglob("*.py"))


def _shell_files() -> list[Path]:
    return sorted({p for g in SHELL_GLOBS for p in ROOT.glob(g) if p.is_file()})


def test_package_launcher_and_slurm_scripts_execute_nothing():
    files = _python_files()
    assert len(files) >= 40 and any(p.name == "pipeline.py" for p in files)  # the scan really covers the package
    problems = [hit for p in files for hit in scan_python(p.read_text(encoding="utf-8"), str(p.relative_to(ROOT)))]
    problems += [hit for p in _shell_files() for hit in scan_shell(p.read_text(encoding="utf-8"),
                                                                   str(p.relative_to(ROOT)))]
    assert problems == []


BAD_PYTHON = {
    "eval(text)": "eval()",
    "exec(model_output)": "exec()",
    "code = compile(src, 'x', 'exec')": "compile()",
    "__import__(name)": "__import__()",
    "import os\nos.system('ls ' + arg)": "os.system()",
    "import os as o\no.popen(cmd)": "os.popen()",
    "from os import system\nsystem(cmd)": "from os import system",
    "import subprocess\nsubprocess.run(cmd, shell=True)": "subprocess.run(shell=True)",
    "import subprocess as sp\nsp.Popen(cmd, shell=flag)": "(shell=<expression>)",
    "import pickle\npickle.loads(blob)": "import pickle",
    "from pickle import loads": "from pickle import loads",
    "import marshal": "import marshal",
    "import yaml\nyaml.load(text)": "yaml.load without SafeLoader",
    "import yaml\nyaml.unsafe_load(text)": "yaml.unsafe_load()",
    "import torch\ntorch.load(path)": "torch.load without weights_only=True",
    "import torch\ntorch.load(path, weights_only=False)": "torch.load without weights_only=True",
    "import runpy\nrunpy.run_path(p)": "import runpy",
}
GOOD_PYTHON = ["import re\nre.compile('x')", "import ast\nast.literal_eval(s)",
               "import ast\nast.parse(s, mode='eval')",
               "import yaml\nyaml.load(t, Loader=yaml.SafeLoader)", "import yaml\nyaml.safe_load(t)",
               "import torch\ntorch.load(p, weights_only=True)", "import subprocess\nsubprocess.run(['ls', x])",
               "import subprocess\nsubprocess.run(cmd, shell=False)", "model.eval()", "x.compile()"]


@pytest.mark.parametrize("snippet", sorted(BAD_PYTHON))
def test_scanner_finds_each_forbidden_python_construct(snippet):
    hits = scan_python(snippet)
    assert hits and any(BAD_PYTHON[snippet] in h for h in hits), hits


@pytest.mark.parametrize("snippet", GOOD_PYTHON)
def test_scanner_allows_safe_lookalikes(snippet):
    assert scan_python(snippet) == []


@pytest.mark.parametrize(("line", "bad"), [
    ('eval "python -m toolcall_dist $OVERRIDES"', True), ('bash -c "srun python -m toolcall_dist $ARGS"', True),
    ("python -m toolcall_dist $*", True), ("python -m toolcall_dist $@", True),
    ('python -m toolcall_dist "$@"', False), ('srun python -m toolcall_dist "${ARGS[@]}"', False),
    ("# eval is never used here", False), ('echo "evaluation done"', False),
])
def test_shell_scanner(line, bad):
    assert bool(scan_shell(line)) is bad
