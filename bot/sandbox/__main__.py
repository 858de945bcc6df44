"""`python -m bot.sandbox --webhook-url URL`: run the sandbox platform on its own port."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from bot.sandbox.api import serve_sandbox


def main() -> None:
    """Parse arguments and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--webhook-url", required=True, help="where the sandbox delivers events")
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_sandbox(args.host, args.port, args.webhook_url))


if __name__ == "__main__":
    main()
