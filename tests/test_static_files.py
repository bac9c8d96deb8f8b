"""plotly.js (4.8 MB) is served compressed and cached: in production after collectstatic, and in development.

Production runs in a subprocess with DEBUG off: collectstatic into a temporary STATIC_ROOT, then
a request through the whole middleware stack (whitenoise included) for the URL a page links to.
"""

import gzip
import json
import subprocess
import sys
from pathlib import Path

from django.contrib.staticfiles import finders
from django.templatetags.static import static

from segcampaign import static_headers, staticfinders

ROOT = Path(__file__).resolve().parent.parent

REQUEST = """
import json
from django.test import Client
from django.templatetags.static import static
url = static("plotly/plotly.min.js")
response = Client().get(url, secure=True, HTTP_HOST="shop.example.com", HTTP_ACCEPT_ENCODING="gzip, br")
plain = Client().get(url, secure=True, HTTP_HOST="shop.example.com")
print(json.dumps({
    "url": url, "status": response.status_code, "encoding": response.get("Content-Encoding"),
    "cache": response.get("Cache-Control"), "length": int(response["Content-Length"]),
    "plain_length": int(plain["Content-Length"]), "vary": response.get("Vary"),
}))
"""


def _production(tmp_path):
    return {
        "PATH": "/usr/bin:/bin",
        "ENV_FILE": "/dev/null",
        "DEBUG": "false",
        "SECRET_KEY": "x" * 64 + "a-real-looking-secret-9f8e7d6c5b4a",
        "ALLOWED_HOSTS": "shop.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "STATIC_ROOT": str(tmp_path / "static"),
    }


def test_production_serves_plotly_js_hashed_gzipped_and_cached_for_a_year(tmp_path):
    environment = _production(tmp_path)
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input", "-v0"],
        cwd=ROOT, env=environment, capture_output=True, text=True,
    )
    assert collected.returncode == 0, collected.stderr
    served = subprocess.run(
        [sys.executable, "manage.py", "shell", "--no-imports", "-c", REQUEST],
        cwd=ROOT, env=environment, capture_output=True, text=True,
    )
    assert served.returncode == 0, served.stderr
    response = json.loads(served.stdout)

    assert response["status"] == 200
    assert response["url"].startswith("/static/plotly/plotly.min.") and response["url"] != "/static/plotly/plotly.min.js"
    assert response["encoding"] in {"gzip", "br"}
    assert response["length"] < response["plain_length"] / 3  # 4.8 MB down to about 1.4 MB
    assert "immutable" in response["cache"] and "max-age=315360000" in response["cache"]
    assert response["vary"] == "Accept-Encoding"
    # Only plotly.js of the plotly package: not its widget bundle (5 MB) nor its sample data sets.
    assert sorted(path.name for path in (tmp_path / "static" / "plotly").iterdir() if "plotly.min" not in path.name) == []


def test_development_finds_plotly_js_beside_its_gzip(settings, tmp_path):
    settings.PLOTLY_CACHE_DIR = tmp_path

    found = Path(staticfinders.PlotlyFinder().find("plotly/plotly.min.js"))

    assert found.parent.parent == tmp_path
    assert found.read_bytes() == staticfinders.SOURCE.read_bytes()
    assert gzip.decompress(Path(f"{found}.gz").read_bytes()) == staticfinders.SOURCE.read_bytes()
    assert staticfinders.PlotlyFinder().find("plotly/widgetbundle.js") == []


def test_development_serves_plotly_js_unzipped_when_its_folder_cannot_be_written(settings, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    settings.PLOTLY_CACHE_DIR = blocked

    assert staticfinders.PlotlyFinder().find("plotly/plotly.min.js") == str(staticfinders.SOURCE)


def test_the_project_finds_plotly_js_through_its_finder():
    assert finders.find("plotly/plotly.min.js").endswith("plotly.min.js")
    assert finders.find("plotly/widgetbundle.js") is None


def test_development_lets_the_browser_keep_plotly_js_under_its_versioned_url():
    headers = {"Cache-Control": "max-age=0, public"}
    static_headers.add_headers(headers, "/x/plotly.min.js", static("plotly/plotly.min.js"))
    assert headers["Cache-Control"] == f"max-age={static_headers.YEAR}, public, immutable"

    other = {"Cache-Control": "max-age=0, public"}
    static_headers.add_headers(other, "/x/base.css", static("admin/css/base.css"))
    assert other["Cache-Control"] == "max-age=0, public"
