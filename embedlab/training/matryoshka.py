"""Matryoshka training: sentence-transformers' ``MatryoshkaLoss`` around the loss a run chose, so that the first k
dimensions of an embedding work on their own (truncation trained for, not only applied afterwards).

A run asks for it with ``TrainingData.matryoshka`` (``train --matryoshka-dims``, the Train page's checkbox):

- None: the method's loss as it is;
- a tuple of widths: ``MatryoshkaLoss(model, <the method's loss>, widths(...))``, at the full width always (the
  library warns that leaving it out degrades the untruncated model), then the smaller widths given; the empty
  tuple (``AUTO``, "auto") takes up to three of ``LADDER`` below the full width (all-MiniLM-L6-v2: 384, 256, 128,
  64).

Each width adds the method's loss on the embeddings cut to their first k dimensions (one forward pass, summed
losses). A run reports the STS Spearman of the first k dimensions at each width, before and after
(``embedlab.training.run.Scores.by_dims``).

The losses it wraps (``WRAPS``) are those computed from sentence embeddings: cosine, CoSENT, MNRL, SimCSE and the
random-label pitfall. TSDAE decodes the sentence from the whole embedding, so it cannot; neither can a
cross-encoder (a score, no vectors) nor a distilled static model (no loss; its width is PCA's):
``embedlab.training.methods.matryoshka_problem`` says so.

Example:
    >>> parse_dims("256, 128,64")
    (256, 128, 64)
    >>> widths(384, parse_dims("auto"))
    (384, 256, 128, 64)
    >>> widths(384, (64, 256, 384))
    (384, 256, 64)
"""

from __future__ import annotations

from embedlab.errors import EmbedLabError
from embedlab.training import ranges
from embedlab.training.ranges import span, within

AUTO: tuple[int, ...] = ()  # the widths below the full one chosen from LADDER
AUTO_TEXT = "auto"
LADDER = (512, 256, 128, 64, 32, 16)  # the auto widths below the full one, at most AUTO_COUNT of them
AUTO_COUNT = 3
WRAPS = ("cosine", "cosent", "mnrl", "pitfall-random-labels", "simcse")  # losses over sentence embeddings
CANNOT_WRAP = {
    "tsdae": (
        "TSDAE decodes the sentence from its whole embedding (DenoisingAutoEncoderLoss): MatryoshkaLoss cannot "
        "train its first k dimensions alone."
    ),
}
INSTEAD = "Choose cosine, cosent, mnrl or simcse to train for truncation, or train without Matryoshka."


def parse_dims(text: str) -> tuple[int, ...] | None:
    """The widths typed by a user: "auto" (``AUTO``), or whole numbers separated by commas; None for "" (off).

    Raises:
        EmbedLabError: a value that is not a whole number in ``ranges.MATRYOSHKA_DIM``, or too many of them.
    """
    text = str(text).strip()
    if not text:
        return None
    if text.lower() == AUTO_TEXT:
        return AUTO
    dims = []
    for part in (part.strip() for part in text.split(",")):
        if not part.isdigit() or not within(int(part), ranges.MATRYOSHKA_DIM):
            raise EmbedLabError(
                f"Matryoshka widths: {part!r} is not a width. Give whole numbers from {span(ranges.MATRYOSHKA_DIM)} "
                "separated by commas (e.g. 256,128,64), or auto."
            )
        dims.append(int(part))
    if len(set(dims)) > ranges.MATRYOSHKA_WIDTHS[1]:
        raise EmbedLabError(
            f"Matryoshka widths: {len(set(dims))} given, at most {ranges.MATRYOSHKA_WIDTHS[1]} (each is measured "
            "before and after)."
        )
    return tuple(dims)


def dims_text(dims: tuple[int, ...] | None) -> str:
    """``dims`` as a user types them: "" (off), "auto", or "256,128,64"."""
    if dims is None:
        return ""
    return ",".join(str(k) for k in dims) if dims else AUTO_TEXT


def widths(width: int, dims: tuple[int, ...]) -> tuple[int, ...]:
    """The widths MatryoshkaLoss trains and a run reports, widest first: the full ``width``, then the ``dims``
    below it (``AUTO``: up to ``AUTO_COUNT`` of ``LADDER``). Widths above ``width`` are left out here:
    ``width_problem`` refuses them before a run."""
    width = int(width)
    below = [k for k in LADDER if k < width][:AUTO_COUNT] if dims == AUTO else sorted({k for k in dims if k < width})
    return (width, *sorted(below, reverse=True))


def method_problem(method: str, dims: tuple[int, ...] | None) -> str | None:
    """Why MatryoshkaLoss cannot wrap the loss of sentence-embedder ``method``, or None (nothing asked, or it can)."""
    if dims is None or method in WRAPS:
        return None
    reason = CANNOT_WRAP.get(method, f"{method} is not one of the losses MatryoshkaLoss wraps here.")
    return f"{reason} {INSTEAD}"


def width_problem(width: int | None, dims: tuple[int, ...] | None) -> str | None:
    """Why ``dims`` do not fit an embedding of ``width`` dimensions (the Dense layer's size, else the backbone's),
    or None (``width`` None: not known yet)."""
    if not dims or width is None:
        return None
    wider = sorted({k for k in dims if k > int(width)}, reverse=True)
    if wider:
        return (
            f"Matryoshka widths {', '.join(map(str, wider))} are wider than the embedding ({width} dimensions): give "
            f"widths up to {width}, or auto."
        )
    return None


def wrap(model, loss, dims: tuple[int, ...]):
    """``MatryoshkaLoss`` around ``loss`` at ``widths(model's width, dims)``.

    Raises:
        EmbedLabError: a width wider than the model's embedding (``width_problem``).
    """
    from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss

    width = int(model.get_embedding_dimension())
    if problem := width_problem(width, dims):
        raise EmbedLabError(problem)
    return MatryoshkaLoss(model, loss, list(widths(width, dims)))
