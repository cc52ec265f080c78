"""Distilling a static model from a sentence embedder: model2vec's ``distill_from_model``, run by the one training
runner (``embedlab.training.run.run_method``) as the method ``distill``, so the queue, its progress, stop and
restart treat it like any other run.

model2vec passes every token of the start model's own vocabulary through the model once (offline: no corpus, no
Hub), reduces the token vectors by PCA (``DEFAULT_PCA_DIMS``) and weights them by SIF (frequent tokens count less).
A sentence's vector is then the mean of its tokens' rows in that table: no attention, so it encodes tens of times
faster and scores worse (docs/backends.md). The result is saved as a sentence-transformers folder with one
``StaticEmbedding`` module (``SentenceTransformer(folder)`` loads it), plus the model2vec copy in ``model2vec/``
(``StaticModel.from_pretrained(folder / "model2vec")``); the app serves it as a static model
(``embedlab.scorers.static``).

The run is one step: the distillation cannot stop half-way; a stop asked meanwhile takes effect when it ends.
Before and after are the numbers every run measures: the start model's own pipeline, then the static model's.

Example:
    >>> method = DistillMethod(Composition("all-MiniLM-L6-v2"), distill_data(), load_model("all-MiniLM-L6-v2"))
    >>> result = run_method(method, distill_settings())  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

from embedlab.errors import EmbedLabError
from embedlab.models.loading import LoadedModel
from embedlab.training import ranges
from embedlab.training.compose import Composition
from embedlab.training.data import TrainingData
from embedlab.training.ranges import span, within
from embedlab.training.run import Scores, TrainResult, TrainSettings, measure, measure_encoder

METHOD = "distill"
DEFAULT_PCA_DIMS = 256  # model2vec's default: the measurement (79.2 STS dev for all-MiniLM-L6-v2)
FACTS_FILE = "training.json"
MODEL2VEC_FOLDER = "model2vec"  # the same table as model2vec saves it, inside the saved folder
MISSING = (
    "Distilling a static model needs the optional packages model2vec and skeletoken: "
    "pip install -r requirements-fast.txt"
)


def distill_data(pca_dims: int = DEFAULT_PCA_DIMS) -> TrainingData:
    """The run's 'data': the start model's own vocabulary (one step, nothing read from a file), and the static
    model's width, carried in the request as every run's data is (a queued run reads it there).

    Raises:
        EmbedLabError: ``pca_dims`` out of ``ranges.STATIC_DIMS``.
    """
    if not within(int(pca_dims), ranges.STATIC_DIMS):
        raise EmbedLabError(f"The static model's width must be {span(ranges.STATIC_DIMS)}, not {pca_dims}.")
    columns = {"vocabulary": ["the start model's own vocabulary"], "pca_dims": [int(pca_dims)]}
    return TrainingData(METHOD, columns, f"the model's own vocabulary, PCA to {int(pca_dims)} dimensions", 0)


def distill_settings(seed: int = 0) -> TrainSettings:
    """The settings of a distillation: one step (the rest does not apply)."""
    return TrainSettings(max_steps=1, batch_size=1, seed=seed, eval_every=0, group_by_length=False, precision="fp32")


def check_installed() -> None:
    """Raises EmbedLabError (what to install) when model2vec's distillation cannot be imported."""
    try:
        import model2vec.distill  # noqa: F401
    except ImportError:
        raise EmbedLabError(MISSING) from None


def distill_static(loaded: LoadedModel, pca_dims: int = DEFAULT_PCA_DIMS):
    """A model2vec ``StaticModel`` distilled from ``loaded``'s backbone and tokenizer (copies: the shared model is
    never touched), float32, PCA to at most ``pca_dims`` (never more than the backbone's width).

    Raises:
        EmbedLabError: model2vec or skeletoken missing (``MISSING``), or the distillation failed.
    """
    check_installed()
    from model2vec.distill import distill_from_model

    backbone = copy.deepcopy(loaded.backbone)  # model2vec reshapes the model's embeddings in place
    tokenizer = copy.deepcopy(loaded.tokenizer)
    dims = min(int(pca_dims), int(loaded.facts.hidden_size))
    try:
        return distill_from_model(backbone, tokenizer, pca_dims=dims, quantize_to="float32", device="cpu")
    except (ValueError, RuntimeError) as error:
        raise EmbedLabError(f"Distilling {loaded.facts.ref} failed: {str(error).splitlines()[0]}") from None


