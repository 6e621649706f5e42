"""Plant secrets, drive every credential path of the API, then grep responses, logs and files."""

from __future__ import annotations

import httpx
import pytest
from api_support import (
    ALICE2_KEY,
    PASSWORD,
    READ_KEY,
    SECRETS,
    UNSAFE_KEY,
    Recorder,
    body,
    control,
    credentials,
)

from keyfolio.config import Settings


async def test_planted_secrets_never_leave_the_server(
    client: httpx.AsyncClient,
    sandbox_url: str,
    recorder: Recorder,
    logs: pytest.LogCaptureFixture,
    settings: Settings,
    api,
) -> None:
    post = client.post
    assert (
        await post("/api/v1/accounts", json=body(READ_KEY, name="alice", url=sandbox_url))
    ).status_code == 201
    await post("/api/v1/accounts", json=body(UNSAFE_KEY, name="risky", url=sandbox_url))
    await post(
        "/api/v1/accounts",
        json=body({**READ_KEY, "passphrase": "wrong-pass-PLANTED-9z"}, name="b", url=sandbox_url),
    )
    await post(
        "/api/v1/accounts",
        json=body({**READ_KEY, "secret": "wrong-secret-PLANTED-8y"}, name="c", url=sandbox_url),
    )
    await post("/api/v1/accounts", json={**body(READ_KEY, name="d", url=sandbox_url), "x": 1})
    await post(
        "/api/v1/accounts",
        json={**body(READ_KEY, name="e", url=sandbox_url), "region": READ_KEY["secret"]},
    )
    await client.patch("/api/v1/accounts/alice", json={"credentials": credentials(ALICE2_KEY)})
    await client.patch("/api/v1/accounts/alice", json={"credentials": credentials(UNSAFE_KEY)})
    await post("/api/v1/vault/unlock", json={"password": "wrong-vault-PLANTED-7x"})
    await post("/api/v1/vault/unlock", json={"password": PASSWORD})
    control(sandbox_url, "/__sandbox__/faults", {"path": "*", "mode": "malformed", "count": 50})
    task = (await post("/api/v1/sync", json={})).json()["task"]
    await api.state.keyfolio.tasks.wait(task)
    for path in ("/api/v1/accounts", "/api/v1/summary", f"/api/v1/tasks/{task}", "/api/v1/health"):
        assert (await client.get(path)).status_code == 200
    responses = recorder.text()
    assert "api-…1d2e" in responses  # the masked key is shown ...
    for secret in SECRETS:
        assert secret not in responses, f"{secret!r} in a response"  # ... never a secret
        assert secret not in logs.text, f"{secret!r} in the logs"
    for path in settings.home.rglob("*"):
        if path.is_file() and path.name != "vault.bin":
            data = path.read_bytes()
            for secret in SECRETS:
                assert secret.encode() not in data, f"{secret!r} in {path}"
