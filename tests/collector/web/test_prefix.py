"""Every page of the shared world under ``web.root_path: /verify``: each link, form, image and
style sheet on it names a path under the prefix and answers there; the same pages through a
proxy that strips the prefix say the same."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
from fastapi.testclient import TestClient

from collector.web.app import create_app
from tests.collector.web.world import World

PREFIX = "/verify"
_URL = re.compile(r'(?:href|action|src)="([^"]*)"')


@pytest.fixture(scope="module")
def prefixed(world: World) -> Iterator[TestClient]:
    """The world's app under /verify, in-process."""
    settings = world.settings.model_copy(update={"root_path": PREFIX})
    app = create_app(settings, world.registry, world.influx_opener())
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield client


def _local_urls(page: str) -> set[str]:
    found = {unescape(url) for url in _URL.findall(page)}
    return {url for url in found if not url.startswith(("data:", "#", "http:", "https:"))}


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/provinces/330200",
        "/platforms/plat-a",
        "/enterprises/e01",
        "/fleet",
        "/audit",
        "/account",
        "/docs",
    ],
)
def test_every_link_on_a_page_carries_the_prefix_and_answers(
    prefixed: TestClient, world: World, path: str
) -> None:
    headers = world.headers("rev-nb")
    page = prefixed.get(PREFIX + path, headers=headers)
    assert page.status_code in (200, 303), page.text[:300]
    if page.status_code == 303:
        assert page.headers["location"].startswith(PREFIX + "/")
        return
    urls = _local_urls(page.text)
    assert urls, "a page without links"
    outside = sorted(url for url in urls if not url.startswith(PREFIX + "/"))
    assert outside == []
    for url in sorted(urls):
        if (
            "/logout" in url
            or "/login" in url
            or "lang=" in url
            or url.endswith(("/decisions", "/evidence", "/password", "/start", "/remove", "/totp"))
        ):
            continue  # forms that POST, and language switches (they set a cookie)
        answer = prefixed.get(url, headers=headers)
        assert answer.status_code < 400, f"{url} on {path}: {answer.status_code}"
    stripped = prefixed.get(path, headers=headers)  # a proxy that strips the prefix
    assert _local_urls(stripped.text) == urls
