"""A WSGI app served by waitress on a thread of this process, on loopback, and stopped cleanly."""

import threading
from typing import Any


class BackgroundServer:
    """waitress serving an app on a daemon thread; port 0 picks a free port."""

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, threads: int = 6
    ) -> None:
        from waitress.server import create_server

        try:
            self.server = create_server(app, host=host, port=port, threads=threads, ident="carmen")
        except OSError as exc:
            raise RuntimeError(
                f"port {port} on {host} is taken: {exc.strerror}; choose another port"
            ) from exc
        self.host = host
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    @property
    def effective_port(self) -> int:
        """The port it listens on."""
        return int(self.server.effective_port)

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://{self.host}:{self.effective_port}"

    def _run(self) -> None:
        try:
            self.server.run()
        except (OSError, ValueError):  # the sockets closed under a last select() while stopping
            if not self._stopping.is_set():
                raise

    def close(self) -> None:
        """Close every channel so waitress's loop ends (as webtest's StopableWSGIServer does)."""
        self._stopping.set()
        self.server.task_dispatcher.shutdown()
        for channel in list(self.server._map.values()):
            if channel is self.server:
                self.server.close()
            else:
                channel.handle_close()
        self._thread.join(timeout=5)
