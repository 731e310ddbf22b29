"""The upload concurrency bound: 429 with Retry-After beyond it, nothing else affected."""

from __future__ import annotations

import asyncio

import pytest

httpx = pytest.importorskip("httpx")
starlette = pytest.importorskip("starlette")

from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from deepscreen.service.overload import ConcurrencyLimit, max_in_flight_from_env  # noqa: E402


def _app(release: asyncio.Event, started: list[int]) -> Starlette:
    async def upload(request: Request) -> JSONResponse:
        await request.body()
        started.append(1)
        await release.wait()  # holds its slot until the test lets go
        return JSONResponse({"ok": True})

    async def health(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/v1/scans", upload, methods=["POST"]),
                             Route("/healthz", health)])


def test_uploads_beyond_the_bound_get_429_and_the_rest_finish() -> None:
    async def scenario() -> None:
        release, started = asyncio.Event(), []
        limited = ConcurrencyLimit(_app(release, started), max_in_flight=3)
        transport = httpx.ASGITransport(app=limited)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            holders = [asyncio.create_task(client.post("/v1/scans", content=b"x" * 5000))
                       for _ in range(3)]
            while len(started) < 3:
                await asyncio.sleep(0.01)
            refused = await asyncio.gather(*(client.post("/v1/scans", content=b"y" * 5000)
                                             for _ in range(4)))
            health = await client.get("/healthz")  # never limited, even when saturated
            assert health.status_code == 200
            release.set()
            held = await asyncio.gather(*holders)
            after = await client.post("/v1/scans", content=b"z")
        assert [r.status_code for r in refused] == [429] * 4
        assert all(r.headers["retry-after"] == "1" for r in refused)
        assert "at capacity (3 uploads in flight)" in refused[0].json()["detail"]
        assert [r.status_code for r in held] == [200] * 3
        assert after.status_code == 200  # the slots were given back
        assert limited.in_flight == 0 and limited.refused == 4

    asyncio.run(scenario())


def test_zero_turns_the_bound_off() -> None:
    async def scenario() -> None:
        release, started = asyncio.Event(), []
        limited = ConcurrencyLimit(_app(release, started), max_in_flight=0)
        transport = httpx.ASGITransport(app=limited)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            tasks = [asyncio.create_task(client.post("/v1/scans", content=b"x"))
                     for _ in range(10)]
            while len(started) < 10:
                await asyncio.sleep(0.01)
            release.set()
            answers = await asyncio.gather(*tasks)
        assert [r.status_code for r in answers] == [200] * 10

    asyncio.run(scenario())


def test_the_bound_comes_from_the_environment() -> None:
    assert max_in_flight_from_env({}) == 32
    assert max_in_flight_from_env({"DEEPSCREEN_MAX_IN_FLIGHT": "5"}) == 5
    with pytest.raises(ValueError, match="whole number"):
        max_in_flight_from_env({"DEEPSCREEN_MAX_IN_FLIGHT": "many"})
    with pytest.raises(ValueError, match="0 \\(off\\) or more"):
        max_in_flight_from_env({"DEEPSCREEN_MAX_IN_FLIGHT": "-1"})
