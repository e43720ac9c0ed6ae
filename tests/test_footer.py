"""The footer is rebuilt when the keys it shows change, not on every focus move."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Input

from tui.widgets.footer import KeysFooter


class CountingFooter(KeysFooter):
    builds = 0

    def compose(self):
        CountingFooter.builds += 1
        yield from super().compose()


class Form(App):
    BINDINGS = [Binding("ctrl+s", "save", "Save", id="form.save"),
                Binding("f5", "clear", "Clear", id="form.clear")]

    def compose(self) -> ComposeResult:
        for name in ("first", "second", "third", "notes"):
            yield Input(id=name)
        yield CountingFooter()

    def on_descendant_focus(self) -> None:
        self.refresh_bindings()  # "clear" depends on the focused field

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "clear":  # only offered in the notes field
            return self.focused is not None and self.focused.id == "notes"
        return True


def keys_shown(app) -> list[str]:
    return [key.description for key in app.query("FooterKey")
            if not key.disabled and not key.has_class("-command-palette")]


async def test_moving_between_fields_keeps_the_footer_and_a_new_key_rebuilds_it():
    app = Form()
    async with app.run_test(size=(80, 10)) as pilot:
        await pilot.pause()
        assert keys_shown(app) == ["Save"]
        before = CountingFooter.builds
        await pilot.press("tab", "tab")
        await pilot.pause()
        assert app.focused.id == "third"
        assert CountingFooter.builds == before  # same keys: nothing rebuilt
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused.id == "notes"
        assert CountingFooter.builds == before + 1 and keys_shown(app) == ["Save", "Clear"]
        await pilot.press("shift+tab")
        await pilot.pause()
        assert CountingFooter.builds == before + 2 and keys_shown(app) == ["Save"]
