"""A DataTable that shows one page of a query and asks for the next when the cursor runs off it.

Lists never hold a whole table: the owner queries the page in SQL and
answers ``PageRequested`` by loading the next or previous one.
"""

from __future__ import annotations

from textual.message import Message
from textual.widgets import DataTable


class PagedTable(DataTable):
    class PageRequested(Message):
        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step  # +1 next page, -1 previous page

    def action_cursor_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(self.PageRequested(+1))
        else:
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.cursor_row <= 0:
            self.post_message(self.PageRequested(-1))
        else:
            super().action_cursor_up()
