"""The server ``bench.http`` drives: tiexin's app, plus a bare endpoint in the same process.

The bare endpoint does nothing but answer, so its requests/s is the ceiling this process, this
framework and this machine allow any endpoint; our endpoints are reported as a ratio to it.
"""

from __future__ import annotations

import argparse

import uvicorn
from fastapi import FastAPI

from tiexin.server import create_app_from_env


def app_with_bare_endpoint() -> FastAPI:
    app = create_app_from_env()

    @app.get("/bench/bare", include_in_schema=False)
    async def bare() -> dict[str, bool]:
        return {"ok": True}

    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.http_server")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(app_with_bare_endpoint(), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
