"""A BERT sentence-transformer run in numpy: the first scores of a cold start, before torch is imported.

A cold start spends ~5 s importing torch, transformers and sentence-transformers before the first model call
(docs/benchmarks.md). A BERT encoder is a handful of matrix products, and the weights are a ``.safetensors`` file that
numpy reads directly, so this module reproduces the library's forward pass with ``tokenizers`` (the model's own
``tokenizer.json``, the same Rust tokenizer transformers runs) and numpy alone: ~0.2 s to import and load the
packaged all-MiniLM-L6-v2. ``embedlab.tasks.first_look`` uses it for the Compare page's scores while the server
starts; everything else keeps the library's PyTorch pipeline.

What it reads, and what it refuses (``NumpyBert.load`` raises ``EmbedLabError`` saying why): a sentence-transformer
folder whose ``config.json`` is a ``bert`` model (absolute positions, GELU), weights in ``model.safetensors``, a
``tokenizer.json``, and a pipeline of Transformer -> Pooling (mean) -> optional Normalize. Padded positions are
never attended to (the library's mask); results equal the library's to float32 rounding (tested to 1e-5).

Example:
    >>> bert = NumpyBert.load(packaged_model_path())  # doctest: +SKIP
    >>> bert.run(["How old are you?"])[0].model.shape  # doctest: +SKIP
    (384,)
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from embedlab.embedding.encoder import Encoder, Progress, TextStates, TokenCounts, TokenStates
from embedlab.embedding.pooling import LAYER_POOLERS
from embedlab.errors import EmbedLabError
from embedlab.models.identity import ModelId
from embedlab.models.loading import ModelFacts

PIPELINE = ("Transformer", "Pooling")  # module classes, as modules.json names them (both library layouts)
NORMALIZE = "Normalize"
# where the library keeps its token limit: sentence-transformers < 6 in the first file, 6 in the tokenizer's
LENGTH_FILES = (("sentence_bert_config.json", "max_seq_length"), ("tokenizer_config.json", "model_max_length"))
BATCH, BATCH_TOKENS = 32, 1024  # texts and padded tokens per forward pass


def _erf(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """erf to ~1e-7 absolute (Abramowitz & Stegun 7.1.26), below float32's rounding of GELU's output; in place on
    temporaries (this is a third of the forward pass's time)."""
    a = np.abs(x)
    t = np.multiply(a, np.float32(0.3275911))
    t += 1
    np.reciprocal(t, out=t)
    p = t * np.float32(1.061405429)
    for coefficient in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        p += np.float32(coefficient)
        p *= t
    np.multiply(a, a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    p *= a
    np.subtract(1, p, out=p)
    return np.copysign(p, x, out=p)


def _gelu(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """GELU as BERT's ``hidden_act: gelu`` defines it: x * Phi(x), with the exact (erf) normal CDF."""
    half = x * np.float32(0.5)
    y = _erf(x * np.float32(1 / math.sqrt(2.0)))
    y += 1
    y *= half
    return y


def _layer_norm(x: npt.NDArray[np.float32], weight, bias, eps: float) -> npt.NDArray[np.float32]:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + np.float32(eps)) * weight + bias


def _softmax(x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    x = np.exp(x - x.max(axis=-1, keepdims=True))
    return x / x.sum(axis=-1, keepdims=True)


def _json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise EmbedLabError(f"{path.name} cannot be read ({error}).") from error


class NumpyBert:
    """One BERT sentence-transformer's weights and tokenizer, run in numpy. Build with ``load``; thread-safe
    (``run`` only reads the weights)."""

    def __init__(self, weights: dict[str, np.ndarray], tokenizer, config: dict, normalize: bool, max_length: int):
        self.weights = weights
        self.tokenizer = tokenizer
        self.normalize = normalize
        self.max_length = max_length
        self.heads = int(config["num_attention_heads"])
        self.layers = int(config["num_hidden_layers"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        special = {token.content for token in tokenizer.get_added_tokens_decoder().values() if token.special}
        self.special_ids = {tokenizer.token_to_id(token) for token in special} - {None}
        self.unknown_id = tokenizer.token_to_id(str(getattr(tokenizer.model, "unk_token", None)))

    @classmethod
    def load(cls, folder: str | Path) -> NumpyBert:
        """The model in ``folder`` (a sentence-transformer's own folder).

        Raises:
            EmbedLabError: a file is missing or unreadable, or the model is not one this engine runs (it says why).
        """
        root = Path(folder)
        config = _json(root / "config.json")
        modules = _json(root / "modules.json") if (root / "modules.json").is_file() else []
        kinds = tuple(
            str(module.get("type", "")).rsplit(".", 1)[-1]
            for module in modules
            if isinstance(module, dict) and str(module.get("type", "")).startswith("sentence_transformers.")
        )
        if kinds[:2] != PIPELINE or set(kinds[2:]) - {NORMALIZE}:
            raise EmbedLabError(f"{root.name}: not a Transformer -> Pooling (-> Normalize) sentence-transformer.")
        pooling = _json(root / modules[1].get("path", "") / "config.json")
        modes = pooling.get("pooling_mode")  # sentence-transformers 6: "mean"; before: one flag per mode
        means = [modes] if isinstance(modes, str) else list(modes or [])
        means += [key for key, on in pooling.items() if key.startswith("pooling_mode_") and on is True]
        if means not in (["mean"], ["pooling_mode_mean_tokens"]):
            raise EmbedLabError(f"{root.name}: pools with {', '.join(means) or 'nothing'}, not a plain mean.")
        if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
            raise EmbedLabError(f"{root.name}: a {config.get('model_type')!r} model, not BERT with GELU.")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise EmbedLabError(f"{root.name}: {config['position_embedding_type']} positions, not absolute.")
        if not (root / "model.safetensors").is_file() or not (root / "tokenizer.json").is_file():
            raise EmbedLabError(f"{root.name}: no model.safetensors or tokenizer.json.")
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        weights = {key.removeprefix("bert."): value for key, value in load_file(root / "model.safetensors").items()}
        for key in [key for key in weights if key.endswith(".weight") and weights[key].ndim == 2]:
            if "embeddings" not in key:
                weights[key] = np.ascontiguousarray(weights[key].T)  # (in, out): x @ W
        last = f"encoder.layer.{int(config.get('num_hidden_layers', 0)) - 1}.output.LayerNorm.bias"
        if "embeddings.word_embeddings.weight" not in weights or last not in weights:
            raise EmbedLabError(f"{root.name}: model.safetensors does not hold the BERT encoder its config describes.")
        limits = [int(config.get("max_position_embeddings", 512))]
        for name, key in LENGTH_FILES:
            value = _json(root / name).get(key) if (root / name).is_file() else None
            if isinstance(value, int) and value > 0:
                limits.append(value)
                break
        max_length = min(limits)
        tokenizer = Tokenizer.from_file(str(root / "tokenizer.json"))
        tokenizer.no_padding()
        tokenizer.no_truncation()
        return cls(weights, tokenizer, config, NORMALIZE in kinds, max_length)

    def _forward(self, ids: npt.NDArray[np.int64], mask: npt.NDArray[np.bool_]) -> list[npt.NDArray[np.float32]]:
        """Every hidden state of a padded batch: [embeddings, layer 1, ..., layer L], each (batch, tokens, hidden).
        A padded position is never attended to, so a real token's states are those of its text run alone."""
        w, eps = self.weights, self.eps
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][: ids.shape[1]]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], eps)
        states = [x]
        batch, tokens, hidden = x.shape
        size = hidden // self.heads
        padded = np.where(mask, 0.0, np.finfo(np.float32).min).astype(np.float32)[:, None, None, :]
        for index in range(self.layers):
            p = f"encoder.layer.{index}."

            def linear(name: str, value: npt.NDArray[np.float32], p: str = p) -> npt.NDArray[np.float32]:
                flat = value.reshape(-1, value.shape[-1]) @ w[f"{p}{name}.weight"]  # one matrix product
                return (flat + w[f"{p}{name}.bias"]).reshape(*value.shape[:-1], -1)

            def heads(value: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
                return value.reshape(batch, tokens, self.heads, size).transpose(0, 2, 1, 3)  # (b, heads, t, size)

            q, k, v = (heads(linear(f"attention.self.{name}", x)) for name in ("query", "key", "value"))
            attention = _softmax(q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(size)) + padded)
            context = (attention @ v).transpose(0, 2, 1, 3).reshape(batch, tokens, hidden)
            x = _layer_norm(
                linear("attention.output.dense", context) + x,
                w[f"{p}attention.output.LayerNorm.weight"],
                w[f"{p}attention.output.LayerNorm.bias"],
                eps,
            )
            x = _layer_norm(
                linear("output.dense", _gelu(linear("intermediate.dense", x))) + x,
                w[f"{p}output.LayerNorm.weight"],
                w[f"{p}output.LayerNorm.bias"],
                eps,
            )
            states.append(x)
        return states

    @staticmethod
    def _batches(lengths: Sequence[int]) -> list[list[int]]:
        """Rows by length, cut into batches of at most ``BATCH`` texts and ``BATCH_TOKENS`` padded tokens."""
        batches: list[list[int]] = []
        for row in sorted(range(len(lengths)), key=lambda row: lengths[row]):
            if batches and len(batches[-1]) < BATCH and (len(batches[-1]) + 1) * lengths[row] <= BATCH_TOKENS:
                batches[-1].append(row)
            else:
                batches.append([row])
        return batches

    def run(self, texts: Sequence[str], progress: Progress | None = None) -> list[TextStates]:
        """Each text's ``TextStates``, as ``Encoder.states`` computes them with the library: every layer's cls,
        mean, max, weighted-mean and last-token vectors, the pooler's output, the pipeline's sentence vector and
        the token counts. Texts run in batches of similar length, so little of the work is padding."""
        encoded = self._read(texts)
        results: list[TextStates | None] = [None] * len(encoded)
        for rows in self._batches([len(ids) for ids, _ in encoded]):
            lengths = np.array([len(encoded[row][0]) for row in rows])
            ids = np.zeros((len(rows), lengths.max()), dtype=np.int64)
            mask = np.arange(lengths.max())[None, :] < lengths[:, None]  # (batch, seq): right padding
            for position, row in enumerate(rows):
                ids[position, : lengths[position]] = encoded[row][0]
            pooled = self._pool(self._forward(ids, mask), mask, lengths)
            for position, row in enumerate(rows):
                tokens, counts = encoded[row]
                results[row] = TextStates(
                    pooled={name: pooled[name][position] for name in LAYER_POOLERS},
                    model=pooled["model"][position],
                    n_tokens=counts.n_tokens,
                    truncated=counts.truncated,
                    n_content=counts.n_content,
                    n_unknown=counts.n_unknown,
                    pooler=pooled["pooler"][position] if "pooler" in pooled else None,
                    n_read=len(tokens),
                )
            if progress is not None:
                progress(sum(state is not None for state in results), len(results))
        return results  # type: ignore[return-value]

    def counts(self, texts: Sequence[str]) -> list[TokenCounts]:
        """Each text's token counts from the tokenizer alone (no forward pass), as ``Encoder.token_counts``."""
        return [counts for _, counts in self._read(texts)]

    def _read(self, texts: Sequence[str]) -> list[tuple[list[int], TokenCounts]]:
        """Per text: the token ids the model reads (cut as the library cuts: the text's start, then its closing
        token) and its ``TokenCounts`` ([UNK] counts as content, the other special tokens do not)."""
        read = []
        for encoding in self.tokenizer.encode_batch(list(texts)):
            ids, total = encoding.ids, len(encoding.ids)
            if total > self.max_length:
                ids = [*ids[: self.max_length - 1], ids[-1]]
            plain = [token for token in ids if token not in self.special_ids or token == self.unknown_id]
            counts = TokenCounts(len(plain), plain.count(self.unknown_id), total, total > self.max_length)
            read.append((ids, counts))
        return read

    def _pool(self, states: list[np.ndarray], mask: np.ndarray, lengths: np.ndarray) -> dict[str, np.ndarray]:
        """Per text of a batch: each pooling at every layer (batch, n_hidden_states, hidden), the pipeline's vector
        (batch, dim) and the pooler's output (batch, hidden), as ``embedding.pooling`` and the library define them."""
        stacked = np.stack(states, axis=1)  # (batch, n_hidden_states, seq, hidden)
        real = mask[:, None, :, None]
        rows = np.arange(len(lengths))
        positions = np.where(mask, np.arange(1, mask.shape[1] + 1, dtype=np.float32), 0).astype(np.float32)
        mean = (stacked * real).sum(axis=2) / lengths[:, None, None].astype(np.float32)
        pooled = {
            "cls": stacked[:, :, 0],
            "mean": mean,
            "max": np.where(real, stacked, -np.inf).max(axis=2),
            "weightedmean": (stacked * positions[:, None, :, None]).sum(axis=2) / positions.sum(axis=1)[:, None, None],
            "lasttoken": stacked[rows, :, lengths - 1],
        }
        model = mean[:, -1]
        if self.normalize:
            model = model / np.maximum(np.linalg.norm(model, axis=1, keepdims=True), 1e-12)
        pooled["model"] = model
        if "pooler.dense.weight" in self.weights:
            w = self.weights
            pooled["pooler"] = np.tanh(stacked[:, -1, 0] @ w["pooler.dense.weight"] + w["pooler.dense.bias"])
        return {name: np.ascontiguousarray(values, dtype=np.float32) for name, values in pooled.items()}


class NumpyLoaded:
    """The ``encoder.model`` of a ``NumpyEncoder``: its identity and facts (no torch modules)."""

    backbone = None
    tokenizer = None

    def __init__(self, bert: NumpyBert, model_id: ModelId, source: str) -> None:
        self.bert = bert
        self.model_id = model_id
        hidden = bert.weights["embeddings.word_embeddings.weight"].shape[1]
        self.facts = ModelFacts(
            ref=model_id.key,
            kind="sentence-transformer",
            source=f"{source}, run in numpy",
            n_layers=bert.layers,
            hidden_size=hidden,
            embedding_dim=hidden,
            max_seq_length=bert.max_length,
            n_parameters=int(
                sum(value.size for key, value in bert.weights.items() if key.endswith(("weight", "bias")))
            ),
            pipeline="Transformer -> mean pooling" + (" -> Normalize" if bert.normalize else ""),
        )

    @property
    def n_hidden_states(self) -> int:
        return self.facts.n_layers + 1


class NumpyEncoder(Encoder):
    """An ``Encoder`` whose forward pass is ``NumpyBert``: the same cache, poolings, layer mixes, post-processing
    and baselines, no torch. Sentence vectors only: the per-token views (``token_states``) need the library.

    Example:
        >>> encoder = NumpyEncoder.load(resolve_model("all-MiniLM-L6-v2"), packaged_model_path())  # doctest: +SKIP
    """

    writes_reference_states = False  # the reference file is the library's: read when there, never written

    def __init__(self, model: NumpyLoaded) -> None:
        super().__init__(model)  # type: ignore[arg-type]
        self.has_pooler = "pooler.dense.weight" in model.bert.weights

    @classmethod
    def load(cls, model_id: ModelId, folder: str | Path, source: str = "") -> NumpyEncoder:
        """The sentence-transformer in ``folder``, known as ``model_id``.

        Raises:
            EmbedLabError: ``NumpyBert.load`` does not run it (it says why).
        """
        return cls(NumpyLoaded(NumpyBert.load(folder), model_id, source or str(folder)))

    def _encode(
        self, texts: list[str], progress: Progress | None, kept: dict[str, TokenStates] | None = None
    ) -> list[TextStates]:
        states = self.model.bert.run(texts, progress)
        with self._lock:
            self.forward_passes += 1
            self.texts_encoded += len(texts)
        return states

    def token_counts(self, texts: Sequence[str]) -> list[TokenCounts]:
        return self.model.bert.counts(texts)

    def token_states(self, texts: Sequence[str]) -> list[TokenStates]:
        raise EmbedLabError("Per-token states need the library's model: this engine keeps sentence vectors only.")
