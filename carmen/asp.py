"""ASP mode: one deployment hosting several city nodes, each under its own path or host name.

Every node keeps its own instance folder, database, secret key, staff, keys and task queue;
the dispatcher only decides which node's app answers a request. Session cookies are named and
scoped per node, so a browser signed in to one city never even sends that session to another,
and a session forged for another city fails its secret key.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from node.instance import load_services, open_app
from node.sync.service import default_slug


@dataclass
class HostedNode:
    """One node of the deployment: its slug and its app."""

    slug: str
    city: str
    app: Flask


def open_nodes(instances: Iterable[Path], *, by_host: bool = False) -> list[HostedNode]:
    """Open each instance with settings that keep it apart from the others."""
    nodes: list[HostedNode] = []
    for path in instances:
        probe = open_app(path)
        slug = default_slug(probe.config)
        if any(node.slug == slug for node in nodes):
            raise ValueError(f"two instances are both {slug}: each city may be hosted once")
        cookie = "carmen_" + slug.replace("-", "_")
        app = open_app(
            path,
            SESSION_COOKIE_NAME=cookie,
            SESSION_COOKIE_PATH="/" if by_host else f"/{slug}",
            REMEMBER_COOKIE_NAME=f"{cookie}_remember",
            TASK_QUEUE=f"carmen-node-{slug}",
        )
        load_services(app)
        nodes.append(HostedNode(slug, app.config["CITY"], app))
    return nodes


def _index(nodes: list[HostedNode], *, by_host: bool) -> Flask:
    """The provider's front page: the cities hosted here."""
    index = Flask("carmen.asp")

    @index.get("/")
    def cities() -> str:
        links = "".join(
            f'<li><a href="{"//" + n.slug + "." if by_host else "/" + n.slug + "/"}">'
            f"{escape(n.city)}</a></li>"
            for n in nodes
        )
        return f"<!doctype html><title>CARMEN</title><h1>Cities hosted here</h1><ul>{links}</ul>"

    return index


def path_dispatcher(nodes: list[HostedNode]) -> Callable[..., Any]:
    """A WSGI app mounting each node under /<slug>."""
    return DispatcherMiddleware(
        _index(nodes, by_host=False), {f"/{node.slug}": node.app for node in nodes}
    )


def host_dispatcher(nodes: list[HostedNode]) -> Callable[..., Any]:
    """A WSGI app choosing the node by the first label of the host name (<slug>.example.org)."""
    by_slug = {node.slug: node.app for node in nodes}
    index = _index(nodes, by_host=True)

    def dispatch(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        host = environ.get("HTTP_HOST", "").split(":")[0].lower()
        app = by_slug.get(host.split(".")[0], index)
        return app(environ, start_response)

    return dispatch
