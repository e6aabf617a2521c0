"""`pip install ./bindings/python` works offline into a fresh virtualenv,
with the standard build backend (setuptools, PEP 517/621/660).

The offline command is `pip install --no-build-isolation` in a venv made
with `--system-site-packages` from Debian's python3, which then has
Debian's setuptools and wheel (python3-setuptools, python3-wheel); or pip
with build isolation fed from Debian's wheel directory (`--find-links
/usr/share/python-wheels`, python3-setuptools-whl and python3-wheel-whl).
Each install runs with --no-index, and as root also inside a network
namespace of its own (`unshare -n`), where there is no network at all. The
installed package must import from the venv (not from the source tree) and
report the library's version. The builds run in a copy of the binding, so
the tree gets no build/ or egg-info and concurrent runs do not meet.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import unittest
import zipfile
from typing import Dict, List

import support
import test_unit

DEBIAN = "/usr/bin/python3"
WHEELS = "/usr/share/python-wheels"  # Debian's *-whl packages


def clean_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env["PIP_CONFIG_FILE"] = os.devnull  # no index or proxy from a user's pip.conf
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def offline() -> List[str]:
    """A prefix that takes the network away, when we may."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        return ["unshare", "-n"]
    return []


def version() -> str:
    return "%d.%d.%d" % test_unit.version_h()


class OfflineInstall(unittest.TestCase):
    def setUp(self) -> None:
        if not os.path.exists(DEBIAN):
            self.skipTest("no Debian python3")
        missing = [m for m in ("ensurepip", "setuptools", "wheel")
                   if subprocess.run([DEBIAN, "-c", f"import {m}"], stderr=subprocess.DEVNULL).returncode]
        if missing:
            if os.environ.get("CI") == "true":
                self.fail(f"Debian's python3 lacks {missing}: python3-venv, python3-setuptools, "
                          "python3-wheel (scripts/setup.sh)")
            self.skipTest(f"Debian's python3 lacks {missing}")
        tmp = tempfile.TemporaryDirectory(prefix="portmap-pip-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.src = os.path.join(self.tmp, "python")
        shutil.copytree(support.BINDING, self.src,
                        ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))

    def run_ok(self, cmd: List[str], **kw: object) -> str:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                           env=clean_env(), timeout=240, **kw)  # type: ignore[call-overload]
        self.assertEqual(r.returncode, 0, f"{' '.join(cmd)}:\n{r.stdout}")
        return r.stdout  # type: ignore[no-any-return]

    def venv(self, python: str = DEBIAN, system_site: bool = True) -> str:
        path = os.path.join(self.tmp, "venv")
        self.run_ok([python, "-m", "venv", path] + (["--system-site-packages"] if system_site else []))
        return path

    def pip(self, venv: str, *args: str) -> str:
        return self.run_ok(offline() + [os.path.join(venv, "bin", "pip"), "install", "--no-index", *args])

    def check_installed(self, venv: str, *, editable: bool = False) -> None:
        code = ("import json, os, portmap; print(json.dumps([portmap.__version__, portmap.library_version(), "
                "portmap.__file__, os.path.isfile(os.path.join(os.path.dirname(portmap.__file__), 'py.typed'))]))")
        env = clean_env()
        env["PORTMAP_LIBRARY"] = os.environ["PORTMAP_LIBRARY"]  # how the binding finds the library
        r = subprocess.run([os.path.join(venv, "bin", "python"), "-c", code], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, env=env, cwd=self.tmp, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        got_version, libversion, where, typed = json.loads(r.stdout)
        self.assertEqual(got_version, version())
        self.assertEqual(libversion, version())
        self.assertTrue(typed)
        if editable:
            self.assertEqual(os.path.realpath(where),
                             os.path.realpath(os.path.join(self.src, "src", "portmap", "__init__.py")))
        else:
            self.assertTrue(os.path.realpath(where).startswith(os.path.realpath(venv)), where)

    def test_install_into_a_fresh_venv(self) -> None:
        # the command of the README
        venv = self.venv()
        self.pip(venv, "--no-build-isolation", self.src)
        self.check_installed(venv)
        self.run_ok([os.path.join(venv, "bin", "pip"), "uninstall", "-y", "portmap"])

    def test_build_isolation_from_debian_wheels(self) -> None:
        if not all(any(n.startswith(p) for n in os.listdir(WHEELS)) for p in ("setuptools-", "wheel-")):
            if os.environ.get("CI") == "true":
                self.fail(f"no setuptools or wheel in {WHEELS}: python3-setuptools-whl, python3-wheel-whl")
            self.skipTest(f"no setuptools or wheel in {WHEELS}")
        venv = self.venv(system_site=False)
        self.pip(venv, "--find-links", WHEELS, self.src)
        self.check_installed(venv)

    def test_editable_install(self) -> None:
        venv = self.venv()
        self.pip(venv, "--no-build-isolation", "-e", self.src)  # PEP 660
        self.check_installed(venv, editable=True)

    def build(self, kind: str) -> str:
        out = os.path.join(self.tmp, "dist")
        name = self.run_ok([DEBIAN, "-c", f"import sys; from setuptools import build_meta as b; "
                            f"print(b.build_{kind}(sys.argv[1]))", out], cwd=self.src).strip().splitlines()[-1]
        return os.path.join(out, name)

    def test_sdist_builds_and_installs(self) -> None:
        sdist = self.build("sdist")
        self.assertEqual(os.path.basename(sdist), f"portmap-{version()}.tar.gz")
        with tarfile.open(sdist) as tf:
            names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
        for needed in ("pyproject.toml", "README.md", "src/portmap/py.typed", "src/portmap/__main__.py"):
            self.assertIn(needed, names)
        venv = self.venv()
        self.pip(venv, "--no-build-isolation", sdist)
        self.check_installed(venv)

    def test_wheel(self) -> None:
        wheel = self.build("wheel")
        self.assertEqual(os.path.basename(wheel), f"portmap-{version()}-py3-none-any.whl")
        with zipfile.ZipFile(wheel) as zf:
            names = set(zf.namelist())
            modules = {f"portmap/{n}" for n in os.listdir(os.path.join(support.BINDING, "src", "portmap"))
                       if n.endswith(".py") or n == "py.typed"}
            self.assertEqual({n for n in names if n.startswith("portmap/")}, modules)
            meta = zf.read(f"portmap-{version()}.dist-info/METADATA").decode()
        self.assertIn(f"Version: {version()}", meta)
        self.assertIn("Requires-Python: >=3.8", meta)
        self.assertIn("Classifier: Typing :: Typed", meta)

    def test_running_python(self) -> None:
        # Another Python (e.g. pyenv's): its venv has setuptools of its own
        # (ensurepip) but no wheel; Debian's wheel file brings it offline.
        if os.path.realpath(sys.executable) == os.path.realpath(DEBIAN):
            self.skipTest("this is Debian's python3")
        venv = self.venv(sys.executable, system_site=False)
        vpy = os.path.join(venv, "bin", "python")
        has = self.run_ok([vpy, "-c", "import importlib.util as u; print(bool(u.find_spec('setuptools')))"])
        if has.strip() != "True":
            self.skipTest(f"{sys.executable}'s venv has no setuptools")
        if subprocess.run([vpy, "-c", "import wheel"], stderr=subprocess.DEVNULL).returncode:
            self.pip(venv, "--find-links", WHEELS, "wheel")
        self.pip(venv, "--no-build-isolation", self.src)
        self.check_installed(venv)


if __name__ == "__main__":
    unittest.main()
