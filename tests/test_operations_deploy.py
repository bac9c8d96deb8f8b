"""The systemd units in deploy/systemd: what restarts web, workers and beat on a plain host."""

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNITS = ROOT / "deploy" / "systemd"
CHECKOUT = "/srv/segcampaign"


def unit(name):
    """{key: [values]} of a unit file (systemd allows a key more than once)."""
    values = {}
    for line in (UNITS / name).read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            values.setdefault(key, []).append(value)
    return values


def procfile():
    return dict(line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip())


def test_there_is_one_web_unit_a_worker_per_instance_and_one_beat():
    assert sorted(path.name for path in UNITS.iterdir()) == [
        "segcampaign-beat.service",
        "segcampaign-web.service",
        "segcampaign-worker@.service",
    ]


@pytest.mark.parametrize(
    "process, name",
    [("web", "segcampaign-web.service"), ("worker", "segcampaign-worker@.service"), ("beat", "segcampaign-beat.service")],
)
def test_each_unit_runs_its_procfile_process_again_whenever_it_dies(process, name):
    values = unit(name)
    assert values["Restart"] == ["always"]
    assert values["EnvironmentFile"] == ["/etc/segcampaign/segcampaign.env"]
    assert values["WorkingDirectory"] == [CHECKOUT]

    program, *arguments = shlex.split(values["ExecStart"][0])
    procfile_program, *procfile_arguments = shlex.split(procfile()[process])
    assert program == f"{CHECKOUT}/.venv/bin/{procfile_program}"
    fixed = [argument for argument in procfile_arguments if "$" not in argument]
    assert [argument for argument in arguments if argument in fixed] == fixed


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_systemd_accepts_the_units(tmp_path):
    # Pointed at this checkout and its virtualenv, so that systemd can check the programs exist.
    for path in UNITS.iterdir():
        text = path.read_text().replace(f"{CHECKOUT}/.venv/bin", str(Path(sys.executable).parent))
        (tmp_path / path.name.replace("@.", "@1.")).write_text(text.replace(CHECKOUT, str(ROOT)))

    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(path) for path in tmp_path.iterdir())], capture_output=True, text=True
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
