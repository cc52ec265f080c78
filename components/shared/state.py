"""Every session-state key of the app, namespaced by page, and the one way to remember a widget across pages.

Two kinds of key:

- plain entries (``RAW_SPEC``, ``PAIRS``, ``STS_DATASET``, ...) hold what the user chose, typed or computed; they
  last the whole session;
- widget keys (``*_WIDGET`` and the keys built with ``widget_key``): Streamlit deletes a widget's state when its
  page is left, so a widget that must keep its value is seeded from a plain entry with ``remembered``.

Keys derived from these by a helper (``<key>.seen`` of an uploader, ``<namespace>.flash`` of a page's one-shot
message, ``<prefix>_base``/``_version``/``_editor.<n>`` of an editable table) start with the key they derive from,
so they stay in that page's namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

import streamlit as st

# ---------------------------------------------------------------- shared configurations (every page that embeds)
RAW_SPEC = "config.raw_spec"  # EmbedSpec of the raw pooling configuration
RAW_NOTE = "config.raw_note"  # why the default raw model is not bert-base-uncased, if it is not
TRAINED_SPEC = "config.trained_spec"  # EmbedSpec of the trained configuration
POST_CORPUS = {"raw": "config.raw_post_corpus", "trained": "config.trained_post_corpus"}  # user's fitting sentences
CROSS_ENCODER = "config.cross_encoder"  # the optional cross-encoder (a folder), None for none (Compare, Projection)
CROSS_COSTS = "config.cross_costs"  # {(cross-encoder, bi-encoder, sentences) key: (PairCost, QueryCost, when)}

# ---------------------------------------------------------------- the session's first screen (first_screen.py)
FIRST_SCREEN = "session.first_screen"  # None before the first run, then "shown", "waiting", "done"

# ---------------------------------------------------------------- Compare
COMPARE = "compare"
PAIRS = "compare.pairs"  # DataFrame: the pairs table as the user left it; prefix of the editor keys (PersistentTable)
PAIRS_UPLOAD = "compare.upload"  # the uploader
ADD_FORM = "compare.add_form"
NEW_FIRST = "compare.new_sentence1"
NEW_SECOND = "compare.new_sentence2"
SELECTED_PAIR = "compare.selected_pair"  # row label of the pair shown up close
PAIR_WIDGET = "compare.pair_select"
CALIBRATION_SOURCE = "compare.calibration.source"  # where the labelled pairs come from (calibration_view.SOURCES)
CALIBRATION_UPLOADED = "compare.calibration.uploaded"  # LabelledPairs of the last labelled upload that parsed
CALIBRATION_SIDE = "compare.calibration.side"  # which configuration the section shows: raw, trained or cross
CALIBRATION_METHOD = "compare.calibration.method"  # auto, isotonic or platt
CALIBRATION_PRECISION = "compare.calibration.precision"  # the precision whose threshold is shown
CALIBRATION_SOURCE_WIDGET = "compare.calibration.source.widget"
CALIBRATION_UPLOAD_WIDGET = "compare.calibration.upload.widget"
CALIBRATION_SIDE_WIDGET = "compare.calibration.side.widget"
CALIBRATION_METHOD_WIDGET = "compare.calibration.method.widget"
CALIBRATION_PRECISION_WIDGET = "compare.calibration.precision.widget"
CALIBRATION_FIT_BUTTON = "compare.calibration.fit"

# ---------------------------------------------------------------- Negative tests
NEGTEST = "negtest"
NEGTEST_PAIRS = "negtest.pairs"  # DataFrame: sentence1, sentence2, label, category as the user left it
NEGTEST_UPLOAD = "negtest.upload"
NEGTEST_EXTRA_SPECS = "negtest.extra_specs"  # list[EmbedSpec] the user added
NEGTEST_EXTRA_KEEP = "negtest.extra_keep"  # the multiselect keeping the added configurations
NEGTEST_ADD_FORM = "negtest.add_form"
NEGTEST_ADD = "negtest.add"  # namespace of the add-configuration form's widgets
NEGTEST_THRESHOLDS = "negtest.thresholds"  # namespace: one plain entry per configuration label
NEGTEST_CROSS = "negtest.cross"  # the chosen cross-encoder's reference, None for none
NEGTEST_CROSS_WIDGET = "negtest.cross.widget"
NEGTEST_GENERATE = "negtest.generate"  # namespace of "Generate from my sentences"
NEGTEST_GENERATE_FORM = "negtest.generate.form"
NEGTEST_GENERATE_TEXT = "negtest.generate.text"  # str: the sentences, one per line, as the user left them
NEGTEST_GENERATE_TEXT_WIDGET = "negtest.generate.text_area"
NEGTEST_GENERATE_KINDS = "negtest.generate.kinds"  # list[str]: the kinds of edit chosen
NEGTEST_GENERATE_KINDS_WIDGET = "negtest.generate.kinds_select"
NEGTEST_GENERATE_UPLOAD = "negtest.generate.upload"


def negtest_threshold(label: str) -> str:
    """Plain entry of the threshold the user set for one configuration (None: the best one)."""
    return f"{NEGTEST_THRESHOLDS}.{label}"


def negtest_threshold_widget(label: str) -> str:
    """The threshold box of one configuration (keyed by label: a box follows its configuration, not its tab)."""
    return f"{NEGTEST_THRESHOLDS}.widget.{label}"


# ---------------------------------------------------------------- STS evaluation
STS = "sts"
STS_DATASET = "sts.dataset"  # ScoredPairs in use
STS_SOURCE = "sts.source"  # one of sts_view.SOURCES
STS_PATH = "sts.path"  # the last local path typed
STS_HUB_SPLIT = "sts.hub_split"
STS_HUB_DATASET = "sts.hub_dataset"
STS_MODELS = "sts.models"  # list of model refs
STS_CROSS = "sts.cross"  # the chosen cross-encoder's reference, None for none
STS_CROSS_WIDGET = "sts.cross.widget"
STS_RESULTS = "sts.results"  # {(dataset fingerprint, canonical model key): Evaluation}
STS_REVISIONS = "sts.revisions"  # {STS_RESULTS key: the model revision it was computed with}
STS_FAILED = "sts.failed"  # {model: why it could not be evaluated}
STS_SCATTER_MODEL = "sts.scatter_model"
STS_SCATTER_CONFIG = "sts.scatter_config"  # "pooling|layers|post"
STS_SOURCE_WIDGET = "sts.source.widget"
STS_PATH_WIDGET = "sts.path.widget"
STS_PATH_FORM = "sts.path_form"
STS_HUB_SPLIT_WIDGET = "sts.hub_split.widget"
STS_HUB_DATASET_WIDGET = "sts.hub_dataset.widget"
STS_HUB_LOAD = "sts.hub_load"
STS_SERVER_SPLIT_WIDGET = "sts.server_split.widget"  # served mode: which of the server's STS splits
STS_SERVER_SPLIT_LOAD = "sts.server_split_load"
STS_UPLOAD_WIDGET = "sts.upload.widget"
STS_MODELS_WIDGET = "sts.models.widget"
STS_EVALUATE_BUTTON = "sts.evaluate"
STS_SCATTER_MODEL_WIDGET = "sts.scatter_model.widget"
STS_SCATTER_CONFIG_WIDGET = "sts.scatter_config.widget"
STS_COSTS = "sts.costs"  # {(fingerprint, model, variants, threshold): CostTable} the cost tables measured
STS_COSTS_MODEL = "sts.costs.model"
STS_COSTS_VARIANTS = "sts.costs.variants"
STS_COSTS_THRESHOLD = "sts.costs.threshold"
STS_COSTS_MEASURE = "sts.costs.measure"

# ---------------------------------------------------------------- Projection
PROJECTION = "projection"
PROJECTION_SOURCE = "projection.source"  # one of projection_view.SOURCES
PROJECTION_TEXT = "projection.text"  # the text area's content
PROJECTION_UPLOADED = "projection.uploaded"  # SentenceSet of the last upload that parsed
PROJECTION_SETTINGS = "projection.settings"  # ProjectionSettings
PROJECTION_QUERY = "projection.query"  # search text
PROJECTION_PICKED = "projection.picked"  # index of the sentence whose neighbours are listed
PROJECTION_K = "projection.k"  # how many neighbours
PROJECTION_PLACE = "projection.place"  # text: the sentences to place on the maps, one per line
PROJECTION_PLACE_WIDGET = "projection.place_input"
PROJECTION_PLACE_FORM = "projection.place_form"
PROJECTION_SOURCE_WIDGET = "projection.source_choice"
PROJECTION_TEXT_WIDGET = "projection.text_area"
PROJECTION_UPLOAD_WIDGET = "projection.upload"
PROJECTION_METHOD_WIDGET = "projection.method"
PROJECTION_DIMS_WIDGET = "projection.three_d"
PROJECTION_NEIGHBORS_WIDGET = "projection.n_neighbors"
PROJECTION_MIN_DIST_WIDGET = "projection.min_dist"
PROJECTION_SEEDED_WIDGET = "projection.seeded"
PROJECTION_SEED_WIDGET = "projection.seed"
PROJECTION_QUERY_WIDGET = "projection.search"
PROJECTION_PICK_WIDGET = "projection.pick"
PROJECTION_K_WIDGET = "projection.k_slider"
PROJECTION_RERANK_QUERY = "projection.rerank_query"  # the retrieve-and-re-rank query
PROJECTION_RERANK_K = "projection.rerank_k"
PROJECTION_RERANK_FORM = "projection.rerank_form"
PROJECTION_RERANK_QUERY_WIDGET = "projection.rerank_query_input"
PROJECTION_RERANK_K_WIDGET = "projection.rerank_k_input"
CORPUS = "projection.corpus"  # the Corpus read from the upload (Encode my corpus), or why it was refused
CORPUS_READ = "projection.corpus_read"  # (file id, column) of the last read
CORPUS_UPLOAD = "projection.corpus_upload"
CORPUS_COLUMN = "projection.corpus_column"
CORPUS_JOB = "projection.corpus_job"  # the id of the encoding job this session asked for
CORPUS_ENCODE = "projection.corpus_encode"
CORPUS_RAW_JOB = "projection.corpus_raw_job"  # the encoding job of the raw panel's model, for the side-by-side map
CORPUS_RAW_ENCODE = "projection.corpus_raw_encode"
CORPUS_RAW_MAP = "projection.corpus_raw_map"
CORPUS_MAP_JOB = "projection.corpus_map_job"  # (corpus folder, method, job id) of the map job this session asked for
CORPUS_RAW_MAP_JOB = "projection.corpus_raw_map_job"  # the same for the raw panel's map
CORPUS_MAP_AGAIN = "projection.corpus_map_again"  # "Fit the map again" after a map job that did not finish
CORPUS_METHOD = "projection.corpus_method"
CORPUS_COLOUR = "projection.corpus_colour"
CORPUS_CLUSTERS = "projection.corpus_clusters"
CORPUS_QUERY = "projection.corpus_query"
CORPUS_REGION_X = "projection.corpus_region_x"
CORPUS_REGION_Y = "projection.corpus_region_y"
CORPUS_MAP = "projection.corpus_map"
CORPUS_ROW = "projection.corpus_row"


# ---------------------------------------------------------------- Retrieval
RETRIEVAL = "retrieval"
RETRIEVAL_SOURCE = "retrieval.source"  # one of retrieval_view.SOURCES
RETRIEVAL_UPLOADED = "retrieval.uploaded"  # RetrievalData of the last upload that parsed
RETRIEVAL_MODELS = "retrieval.models"  # list of bi-encoder refs
RETRIEVAL_BM25 = "retrieval.bm25"  # bool
RETRIEVAL_CROSS = "retrieval.cross"  # the re-ranker's reference, None for none
RETRIEVAL_TOP_K = "retrieval.top_k"  # candidates the re-ranker re-scores per query
RETRIEVAL_SYSTEM = "retrieval.system"  # the system whose worst queries are listed first
RETRIEVAL_QUERY = "retrieval.query"  # the query id shown up close
RETRIEVAL_RUNS = "retrieval.runs"  # {(data fingerprint, system key): SystemRun} this session has
RETRIEVAL_FAILED = "retrieval.failed"  # {system key: why it could not run}
RETRIEVAL_REPORT = "retrieval.report"  # (key of the runs, RetrievalReport) of the last runs shown
RETRIEVAL_SOURCE_WIDGET = "retrieval.source.widget"
RETRIEVAL_UPLOAD_WIDGET = "retrieval.upload.widget"
RETRIEVAL_MODELS_WIDGET = "retrieval.models.widget"
RETRIEVAL_BM25_WIDGET = "retrieval.bm25.widget"
RETRIEVAL_CROSS_WIDGET = "retrieval.cross.widget"
RETRIEVAL_TOP_K_WIDGET = "retrieval.top_k.widget"
RETRIEVAL_SYSTEM_WIDGET = "retrieval.system.widget"
RETRIEVAL_QUERY_WIDGET = "retrieval.query.widget"
RETRIEVAL_TO_MAP_BUTTON = "retrieval.to_map"  # the query and its retrieved set, to the Projection map
RETRIEVAL_RUN_BUTTON = "retrieval.run"
RETRIEVAL_MINED = "retrieval.mined"  # MinedNegatives of the last mining on this page (embedlab.retrieval.hardneg)
RETRIEVAL_MINE_MODEL = "retrieval.mine_model"  # the model that mines
RETRIEVAL_MINE_NEGATIVES = "retrieval.mine_negatives"  # negatives per (query, relevant document) pair
RETRIEVAL_MINE_MODEL_WIDGET = "retrieval.mine_model.widget"
RETRIEVAL_MINE_NEGATIVES_WIDGET = "retrieval.mine_negatives.widget"
RETRIEVAL_MINE_BUTTON = "retrieval.mine"
RETRIEVAL_TRAIN_BUTTON = "retrieval.train_with_mined"
RETRIEVAL_MINED_DOWNLOAD = "retrieval.mined_download"
TRAIN_MINED = "train.mined"  # MinedNegatives handed to the Train page ("Train with these" on Retrieval)
TRAIN_MINED_NEW = "train.mined_new"  # True until the Train page has switched its method and data to them

# ---------------------------------------------------------------- text the model cannot read
SKIP_UNREADABLE = "config.skip_unreadable"  # bool: leave out pairs the model cannot read (Negative tests, STS)
NEGTEST_SKIP_WIDGET = "negtest.skip_unreadable"
STS_SKIP_WIDGET = "sts.skip_unreadable"
STS_SUBSETS = "sts.subsets"  # {fingerprint: ScoredPairs} the data sets minus a model's unreadable pairs


def widget_key(namespace: str, name: str) -> str:
    """Key of a page's own widget, e.g. widget_key("compare.raw", "model") -> "compare.raw.model"."""
    return f"{namespace}.{name}"


