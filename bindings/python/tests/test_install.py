"""`pip install ./bindings/python` works offline into a fresh virtualenv.

Each install runs with --no-index, and as root also inside a network
namespace of its own (`unshare -n`), where there is no network at all. The
installed package must import from the venv (not from the source tree) and
report the library's version.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import zipfile
from typing import Dict, List

import support
import test_unit

BACKEND = os.path.join(support.BINDING, "_build_backend")


def clean_env() -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env["PIP_CONFIG_FILE"] = os.devnull  # no index or proxy from a user's pip.conf
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no __pycache__ in the source tree
    return env


def offline() -> List[str]:
    """A prefix that takes the network away, when we may."""
    if os.geteuid() == 0 and shutil.which("unshare"):
        return ["unshare", "-n"]
    return []


class OfflineInstall(unittest.TestCase):
    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="portmap-pip-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name

    def run_ok(self, cmd: List[str], **kw: object) -> str:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                           env=clean_env(), timeout=240, **kw)  # type: ignore[call-overload]
        self.assertEqual(r.returncode, 0, f"{' '.join(cmd)}:\n{r.stdout}")
        return r.stdout  # type: ignore[no-any-return]

    def venv(self, python: str = sys.executable) -> str:
        path = os.path.join(self.tmp, "venv")
        self.run_ok([python, "-m", "venv", path])
        return path

    def check_installed(self, venv: str, *, editable: bool = False) -> None:
        code = ("import json, os, portmap; print(json.dumps([portmap.__version__, portmap.library_version(), "
                "portmap.__file__, os.path.isfile(os.path.join(os.path.dirname(portmap.__file__), 'py.typed'))]))")
        env = clean_env()
        env["PORTMAP_LIBRARY"] = os.environ["PORTMAP_LIBRARY"]
        r = subprocess.run([os.path.join(venv, "bin", "python"), "-c", code], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, universal_newlines=True, env=env, cwd=self.tmp, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        version, libversion, where, typed = json.loads(r.stdout)
        expected = "%d.%d.%d" % test_unit.version_h()
        self.assertEqual(version, expected)
        self.assertEqual(libversion, expected)
        self.assertTrue(typed)
        if editable:
            self.assertEqual(os.path.realpath(where),
                             os.path.realpath(os.path.join(support.BINDING, "src", "portmap", "__init__.py")))
        else:
            self.assertTrue(os.path.realpath(where).startswith(os.path.realpath(venv)), where)

    def test_install_into_a_fresh_venv(self) -> None:
        venv = self.venv()
        pip = os.path.join(venv, "bin", "pip")
        self.run_ok(offline() + [pip, "install", "--no-index", support.BINDING])
        self.check_installed(venv)
        self.run_ok([pip, "uninstall", "-y", "portmap"])
        if offline():  # the plain command needs no network either
            self.run_ok(offline() + [pip, "install", support.BINDING])
            self.check_installed(venv)

    def test_editable_install(self) -> None:
        venv = self.venv()
        self.run_ok(offline() + [os.path.join(venv, "bin", "pip"), "install", "--no-index", "-e", support.BINDING])
        self.check_installed(venv, editable=True)

    def test_sdist_builds_and_installs(self) -> None:
        out = os.path.join(self.tmp, "dist")
        name = self.run_ok([sys.executable, "-c",
                            "import sys; sys.path.insert(0, sys.argv[1]); import portmap_build as b; "
                            "print(b.build_sdist(sys.argv[2]))", BACKEND, out]).strip()
        self.assertEqual(name, "portmap-%d.%d.%d.tar.gz" % test_unit.version_h())
        venv = self.venv()
        self.run_ok(offline() + [os.path.join(venv, "bin", "pip"), "install", "--no-index",
                                 os.path.join(out, name)])
        self.check_installed(venv)

    def test_debian_python(self) -> None:
        debian = "/usr/bin/python3"
        if not os.path.exists(debian) or os.path.realpath(debian) == os.path.realpath(sys.executable):
            self.skipTest("no separate Debian python3")
        if subprocess.run([debian, "-c", "import ensurepip"], stderr=subprocess.DEVNULL).returncode != 0:
            if os.environ.get("CI") == "true":
                self.fail("Debian's python3 cannot make a venv: install python3-venv (scripts/setup.sh)")
            self.skipTest("python3-venv is not installed")
        venv = self.venv(debian)
        self.run_ok(offline() + [os.path.join(venv, "bin", "pip"), "install", "--no-index", support.BINDING])
        self.check_installed(venv)


class Wheel(unittest.TestCase):
    def test_record_lists_every_file_with_its_hash(self) -> None:
        with tempfile.TemporaryDirectory() as out:
            sys.path.insert(0, BACKEND)
            try:
                import portmap_build
            finally:
                sys.path.remove(BACKEND)
            name = portmap_build.build_wheel(out)
            with zipfile.ZipFile(os.path.join(out, name)) as zf:
                names = zf.namelist()
                info = [n for n in names if n.endswith(".dist-info/RECORD")][0]
                record = {}
                for line in zf.read(info).decode().splitlines():
                    path, digest, size = line.rsplit(",", 2)
                    record[path] = (digest, size)
                self.assertEqual(set(record), set(names))
                for n in names:
                    if n == info:
                        self.assertEqual(record[n], ("", ""))
                        continue
                    data = zf.read(n)
                    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                    self.assertEqual(record[n], (f"sha256={digest}", str(len(data))), n)
                self.assertIn("portmap/py.typed", names)
                self.assertIn("Tag: py3-none-any", zf.read(info.replace("RECORD", "WHEEL")).decode())

    def test_toml_reader_of_old_pythons_agrees_with_tomllib(self) -> None:
        try:
            import tomllib
        except ImportError:
            self.skipTest("no tomllib to compare with")
        sys.path.insert(0, BACKEND)
        try:
            import portmap_build
        finally:
            sys.path.remove(BACKEND)
        with open(os.path.join(support.BINDING, "pyproject.toml"), encoding="utf-8") as f:
            text = f.read()
        self.assertEqual(portmap_build.parse_toml_subset(text), tomllib.loads(text))


if __name__ == "__main__":
    unittest.main()
