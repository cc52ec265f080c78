"""Why this score: a pair's score taken apart into token x token contributions.

Mean pooling (raw, at any layer or layer mix; weighted mean; a trained model whose pipeline is mean pooling, with or
without Normalize; any affine post-processing after it) allows an exact answer. With token vectors t_1..t_n of
sentence A, s_1..s_m of B, pooling weights w (summing to 1) and u, and the sentence vectors a = sum_i w_i t_i,
b = sum_j u_j s_j:

    cos(a, b) = sum_i sum_j  w_i u_j (t_i . s_j) / (|a| |b|)

so every token pair gets one contribution and they add up to the score with nothing left over. The token states
are the ones the forward pass that scored the pair produced (``Encoder.token_states``): no extra model pass.
Special tokens ([CLS], [SEP]) are in the sum exactly when the pooling averages them in (the attention mask).

Every other pooling (CLS, max, the pooler, a pipeline with a Dense layer) has no exact sum; there, integrated
gradients as adapted to Siamese encoders (Moeller, Nikishina and Pado, EMNLP 2023: integrated Jacobians) give the
matrix, through captum's ``IntegratedGradients``. With f the unit sentence vector of a sentence's input embeddings
and r a reference input (every word replaced by [PAD], the special tokens kept),

    f(a) . f(b) = (f(a) - f(r_a)) . (f(b) - f(r_b)) + reference terms,  and  f(a) - f(r_a) ~ sum_i J_i (a_i - r_i)

where J_i is token i's Jacobian integrated along the straight path: the matrix is (J_i (a_i - r_i)) . (J_j (b_j -
r_j)), its sum approaches the score minus the reference terms, and how far it is (the completeness error) is reported.
The shorter sentence's integrated token vectors come from Jacobian-vector products at captum's Gauss-Legendre
steps (tokens x steps), then captum's ``IntegratedGradients`` gives the pair matrix on the other sentence with one
target per token of the first (tokens x steps forward and backward passes).

A cross-encoder (``scorer.can("joint_tokens")``) reads the pair as one input ``[CLS] a [SEP] b [SEP]`` and scores
it in one pass (the head, then the activation the app shows): there is no sentence vector, so no product to take
apart. Integrated gradients (captum's ``IntegratedGradients`` on the input word embeddings, the reference being
the same input with every content token replaced by [PAD], the special tokens kept) gives each token of both
sentences an attribution, and they sum to the score minus the reference's score, up to the completeness error. A
token-pair matrix would need second-order attributions (how much token i's attribution moves with token j), a
Hessian path integral of tokens x tokens x steps passes that no maintained library offers: the explanation is per
token (``attributions``), and says so.

The split by shared direction: with mu the mean sentence vector of the reference sentences (the one centering
subtracts), a . b = (a - mu) . (b - mu) + [the rest], so the score splits into "these sentences" and "the shared
direction" (which centering removes), and the two add up to the score.

Example:
    >>> scorer = open_scorer("all-MiniLM-L6-v2")  # doctest: +SKIP
    >>> found = explain_pair(scorer, ("A man plays a guitar.", "A cat sleeps."))  # doctest: +SKIP
    >>> found.method, round(float(found.matrix.sum()), 5) == round(found.score, 5)  # doctest: +SKIP
    ('exact', True)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch

from embedlab.embedding.compression import compression_label
from embedlab.embedding.encoder import TokenStates, cosine_rows
from embedlab.embedding.pooling import LAYER_POOLERS
from embedlab.embedding.specs import LAST_LAYER_ONLY, parse_layers
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_IG_TOKENS

Method = Literal["exact", "integrated-gradients"]
EXACT_POOLINGS = ("mean", "weightedmean", "mean_sqrt_len_tokens")  # a weighted mean of token vectors
DEFAULT_STEPS = 24  # captum's Gauss-Legendre steps: completeness error <= 0.01 on the bundled pairs (tests)
TARGET_BATCH = 256  # examples per backward pass in integrated gradients
WHAT = "a token-by-token explanation of its score"
NO_PAIR_MATRIX = (
    "A cross-encoder reads both sentences in one pass, so its score is no sum over token pairs: each token gets one "
    "attribution (integrated gradients), and a token-pair matrix would need second-order attributions, which cost "
    "tokens x tokens x steps passes. No pair heatmap, per-token contributions instead."
)


@dataclass(frozen=True, eq=False)
class Explanation:
    """One pair's score taken apart.

    Attributes:
        tokens: (sentence 1's tokens, sentence 2's tokens), as the matrix's rows and columns.
        matrix: (n, m) float64; entry (i, j) is what token pair (i, j) adds to the score; None for a joint input
            (a cross-encoder), whose attributions are per token (``attributions``).
        score: the score the app shows for the pair (its cosine).
        method: "exact" (the matrix sums to the score) or "integrated-gradients".
        steps: integration steps (None for exact).
        reference: what the matrix does not cover: 0 for exact, the reference terms for integrated gradients.
        completeness_error: |matrix sum - (score - reference)|.
        passes: model passes the explanation needed beyond the score's own (sentence forward + backward passes).
        shared, specific: the score split into the shared direction and these sentences (None when not computed).
        truncated: per sentence, whether the model cut it (the explanation covers what it read).
        special: per sentence, (n,) bool marking its special tokens.
        attributions: for a joint input, (sentence 1's (n,), sentence 2's (m,)) per-token attributions; else None.
        stored_note: for vectors stored smaller (int8, binary, the first k dimensions), the sentence saying that the
            matrix takes apart the full float32 score, not the stored one (which is no sum over tokens); else None.
    """

    tokens: tuple[tuple[str, ...], tuple[str, ...]]
    matrix: npt.NDArray[np.float64] | None
    score: float
    method: Method
    steps: int | None
    reference: float
    completeness_error: float
    passes: int
    shared: float | None = None
    specific: float | None = None
    truncated: tuple[bool, bool] = (False, False)
    special: tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]] | None = None
    stored_note: str | None = None
    attributions: tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None = None

    @property
    def has_pairs(self) -> bool:
        """Whether there is a token-pair matrix (not for a joint input: per-token attributions only)."""
        return self.matrix is not None

    @property
    def token_totals(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """What each token adds: sentence 1's row sums (n,), sentence 2's column sums (m,)."""
        if self.matrix is None:
            return self.attributions
        return self.matrix.sum(axis=1), self.matrix.sum(axis=0)

    @property
    def total(self) -> float:
        """The sum of the contributions (the score for exact, the score minus the reference terms otherwise)."""
        if self.matrix is None:
            return float(self.attributions[0].sum() + self.attributions[1].sum())
        return float(self.matrix.sum())

    def top_tokens(self, k: int = 15) -> pd.DataFrame:
        """The k tokens (of either sentence) that add the most (by absolute value): sentence, token, contribution,
        share of the sum."""
        rows = [
            (position, f"{i} {self.tokens[position - 1][i]}", float(value))
            for position, totals in enumerate(self.token_totals, start=1)
            for i, value in enumerate(totals)
        ]
        rows = sorted(rows, key=lambda row: -abs(row[2]))[:k]
        total = self.total
        return pd.DataFrame(
            {
                "sentence": [row[0] for row in rows],
                "token": [row[1] for row in rows],
                "contribution": [row[2] for row in rows],
                "share": [row[2] / total if total else np.nan for row in rows],
            }
        )

    def top_pairs(self, k: int = 10) -> pd.DataFrame:
        """The k token pairs that add the most (by absolute value): token 1, token 2, contribution, share."""
        order = np.argsort(-np.abs(self.matrix), axis=None)[:k]
        rows, cols = np.unravel_index(order, self.matrix.shape)
        total = self.matrix.sum()
        return pd.DataFrame(
            {
                "token 1": [f"{i} {self.tokens[0][i]}" for i in rows],
                "token 2": [f"{j} {self.tokens[1][j]}" for j in cols],
                "contribution": self.matrix[rows, cols],
                "share": self.matrix[rows, cols] / total if total else np.nan,
            }
        )

    def as_json(self) -> dict:
        """The command line's ``explain`` field."""
        if self.matrix is None:
            pairs = {
                "attributions1": [round(float(x), 7) for x in self.attributions[0]],
                "attributions2": [round(float(x), 7) for x in self.attributions[1]],
                "matrix": None,
                "no_matrix": NO_PAIR_MATRIX,
            }
        else:
            pairs = {"matrix": [[round(float(x), 7) for x in row] for row in self.matrix]}
        return {
            "method": self.method,
            "tokens1": list(self.tokens[0]),
            "tokens2": list(self.tokens[1]),
            **pairs,
            "steps": self.steps,
            "reference": round(self.reference, 7),
            "completeness_error": float(f"{self.completeness_error:.3g}"),
            "passes": self.passes,
            **({} if self.shared is None else {"shared_direction": round(self.shared, 7)}),
            **({} if self.specific is None else {"these_sentences": round(self.specific, 7)}),
            "in_words": self.in_words(),
            **({} if self.stored_note is None else {"stored_note": self.stored_note}),
        }

    def in_words(self) -> str:
        """One sentence saying it: which pair adds the most, which token of each sentence, the special tokens."""
        if self.matrix is None:
            return self._tokens_in_words()
        total = float(self.matrix.sum())
        i, j = np.unravel_index(int(np.argmax(self.matrix)), self.matrix.shape)
        rows, cols = self.token_totals
        covered = "the score" if self.method == "exact" else "the part of the score the method covers"
        words = (
            f"'{self.tokens[0][i]}' with '{self.tokens[1][j]}' adds the most: {self.matrix[i, j]:.3f} of {covered} "
            f"({total:.3f}); in sentence 1 '{self.tokens[0][int(np.argmax(rows))]}' adds the most "
            f"({rows.max():.3f}) and '{self.tokens[0][int(np.argmin(rows))]}' the least ({rows.min():.3f})"
        )
        if self.special is not None and self.method == "exact" and (self.special[0].any() or self.special[1].any()):
            special = float(self.matrix[self.special[0]].sum() + self.matrix[:, self.special[1]].sum())
            special -= float(self.matrix[np.ix_(self.special[0], self.special[1])].sum())
            share = f" ({special / total:.0%})" if total else ""
            words += (
                f"; pairs with a special token ([CLS], [SEP]) add {special:.3f}{share}: mean pooling averages them in"
            )
        return words + "." + (f" {self.stored_note}" if self.stored_note else "")

    def _tokens_in_words(self) -> str:
        """``in_words`` for per-token attributions (a joint input)."""
        parts = []
        for position, (tokens, totals) in enumerate(zip(self.tokens, self.attributions, strict=True), start=1):
            if len(totals):
                most, least = int(np.argmax(totals)), int(np.argmin(totals))
                parts.append(
                    f"in sentence {position} '{tokens[most]}' adds the most ({totals[most]:.3f}) and "
                    f"'{tokens[least]}' the least ({totals[least]:.3f})"
                )
        return (
            f"Read together, {'; '.join(parts)}, of the part of the score the method covers ({self.total:.3f} of "
            f"{self.score:.3f})."
        )


