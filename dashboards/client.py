"""HTTP client of the hub's read API: the only way the dashboards reach the federation's data."""

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx


class HubUnavailable(Exception):
    """The hub cannot be reached or failed; the message says which and where."""


class HubRefused(Exception):
    """The hub answered with an error for this request (bad token, unknown resource)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class HubClient:
    """Read-API calls over httpx, and a cache the data layer keeps its frames in."""

    def __init__(self, base_url: str, *, timeout: float = 10.0, ttl_seconds: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.ttl_seconds = ttl_seconds
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)
        self._cache: dict[tuple, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def _request(self, method: str, path: str, *, token: str | None = None, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            response = self._http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise HubUnavailable(
                f"the federation hub at {self.base_url} cannot be reached ({type(exc).__name__})"
            ) from exc
        if response.status_code >= 500:
            raise HubUnavailable(
                f"the federation hub at {self.base_url} failed (HTTP {response.status_code})"
            )
        try:
            body = response.json()
        except ValueError:
            raise HubUnavailable(
                f"{self.base_url} answered something that is not the hub's JSON API"
            ) from None
        if response.status_code >= 400:
            message = body.get("message") if isinstance(body, dict) else None
            raise HubRefused(response.status_code, message or f"HTTP {response.status_code}")
        return body

    def cached(self, key: tuple, load: Callable[[], Any], *, ttl: float | None = None) -> Any:
        """The value under key if younger than ttl (default: the client's), else load()."""
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None and now - hit[0] < (self.ttl_seconds if ttl is None else ttl):
            return hit[1]
        value = load()
        with self._lock:
            self._cache[key] = (now, value)
        return value

    def clear(self) -> None:
        """Forget every cached answer."""
        with self._lock:
            self._cache.clear()

    def login(self, *, username: str, password: str) -> dict[str, Any]:
        """Exchange a username and password for an API token (hub: POST /api/v1/auth/tokens)."""
        return self._request(
            "POST",
            "/api/v1/auth/tokens",
            json={"username": username, "password": password, "token_name": "dashboard"},
        )

    def me(self, *, token: str) -> dict[str, Any]:
        """Who a token belongs to, with its role."""
        return self._request("GET", "/api/v1/auth/me", token=token)

    def nodes(self, *, token: str) -> list[dict[str, Any]]:
        """Every enrolled node with its context, last sync and pending periods."""
        return self._request("GET", "/api/v1/nodes", token=token)["nodes"]

    def services(self, *, token: str) -> list[dict[str, Any]]:
        """Every service of every node with its template and where it was cloned from."""
        return self._request("GET", "/api/v1/services", token=token)["services"]

    def result_table(self, name: str, *, token: str) -> list[dict[str, Any]] | None:
        """One table of the latest evaluation (kpis, viability, ...); None when it has none."""
        try:
            return self._request("GET", f"/api/v1/evaluations/latest/{name}", token=token)["rows"]
        except HubRefused as exc:
            if exc.status == 404:
                return None
            raise

    def cells(
        self, *, token: str, service: str, measure: str, page_size: int = 10_000
    ) -> list[dict[str, Any]]:
        """Every stored cell of one service and measure, all pages."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self._request(
                "GET",
                "/api/v1/aggregates",
                token=token,
                params={
                    "service": service,
                    "measure": measure,
                    "limit": page_size,
                    "offset": offset,
                },
            )
            rows += page["cells"]
            offset += page_size
            if offset >= page["total"] or not page["cells"]:
                return rows
