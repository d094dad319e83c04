"""A real ``retrofit-collector serve`` and Debian's headless Chromium, for the browser tests.

Each browser test module starts its own app (its own configuration: a prefix, a size limit, a
login delay) through :func:`serving` and its own browser through :func:`chromium`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml
from playwright.sync_api import Browser, sync_playwright

from stack.ports import free_port
from stack.process import ChildProcess

__all__ = ["ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "chromium", "serving"]

ARTIFACTS = Path(__file__).parents[3] / "artifacts" / "web"
CHROMIUM = Path("/usr/bin/chromium")
# FIELD-NOTES: headless Chromium as root on Debian.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@contextmanager
def serving(folder: Path, config: dict[str, Any]) -> Iterator[str]:
    """``retrofit-collector serve`` with ``config`` (its ``web`` gets a free loopback port) as
    ``folder/collector.yaml``; yields the app's URL, with ``web.root_path`` if set, once
    ``/healthz`` answers, and stops the app at exit."""
    port = free_port()
    web = {**config.get("web", {}), "host": "127.0.0.1", "port": port}
    (folder / "collector.yaml").write_text(yaml.safe_dump({**config, "web": web}))
    entry_point = Path(sys.executable).parent / "retrofit-collector"
    command = [str(entry_point), "serve", "--config", str(folder / "collector.yaml")]
    process = ChildProcess(
        "serve", command, folder / "serve.log", env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    process.start()
    base = f"http://127.0.0.1:{port}{web.get('root_path', '')}"

    def ready() -> bool:
        try:
            return httpx.get(base + "/healthz", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        process.wait_until_ready(ready, timeout_s=60)
        yield base
    finally:
        process.stop()


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless; playwright downloads nothing."""
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()
