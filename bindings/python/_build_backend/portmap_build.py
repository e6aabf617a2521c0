"""An in-tree PEP 517 build backend for the pure-Python package portmap.

pyproject.toml names it with ``requires = []``, so pip builds the wheel
without downloading anything (no setuptools, no wheel): installing works
offline, with or without ``--no-index``. It implements build_wheel,
build_sdist and build_editable (PEP 660, a .pth file pointing at src/),
plus the metadata hooks, with the standard library only.

Metadata comes from the [project] table of pyproject.toml (read with
tomllib, or on Python < 3.11 with the small reader below, which knows the
subset of TOML that file uses); the version from src/portmap/_version.py.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile
from typing import Any, Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "portmap"
SRC = os.path.join(ROOT, "src")
WHEEL_TAG = "py3-none-any"
# Files of an sdist, besides the package itself.
SDIST_EXTRA = ["pyproject.toml", "README.md", "_build_backend/portmap_build.py"]
SDIST_DIRS = ["examples"]


# ---------------------------------------------------------------- metadata


def _parse_value(text: str) -> Tuple[Any, str]:
    """One TOML value (string, array or inline table) at the start of text."""
    text = text.lstrip()
    if text.startswith('"'):
        m = re.match(r'"((?:[^"\\]|\\.)*)"', text)
        if not m:
            raise ValueError(f"bad string: {text[:40]!r}")
        return m.group(1).encode().decode("unicode_escape"), text[m.end():]
    if text.startswith("["):
        items: List[Any] = []
        rest = text[1:]
        while True:
            rest = re.sub(r"^(\s|#[^\n]*)*", "", rest)
            if rest.startswith("]"):
                return items, rest[1:]
            value, rest = _parse_value(rest)
            items.append(value)
            rest = re.sub(r"^(\s|#[^\n]*)*", "", rest)
            if rest.startswith(","):
                rest = rest[1:]
    if text.startswith("{"):
        table: Dict[str, Any] = {}
        rest = text[1:]
        while True:
            rest = rest.lstrip()
            if rest.startswith("}"):
                return table, rest[1:]
            m = re.match(r'([A-Za-z0-9_-]+)\s*=\s*', rest)
            if not m:
                raise ValueError(f"bad inline table: {rest[:40]!r}")
            table[m.group(1)], rest = _parse_value(rest[m.end():])
            rest = rest.lstrip()
            if rest.startswith(","):
                rest = rest[1:]
    m = re.match(r"(true|false|\d+)", text)
    if m:
        word = m.group(1)
        scalar: Any = word == "true" if word in ("true", "false") else int(word)
        return scalar, text[m.end():]
    raise ValueError(f"unsupported TOML value: {text[:40]!r}")


def parse_toml_subset(text: str) -> Dict[str, Any]:
    """The TOML of pyproject.toml: [tables], key = string/array/inline table."""
    doc: Dict[str, Any] = {}
    table = doc
    rest = text
    while True:
        rest = re.sub(r"^(\s|#[^\n]*)*", "", rest)
        if not rest:
            return doc
        m = re.match(r"\[([A-Za-z0-9_.-]+)\]", rest)
        if m:
            table = doc
            for part in m.group(1).split("."):
                table = table.setdefault(part, {})
            rest = rest[m.end():]
            continue
        m = re.match(r'([A-Za-z0-9_-]+|"[^"]*")\s*=\s*', rest)
        if not m:
            raise ValueError(f"cannot read pyproject.toml near {rest[:40]!r}")
        key = m.group(1).strip('"')
        table[key], rest = _parse_value(rest[m.end():])


def _pyproject() -> Dict[str, Any]:
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        raw = f.read()
    try:
        import tomllib  # Python >= 3.11
    except ImportError:
        return parse_toml_subset(raw.decode("utf-8"))
    doc: Dict[str, Any] = tomllib.loads(raw.decode("utf-8"))
    return doc


def version() -> str:
    with open(os.path.join(SRC, PACKAGE, "_version.py"), encoding="utf-8") as f:
        m = re.search(r'^__version__ = "([^"]+)"$', f.read(), re.M)
    if not m:
        raise RuntimeError("no __version__ in src/portmap/_version.py")
    return m.group(1)


def _dist_name(project: Dict[str, Any]) -> str:
    return re.sub(r"[-_.]+", "_", project["name"]).lower()


def metadata() -> str:
    """The METADATA (core metadata 2.1) of the distribution."""
    project = _pyproject()["project"]
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {version()}",
        f"Summary: {project['description']}",
    ]
    lic = project.get("license")
    if isinstance(lic, dict) and "text" in lic:
        lines.append(f"License: {lic['text']}")
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    for c in project.get("classifiers", []):
        lines.append(f"Classifier: {c}")
    for label, url in project.get("urls", {}).items():
        lines.append(f"Project-URL: {label}, {url}")
    body = ""
    readme = project.get("readme")
    if readme:
        with open(os.path.join(ROOT, readme), encoding="utf-8") as f:
            body = f.read()
        lines.append("Description-Content-Type: text/markdown")
    return "\n".join(lines) + "\n\n" + body


def _wheel_file() -> str:
    return (
        "Wheel-Version: 1.0\n"
        f"Generator: portmap_build {version()}\n"
        "Root-Is-Purelib: true\n"
        f"Tag: {WHEEL_TAG}\n"
    )


def _dist_info() -> str:
    return f"{_dist_name(_pyproject()['project'])}-{version()}.dist-info"


# ---------------------------------------------------------------- archives


def _timestamp() -> Tuple[int, int, int, int, int, int]:
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))  # 1980-01-01
    return time.gmtime(max(epoch, 315532800))[:6]


def _package_files() -> List[Tuple[str, str]]:
    """(path in the archive, path on disk) of the package, sorted."""
    out = []
    base = os.path.join(SRC, PACKAGE)
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".py") or name == "py.typed":
                full = os.path.join(dirpath, name)
                out.append((os.path.relpath(full, SRC).replace(os.sep, "/"), full))
    return out


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def _write_wheel(wheel_directory: str, contents: List[Tuple[str, bytes]]) -> str:
    project = _pyproject()["project"]
    name = f"{_dist_name(project)}-{version()}-{WHEEL_TAG}.whl"
    info = _dist_info()
    contents = contents + [
        (f"{info}/METADATA", metadata().encode("utf-8")),
        (f"{info}/WHEEL", _wheel_file().encode("utf-8")),
        (f"{info}/top_level.txt", f"{PACKAGE}\n".encode()),
    ]
    record = io.StringIO()
    for arcname, data in contents:
        record.write(f"{arcname},{_record_hash(data)},{len(data)}\n")
    record.write(f"{info}/RECORD,,\n")
    contents.append((f"{info}/RECORD", record.getvalue().encode("utf-8")))
    os.makedirs(wheel_directory, exist_ok=True)
    path = os.path.join(wheel_directory, name)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for arcname, data in contents:
            zi = zipfile.ZipInfo(arcname, date_time=_timestamp())
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, data)
    return name


# ---------------------------------------------------------------- PEP 517 / 660 hooks


def get_requires_for_build_wheel(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    """Nothing: the backend needs only the standard library."""
    return []


def get_requires_for_build_sdist(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    """Nothing: the backend needs only the standard library."""
    return []


def get_requires_for_build_editable(config_settings: Optional[Dict[str, Any]] = None) -> List[str]:
    """Nothing: the backend needs only the standard library."""
    return []


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: Optional[Dict[str, Any]] = None
) -> str:
    """Write the .dist-info directory (METADATA, WHEEL) and return its name."""
    info = _dist_info()
    path = os.path.join(metadata_directory, info)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "METADATA"), "w", encoding="utf-8") as f:
        f.write(metadata())
    with open(os.path.join(path, "WHEEL"), "w", encoding="utf-8") as f:
        f.write(_wheel_file())
    return info


prepare_metadata_for_build_editable = prepare_metadata_for_build_wheel


def build_wheel(
    wheel_directory: str,
    config_settings: Optional[Dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    """Build the pure-Python wheel; return its file name."""
    contents = []
    for arcname, full in _package_files():
        with open(full, "rb") as f:
            contents.append((arcname, f.read()))
    return _write_wheel(wheel_directory, contents)


def build_editable(
    wheel_directory: str,
    config_settings: Optional[Dict[str, Any]] = None,
    metadata_directory: Optional[str] = None,
) -> str:
    """Build a wheel whose .pth file puts this source tree's src/ on sys.path."""
    pth = (os.path.abspath(SRC) + "\n").encode("utf-8")
    return _write_wheel(wheel_directory, [(f"__editable__.{PACKAGE}.pth", pth)])