# Presentation mode (the sidebar toggle in app.py; components.shared.presentation reads it)
PRESENTATION = "app.presentation"


# ---------------------------------------------------------------- remembering a widget across pages


def remembered(
    widget: str,
    store: str | None,
    default: Any = None,
    *,
    options: Collection | None = None,
    on_change: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Seed a widget from a plain session entry, and store the widget's value back there when the user changes it.

    Streamlit deletes a widget's own key when its page is left; the plain entry ``store`` lasts the session. So on
    every visit the widget starts from ``store`` (``default`` until something was stored), and its on_change
    writes a new value back before the rerun, so code above the widget already sees it.

    Args:
        widget: the widget's key.
        store: the plain entry; None when the caller keeps the value elsewhere (the seed is then ``default``,
            e.g. a field of the shared EmbedSpec, which the caller stores after reading the widget).
        options: the widget's options; a remembered value no longer among them is not seeded (the widget then
            starts from its own default).
        on_change: called after the value is stored.

    Returns:
        The keyword arguments for the widget: ``key`` and ``on_change``.

    Example:
        >>> st.radio("Data", SOURCES, **remembered(STS_SOURCE_WIDGET, STS_SOURCE, "bundled", options=SOURCES))
    """
    value = default if store is None else st.session_state.setdefault(store, default)
    if widget not in st.session_state and (options is None or value in options):
        st.session_state[widget] = value

    def keep() -> None:
        if store is not None:
            st.session_state[store] = st.session_state[widget]
        if on_change is not None:
            on_change()

    return {"key": widget, "on_change": keep}
