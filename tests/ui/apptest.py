"""Open the app or one of its pages in Streamlit's AppTest, the same way in every UI test."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP_TEST_TIMEOUT_S = 300  # a first model load and its baselines take seconds; AppTest's own default is 3 s


def page_test(page: str | None = None, timeout: float = APP_TEST_TIMEOUT_S) -> AppTest:
    """An AppTest (not yet run) of ``app_pages/<page>.py``, or of the whole app (``app.py``) when ``page`` is None."""
    script = ROOT / "app.py" if page is None else ROOT / "app_pages" / f"{page}.py"
    return AppTest.from_file(str(script), default_timeout=timeout)


def shown(markdown: str) -> str:
    """The text a reader sees in an element's Markdown source: the backslash escapes that keep text from a browser
    literal (``embedlab.literal.markdown_literal``) removed."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(markdown))


def ok(at: AppTest) -> AppTest:
    """``at`` after checking its last run raised nothing."""
    assert not at.exception, at.exception
    return at


def queue_small_run(at: AppTest, name: str, steps: int, batch: int = 4) -> None:
    """On the Train page: queue an mnrl run on the bundled pairs, ``steps`` steps of ``batch``, evaluated on the
    bundled set, saved as ``name``."""
    from components.train import train_run

    def key(field: str) -> str:
        return f"train.{field}.widget"

    at.selectbox(key=key("method")).set_value("mnrl")
    at.radio(key=key("source")).set_value("bundled")
    at.text_input(key=key("eval_path")).input("")
    at.radio(key=key("length")).set_value("max steps")
    ok(at.run())
    at.number_input(key=key("steps")).set_value(steps)
    at.number_input(key=key("batch")).set_value(batch)
    at.text_input(key=key("name")).input(name)
    ok(at.run())
    at.button(key=train_run.START_BUTTON).click()
    ok(at.run())
