"""Tokens & layers benchmark: the page's first render for two sentences with a cached model, and the anisotropy table.

Run from the repository root:  python bench/bench_tokens.py [--rounds 5]

Figures, measured in this one run with the packaged model already loaded (model loading is not counted):
    1. the page's computations for two sentences, engine only: token states, the tokenization tables and shapes,
       the three token x layer matrices, token-token and sentence cosines at every layer, the configuration's
       vectors (fresh Encoder), word in context for the default word, the configuration's code: median seconds;
    2. the page's first render in Streamlit (AppTest run of app_pages/tokens.py, st.cache_data cleared, the model
       in st.cache_resource): median seconds;
    3. the anisotropy table over the bundled reference sentences (one pass, 4 vector kinds x 7 layers x 4
       post-processings), in a script thread as the page computes it: seconds;
    4. "What [CLS] looks at": the eager-attention copy of the backbone (once per model and server) and the attention
       maps of the two sentences, against the token states of the same sentences (the page's own forward pass):
       seconds and their ratio. (The first render of figure 2 includes the attention section, its copy cached.)
The engine computations are timed in the main thread (torch's intra-op threads) and in a fresh thread, as
Streamlit's script runner calls a page (torch then computes on one thread: on 2 busy shared cores, much faster).
Each figure is given as wall time and as CPU time of this process (torch may use several threads, so CPU time can
exceed wall time on an idle machine; on a busy one wall time grows and CPU time stays).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import _common  # first: puts the Hugging Face libraries offline and the repository root on sys.path

from embedlab.codegen import code_for
from embedlab.corpora import reference_sentences
from embedlab.embedding.encoder import Encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.models.loading import PACKAGED, load_model
from embedlab.tasks.anisotropy import anisotropy_by_layer
from embedlab.tasks.attention import attention_maps, eager_backbone
from embedlab.tasks.tokens import (
    MEASURES,
    output_shapes,
    sentence_cosines,
    token_cosines,
    token_layer_matrix,
    token_states,
    tokenization_table,
    word_in_context,
    word_in_context_examples,
)

SENTENCES = ("This is a wooden stick.", "Stick to the work.")
SPEC = EmbedSpec(PACKAGED, "cls", "-1")


def page_computations(model) -> None:
    states = token_states(model, SENTENCES)
    for one in states:
        tokenization_table(one)
        output_shapes(one)
        for measure in MEASURES:
            token_layer_matrix(one, measure)
    for layer in range(model.n_hidden_states):
        token_cosines(*states, layer)
        sentence_cosines(*states, layer)
    Encoder(model).embed(list(SENTENCES), SPEC)
    examples = word_in_context_examples()
    word_in_context(model, "stick", examples[examples.word == "stick"])
    code_for(SPEC, model.facts)


def timed(run) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call: on a shared machine CPU time is the steadier one."""
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def streamlit_first_render() -> tuple[float, float]:
    import streamlit as st  # noqa: TID251 - a benchmark of the page itself, not engine code
    from streamlit.testing.v1 import AppTest  # noqa: TID251

    st.cache_data.clear()  # token states, word in context: computed again, as on a first visit
    app = AppTest.from_file(str(_common.REPO_ROOT / "app_pages" / "tokens.py"), default_timeout=600)
    seconds = timed(app.run)
    assert not app.exception, app.exception
    return seconds


def in_a_thread(run) -> tuple[float, float]:
    """``timed(run)`` in a fresh thread, as Streamlit's script runner calls a page (torch then uses one thread)."""
    result: list[tuple[float, float]] = []
    worker = threading.Thread(target=lambda: result.append(timed(run)))
    worker.start()
    worker.join()
    return result[0]


def median_text(runs: list[tuple[float, float]]) -> str:
    wall = statistics.median(run[0] for run in runs)
    cpu = statistics.median(run[1] for run in runs)
    return f"{wall:.2f} s wall, {cpu:.2f} s CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    model = load_model(PACKAGED)
    page_computations(model)  # warm-up: first-call overheads of torch and the tokenizer
    engine = [timed(lambda: page_computations(model)) for _ in range(args.rounds)]
    engine_thread = [in_a_thread(lambda: page_computations(model)) for _ in range(args.rounds)]
    streamlit_first_render()  # loads the model into st.cache_resource (not counted)
    rendered = [streamlit_first_render() for _ in range(args.rounds)]
    corpus = reference_sentences()
    anisotropy = in_a_thread(lambda: anisotropy_by_layer(model, corpus))  # as the page computes it
    copies: list = []
    eager_copy = in_a_thread(lambda: copies.append(eager_backbone(model)))
    attention_maps(copies[0], model, SENTENCES)  # warm-up
    attention = [in_a_thread(lambda: attention_maps(copies[0], model, SENTENCES)) for _ in range(args.rounds)]
    states = [in_a_thread(lambda: token_states(model, SENTENCES)) for _ in range(args.rounds)]
    ratio = statistics.median(run[0] for run in attention) / statistics.median(run[0] for run in states)

    print(f"Tokens & layers page, two sentences, packaged model cached ({args.rounds} rounds, median):")
    print(f"  engine computations of the first render, main thread: {median_text(engine)}")
    print(f"  the same in a script thread, as Streamlit runs a page: {median_text(engine_thread)}")
    print(f"  first render in Streamlit (AppTest, cache_data cleared): {median_text(rendered)}")
    print(
        f"  anisotropy table over {len(corpus)} reference sentences: {anisotropy[0]:.1f} s wall, "
        f"{anisotropy[1]:.1f} s CPU"
    )
    print(f"  eager-attention copy of the backbone (once per model): {eager_copy[0]:.2f} s wall")
    print(
        f"  attention maps of the two sentences: {median_text(attention)}; token states of the same: "
        f"{median_text(states)}; ratio {ratio:.2f}"
    )
    print(f"  peak resident memory: {_common.peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
