"""The shared widget helpers on a bare script: remembered widgets, one-time uploads, one-shot messages."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def remembered_script() -> None:
    import streamlit as st

    from components.shared import state

    if st.session_state.get("demo.elsewhere"):  # as on another page: these widgets are not drawn
        return
    st.text_input("Kept", **state.remembered("demo.text.widget", "demo.text", "first"))
    st.selectbox(
        "Choice", ["a", "b"], **state.remembered("demo.choice.widget", "demo.choice", "gone", options=["a", "b"])
    )


def upload_script() -> None:
    import streamlit as st

    from components.shared.uploads import flash, new_upload, show_flash
    from embedlab.errors import EmbedLabError

    st.file_uploader("File", key="demo.upload")
    try:
        upload = new_upload("demo.upload")
        if upload is not None:
            st.session_state["demo.handled"] = st.session_state.get("demo.handled", 0) + 1
            if upload.name.startswith("bad"):
                raise EmbedLabError(f"{upload.name} is bad.")
            flash("demo", f"Loaded {upload.name}.")
    except EmbedLabError as error:
        flash("demo", str(error), "error")
    show_flash("demo")


def test_a_remembered_widget_comes_back_after_its_page_was_left():
    at = AppTest.from_function(remembered_script).run()
    assert at.text_input(key="demo.text.widget").value == "first"
    assert at.selectbox(key="demo.choice.widget").value == "a"  # the stored value is not an option: not seeded
    at.text_input(key="demo.text.widget").input("typed").run()
    at.selectbox(key="demo.choice.widget").set_value("b").run()
    assert (at.session_state["demo.text"], at.session_state["demo.choice"]) == ("typed", "b")
    at.session_state["demo.elsewhere"] = True
    at.run()  # a run without the widgets: Streamlit drops their state
    assert "demo.text.widget" not in at.session_state and "demo.choice.widget" not in at.session_state
    at.session_state["demo.elsewhere"] = False
    at.run()
    assert not at.exception
    assert at.text_input(key="demo.text.widget").value == "typed"
    assert at.selectbox(key="demo.choice.widget").value == "b"


def test_an_upload_is_handled_once_and_its_message_shown_once():
    at = AppTest.from_function(upload_script).run()
    at.file_uploader(key="demo.upload").upload("good.csv", b"a,b\n", "text/csv")
    at.run()
    assert [s.value for s in at.success] == ["Loaded good.csv."]
    at.run()  # any later rerun: the file is still in the widget, but neither handled nor announced again
    assert at.session_state["demo.handled"] == 1 and not at.success


def test_a_file_over_the_limit_is_refused_with_one_message_in_place_of_the_last_one():
    at = AppTest.from_function(upload_script).run()
    at.file_uploader(key="demo.upload").upload("bad.csv", b"a,b\n", "text/csv")
    at.run()
    assert [e.value for e in at.error] == ["bad.csv is bad."]
    at.file_uploader(key="demo.upload").upload("big.csv", b"x" * (20 * 1024 * 1024 + 1), "text/csv")
    at.run()
    assert len(at.error) == 1 and "big.csv is 20.0 MB; uploads are limited to 20 MB" in at.error[0].value
    assert at.session_state["demo.handled"] == 1  # the large file was never read