def explain_pair(scorer, pair: tuple[str, str], steps: int = DEFAULT_STEPS) -> Explanation:
    """The score of ``pair`` under ``scorer`` taken apart (exact where the pooling allows it).

    Args:
        scorer: a scorer with tokens and sentence vectors (``scorer.can("tokens")``); its engine is an Encoder.
        steps: integration steps when integrated gradients is needed.

    Raises:
        EmbedLabError: the scorer has no tokens (an embeddings service), a sentence is empty, or integrated
            gradients would take a sentence longer than ``MAX_IG_TOKENS`` tokens.
    """
    require_explainable(scorer)
    for position, text in enumerate(pair, start=1):
        if not text.strip():
            raise EmbedLabError(f"Sentence {position} is empty: type a sentence to take its score apart.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise EmbedLabError(f"Integration steps must be a whole number >= 1 (got {steps!r}).")
    if scorer.can("joint_tokens"):
        return explain_joint(scorer, pair, steps)
    if scorer.spec.compressed:  # quantized codes or a truncation: take apart the float32 score they approximate
        full = explain_pair(scorer.as_spec(scorer.spec.full), pair, steps)
        stored = float(scorer.score([pair])[0])
        as_stored = compression_label(scorer.spec.precision, scorer.spec.dims)
        note = (
            f"This takes apart the float32 cosine {full.score:.4f}; the score of the vectors as stored "
            f"({as_stored}) is {stored:.4f}, which is no sum over tokens."
        )
        return replace(full, stored_note=note)
    encoder, spec = scorer.engine, scorer.spec
    encoder.vectors([], spec)  # a bad layer spec is refused before any work
    kept = encoder.token_states(list(pair))  # the score's own forward pass (or the one it will reuse)
    states = encoder.states(list(pair))
    score = float(scorer.score([pair])[0])
    truncated = (states[0].truncated, states[1].truncated)
    split = shared_split(encoder, spec, states) if spec.post == "none" and scorer.can("postprocess") else None
    shared, specific = split if split is not None else (None, None)
    weights = [exact_weights(encoder, spec, one) for one in kept]
    if weights[0] is not None and weights[1] is not None:
        vectors = [token_vectors(encoder, spec, one, w) for one, w in zip(kept, weights, strict=True)]
        matrix = exact_matrix(vectors[0], weights[0], vectors[1], weights[1])
        special = (kept[0].special, kept[1].special)
        tokens = (kept[0].tokens, kept[1].tokens)
        error = abs(float(matrix.sum()) - score)
        return Explanation(tokens, matrix, score, "exact", None, 0.0, error, 0, shared, specific, truncated, special)
    for position, one in enumerate(kept, start=1):
        if len(one.tokens) > MAX_IG_TOKENS:
            raise EmbedLabError(
                f"Sentence {position} has {len(one.tokens)} tokens: integrated gradients takes at most "
                f"{MAX_IG_TOKENS} per sentence (its cost grows with them). Shorten it, or choose mean pooling, "
                "which is taken apart exactly at any length."
            )
    found = integrated_jacobians(encoder, spec, kept, steps)
    matrix, reference, passes = found
    content = [~one.special for one in kept]  # the reference keeps the special tokens: they get nothing
    matrix = matrix[np.ix_(content[0], content[1])]
    tokens = tuple(
        tuple(t for t, keep in zip(one.tokens, mask, strict=True) if keep)
        for one, mask in zip(kept, content, strict=True)
    )
    error = abs(float(matrix.sum()) - (score - reference))
    no_special = (np.zeros(len(tokens[0]), bool), np.zeros(len(tokens[1]), bool))
    return Explanation(
        tokens,
        matrix,
        score,
        "integrated-gradients",
        steps,
        reference,
        error,
        passes,
        shared,
        specific,
        truncated,
        no_special,
    )


# ---------------------------------------------------------------- exact: mean pooling


def _pipeline_is_mean(encoder) -> tuple[bool, bool]:
    """Whether the model's own pipeline is mean pooling (then only Normalize), and whether it normalises."""
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling

    modules = list(encoder.model.st_model)[1:]
    if not modules or not isinstance(modules[0], Pooling) or modules[0].pooling_mode != "mean":
        return False, False
    rest = modules[1:]
    return all(isinstance(module, Normalize) for module in rest), bool(rest)


def exact_weights(encoder, spec, kept: TokenStates) -> npt.NDArray[np.float64] | None:
    """(n,) pooling weights summing to 1 when ``spec`` pools a weighted mean of token vectors, else None."""
    n = len(kept.tokens)
    if spec.pooling in ("mean", "mean_sqrt_len_tokens") or (spec.pooling == "model" and _pipeline_is_mean(encoder)[0]):
        return np.full(n, 1.0 / n)
    if spec.pooling == "weightedmean":  # sentence-transformers' weights: the i-th real token weighs i
        positions = np.arange(1, n + 1, dtype=np.float64)
        return positions / positions.sum()
    return None


def token_vectors(encoder, spec, kept: TokenStates, weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """(n, d') token vectors whose ``weights``-mean is the sentence vector ``Encoder.vectors`` gives (up to scale)."""
    hidden = kept.hidden.astype(np.float64)  # (n_hidden_states, n, hidden)
    if spec.pooling == "model":
        vectors = hidden[-1]
        if _pipeline_is_mean(encoder)[1]:  # Normalize: the sentence vector is the mean over its length
            vectors = vectors / max(np.linalg.norm(weights @ vectors), 1e-12)
    else:
        vectors = hidden[list(parse_layers(spec.layers, encoder.model.n_hidden_states))].mean(axis=0)
    if spec.post != "none":  # affine (x - mu) M: the mean of transformed tokens is the transformed mean
        vectors = encoder.post_transform(spec).linear(vectors)
    return vectors


def exact_matrix(
    first: npt.NDArray[np.float64],
    first_weights: npt.NDArray[np.float64],
    second: npt.NDArray[np.float64],
    second_weights: npt.NDArray[np.float64],
) -> npt.NDArray[np.float64]:
    """(n, m) contributions w_i u_j (t_i . s_j) / (|a| |b|), summing to cos(a, b).  first: (n, d), second: (m, d)."""
    a, b = first_weights @ first, second_weights @ second
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if norms == 0:
        return np.zeros((len(first), len(second)))
    return np.outer(first_weights, second_weights) * (first @ second.T) / norms


def shared_split(encoder, spec, states) -> tuple[float, float]:
    """(shared direction, these sentences): the score split by the reference sentences' mean vector mu (what
    centering subtracts). these = (a - mu) . (b - mu) / (|a| |b|); shared = the rest; they sum to cos(a, b)."""
    mu = encoder.post_transform(replace(spec, post="center", post_dims=None)).mean  # (d,)
    a, b = encoder.vectors(states, spec).astype(np.float64)
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if norms == 0:
        return 0.0, 0.0
    specific = float((a - mu) @ (b - mu) / norms)
    return float(cosine_rows(a[None], b[None])[0]) - specific, specific


# ---------------------------------------------------------------- integrated gradients (captum)


def _torch_post(transform, vectors: torch.Tensor) -> torch.Tensor:
    """``PostTransform.linear`` in torch (differentiable).  vectors: (batch, d) -> (batch, d')."""
    if transform.method == "none":
        return vectors
    centred = vectors - torch.as_tensor(transform.mean, dtype=vectors.dtype)
    if transform.method == "abtt":
        basis = torch.as_tensor(transform.basis, dtype=vectors.dtype)
        return centred - (centred @ basis) @ basis.T
    if transform.method == "whiten":
        return centred @ torch.as_tensor(transform.basis, dtype=vectors.dtype)
    return centred


def sentence_function(encoder, spec):
    """f(input embeddings (batch, n, d), input_ids (batch, n), attention_mask, token_type_ids) -> (batch, d') unit
    sentence vectors under ``spec``: the app's own vector, differentiable in the input embeddings."""
    model = encoder.model
    backbone = model.backbone
    modules = list(model.st_model)[1:]
    layers = None if spec.pooling in LAST_LAYER_ONLY else list(parse_layers(spec.layers, model.n_hidden_states))
    transform = encoder.post_transform(spec) if spec.post != "none" else None

    def mix(hidden_states, mask, pooling):
        return torch.stack([LAYER_POOLERS[pooling](hidden_states[layer], mask) for layer in layers]).mean(dim=0)

    def forward(embeds, input_ids, attention_mask, token_type_ids=None):
        inputs = {"inputs_embeds": embeds, "attention_mask": attention_mask}
        if token_type_ids is not None:
            inputs["token_type_ids"] = token_type_ids
        hidden_states = backbone(**inputs, output_hidden_states=True, return_dict=True).hidden_states
        if spec.pooling == "model":
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
            features |= {"token_embeddings": hidden_states[-1], "all_layer_embeddings": hidden_states}
            for module in modules:
                features = module(features)
            vectors = features["sentence_embedding"]
        elif spec.pooling == "pooler":
            vectors = backbone.pooler(hidden_states[-1])
        elif spec.pooling == "mean_max":
            vectors = torch.cat(
                [mix(hidden_states, attention_mask, "mean"), mix(hidden_states, attention_mask, "max")], -1
            )
        elif spec.pooling == "mean_sqrt_len_tokens":
            vectors = mix(hidden_states, attention_mask, "mean")
        else:
            vectors = mix(hidden_states, attention_mask, spec.pooling)
        if transform is not None:
            vectors = _torch_post(transform, vectors.double()).float()
        return torch.nn.functional.normalize(vectors, dim=-1)

    return forward


def _inputs(encoder, kept: TokenStates) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
    """(embeddings (1, n, d), reference (1, n, d): words replaced by [PAD], special tokens kept, model inputs)."""
    words = encoder.model.backbone.get_input_embeddings()
    ids = kept.features["input_ids"]  # (1, n)
    pad = encoder.model.tokenizer.pad_token_id or 0
    reference_ids = torch.where(torch.as_tensor(kept.special)[None], ids, torch.full_like(ids, pad))
    with torch.no_grad():
        embeds, reference = words(ids).detach(), words(reference_ids).detach()
    extra = (ids, kept.features["attention_mask"])
    if "token_type_ids" in kept.features:
        extra += (kept.features["token_type_ids"],)
    return embeds, reference, extra


def _expand(tensors: tuple[torch.Tensor, ...], copies: int) -> tuple[torch.Tensor, ...]:
    """``copies`` rows of each (1, n) tensor, as fresh tensors (the kept ones were made in inference mode)."""
    return tuple(tensor.expand(copies, *tensor.shape[1:]).clone() for tensor in tensors)


def integrated_jacobians(
    encoder, spec, kept: list[TokenStates], steps: int
) -> tuple[npt.NDArray[np.float64], float, int]:
    """(n, m) token-pair attributions (Moeller et al. 2023), the reference terms, and the passes made.

    The shorter sentence's token vectors v_j = J_j (b_j - r_j), integrated over captum's Gauss-Legendre steps
    (one batched Jacobian-vector product per step: m tangents, not one pass per output dimension), then captum's
    ``IntegratedGradients`` on the other sentence with one target per v_j: f(x) . v_j, whose attributions are
    the matrix. Attention runs on PyTorch's plain ("math") kernel meanwhile: the fused CPU kernel has no
    second derivative.
    """
    from captum.attr import IntegratedGradients
    from captum.attr._utils.approximation_methods import approximation_parameters
    from torch.autograd.functional import jvp
    from torch.nn.attention import SDPBackend, sdpa_kernel

    forward = sentence_function(encoder, spec)
    swap = len(kept[0].tokens) < len(kept[1].tokens)
    first, second = (kept[1], kept[0]) if swap else (kept[0], kept[1])  # second: the shorter one
    a, ra, a_extra = _inputs(encoder, first)
    b, rb, b_extra = _inputs(encoder, second)
    m = b.shape[1]
    step_sizes, alphas = approximation_parameters("gausslegendre")
    with sdpa_kernel([SDPBackend.MATH]), torch.enable_grad():
        with torch.no_grad():
            fa, fra = forward(a, *a_extra)[0], forward(ra, *a_extra)[0]
            fb, frb = forward(b, *b_extra)[0], forward(rb, *b_extra)[0]
        tangents = torch.zeros(m, *b.shape[1:])  # (m, m, d): tangent j moves token j from its reference to it
        tangents[torch.arange(m), torch.arange(m)] = (b - rb)[0]
        extra = _expand(b_extra, m)
        token_vectors_b = torch.zeros(m, fb.shape[0], dtype=torch.float64)  # (m, dims): v_j
        for weight, alpha in zip(step_sizes(steps), alphas(steps), strict=True):
            point = (rb + alpha * (b - rb)).expand(m, -1, -1).clone()
            # reverse-mode twice ("double backward"): several times faster here than forward-mode AD
            _, moved = jvp(lambda embeds: forward(embeds, *extra), point, tangents)
            token_vectors_b += weight * moved.detach().double()
        targets = token_vectors_b.float()

        def projected(embeds, *extra):  # (batch, m): f . v_j for every token vector of the shorter sentence
            return forward(embeds, *extra) @ targets.T

        pairs = IntegratedGradients(projected).attribute(
            a.expand(m, -1, -1).clone(),
            baselines=ra.expand(m, -1, -1).clone(),
            target=list(range(m)),
            additional_forward_args=_expand(a_extra, m),
            n_steps=steps,
            method="gausslegendre",
            internal_batch_size=max(TARGET_BATCH, m),
        )
    matrix = pairs.sum(dim=-1).T.detach().double().numpy()  # (n, m)
    reference = float(fra @ fb + fa @ frb - fra @ frb)
    passes = 2 * m * steps + 4
    return (matrix.T if swap else matrix), reference, passes


def cost_note(explanation: Explanation) -> str:
    """The cost in words, for the page and the command line."""
    if explanation.method == "exact":
        return "exact: no model pass beyond the one that scored the pair (a product of its token vectors)"
    if not explanation.has_pairs:
        return (
            f"integrated gradients: {explanation.passes:,} passes of the pair (forward + backward) at "
            f"{explanation.steps} steps; completeness error {explanation.completeness_error:.4f}"
        )
    return (
        f"integrated gradients: {explanation.passes:,} sentence passes (forward + backward) at {explanation.steps} "
        f"steps; completeness error {explanation.completeness_error:.4f}"
    )


def require_explainable(scorer, what: str = WHAT) -> None:
    """Refuse ``what`` for a scorer whose score cannot be taken apart: no tokens and sentence vectors (an
    embeddings service) and no joint input either.

    Raises:
        EmbedLabError: it cannot.
    """
    if scorer.can("joint_tokens"):
        return
    scorer.require("tokens", what)
    scorer.require("vectors", what)


def explains_exactly(scorer) -> bool:
    """Whether ``scorer``'s score has an exact token-pair sum (a weighted mean of token vectors), without a pass."""
    if scorer.can("joint_tokens"):
        return False
    return scorer.spec.pooling in EXACT_POOLINGS or (
        scorer.spec.pooling == "model" and _pipeline_is_mean(scorer.engine)[0]
    )


def estimated_passes(pair: tuple[str, str], scorer, steps: int) -> int:
    """Sentence passes integrated gradients would make for ``pair`` (tokenizing only, no model pass); for a joint
    input, passes of the pair."""
    if scorer.can("joint_tokens"):
        return joint_passes(steps)
    lengths = [len(ids) for ids in scorer.engine.model.tokenizer(list(pair), truncation=True)["input_ids"]]
    return 2 * min(lengths) * steps + 4


# ---------------------------------------------------------------- a joint input (a cross-encoder)


def joint_passes(steps: int) -> int:
    """Passes of the pair integrated gradients makes on a joint input: forward + backward at each step, and the
    forward passes of the input and of its reference."""
    return steps + 2


def explain_joint(scorer, pair: tuple[str, str], steps: int) -> Explanation:
    """Per-token attributions of a cross-encoder's score of ``pair`` (see the module docstring).

    Raises:
        EmbedLabError: a sentence is longer than ``MAX_IG_TOKENS`` tokens.
    """
    from captum.attr import IntegratedGradients

    joint = scorer.joint_input(pair)
    for position in (1, 2):
        length = int((joint.segment == position - 1).sum())
        if length > MAX_IG_TOKENS or joint.truncated[position - 1]:
            raise EmbedLabError(
                f"Sentence {position} has {'more than ' * joint.truncated[position - 1]}{length} tokens: integrated "
                f"gradients takes at most {MAX_IG_TOKENS} per sentence (its cost grows with them). Shorten it."
            )
    score = float(scorer.score([pair])[0])
    with torch.enable_grad():
        with torch.no_grad():
            reference = float(joint.forward(joint.reference, *joint.extra)[0])
        found = IntegratedGradients(joint.forward).attribute(
            joint.embeds,
            baselines=joint.reference,
            additional_forward_args=joint.extra,
            n_steps=steps,
            method="gausslegendre",
            internal_batch_size=TARGET_BATCH,
        )
    per_token = found.sum(dim=-1)[0].detach().double().numpy()  # (n,): special tokens get 0 (same as reference)
    parts = tuple(per_token[joint.segment == side] for side in (0, 1))
    tokens = tuple(tuple(t for t, s in zip(joint.tokens, joint.segment, strict=True) if s == side) for side in (0, 1))
    error = abs(float(per_token.sum()) - (score - reference))
    return Explanation(
        tokens,
        None,
        score,
        "integrated-gradients",
        steps,
        reference,
        error,
        joint_passes(steps),
        truncated=joint.truncated,
        special=(np.zeros(len(tokens[0]), bool), np.zeros(len(tokens[1]), bool)),
        attributions=parts,
    )
