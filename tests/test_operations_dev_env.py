"""The development settings `make demo` keeps in .env, so that `manage.py` works by hand afterwards."""

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_env_file(directory):
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), "-C", str(directory), f"PYTHON={sys.executable}", ".env"],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )


def test_make_demo_writes_debug_and_a_random_key_readable_by_its_owner_only(tmp_path):
    make_env_file(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    make_env_file(other)

    env_file = tmp_path / ".env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    values = dict(line.split("=", 1) for line in env_file.read_text().splitlines() if not line.startswith("#"))
    assert values["DEBUG"] == "true"
    assert len(values["SECRET_KEY"]) >= 50
    assert values["SECRET_KEY"] not in (other / ".env").read_text()


def test_make_demo_never_overwrites_an_existing_env_file(tmp_path):
    make_env_file(tmp_path)
    written = (tmp_path / ".env").read_text()
    make_env_file(tmp_path)
    assert (tmp_path / ".env").read_text() == written

    (tmp_path / ".env").write_text("DATABASE_URL=postgres://me@127.0.0.1/mine\n")
    make_env_file(tmp_path)
    assert (tmp_path / ".env").read_text() == "DATABASE_URL=postgres://me@127.0.0.1/mine\n"


def test_manage_py_by_hand_reads_the_env_file_beneath_the_environment(tmp_path):
    make_env_file(tmp_path)
    show = "from django.conf import settings; print(settings.DEBUG, settings.SECRET_KEY)"
    environment = {"PATH": "/usr/bin:/bin", "ENV_FILE": str(tmp_path / ".env")}

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", show], cwd=ROOT, env=environment, capture_output=True, text=True
    )
    debug, key = result.stdout.split()
    assert (debug, f"SECRET_KEY={key}") == ("True", (tmp_path / ".env").read_text().splitlines()[-1])

    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", show],
        cwd=ROOT,
        env={**environment, "DEBUG": "false"},
        capture_output=True,
        text=True,
    )
    assert result.stdout.split()[0] == "False"
