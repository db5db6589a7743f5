"""Vendored front-end libraries: what scripts/vendor-assets copied is there, unchanged, at the
versions package.json pins; and no page or asset loads a script or stylesheet from elsewhere."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "web" / "static" / "vendor"
STATIC = ROOT / "web" / "static"
TEMPLATES = ROOT / "web" / "templates"
HARNESS = ROOT / "tests" / "browser" / "harness"
SCRIPT = ROOT / "scripts" / "vendor-assets"


@dataclass
class Library:
    name: str
    version: str
    licence: str
    files: dict[str, str] = field(default_factory=dict)  # path under vendor/ -> sha256
    sources: dict[str, str] = field(default_factory=dict)  # a bundle's sources -> sha256

    @property
    def is_bundle(self) -> bool:
        """Our own bundle (the studio), built from web/static/src/, not an npm library."""
        return self.version == "bundle"


def read_versions() -> dict[str, Library]:
    libraries: dict[str, Library] = {}
    current: Library | None = None
    for number, line in enumerate((VENDOR / "VERSIONS.txt").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("    from "):
            assert current is not None and current.is_bundle, f"VERSIONS.txt:{number}"
            digest, path = line.split(maxsplit=2)[1:]
            current.sources[path] = digest
        elif line.startswith("    "):
            assert current is not None, f"VERSIONS.txt:{number}: a file before any library"
            digest, path = line.split(maxsplit=1)
            current.files[path] = digest
        else:
            name, version, licence = line.split(maxsplit=2)
            current = libraries[name] = Library(name, version, licence)
    return libraries


def package_json() -> dict:
    return json.loads((ROOT / "package.json").read_text())


def test_package_json_pins_exact_versions() -> None:
    package = package_json()
    assert package["private"] is True
    assert package["dependencies"], "no libraries"
    for name, version in package["dependencies"].items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name}: pin an exact version"
    lock = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    for name, version in package["dependencies"].items():
        assert lock[f"node_modules/{name}"]["version"] == version, f"{name}: package-lock.json"
        assert lock[""]["dependencies"][name] == version


def test_versions_match_package_json() -> None:
    libraries = {name: library for name, library in read_versions().items()
                 if not library.is_bundle}
    dependencies = package_json()["dependencies"]
    assert set(libraries) == set(dependencies), "run scripts/vendor-assets (make vendor)"
    for name, library in libraries.items():
        assert library.version == dependencies[name], (
            f"{name}: vendored {library.version}, package.json has {dependencies[name]}; "
            "run scripts/vendor-assets")
        assert library.licence


def test_every_vendored_file_is_there_unchanged() -> None:
    listed: set[str] = set()
    for library in read_versions().values():
        assert library.files, f"{library.name}: no files"
        directories = {path.split("/", 1)[0] for path in library.files}
        assert len(directories) == 1, f"{library.name}: one directory per library"
        licence = "THIRD-PARTY-LICENSES.txt" if library.is_bundle else "LICENSE"
        assert f"{directories.pop()}/{licence}" in library.files, f"{library.name}: licence"
        for path, digest in library.files.items():
            file = VENDOR / path
            assert file.is_file(), f"{path} is listed in VERSIONS.txt but missing"
            assert hashlib.sha256(file.read_bytes()).hexdigest() == digest, (
                f"{path} differs from what scripts/vendor-assets copied; vendored files are "
                "never edited by hand")
            listed.add(path)
    on_disk = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()}
    assert on_disk - {"VERSIONS.txt"} == listed, "files in web/static/vendor/ not from the script"


def test_the_studio_bundle_was_built_from_the_sources_as_they_are() -> None:
    """web/static/vendor/studio/ is built from web/static/src/studio/: a changed source needs
    scripts/vendor-assets run again (VERSIONS.txt has the sha256 of each source it read)."""
    bundle = read_versions()["studio"]
    assert bundle.is_bundle
    assert {"studio/studio.js", "studio/studio.css"} <= set(bundle.files)
    sources = {p.relative_to(ROOT).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in (STATIC / "src" / "studio").rglob("*") if p.is_file()}
    assert set(sources) == set(bundle.sources), "run scripts/vendor-assets (make vendor)"
    for path, digest in sources.items():
        assert bundle.sources[path] == digest, f"{path} changed since the bundle was built"
    # Our code is in it, and the libraries it stands on have their licences beside it.
    text = (VENDOR / "studio" / "studio.js").read_text()
    assert "AduanStudio" in text and "candidateGroupsExpression" in text
    licences = (VENDOR / "studio" / "THIRD-PARTY-LICENSES.txt").read_text()
    for name in ("bpmn-js", "dmn-js", "bpmn-js-properties-panel", "@bpmn-io/properties-panel",
                 "diagram-js", "preact", "style-mod", "bpmn-js-token-simulation",
                 "randomcolor"):
        assert f"\n{name} " in licences, name


def test_studio_pages_allow_only_style_attributes_the_bundle_writes() -> None:
    """The studio's policy allows some inline style attributes by hash (web/app.py): each one
    must still be written by the bundle, so none outlives the library that needed it."""
    from web.app import STUDIO_STYLE_ATTRIBUTES, studio_content_security_policy

    text = (VENDOR / "studio" / "studio.js").read_text()
    for style in STUDIO_STYLE_ATTRIBUTES:
        assert f'style="{style}"' in text, style
    policy = studio_content_security_policy("script-src 'self'; style-src 'self'; img-src 'self'")
    assert policy.startswith("script-src 'self'; style-src 'self' 'unsafe-hashes' 'sha256-")
    assert policy.count("'sha256-") == len(STUDIO_STYLE_ATTRIBUTES)
    assert "unsafe-inline" not in policy and policy.endswith("; img-src 'self'")


def test_script_and_versions_list_the_same_files() -> None:
    """Every file the script names literally is in VERSIONS.txt (the script was run since)."""
    directories = dict(re.findall(r"\[([\w.@/-]+)\]=([\w.-]+)", SCRIPT.read_text()))
    named = 0
    files = {path for library in read_versions().values() for path in library.files}
    for line in SCRIPT.read_text().splitlines():
        words = line.split()
        if len(words) >= 3 and words[0] == "put" and "$" not in line:
            destination = words[3] if len(words) > 3 else words[2]
            assert f"{directories[words[1]]}/{destination}" in files, line
            named += 1
    assert named >= 10


# --------------------------------------------------------------------------- no CDN

_URL = r"""["']?\s*(?:https?:)?//"""
EXTERNAL_LOADS = [
    re.compile(r"<script\b[^>]*\bsrc\s*=\s*" + _URL, re.I),
    re.compile(r"<link\b(?=[^>]*\brel\s*=\s*[\"']?[^>]*(?:stylesheet|preload|modulepreload|"
               r"icon|manifest))[^>]*\bhref\s*=\s*" + _URL, re.I),
    re.compile(r"@import\s+(?:url\(\s*)?" + _URL, re.I),
    re.compile(r"\burl\(\s*" + _URL, re.I),
    re.compile(r"\bimport\s*\(\s*" + _URL),
    re.compile(r"\bfrom\s*" + _URL),
    re.compile(r"\bimportScripts\s*\(\s*" + _URL),
    re.compile(r"\.src\s*=\s*" + _URL),
]
SUFFIXES = {".html", ".htm", ".jinja", ".j2", ".css", ".js", ".mjs", ".svg"}


def external_loads(text: str) -> list[str]:
    return [match.group(0) for pattern in EXTERNAL_LOADS for match in pattern.finditer(text)]


def front_end_files(*directories: Path) -> list[Path]:
    """The page and asset files under the directories; a missing directory has none."""
    return sorted(path for directory in directories if directory.is_dir()
                  for path in directory.rglob("*")
                  if path.is_file() and path.suffix.lower() in SUFFIXES)


@pytest.mark.parametrize("text", [
    '<script src="https://cdn.jsdelivr.net/npm/htmx.org"></script>',
    "<script defer src='//unpkg.com/leaflet/dist/leaflet.js'></script>",
    '<link rel="stylesheet" href="https://cdn.example/bootstrap.min.css">',
    '<link href="https://fonts.example/css" rel="preload" as="style">',
    '@import url("https://fonts.example/css2?family=Inter");',
    "@import 'http://example.org/a.css';",
    ".x { background: url(https://tile.example/0/0/0.png) }",
    'import x from "https://esm.example/x.js";',
    's.src = "https://cdn.example/chart.js";',
])
def test_detector_finds_external_loads(text: str) -> None:
    assert external_loads(text)


@pytest.mark.parametrize("text", [
    '<script defer src="{{ url_for(\'static\', filename=\'js/app.js\') }}"></script>',
    '<link rel="stylesheet" href="/static/vendor/leaflet/leaflet.css">',
    '<a href="https://bpmn.io" rel="noopener">bpmn.io</a>',
    '<link rel="canonical" href="https://lapor.go.id/">',
    ".leaflet-default-icon-path { background-image: url(images/marker-icon.png) }",
    ".x { background: url('data:image/svg+xml;utf8,<svg/>') }",
    "// see https://leafletjs.com",
])
def test_detector_ignores_local_loads_and_plain_links(text: str) -> None:
    assert not external_loads(text)


def test_pages_and_assets_load_nothing_from_other_hosts() -> None:
    files = front_end_files(TEMPLATES, STATIC, HARNESS)
    # web/static always holds the vendored libraries and our scripts, templates or not.
    assert len([f for f in files if f.is_relative_to(STATIC)]) >= 8
    found = {f.relative_to(ROOT).as_posix(): hits for f in files
             if (hits := external_loads(f.read_text(errors="replace")))}
    assert not found, f"external scripts or styles (vendor them instead): {found}"


INLINE_CODE = [
    # A script with a body (a JSON data block is not code, and the CSP lets it be).
    re.compile(r"<script\b(?![^>]*\b(?:src\s*=|type\s*=\s*[\"']?application/(?:ld\+)?json))"
               r"[^>]*>\s*[^<\s]", re.I),
    re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I),  # onclick= and friends
    re.compile(r"\bhx-on\b|\bhx-on:", re.I),  # htmx's inline handlers need eval
    re.compile(r"""\bhref\s*=\s*["']\s*javascript:""", re.I),
]


