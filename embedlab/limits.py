"""The app's limits a user or an operator meets, in one place: sizes of uploads, tables, texts and runs.

Settings an operator changes per server are variables (``embedlab.settings``); these are fixed numbers of the
code. Each is named here once and imported by the modules that check it, so a message, a number box, the
server's configuration and a test all quote the same number.

One upload limit, ``MAX_UPLOAD_MB``, for the three places that check a file's size: the pages
(``embedlab.served.check_upload``), Streamlit (``server.maxUploadSize`` in .streamlit/config.toml, checked equal
by tests/core/test_configuration.py) and nginx in front of the replicas (``client_max_body_size`` in the
generated configuration, ``embedlab.replicas.nginx_config``). Served mode has its own, smaller limits
(``SERVED_*``); ``python -m embedlab serve`` passes ``SERVED_MAX_UPLOAD_MB`` to Streamlit when it serves a class.

Left where they are, because they are internal or belong to one module's own checks:

- the ranges of a training run's settings: ``embedlab.training.ranges`` (the Train page's number boxes and the
  engine's checks read them there);
- the bounds of a link's or a view file's fields: ``embedlab.views`` (``MAX_URL_CHARS``, ``MAX_TEXT_CHARS``,
  ``MAX_SEARCH_CHARS``, ``MAX_PATH_CHARS``, ``MAX_MODEL_CHARS``, ``MAX_MODELS``, ``MAX_NEIGHBOURS``, ...);
- the training queue's record sizes (``embedlab.training.queue``: ``MAX_LOSS_POINTS``, ``MAX_FINISHED_RECORDS``);
- cache sizes and batch sizes (``CACHE_TEXTS``, ``MAX_TRANSFORMS``, ``BATCH_SIZE``...), retry counts
  (``embedlab.models.vectors.MAX_RETRIES``), presentation limits (``components.shared.figures.MAX_LEGEND_LABELS``,
  ``embedlab.data.pairtable.MAX_LISTED_ROWS``, ``embedlab.tasks.negtest.MAX_QUOTED_LABEL``), the Train page's
  before/after table (``components.train.train_results.MAX_COMPARE_PAIRS``), the number of replicas
  (``embedlab.replicas.MAX_REPLICAS``) and ``embedlab.training.folders.MAX_SUFFIX``.
"""

from __future__ import annotations

# Uploads (per file)
MAX_UPLOAD_MB = 20  # every page; Streamlit's server.maxUploadSize and nginx's client_max_body_size follow it
SERVED_MAX_UPLOAD_MB = 5  # served mode (the STS train split is about 0.7 MB)

# Tables
MAX_ROWS = 10_000  # rows of a table in a link or view file, and of an upload in served mode (STS train: 5,749)
MAX_COMPARE_PAIRS = 500  # pairs the Compare page scores
MAX_NEGTEST_PAIRS = 1_000  # pairs the Negative tests page tests
MAX_PERTURB_SENTENCES = 1_000  # sentences perturbed at once (page and command line): up to eight pairs each
MAX_SENTENCES = 5_000  # sentences on a projection map
MAX_PLACED = 10  # sentences a user can place on a fitted map at once

# Texts
MAX_TOKEN_TEXTS = 40  # sentences whose token-level states are kept per call (Tokens & layers, word in context)
MAX_TOKEN_SENTENCE_CHARS = 2_000  # a sentence typed or shared on Tokens & layers
MAX_IG_TOKENS = 64  # tokens per sentence integrated gradients takes apart ("Why this score"): passes grow with them
MAX_HEATMAP_TOKENS = 40  # tokens per axis of a "Why this score" heatmap; a longer sentence shows its top tokens
MAX_ATTENTION_TEXTS = 8  # sentences whose attention is kept: (layers, heads, T, T) each
MAX_RERANK_K = 50  # candidates a cross-encoder re-ranks on Projection
MAX_QUERY_CHARS = 500  # a search query on Projection

# A corpus encoded by the workers (embedlab.corpus)
MAX_CORPUS_LINES = 1_000_000  # lines of a corpus file encoded in served mode
MAX_DRAWN_POINTS = 20_000  # points a corpus map draws one by one; above, a density plus the zoomed region's points

# Training in served mode
SERVED_MAX_TRAIN_STEPS = 1_000  # optimizer steps per run (max steps, or epochs x rows / batch): ~8 min on 2 cores

# Retrieval (embedlab.retrieval): a BEIR folder or upload, and the runs over it
MAX_RETRIEVAL_MB = MAX_UPLOAD_MB  # the three files of a BEIR folder together (a zip: unpacked), checked before reading
MAX_RETRIEVAL_DOCS = 20_000  # documents in a corpus: each is one sentence encode per model (cached)
MAX_RETRIEVAL_QUERIES = 2_000  # queries evaluated (those with a relevant document)
MAX_RETRIEVAL_TEXT_CHARS = 20_000  # one document or query (the models read the first 256 tokens or so)
RETRIEVAL_DEPTH = 100  # documents kept per query and system: Recall@100 and MAP@100 need that many
MAX_RETRIEVAL_RERANK_K = 100  # bi-encoder candidates a cross-encoder re-ranks per query (one pass each)
MAX_MINED_NEGATIVES = 10  # hard negatives mined per (query, relevant document) pair: the library advises 10 or fewer
