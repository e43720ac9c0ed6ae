"""Messages more than one screen or widget listens for."""

from __future__ import annotations

from textual.message import Message


class CustomersChanged(Message):
    """Something about customers was saved: lists showing them should refresh."""

    def __init__(self, customer_id: int | None = None) -> None:
        super().__init__()
        self.customer_id = customer_id
