"""Shared fixtures for every test folder.

No test reaches the network: the Hugging Face libraries are put offline here, at import time, before anything
imports them (``huggingface_hub.constants`` reads the variables once, when first imported).
"""

from __future__ import annotations

import os

from tools.offline import OFFLINE_ENV

os.environ.update(OFFLINE_ENV)
# No reference states on disk (embedlab/embedding/reference_cache.py): every test counts its own model calls; the
# cache's own tests give it a folder.
os.environ["EMBEDLAB_VECTOR_CACHE_DIR"] = "none"

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # `pytest` run without `python -m` and without pyproject's pythonpath
    sys.path.insert(0, str(REPO_ROOT))

from embedlab import corpora  # noqa: E402
from embedlab.models.loading import PACKAGED, UNTRAINED, LoadedModel, load_model, packaged_model_path  # noqa: E402
from embedlab.settings import get_settings  # noqa: E402

REQUIRE_SHARED = "EMBEDLAB_REQUIRE_SHARED"
TINY_SEED = 1234
TINY_SHAPE = {"num_hidden_layers": 2, "hidden_size": 32, "num_attention_heads": 2, "intermediate_size": 64}
# With parallel workers (.ci/run: pytest-xdist, --dist loadfile --no-loadscope-reorder) whole files are handed out
# in collection order. The browser tests come first, then the page tests, then the engine's: the long files start
# at once and the many short ones fill the end, instead of a long file starting last and running alone.
PARALLEL_ORDER = ("e2e", "ui", "core")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):  # not an xdist worker: pytest's own order
        return
    rank = {folder: position for position, folder in enumerate(PARALLEL_ORDER)}
    items.sort(key=lambda item: rank.get(item.path.parent.name, len(rank)))  # stable: file order kept within


@pytest.fixture(scope="session")
def sts_benchmark() -> Path:
    """The STS benchmark folder ``../shared/data/stsbenchmark/`` with its train and dev splits (not shipped with
    the repository): where the app itself looks (``embedlab.corpora``), so a test that hides it from the app
    (tests/plainclone.py) hides it from the tests too.

    Ask for it in every test that reads the splits or relies on the app having found them (the Train page opens on
    the STS train split when it is there). A plain clone has no ``../shared``: such tests skip, naming the folder;
    with EMBEDLAB_REQUIRE_SHARED=1 (set by .ci/run) they fail instead, so CI never skips them silently.
    """
    folder = corpora.STS_BENCHMARK_DIR
    if set(corpora.sts_splits()) != {"train", "dev"}:
        reason = f"the STS benchmark splits in {folder} (../shared/data/stsbenchmark/ beside the repo) are absent"
        if get_settings().require_shared:
            pytest.fail(f"{reason} and {REQUIRE_SHARED}=1")
        pytest.skip(reason)
    return folder


@pytest.fixture(scope="session")
def sts_dev(sts_benchmark: Path) -> Path:
    """The dev split of the STS benchmark (1,500 pairs); see ``sts_benchmark``."""
    return corpora.STS_DEV_FILE


@pytest.fixture(scope="session")
def sts_train(sts_benchmark: Path) -> Path:
    """The train split of the STS benchmark; see ``sts_benchmark``."""
    return corpora.STS_TRAIN_FILE


@pytest.fixture(scope="session")
def packaged_model() -> LoadedModel:
    """The packaged all-MiniLM-L6-v2, loaded once per session. Shared: never mutate it."""
    return load_model(PACKAGED)


@pytest.fixture(scope="session")
def untrained_model() -> LoadedModel:
    """The seeded random BERT control, loaded once per session. Shared: never mutate it."""
    return load_model(UNTRAINED)


@pytest.fixture
def encoder(packaged_model: LoadedModel):
    """A fresh Encoder over the session model: empty cache, forward-pass counters at 0."""
    from embedlab.embedding.encoder import Encoder

    return Encoder(packaged_model)


