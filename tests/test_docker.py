"""The container image and the compose stack (service, worker, PostgreSQL, Redis).

The build-and-run test needs a Docker engine and skips, saying so, where none runs (these
CI machines have only the client). The file checks run everywhere.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_wires_service_and_worker_to_the_same_store_and_broker() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "redis", "service", "worker"}
    service, worker = services["service"], services["worker"]
    assert service["environment"] == worker["environment"]  # one database, one broker
    env = service["environment"]
    assert env["DEEPSCREEN_DATABASE_URL"].startswith("postgresql://") and "@db:" in env[
        "DEEPSCREEN_DATABASE_URL"]
    assert env["DEEPSCREEN_BROKER_URL"].startswith("redis://redis:")
    assert service["volumes"] == worker["volumes"]  # the blob folder is shared
    assert "db upgrade" in " ".join(service["entrypoint"]) and "--no-migrate" in " ".join(
        service["entrypoint"])
    assert worker["command"][0] == "worker"


def test_image_runs_unprivileged_and_installs_only_the_project() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "\nUSER deepscreen\n" in dockerfile
    assert "pip install '.[service]'" in dockerfile
    assert 'ENTRYPOINT ["deepscreen"]' in dockerfile and "HEALTHCHECK" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv" in ignored and ".git" in ignored


def _docker_engine() -> str | None:
    """Why the stack cannot be started here, or None when it can."""
    if shutil.which("docker") is None:
        return "docker is not installed"
    probe = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                           capture_output=True, text=True, timeout=30)
    if probe.returncode != 0:
        return f"no Docker engine answers ({probe.stderr.strip()[:120]})"
    return None


@pytest.mark.slow
def test_the_stack_builds_starts_and_screens_an_upload(tmp_path: Path) -> None:
    reason = _docker_engine()
    if reason:
        pytest.skip(reason)
    project = f"dstest{int(time.time())}"
    compose = ["docker", "compose", "-p", project, "-f", str(ROOT / "compose.yaml")]
    try:
        subprocess.run([*compose, "up", "-d", "--build", "--wait"], check=True, timeout=1500)
        created = subprocess.run([*compose, "exec", "-T", "service", "deepscreen", "apikey",
                                  "create", "--role", "submitter", "--name", "test"],
                                 check=True, capture_output=True, text=True, timeout=120)
        key = next(w for w in created.stdout.split() if w.startswith("dsk_"))
        from PIL import Image

        image = io.BytesIO()
        Image.new("RGB", (64, 64), (120, 80, 40)).save(image, "PNG")
        boundary = "deepscreen-test"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\n").encode() + \
            image.getvalue() + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(
            "http://127.0.0.1:8080/v1/scans", data=body, method="POST",
            headers={"Authorization": f"Bearer {key}",
                     "Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(request, timeout=60) as answer:
            report = json.load(answer)
        assert report["verdict"] == "allow"
    finally:
        subprocess.run([*compose, "down", "-v"], timeout=300, check=False)
