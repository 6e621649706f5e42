"""Health, exchanges, docs, the vault endpoints and the error shapes for 404/405/422."""

from __future__ import annotations

import httpx
from api_support import PASSWORD, READ_KEY, body
from fastapi import FastAPI

from keyfolio import __version__
from keyfolio.api.app import create_app
from keyfolio.config import Settings


async def test_health_and_exchanges(client: httpx.AsyncClient) -> None:
    health = (await client.get("/api/v1/health")).json()
    assert health == {
        "status": "ok",
        "version": __version__,
        "vault": vault_out(exists=False, unlocked=True),
        "live": False,
        "refresh": "off",  # no lifespan here: nothing started
    }
    exchanges = (await client.get("/api/v1/exchanges")).json()
    assert exchanges[0] == {
        "id": "okx",
        "name": "OKX",
        "regions": ["global", "eea", "us"],
        "credentials": ["api_key", "secret", "passphrase"],
    }
    ids = [e["id"] for e in exchanges]
    assert "myokx" not in ids and "binance" in ids


async def test_docs_and_openapi(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200 and "/api/v1/accounts" in docs.text
    assert "<script" not in docs.text
    schema = (await client.get("/openapi.json")).json()
    assert {"/api/v1/summary", "/api/v1/events", "/api/v1/pnl"} <= set(schema["paths"])
    text = str(schema)
    assert "'Any'" not in text


async def test_error_shapes(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nowhere")
    assert missing.status_code == 404
    assert (
        set(missing.json()) == {"error", "message", "hint"}
        and missing.json()["error"] == "not_found"
    )
    wrong = await client.put("/api/v1/health")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"
    invalid = await client.post(
        "/api/v1/portfolios", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert invalid.status_code == 422 and invalid.json()["error"] == "validation"
    task = await client.get("/api/v1/tasks/nope")
    assert task.status_code == 404 and "POST /api/v1/sync" in task.json()["hint"]


def vault_out(*, exists: bool, unlocked: bool) -> dict[str, object]:
    """``GET /api/v1/vault`` without KEYFOLIO_PASSWORD and with the default idle re-lock."""
    return {"exists": exists, "unlocked": unlocked, "auto_unlock": False, "idle_minutes": 15.0}


def locked_app(settings: Settings) -> FastAPI:
    return create_app(settings, live=False)  # no password anywhere


async def test_locked_vault_reads_work_writes_are_423_and_unlock(
    settings: Settings, sandbox_url: str
) -> None:
    # First create a vault and an account with the password.
    first = create_app(settings, password=PASSWORD, live=False)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=first), base_url="http://127.0.0.1"
    ) as http:
        assert (
            await http.post("/api/v1/accounts", json=body(READ_KEY, name="alice", url=sandbox_url))
        ).status_code == 201
    first.state.keyfolio.app.close()

    api = locked_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://127.0.0.1"
    ) as http:
        assert (await http.get("/api/v1/vault")).json() == vault_out(exists=True, unlocked=False)
        summary = await http.get("/api/v1/summary")
        assert summary.status_code == 200 and summary.json()["total_value"] == "39670"
        accounts = (await http.get("/api/v1/accounts")).json()
        assert accounts[0]["name"] == "alice" and accounts[0]["key"] is None
        sync = await http.post("/api/v1/sync", json={})
        assert sync.status_code == 423 and sync.json()["error"] == "vault_locked"
        assert "unlock" in sync.json()["hint"].lower()
        delete = await http.delete("/api/v1/accounts/alice")
        assert delete.status_code == 423
        linking = await http.post(
            "/api/v1/accounts", json=body(READ_KEY, name="other", url=sandbox_url)
        )
        assert linking.status_code == 423
        wrong = await http.post("/api/v1/vault/unlock", json={"password": "wrong-vault-PLANTED-7x"})
        assert wrong.status_code == 400 and wrong.json()["error"] == "vault_decrypt"
        assert (await http.get("/api/v1/vault")).json()["unlocked"] is False
        blank = await http.post("/api/v1/vault/unlock", json={"password": "  "})
        assert blank.status_code == 400
        ok = await http.post("/api/v1/vault/unlock", json={"password": PASSWORD})
        assert ok.status_code == 200 and ok.json() == vault_out(exists=True, unlocked=True)
        again = await http.post("/api/v1/vault/unlock", json={"password": "wrong-vault-PLANTED-7x"})
        assert again.status_code == 400
        assert (await http.get("/api/v1/accounts")).json()[0]["key"] == "api-…1c7a"
        sync = await http.post("/api/v1/sync", json={})
        assert sync.status_code == 202
        await api.state.keyfolio.tasks.wait(sync.json()["task"])
    api.state.keyfolio.app.close()


async def test_unlock_without_a_vault_sets_the_password_for_the_first_link(
    settings: Settings, sandbox_url: str
) -> None:
    api = locked_app(settings)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://127.0.0.1"
    ) as http:
        assert (await http.get("/api/v1/vault")).json() == vault_out(exists=False, unlocked=False)
        refused = await http.post(
            "/api/v1/accounts", json=body(READ_KEY, name="alice", url=sandbox_url)
        )
        assert refused.status_code == 423
        ok = await http.post("/api/v1/vault/unlock", json={"password": PASSWORD})
        assert ok.json() == vault_out(exists=False, unlocked=True)
        linked = await http.post(
            "/api/v1/accounts", json=body(READ_KEY, name="alice", url=sandbox_url)
        )
        assert linked.status_code == 201
        assert (await http.get("/api/v1/vault")).json() == vault_out(exists=True, unlocked=True)
    api.state.keyfolio.app.close()
    assert settings.vault_path.exists()