def build_sdist(sdist_directory: str, config_settings: Optional[Dict[str, Any]] = None) -> str:
    """Build the source archive (.tar.gz) that build_wheel works from."""
    project = _pyproject()["project"]
    base = f"{_dist_name(project)}-{version()}"
    files = [(rel, os.path.join(ROOT, rel)) for rel in SDIST_EXTRA]
    files += [("src/" + arc, full) for arc, full in _package_files()]
    for d in SDIST_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, d)):
            dirnames[:] = sorted(x for x in dirnames if x != "__pycache__")
            for name in sorted(filenames):
                full = os.path.join(dirpath, name)
                files.append((os.path.relpath(full, ROOT).replace(os.sep, "/"), full))
    mtime = int(time.mktime(_timestamp() + (0, 0, -1)))
    os.makedirs(sdist_directory, exist_ok=True)
    name = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz", format=tarfile.PAX_FORMAT) as tf:

        def add(arcname: str, data: bytes, mode: int = 0o644) -> None:
            ti = tarfile.TarInfo(f"{base}/{arcname}")
            ti.size = len(data)
            ti.mtime = mtime
            ti.mode = mode
            tf.addfile(ti, io.BytesIO(data))

        add("PKG-INFO", metadata().encode("utf-8"))
        for arcname, full in files:
            with open(full, "rb") as f:
                add(arcname, f.read(), 0o755 if os.access(full, os.X_OK) else 0o644)
    return name