@pytest.fixture(scope="session")
def reference_st():
    """An independent SentenceTransformer of the packaged model: the ground truth the engine must match."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(packaged_model_path(), device="cpu")
    model.eval()
    return model


@pytest.fixture(scope="session")
def reference_hf():
    """(tokenizer, BertModel) of the packaged model straight from transformers, for hand-computed pooling."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(packaged_model_path())
    model = AutoModel.from_pretrained(packaged_model_path())
    model.eval()
    return tokenizer, model


def save_tiny_bert(folder: Path, seed: int = TINY_SEED) -> Path:
    """A tiny seeded random BertModel with the packaged tokenizer, saved as a plain transformers model in ``folder``.

    The global torch generator is restored afterwards, so other tests' random streams do not depend on this.
    """
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(packaged_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, max_position_embeddings=512, **TINY_SHAPE)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = BertModel(config)
    finally:
        torch.random.set_rng_state(generator_state)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def save_tiny_st(folder: Path, bert_folder: Path) -> Path:
    """A tiny sentence-transformer (Transformer -> Pooling(cls) -> Normalize) over ``bert_folder``, saved in
    ``folder``."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(str(bert_folder), max_seq_length=128)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="cls")
    SentenceTransformer(modules=[transformer, pooling, Normalize()], device="cpu").save(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny seeded random BertModel with the packaged tokenizer, saved as a plain transformers model."""
    folder = save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))
    assert not (folder / "modules.json").exists()
    return folder


@pytest.fixture(scope="session")
def tiny_st_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sentence-transformer (Transformer -> Pooling(cls) -> Normalize) saved with SentenceTransformer.save."""
    folder = save_tiny_st(tmp_path_factory.mktemp("tiny-st"), tiny_model_dir)
    assert (folder / "modules.json").is_file()
    return folder


@pytest.fixture(scope="session")
def make_tiny_st(tmp_path_factory: pytest.TempPathFactory):
    """A function (folder, seed) -> folder writing a tiny sentence-transformer with weights of that seed into
    ``folder`` (over whatever was there: a model retrained in place)."""

    def make(folder: Path, seed: int) -> Path:
        bert = save_tiny_bert(tmp_path_factory.mktemp(f"tiny-bert-{seed}"), seed)
        return save_tiny_st(folder, bert)

    return make


SERVICE_KEY = "sk-standin-0123456789abcdef"  # the stand-in service's key; tests check it is never printed


@pytest.fixture(scope="session")
def embedding_service(reference_st):
    """The stand-in embeddings service (tests/embedstandin.py) serving the packaged model on 127.0.0.1, keyed with
    ``SERVICE_KEY``; started once per session and always stopped. Reset ``fail`` / ``requests`` where it matters."""
    from tests.embedstandin import EmbeddingStandIn

    with EmbeddingStandIn(key=SERVICE_KEY, encode=reference_st.encode) as service:
        yield service


@pytest.fixture()
def service(embedding_service, monkeypatch):
    """The stand-in answering normally, its request log emptied, its key in EMBEDLAB_API_KEY."""
    embedding_service.fail, embedding_service.fail_times, embedding_service.delay_s = None, None, 0.0
    embedding_service.requests.clear()
    monkeypatch.setenv("EMBEDLAB_API_KEY", SERVICE_KEY)
    monkeypatch.delenv("EMBEDLAB_SERVED", raising=False)
    return embedding_service


@pytest.fixture(scope="session")
def cross_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged backbone with a new (seeded, untrained) one-label head, saved by sentence-transformers: a
    cross-encoder folder (``CrossEncoder(dir)`` loads it)."""
    import torch
    from sentence_transformers import CrossEncoder

    from embedlab.models.loading import packaged_model_path

    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("cross")
    CrossEncoder(packaged_model_path(), num_labels=1, device="cpu").save(str(folder))
    return folder
