"""What [CLS] looks at: attention weights per layer, for the few sentences the Tokens & layers page shows.

``backbone(**inputs, output_attentions=True)`` returns ``attentions``, a tuple of L tensors of
(batch, heads, T, T): row i of a head's matrix is how token i spreads its attention over the T tokens (each row
sums to 1). Only the eager attention implementation returns them: the SDPA path that every page uses for speed
computes the same outputs without materialising the weights. So this module never touches the shared model: it
runs a private copy of the backbone switched to eager attention (``eager_backbone``), one sentence at a time
(no padding), and keeps the weights of at most ``MAX_ATTENTION_TEXTS`` sentences.

What it shows and what it does not: an attention weight says how much of a token's *value vector* enters the
mix, not how large that vector is. Clark et al. (2019, "What Does BERT Look At?") report that a large share of
the attention in middle layers lands on [SEP] and punctuation, and that such attention often acts as a no-op
(the [SEP] value vectors are small). A token that attends mostly to itself keeps its own vector; that is why
raw [CLS] vectors of early layers barely change from sentence to sentence.

Example:
    >>> model = load_model("all-MiniLM-L6-v2")
    >>> maps = attention_maps(eager_backbone(model), model, ["How old are you?"])[0]
    >>> maps.weights.shape        # (layers, heads, T, T)
    (6, 12, 7, 7)
    >>> maps.from_token(0).shape  # [CLS]'s head-averaged attention per layer: (layers, T)
    (6, 7)
"""

from __future__ import annotations

import copy
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from embedlab.embedding.forward import MODEL_INPUTS
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_ATTENTION_TEXTS
from embedlab.models.loading import LoadedModel
from embedlab.tasks.tokens import check_texts

SELF_ATTENTION_HIGH = 0.8  # a [CLS] that keeps this share on itself barely mixes in the other tokens
SHARE_KINDS: tuple[str, ...] = ("cls", "sep", "punctuation", "other")
SHARE_LABELS = {
    "cls": "[CLS] (the first token)",
    "sep": "[SEP]",
    "punctuation": "punctuation",
    "other": "words",
}


def eager_backbone(model: LoadedModel):
    """A private copy of ``model``'s backbone that returns attention weights (eager attention, eval mode).

    The shared model is never modified: its SDPA attention, and so every cached vector of the other pages, stay
    as they are. The copy costs the backbone's memory once more; callers cache it per model.
    """
    backbone = copy.deepcopy(model.backbone)
    backbone.set_attn_implementation("eager")
    backbone.eval()
    return backbone


def is_punctuation(token: str) -> bool:
    """True for a token made only of punctuation (``.``, ``?``, ``##,``, ``"``); word-piece markers are ignored."""
    text = token.removeprefix("##").removeprefix("Ġ").removeprefix("▁")
    return bool(text) and all(unicodedata.category(char).startswith("P") for char in text)


@dataclass(frozen=True, eq=False)
class AttentionMaps:
    """Every head's attention of one sentence, at every layer.

    Attributes:
        text: the sentence as given.
        tokens: T token strings (special tokens included).
        kinds: T labels, one of ``SHARE_KINDS``: "cls" for the first token when it is a special token, "sep" for
            the model's separator tokens, "punctuation", or "other".
        weights: (layers, heads, T, T) float32; ``weights[l, h, i]`` is token i's attention over the T tokens in
            layer l + 1 (layer 1 is the first transformer layer, as in hidden_states[1]).
    """

    text: str
    tokens: tuple[str, ...]
    kinds: tuple[str, ...]
    weights: npt.NDArray[np.float32]

    @property
    def n_layers(self) -> int:
        return int(self.weights.shape[0])

    @property
    def n_heads(self) -> int:
        return int(self.weights.shape[1])

    def from_token(self, position: int = 0) -> npt.NDArray[np.float32]:
        """(layers, T): the attention of the token at ``position`` over every token, averaged over heads."""
        self._check_position(position)
        return self.weights[:, :, position, :].mean(axis=1)

    def heads_from_token(self, position: int, layer: int) -> npt.NDArray[np.float32]:
        """(heads, T): each head's attention of the token at ``position`` in ``layer`` (1..L)."""
        self._check_position(position)
        if not 1 <= layer <= self.n_layers:
            raise EmbedLabError(f"Layer {layer} does not exist: attention has layers 1 to {self.n_layers}.")
        return self.weights[layer - 1, :, position, :]

    def shares(self, position: int = 0) -> dict[str, npt.NDArray[np.float64]]:
        """Per kind in ``SHARE_KINDS``, a (layers,) array: the share of the token's head-averaged attention that
        lands on tokens of that kind. The four shares of a layer sum to 1."""
        attention = self.from_token(position).astype(np.float64)  # (layers, T)
        kinds = np.array(self.kinds)
        return {kind: attention[:, kinds == kind].sum(axis=1) for kind in SHARE_KINDS}

    def _check_position(self, position: int) -> None:
        if not 0 <= position < len(self.tokens):
            last = len(self.tokens) - 1
            raise EmbedLabError(f"Token {position} does not exist: the sentence has tokens 0 to {last}.")


