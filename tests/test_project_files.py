"""The project's own files: the pinned environment, the README's links and length, the docs site."""

import configparser
import os
import re
import subprocess
import sys

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from conftest import ROOT


def _setup_cfg() -> configparser.ConfigParser:
    parser = configparser.ConfigParser()
    parser.read(os.path.join(ROOT, "setup.cfg"))
    return parser


def _requirements(text: str) -> list[Requirement]:
    lines = (line.split("#")[0].strip() for line in text.splitlines())
    return [Requirement(line) for line in lines if line]


def _pins() -> dict[str, str]:
    """constraints.txt as {canonical name: exact version}; any line that is not `name==version` fails."""
    pins = {}
    for requirement in _requirements(open(os.path.join(ROOT, "constraints.txt")).read()):
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", requirement
        pins[canonicalize_name(requirement.name)] = specifier.version
    return pins


def _install_requires() -> list[Requirement]:
    return _requirements(_setup_cfg()["options"]["install_requires"])


def test_every_requirement_of_every_extra_is_pinned_within_its_range():
    pins = _pins()
    extras = _setup_cfg()["options.extras_require"]
    declared = _install_requires() + [r for name in extras for r in _requirements(extras[name])]
    assert len(declared) > 20  # the check sees the lists
    for requirement in declared:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not pinned in constraints.txt: rerun its header"
        assert requirement.specifier.contains(pins[name], prereleases=True), (requirement, pins[name])


def test_requirements_txt_is_the_runtime_list():
    listed = _requirements(open(os.path.join(ROOT, "requirements.txt")).read())
    assert [str(r) for r in listed] == [str(r) for r in _install_requires()]


def test_the_carried_wheels_and_the_gpu_machines_packages_cover_every_runtime_requirement():
    """experiments/device/wheels.txt (what a lent GPU machine lacks) and gpu_packages.txt (what it has)
    name every requirement of training (the light install and the train extra); carried_wheels.py check
    installs the whole closure from them."""
    device = os.path.join(ROOT, "experiments", "device")

    def names(file: str, of_wheels: bool) -> set[str]:
        with open(os.path.join(device, file)) as f:
            lines = [line.strip() for line in f if line.strip() and not line.startswith("#")]
        return {canonicalize_name(line.split("-")[0] if of_wheels else line) for line in lines}

    carried, present = names("wheels.txt", True), names("gpu_packages.txt", False)
    training = _install_requires() + _requirements(_setup_cfg()["options.extras_require"]["train"])
    required = {canonicalize_name(r.name) for r in training}
    assert required <= carried | present, sorted(required - carried - present)
    assert not carried & present  # nothing carried that the machine has


def test_the_install_commands_use_the_constraints():
    readme = open(os.path.join(ROOT, "README.md")).read()
    installs = re.findall(r"pip install [^&\n]*", readme.split("```bash", 1)[1].split("```", 1)[0])
    assert len(installs) == 2 and all("-c constraints.txt" in c for c in installs), installs
    ci = open(os.path.join(ROOT, ".ci", "run")).read()
    assert re.search(r"pip install [^\n]*-e '\.\[[^\n]*-c constraints\.txt", ci)


def test_readme_is_a_front_page_whose_links_resolve():
    readme = open(os.path.join(ROOT, "README.md")).read()
    assert len(readme.splitlines()) <= 200
    targets = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", readme)
    local = [t for t in targets if "://" not in t]
    assert "docs/getting-started.md" in local
    missing = [t for t in local if not os.path.exists(os.path.join(ROOT, t))]
    assert not missing, f"README links to missing files: {missing}"


def test_docs_site_builds_strictly(tmp_path):
    """mkdocs --strict fails on a broken link, a page missing from the nav or a docstring that does not
    render in the API reference."""
    pytest.importorskip("mkdocs", reason="the docs extra: pip install -e '.[docs]' -c constraints.txt")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert os.path.exists(tmp_path / "api" / "index.html")
    assert "Predictor" in (tmp_path / "api" / "index.html").read_text()
