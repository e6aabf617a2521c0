"""`mypy --strict` is clean for the package and for user programs: the
README's examples (bindings/python/README.md and the Python blocks of the
top-level README.md, extracted into files), examples/*.py, and a misspelt
transport or method is refused by the type checker.

mypy is Debian's python3-mypy (scripts/setup.sh installs it), run by the
interpreter that has it: this one, else /usr/bin/python3. Without it the
test is skipped, and fails in CI (CI=true).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import unittest
from typing import List, Optional

import support

SRC = os.path.join(support.BINDING, "src")
READMES = [os.path.join(support.BINDING, "README.md"), os.path.join(support.SOURCE_ROOT, "README.md")]


def mypy_command() -> Optional[List[str]]:
    for python in (sys.executable, "/usr/bin/python3"):
        if not os.path.exists(python):
            continue
        r = subprocess.run([python, "-c", "import mypy.api"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            return [python, "-m", "mypy"]
    return None


def python_blocks(path: str) -> List[str]:
    """The ```python fenced blocks of a Markdown file."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


class MypyStrict(unittest.TestCase):
    mypy: List[str]

    @classmethod
    def setUpClass(cls) -> None:
        found = mypy_command()
        if found is None:
            if os.environ.get("CI") == "true":
                raise AssertionError("mypy not found: install python3-mypy (scripts/setup.sh)")
            raise unittest.SkipTest("mypy not installed (python3-mypy)")
        cls.mypy = found

    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="portmap-mypy-")
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name

    def run_mypy(self, *targets: str) -> "subprocess.CompletedProcess[str]":
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "MYPY"))}
        env["MYPYPATH"] = SRC  # the package as a user program sees it installed (py.typed)
        # the cache in the temporary directory: nothing written to the tree
        return subprocess.run(self.mypy + ["--strict", "--no-error-summary", "--cache-dir",
                                           os.path.join(self.tmp, "cache"), *targets],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                              env=env, cwd=self.tmp, timeout=300)

    def write(self, name: str, code: str) -> str:
        path = os.path.join(self.tmp, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(code)
        return path

    def test_package(self) -> None:
        for version in ("3.8", f"{sys.version_info.major}.{sys.version_info.minor}"):
            with self.subTest(python=version):
                r = self.run_mypy("--python-version", version, "-p", "portmap")
                self.assertEqual(r.returncode, 0, r.stdout)

    def test_readme_examples(self) -> None:
        files = []
        for readme in READMES:
            blocks = python_blocks(readme)
            self.assertTrue(blocks, f"no python example in {readme}")
            for i, code in enumerate(blocks):
                files.append(self.write(f"{os.path.basename(os.path.dirname(readme))}_{i}.py", code))
        r = self.run_mypy(*files)
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_example_programs(self) -> None:
        examples = os.path.join(support.SOURCE_ROOT, "examples")
        files = sorted(os.path.join(examples, n) for n in os.listdir(examples) if n.endswith(".py"))
        self.assertTrue(files)
        r = self.run_mypy(*files)
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_user_program(self) -> None:
        # every public name imports under --strict (no implicit re-export),
        # and the names the calls take are checked
        path = self.write("user.py", (
            "import asyncio\n"
            "from portmap import Client, Mapping, NoGatewayError, PortmapError, Transport, __all__\n"
            "import portmap\n\n"
            "async def main() -> None:\n"
            "    async with Client(methods=['pcp', 'upnp'], timeout=5) as c:\n"
            "        async with await c.request_async(8000, 'tcp', family='both') as m:\n"
            "            print(m.external_port, c.discover().nat)\n"
            "    try:\n"
            "        Client().router_mappings()\n"
            "    except NoGatewayError as e:\n"
            "        err: ConnectionError = e\n"
            "        print(err)\n\n"
            "def hold(port: int, proto: str) -> Mapping:\n"
            "    return Client().request(port, Transport.parse(proto), protocol='natpmp')\n\n"
            "asyncio.run(main())\n"
            "print(portmap.ErrorCode, portmap.library_version(), PortmapError)\n"))
        r = self.run_mypy(path)
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_misspelt_names_fail_the_type_check(self) -> None:
        path = self.write("typo.py", (
            "import portmap\n"
            "c = portmap.Client(methods=['pcp', 'nat-pmp'])\n"
            "c.request(8000, 'tpc')\n"
            "c.request(8000, 'udp', protocol='igd')\n"
            "c.request(8000, 'udp', family='ipv5')\n"))
        r = self.run_mypy(path)
        self.assertNotEqual(r.returncode, 0, r.stdout)
        for line in (2, 3, 4, 5):
            self.assertIn(f"typo.py:{line}: error:", r.stdout)


if __name__ == "__main__":
    unittest.main()
