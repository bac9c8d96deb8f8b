"""`make browser`: Debian's Chromium through apt-get when it is missing, nothing when it is there,
and never a browser downloaded by Playwright. apt-get and playwright are replaced by a stand-in that
logs its calls."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FAKE_APT_GET = """#!/bin/sh
echo "$(basename "$0") $*" >> "$CALLS"
case "$*" in *install*) printf '#!/bin/sh\\necho Chromium 1.0\\n' > "$CHROMIUM_AT"; chmod +x "$CHROMIUM_AT";; esac
"""


def make_browser(tmp_path, chromium):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for name in ("apt-get", "playwright"):
        (bin_dir / name).write_text(FAKE_APT_GET)
        (bin_dir / name).chmod(0o755)
    calls = tmp_path / "calls.log"
    calls.touch()
    result = subprocess.run(
        ["make", "--no-print-directory", "-f", str(ROOT / "Makefile"), "-C", str(tmp_path), f"CHROMIUM={chromium}",
         "browser"],
        env={"PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS": str(calls), "CHROMIUM_AT": str(chromium)},
        capture_output=True, text=True, check=True,
    )
    return result.stdout, calls.read_text().splitlines()


def test_make_browser_installs_debians_chromium_when_it_is_missing(tmp_path):
    out, calls = make_browser(tmp_path, tmp_path / "chromium")

    assert calls[0] == "apt-get update -qq"
    assert calls[1].startswith("apt-get install") and " chromium" in calls[1]
    assert not any("playwright" in call for call in calls)
    assert "Chromium 1.0" in out


def test_make_browser_leaves_an_installed_chromium_alone(tmp_path):
    chromium = tmp_path / "chromium"
    chromium.write_text("#!/bin/sh\necho Chromium 2.0\n")
    chromium.chmod(0o755)

    out, calls = make_browser(tmp_path, chromium)

    assert calls == []
    assert "is installed" in out and "Chromium 2.0" in out
