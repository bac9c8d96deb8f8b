"""`make start`, the README's command for the Procfile, with production settings on this machine."""

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def listening_addresses(port):
    """Local addresses with a listening TCP socket on `port`, from /proc (no traffic sent)."""
    addresses = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                raw = bytes.fromhex(address)
                # /proc writes each 4-byte word of the address in host (little-endian) order.
                addresses.add(socket.inet_ntop(family, b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))))
    return addresses


def get(port, path, host):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": host})
        response = connection.getresponse()
        return response.status, response.getheader("Location")
    finally:
        connection.close()


def processes_with(marker):
    """Ids of the processes whose environment holds `marker`: the ones this test started, and theirs."""
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker.encode() in environ.read_bytes().split(b"\0"):
                pids.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return pids


def stop(process, marker, timeout=30):
    """SIGTERM to make and honcho, then waits for honcho to stop web, worker and beat (each in its own
    session, out of make's process group); returns the ids it had to kill."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    leftovers = processes_with(marker)
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    return leftovers


class Output:
    """The lines a process prints, collected by a thread so the test can wait for some."""

    def __init__(self, stream):
        self.lines = []
        self._thread = threading.Thread(target=lambda: self.lines.extend(iter(stream.readline, "")), daemon=True)
        self._thread.start()

    def text(self):
        return "".join(self.lines)

    def wait_for(self, *needles, process, timeout=90):
        deadline = time.monotonic() + timeout
        while not all(needle in self.text() for needle in needles):
            assert process.poll() is None, f"make start exited with {process.returncode}:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {needles} within {timeout} s:\n{self.text()}"
            time.sleep(0.2)


@pytest.mark.redis
def test_make_start_runs_web_worker_and_beat_with_production_settings(tmp_path, redis_url):
    port = free_port()
    run = str(uuid.uuid4())
    environment = {
        "SEGCAMPAIGN_TEST_RUN": run,
        # No virtualenv on PATH: `make start` must find gunicorn and celery itself.
        "PATH": "/usr/bin:/bin",
        "PYTHONUNBUFFERED": "1",
        "ENV_FILE": "/dev/null",
        "DEBUG": "false",
        "SECRET_KEY": "a-real-secret-" + "k" * 50,
        "ALLOWED_HOSTS": "shop.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CELERY_BROKER_URL": redis_url,
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "WORKER_CONCURRENCY": "1",
    }
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input"], cwd=ROOT, env=environment, check=True,
                   capture_output=True)

    process = subprocess.Popen(
        ["make", "--no-print-directory", "start"],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output = Output(process.stdout)
    try:
        output.wait_for("Listening at: http://127.0.0.1:", " ready.", "beat: Starting...", process=process)

        assert get(port, "/admin/login/", "shop.example.com") == (301, "https://shop.example.com/admin/login/")
        assert listening_addresses(port) == {"127.0.0.1"}
        # A wrong Host header is answered 400 and logged in one line.
        assert get(port, "/admin/login/", "evil.example") == (400, None)
        output.wait_for("Invalid HTTP_HOST header: 'evil.example'", process=process)
        assert process.poll() is None, output.text()
    finally:
        leftovers = stop(process, f"SEGCAMPAIGN_TEST_RUN={run}")
    assert not leftovers, "make start left processes running after it was stopped"
    assert "Traceback" not in output.text()
