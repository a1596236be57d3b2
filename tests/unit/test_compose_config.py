"""docker-compose.yml and the Dockerfile: validated by the real Docker Compose (no engine
needed for ``config``) and checked for the properties the deployment relies on."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DOCKERFILE = REPO_ROOT / "Dockerfile"
APP_SERVICES = ("api", "worker", "relay")
STORES = ("postgres", "mongo", "redis")


def compose_binary() -> str:
    beside_python = Path(sys.executable).parent / "docker-compose"
    found = str(beside_python) if beside_python.exists() else shutil.which("docker-compose")
    if found is None:
        pytest.skip("docker-compose is not installed (it comes with the dev extra)")
    return found


def compose(*args: str, project_dir: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [compose_binary(), "--project-directory", str(project_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture(scope="module")
def model() -> dict[str, Any]:
    """The compose model as Docker Compose resolves it (anchors, merges, defaults)."""
    result = compose("--profile", "monitoring", "--profile", "beat", "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    parsed: dict[str, Any] = json.loads(result.stdout)
    return parsed


def test_compose_config_is_valid() -> None:
    result = compose("config", "-q")
    assert result.returncode == 0, result.stderr


def test_compose_config_rejects_an_invalid_file(tmp_path: Path) -> None:
    # Proves the validator really validates: a wrong depends_on condition must fail.
    broken = COMPOSE_FILE.read_text().replace("service_completed_successfully", "service_finished", 1)
    (tmp_path / "docker-compose.yml").write_text(broken)
    result = compose("config", "-q", project_dir=tmp_path)
    assert result.returncode != 0
    assert "depends_on.migrate.condition" in result.stderr


def test_stores_have_healthchecks_and_named_volumes(model: dict[str, Any]) -> None:
    services = model["services"]
    assert services["mongo"]["image"].startswith("mongo:7")
    for store in STORES:
        assert services[store]["healthcheck"]["test"], store
        named = [v for v in services[store].get("volumes", []) if v["type"] == "volume"]
        assert named and all(v["source"] in model["volumes"] for v in named), store


def test_app_services_wait_for_healthy_stores_and_the_migration(model: dict[str, Any]) -> None:
    services = model["services"]
    assert services["migrate"]["command"] == ["dualwrite", "migrate"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in APP_SERVICES:
        depends_on = services[name]["depends_on"]
        assert depends_on["migrate"]["condition"] == "service_completed_successfully", name
        for store in STORES:
            assert depends_on[store]["condition"] == "service_healthy", (name, store)


def test_app_services_run_dual_mode_on_the_compose_stores(model: dict[str, Any]) -> None:
    for name in (*APP_SERVICES, "migrate"):
        env = model["services"][name]["environment"]
        assert env["ORM"] == "dual", name
        assert env["BROKER_URL"] == "redis://redis:6379/0", name
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["MONGO_URL"].startswith("mongodb://mongo:27017"), name
    assert model["services"]["relay"]["command"] == ["dualwrite", "relay"]
    assert model["services"]["worker"]["command"][:2] == ["dualwrite", "worker"]
    assert "healthcheck" in model["services"]["api"] and "healthcheck" in model["services"]["worker"]


def test_monitoring_is_optional(model: dict[str, Any]) -> None:
    services = model["services"]
    for name in ("flower", "prometheus"):
        assert services[name]["profiles"] == ["monitoring"], name
    mounted = {Path(v["source"]).name for v in services["prometheus"]["volumes"] if v["type"] == "bind"}
    assert {"prometheus.yml", "alerts.yml"} <= mounted
    assert (REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml").exists()
    default = compose("config", "--services")
    assert default.returncode == 0, default.stderr
    assert not {"flower", "prometheus", "beat"} & set(default.stdout.split())


def test_dockerfile_is_slim_non_root_and_without_the_embedded_server() -> None:
    text = DOCKERFILE.read_text()
    assert re.findall(r"^FROM (\S+)", text, re.M) and all(
        image == "python:3.11-slim" for image in re.findall(r"^FROM (\S+)", text, re.M)
    )
    users = re.findall(r"^USER (\S+)", text, re.M)
    assert users and users[-1] not in ("root", "0")
    assert "embedded" not in "\n".join(line for line in text.splitlines() if "pip" in line)


def docker_build_context(destination: Path) -> Path:
    """Copy what .dockerignore lets into the build context (``!path`` lines)."""
    allowed = [
        line[1:].rstrip("/")
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    destination.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in allowed:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, destination / name, ignore=ignore)
        else:
            shutil.copy2(source, destination / name)
    return destination


def test_the_image_build_context_makes_a_package_with_its_migrations(tmp_path: Path) -> None:
    # The image installs a wheel built from the .dockerignore'd context, not the source
    # tree: the Alembic scripts must be inside it or `dualwrite migrate` fails there.
    context = docker_build_context(tmp_path / "context")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "wheels"), "."],
        cwd=context,
        check=True,
        capture_output=True,
        timeout=240,
    )
    (wheel,) = (tmp_path / "wheels").glob("dualwrite-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "infrastructure/sqlalchemy/migrations/env.py" in names
    assert any(n.startswith("infrastructure/sqlalchemy/migrations/versions/0001") for n in names)
    assert {
        "cli/commands/migrate.py",
        "workers/app.py",
        "api/main.py",
        "core/domain/models/tarea.py",
    } <= names
