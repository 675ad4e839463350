"""Hooks: how a lower domain lets higher ones act without importing them."""

from collections.abc import Callable
from typing import Any


class Hook:
    """Listeners called in the order they were connected; one listener is connected once."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._listeners: list[Callable[..., Any]] = []

    def connect(self, listener: Callable[..., Any]) -> Callable[..., Any]:
        """Call `listener` with the hook's keyword values from now on."""
        if listener not in self._listeners:
            self._listeners.append(listener)
        return listener

    def __call__(self, **values: Any) -> None:
        for listener in tuple(self._listeners):
            listener(**values)
