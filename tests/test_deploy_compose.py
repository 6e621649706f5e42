"""deploy/compose.yaml (Docker is not needed: the file is read as YAML and checked against the
CLI and docs/deploy.md): the services hosted mode needs, valid commands, and every variable
documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
KEYFOLIO_SERVICES = {"scheduler", "worker-1", "worker-2", "serve"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _documented() -> set[str]:
    """The variables of the environment table in docs/deploy.md."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    table = text.split("## Environment", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `(KEYFOLIO_[A-Z_]+)` \|", table, flags=re.MULTILINE))


def test_the_deployment_has_its_servers_a_scheduler_two_workers_and_a_server(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    assert set(services) == {"postgres", "redis", *KEYFOLIO_SERVICES}
    commands = {name: services[name]["command"][0] for name in KEYFOLIO_SERVICES}
    assert commands == {
        "scheduler": "scheduler", "worker-1": "worker", "worker-2": "worker", "serve": "serve",
    }  # fmt: skip
    for name in KEYFOLIO_SERVICES:
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert service["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "redis": {"condition": "service_healthy"},
        }
        assert "healthcheck" in services["postgres"] and "healthcheck" in services["redis"]
        # Each its own data directory (its log), none shared.
        (volume,) = service["volumes"]
        assert volume == f"{name}-home:/var/lib/keyfolio"
    assert services["worker-1"]["stop_grace_period"] == "15m"  # jobs end before the stop


def test_every_keyfolio_variable_is_documented_and_hosted_mode_is_on(
    compose: dict[str, Any],
) -> None:
    used: set[str] = set()
    for name in KEYFOLIO_SERVICES:
        environment = compose["services"][name]["environment"]
        used |= {key for key in environment if key.startswith("KEYFOLIO_")}
        assert environment["KEYFOLIO_BROKER_URL"].startswith("redis://:${REDIS_PASSWORD")
        assert environment["KEYFOLIO_DATABASE_URL"].startswith("postgresql+psycopg://keyfolio:")
        # The vault password only ever comes from a secret file, never the environment.
        assert "KEYFOLIO_PASSWORD" not in environment
        if "KEYFOLIO_PASSWORD_FILE" in environment:
            assert environment["KEYFOLIO_PASSWORD_FILE"] == "/run/secrets/vault-password"
            assert "vault-password" in compose["services"][name]["secrets"]
    example = (DEPLOY / "env.example").read_text()
    used |= set(re.findall(r"^(KEYFOLIO_[A-Z_]+)=", example, flags=re.MULTILINE))
    assert used, "no KEYFOLIO_ variable in compose.yaml"
    assert used <= _documented(), used - _documented()
    workers = [compose["services"][f"worker-{i}"]["environment"] for i in (1, 2)]
    assert all("KEYFOLIO_PASSWORD_FILE" in env and "KEYFOLIO_EGRESS_IP" in env for env in workers)


def test_the_secrets_are_files_git_ignores(compose: dict[str, Any]) -> None:
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    for secret in compose["secrets"].values():
        path = "deploy/" + secret["file"].removeprefix("./")
        assert path in ignored or f"deploy/*{Path(path).suffix}" in ignored, path
    assert "deploy/.env" in ignored


def test_the_commands_are_the_clis_own(compose: dict[str, Any], tmp_path: Path) -> None:
    """Every option a service passes is one its command's --help lists; the server's address
    passes the CLI's own check (off loopback: a token and HTTPS)."""
    from keyfolio.api.security import check_bind

    for name in ("scheduler", "worker-1", "serve"):
        command, *args = compose["services"][name]["command"]
        shown = subprocess.run(
            [sys.executable, "-c", "from keyfolio.cli.main import run; run()", command, "--help"],
            capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin",
            "KEYFOLIO_HOME": str(tmp_path), "COLUMNS": "200"},
        )  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        for option in (arg for arg in args if arg.startswith("--")):
            assert option in shown.stdout, (name, option)
    serve = compose["services"]["serve"]["command"]
    host = serve[serve.index("--host") + 1]
    check_bind(host, "a-token-of-24-characters", tls="--tls-cert" in serve, behind_proxy=False)
    assert "KEYFOLIO_API_TOKEN" in compose["services"]["serve"]["environment"]


def test_the_image_installs_the_hosted_extra() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "pip install --no-cache-dir '.[hosted]'" in dockerfile
    assert re.search(r"^USER keyfolio$", dockerfile, flags=re.MULTILINE)
    assert 'ENTRYPOINT ["keyfolio"]' in dockerfile
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert re.search(r"^hosted = \[", pyproject, flags=re.MULTILINE)
    for copied in re.findall(r"^COPY (\S+)", dockerfile, flags=re.MULTILINE):
        assert (ROOT / copied).exists(), copied
