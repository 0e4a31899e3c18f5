"""`bli serve`: the atlas and its API on a local port."""

from __future__ import annotations

import argparse
import os


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="start atlaset og API-et (http://127.0.0.1:8000)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.set_defaults(func=cmd_serve)


def cmd_serve(args) -> int:
    import uvicorn

    if args.database:
        os.environ["BLI_DATABASE"] = args.database
    os.environ.setdefault("BLI_WARMUP", "1")
    print(f"Bli-atlas kjører på http://{args.host}:{args.port}/ (API-dokumentasjon: /docs)")
    uvicorn.run("bliatlas.api.app:create_app", factory=True, host=args.host, port=args.port,
                workers=args.workers, log_level="warning")
    return 0
