"""requirements.lock, which `make install` installs with --require-hashes, matches requirements.txt."""

from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def _requirements():
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return [Requirement(line) for line in (line.split("#")[0].strip() for line in lines) if line]


def _pins():
    """{package: {version: number of --hash lines}} from the lock's `name==version ; marker \\` lines."""
    pins, current = {}, None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        if line[0].isspace():
            if line.strip().startswith("--hash=sha256:"):
                pins[current[0]][current[1]] += 1
            continue
        name, version = line.rstrip(" \\").split(";")[0].strip().split("==")
        current = canonicalize_name(name), version
        pins.setdefault(current[0], {})[current[1]] = 0
    return pins


def test_the_lock_pins_every_requirement_within_its_range():
    pins = _pins()
    stale = [
        str(requirement)
        for requirement in _requirements()
        if not pins.get(canonicalize_name(requirement.name))
        or not all(requirement.specifier.contains(v, prereleases=True) for v in pins[canonicalize_name(requirement.name)])
    ]
    assert not stale, f"requirements.lock does not satisfy {stale}: run `make lock`"


def test_every_locked_package_has_one_version_and_its_hashes():
    pins = _pins()
    assert len(pins) > len(_requirements())  # dependencies of dependencies are pinned too
    several = {name: sorted(versions) for name, versions in pins.items() if len(versions) > 1}
    assert not several, "one version per package, whatever the Python or platform: what CI tested"
    unhashed = [name for name, versions in pins.items() if not all(versions.values())]
    assert not unhashed