def as_sentence_transformer(static_model):
    """A ``SentenceTransformer`` with one ``StaticEmbedding`` module holding ``static_model``'s table."""
    import numpy as np
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    weights = np.asarray(static_model.embedding, dtype=np.float32)
    module = StaticEmbedding(static_model.tokenizer, embedding_weights=weights)
    model = SentenceTransformer(modules=[module], device="cpu")
    model.model_card_data.local_files_only = True
    model.eval()
    return model


def is_static(st_model) -> bool:
    """Whether a SentenceTransformer starts with a ``StaticEmbedding`` (a distilled model)."""
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding

    return isinstance(st_model[0], StaticEmbedding)


class DistillMethod:
    """Distillation as a ``embedlab.training.run.TrainingMethod``: the 'model' before is the start model's own
    pipeline (shared, only read), the trainer distils (``DistillTrainer``) and hands back the static model.

    Args:
        data: ``distill_data(pca_dims)``: the static model's width is read there.
        loaded: the start model, already loaded (else ``load_model(composition.model)`` when built).
    """

    name = METHOD

    def __init__(self, composition: Composition, data: TrainingData, loaded: LoadedModel | None = None) -> None:
        check_installed()  # before anything is loaded or queued work starts
        self.composition = composition
        self.data = data
        self.loaded = loaded
        self.pca_dims = int((data.columns.get("pca_dims") or [DEFAULT_PCA_DIMS])[0])

    def build(self, seed: int):
        if self.loaded is None:
            from embedlab.models.loading import load_model

            self.loaded = load_model(self.composition.model)
        return self.loaded.st_model

    def measure(self, model, eval_pairs) -> Scores:
        if not is_static(model):
            return measure(model, eval_pairs, self.composition.model)
        from embedlab.models.static import InMemoryStatic, static_encoder

        return measure_encoder(static_encoder(InMemoryStatic(model, "distilled")), eval_pairs)

    def evaluator(self, eval_pairs, settings: TrainSettings):
        return None

    def eval_spearman(self, metrics: dict) -> float | None:
        return None

    def loss(self, model):
        return None

    def dataset(self):
        return None

    def trainer(self, model, arguments: dict, settings: TrainSettings, loss, dataset, evaluator, callbacks):
        return DistillTrainer(self.loaded, self.pca_dims)


class _State:
    global_step = 0


class DistillTrainer:
    """The trainer the runner drives: ``train()`` distils; ``trained_model`` is the static model afterwards."""

    def __init__(self, loaded: LoadedModel, pca_dims: int) -> None:
        self.loaded = loaded
        self.pca_dims = pca_dims
        self.state = _State()
        self.trained_model = None

    def remove_callback(self, callback) -> None:
        return None

    def train(self) -> None:
        self.trained_model = as_sentence_transformer(distill_static(self.loaded, self.pca_dims))
        self.state.global_step = 1


def save_static(result: TrainResult, folder: str | Path) -> Path:
    """Save the distilled model into ``folder``: a sentence-transformers folder (one ``StaticEmbedding``), the
    model2vec copy in ``model2vec/``, and ``training.json``, atomically (``embedlab.training.save.save_atomically``).

    Raises:
        EmbedLabError: ``folder`` exists and is not empty, or cannot be written.
    """
    from embedlab.training.save import save_atomically

    module = result.model[0]
    facts = {
        "method": METHOD,
        "start_model": result.start_model,
        "dims": int(module.embedding_dim),
        "vocabulary": int(module.num_embeddings),
        "seconds": round(result.seconds, 3),
        "eval": result.eval_name,
        "before": None if result.before is None else result.before.as_dict(),
        "after": None if result.after is None else result.after.as_dict(),
    }

    def write(partial: Path) -> None:
        from model2vec import StaticModel

        result.model.save(str(partial))
        weights = module.embedding.weight.detach().cpu().numpy()
        config = {"model_type": "model2vec", "architectures": ["StaticModel"], "normalize": True}
        config["hidden_dim"] = int(weights.shape[1])
        StaticModel(vectors=weights, tokenizer=module.tokenizer, config=config, normalize=True).save_pretrained(
            str(partial / MODEL2VEC_FOLDER)
        )
        (partial / FACTS_FILE).write_text(json.dumps(facts, indent=2), encoding="utf-8")

    return save_atomically(folder, write)