def _kinds(tokenizer, ids: list[int], tokens: Sequence[str]) -> tuple[str, ...]:
    special = set(tokenizer.all_special_ids)
    separators = {token_id for token_id in (tokenizer.sep_token_id, tokenizer.eos_token_id) if token_id is not None}
    kinds = []
    for position, (token_id, token) in enumerate(zip(ids, tokens, strict=True)):
        if position == 0 and token_id in special:
            kinds.append("cls")
        elif token_id in separators:
            kinds.append("sep")
        elif token_id not in special and is_punctuation(token):
            kinds.append("punctuation")
        else:
            kinds.append("other")
    return tuple(kinds)


@torch.inference_mode()
def attention_maps(backbone, model: LoadedModel, texts: Sequence[str]) -> list[AttentionMaps]:
    """Run each text alone through ``backbone`` (from ``eager_backbone(model)``) and keep its attention weights.

    Tokenization is the model's own (``SentenceTransformer.preprocess``: its max_seq_length), so the tokens are
    those of the hidden states on the rest of the page.

    Raises:
        EmbedLabError: no text, an empty one, more than ``MAX_ATTENTION_TEXTS``, or a backbone that returns no
            attention weights.
    """
    texts = check_texts(texts, MAX_ATTENTION_TEXTS, "the attention view", "every head of every layer")
    tokenizer = model.tokenizer
    maps = []
    for text in texts:
        features = model.st_model.preprocess([text])
        inputs = {name: features[name] for name in MODEL_INPUTS if name in features}
        output = backbone(**inputs, output_attentions=True, return_dict=True)
        if not output.attentions or output.attentions[0] is None:
            raise EmbedLabError(
                f"{model.facts.ref} returned no attention weights: its architecture has no eager attention."
            )
        weights = torch.stack(output.attentions)[:, 0].float().numpy().copy()  # (layers, heads, T, T)
        ids = inputs["input_ids"][0].tolist()
        tokens = tuple(tokenizer.convert_ids_to_tokens(ids))
        maps.append(AttentionMaps(text, tokens, _kinds(tokenizer, ids, tokens), weights))
    return maps


def attention_summary(maps: AttentionMaps, position: int = 0) -> dict:
    """A JSON-ready summary: the tokens, and per layer the head-averaged attention from the token at
    ``position`` to every token, plus the shares on [CLS], [SEP], punctuation and words."""
    attention = maps.from_token(position)
    shares = maps.shares(position)
    return {
        "text": maps.text,
        "tokens": list(maps.tokens),
        "from_token": position,
        "layers": [
            {
                "layer": layer + 1,
                "attention": [float(value) for value in attention[layer]],
                **{f"share_{kind}": float(shares[kind][layer]) for kind in SHARE_KINDS},
            }
            for layer in range(maps.n_layers)
        ],
    }


def _layer_runs(layers: Sequence[int]) -> str:
    """[2, 3, 4, 6] -> "layers 2-4 and 6"; [5] -> "layer 5"."""
    runs: list[list[int]] = []
    for layer in layers:
        if runs and layer == runs[-1][-1] + 1:
            runs[-1].append(layer)
        else:
            runs.append([layer])
    parts = [f"{run[0]}-{run[-1]}" if len(run) > 1 else f"{run[0]}" for run in runs]
    joined = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return ("layers " if len(layers) > 1 else "layer ") + joined


def attention_lesson_text(raw: AttentionMaps, raw_model: str, trained: AttentionMaps | None, trained_model: str) -> str:
    """The Lesson's reading of [CLS]'s attention, phrased from the numbers (claims only where they hold).

    Args:
        raw, trained: the maps of the same sentence under the raw and the trained model (trained None when the
            two models are the same).
    """
    shares = raw.shares(0)
    on_self = shares["cls"]
    mostly_self = [layer + 1 for layer, share in enumerate(on_self) if share >= SELF_ATTENTION_HIGH]
    on_sep_punct = shares["sep"] + shares["punctuation"]
    text = f"In {raw_model}, averaged over its {raw.n_heads} heads, [CLS] of “{raw.text}” "
    if mostly_self:
        text += (
            f"keeps {on_self[np.array(mostly_self) - 1].min():.0%} or more of its attention on itself in "
            f"{_layer_runs(mostly_self)}, and {on_self[-1]:.0%} in the last layer ({raw.n_layers}). A token that "
            "attends to itself keeps its own vector: in those layers raw [CLS] changes little from sentence to "
            "sentence, which is why its cosines there are close to 1 for every pair."
        )
    else:
        text += f"never keeps more than {on_self.max():.0%} of its attention on itself (last layer: {on_self[-1]:.0%})."
    busiest = int(on_sep_punct.argmax())
    text += (
        f" [SEP] and punctuation get up to {on_sep_punct[busiest]:.0%} (layer {busiest + 1}), the words "
        f"{shares['other'].max():.0%} at most."
    )
    if trained is not None:
        trained_self = trained.shares(0)["cls"]
        text += (
            f" In {trained_model}, [CLS] keeps {trained_self[-1]:.0%} on itself in the last layer and gives the words "
            f"up to {trained.shares(0)['other'].max():.0%}."
        )
    return text + (
        " Attention is not the whole story: it weights value vectors whose sizes differ, and much attention on [SEP] "
        "can be a no-op (Clark et al. 2019, “What Does BERT Look At?”)."
    )