@pytest.mark.parametrize("text", [
    "<script>alert(1)</script>", '<button onclick="go()">', '<div hx-on:click="x()">',
    '<a href="javascript:void(0)">'])
def test_inline_code_detector(text: str) -> None:
    assert any(pattern.search(text) for pattern in INLINE_CODE)


@pytest.mark.parametrize("text", [
    '<script defer src="/static/js/app.js"></script>',
    '<script type="application/json" id="figures">{"a": 1}</script>',
    '<button type="submit" data-confirm="Continue?">', '<p>Based on the report</p>'])
def test_inline_code_detector_lets_files_and_data_be(text: str) -> None:
    assert not any(pattern.search(text) for pattern in INLINE_CODE)


def test_pages_have_no_inline_code() -> None:
    """The Content-Security-Policy runs scripts from files only: inline code would not run."""
    pages = [f for f in front_end_files(TEMPLATES, HARNESS) if f.suffix in {".html", ".htm"}]
    assert any(f.is_relative_to(HARNESS) for f in pages), "the browser-test harness pages"
    found = {f.relative_to(ROOT).as_posix(): [m.group(0) for p in INLINE_CODE
                                              for m in p.finditer(f.read_text())]
             for f in pages}
    assert not {k: v for k, v in found.items() if v}, found
