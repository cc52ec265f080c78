"""Shared views: one declarative schema per page, for links, view files and the Lesson's "Open in" buttons.

A *view* is a small JSON-serialisable dict naming a page and the state that page needs:

    {"page": "compare", "raw": {spec fields}, "trained": {spec fields}, "pairs": [[s1, s2], ...], "selected_pair": 1,
     "cross": "/models/my-cross"}
    {"page": "projection", "raw": ..., "trained": ..., "sentences": "bundled", "cross": ..., "rerank": "a query"}
    {"page": "negative_tests", "raw": ..., "trained": ..., "suite": "bundled"}
    {"page": "sts_eval", "data": "bundled", "models": [ref, ...]}
    {"page": "tokens", "raw": ..., "sentences": ["The bank is closed."]}
    {"page": "train"}
    {"page": "retrieval", "data": "slice", "models": [ref, ...], "bm25": true, "cross": ..., "top_k": 20, "query": "q3"}

Each page's fields are declared once, as a pydantic model below (``CompareView``, ...), with their limits taken from
the constants of this module (and the engine's own, such as ``MAX_TOKEN_SENTENCE_CHARS``). From that one
declaration:

- ``check_view(view, where)`` validates a view *field by field*: a bad or unknown field is left out with a note
  naming it, and the rest of the view stands (a link, a view file);
- ``validate_view(view)`` is the strict form (the Lesson's own views): the first bad field raises EmbedLabError;
- ``params_from_view(view)`` / ``view_from_params(page, params)`` write and read a URL's query parameters (text
  fields as they are, the others as JSON), leaving out long fields that would make the URL too long, with a note.

The app applies a checked view to its session in one place (``components.shared.apply_view.apply_view``); this
module never imports Streamlit.

Example:
    >>> view, notes = check_view({"page": "compare", "selected_pair": "x", "colour": 1}, "file")
    >>> view, [note.split(":")[0] for note in notes]
    ({'page': 'compare'}, ["Ignored the file's field `selected_pair`", "Ignored the file's field `colour`"])
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Mapping
from functools import cache
from typing import Annotated, Any, ClassVar, Literal, Union, get_args, get_origin
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from embedlab import served
from embedlab.data.pairtable import PAIR_COLUMNS
from embedlab.data.paths import served_data_gate
from embedlab.embedding.postprocess import check_post
from embedlab.embedding.specs import DEFAULT_LAYERS, LAST_LAYER_ONLY, EmbedSpec, check_pooling, parse_layers
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_QUERY_CHARS, MAX_RETRIEVAL_RERANK_K, MAX_ROWS, MAX_TOKEN_SENTENCE_CHARS
from embedlab.models.vectors import is_vectors_ref
from embedlab.tasks.projection import DEFAULT_MIN_DIST, DEFAULT_NEIGHBOURS, DEFAULT_SEED, Method, ProjectionSettings
from embedlab.tasks.sts import HUB_DATASETS, HUB_SPLITS

# ---------------------------------------------------------------- limits: the one source for every check

MAX_URL_CHARS = 2000  # a query string longer than this leaves its long fields out (with a note)
MAX_TEXT_CHARS = 100_000  # a projection's pasted text
MAX_SEARCH_CHARS = 200  # a projection's search box
MAX_PATH_CHARS = 1000  # an STS file's path
MAX_MODEL_CHARS = 300  # a model name or path
MAX_MODELS = 20  # models on the STS page
MAX_NEIGHBOURS = 20  # the projection's "Neighbours" (k)
NEIGHBOURS_RANGE = (2, 100)  # UMAP's n_neighbors
MAX_MIN_DIST = 0.99  # UMAP's min_dist
MAX_SEED = 2**31 - 1
LAYER_CHECK_STATES = 10_000  # a layer spec is checked for its syntax alone; its range once the model is known
MAX_JSON_BYTES = 20 * 1024 * 1024  # JSON a browser sent (a link's parameter, a view file), before it is decoded
MAX_JSON_DEPTH = 32  # nesting of that JSON (a view needs 3): deeper is refused before decoding, as Python's
# decoder recurses and a link of 1,200 "[" would end in a RecursionError

STREAMLIT_PARAMS = ("embed", "embed_options")  # Streamlit's own query parameters: not part of any view
Where = Literal["link", "file", "view"]
WORDS = {"link": ("link's", "parameter"), "file": ("file's", "field"), "view": ("view's", "field")}

# ---------------------------------------------------------------- configurations


def _layer_syntax(layers: str) -> str:
    """A layer spec parse_layers understands ("-1", "first-last", "2:4", "1,4,-1"); ranges wait for the model."""
    try:
        parse_layers(layers, LAYER_CHECK_STATES)
    except EmbedLabError as error:
        raise ValueError(str(error)) from None
    return layers


def _engine_check(check):
    """An engine check (which raises EmbedLabError naming the valid choices) as a pydantic validator."""

    def validate(value: str) -> str:
        try:
            check(value)
        except EmbedLabError as error:
            raise ValueError(str(error)) from None
        return value

    return AfterValidator(validate)


class SpecFields(BaseModel):
    """The plain fields of an ``EmbedSpec`` (no fitting corpus: a view always fits on the bundled sentences)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, protected_namespaces=())

    model: Annotated[str, Field(min_length=1, max_length=MAX_MODEL_CHARS, pattern=r"\S")]
    pooling: Annotated[str, _engine_check(check_pooling)] = "model"  # a Pooling; the engine names the choices
    layers: Annotated[str, Field(max_length=100), AfterValidator(_layer_syntax)] = DEFAULT_LAYERS
    post: Annotated[str, _engine_check(check_post)] = "none"  # a Post
    post_dims: Annotated[StrictInt, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _a_valid_spec(self) -> SpecFields:
        self.spec()  # the combinations EmbedSpec refuses
        return self

    def spec(self) -> EmbedSpec:
        try:
            return EmbedSpec(self.model, self.pooling, self.layers, self.post, self.post_dims)
        except EmbedLabError as error:
            raise ValueError(str(error)) from None


def _trained_pipeline(fields: SpecFields) -> SpecFields:
    if fields.pooling != "model":
        raise ValueError("the trained configuration always uses the model's own pipeline (pooling 'model')")
    return fields


def _raw_model(fields: SpecFields) -> SpecFields:
    if is_vectors_ref(fields.model):
        raise ValueError(f"{fields.model} gives sentence vectors only: it can be the trained model, not the raw one")
    return fields


def _cross_model(ref: str) -> str:
    if is_vectors_ref(ref):
        raise ValueError(f"{ref} gives sentence vectors only: a cross-encoder is a folder holding one")
    return ref


RawSpec = Annotated[SpecFields, AfterValidator(_raw_model)]
TrainedSpec = Annotated[SpecFields, AfterValidator(_trained_pipeline)]
# the optional cross-encoder: a model reference like the others (the served-mode gate applies when it is loaded)
CrossModel = Annotated[
    StrictStr, Field(min_length=1, max_length=MAX_MODEL_CHARS, pattern=r"\S"), AfterValidator(_cross_model)
]


def spec_from_fields(values: object) -> EmbedSpec:
    """The configuration back from ``spec_fields``' dict.

    Raises:
        EmbedLabError: not a dict, unknown fields, or values EmbedSpec refuses (unknown pooling, post, dims, layers).
    """
    try:
        return SpecFields.model_validate(values).spec()
    except ValidationError as error:
        raise EmbedLabError(f"Not a valid configuration: {_reason(error)}.") from None


def check_layers_for(spec: EmbedSpec, n_hidden_states: int) -> None:
    """Raise EmbedLabError when ``spec`` names a layer a model with ``n_hidden_states`` does not have."""
    if spec.pooling not in LAST_LAYER_ONLY:
        parse_layers(spec.layers, n_hidden_states)


# ---------------------------------------------------------------- field types


def _served_path(path: str) -> str:
    """In served mode a view's path must name one of the server's own data files (``served_data_gate``)."""
    try:
        served_data_gate(path)
    except EmbedLabError as error:
        raise ValueError(str(error)) from None
    return path


def _served_rows(rows: list) -> list:
    """In served mode a view's table holds at most ``limits.MAX_ROWS`` rows, said the way served mode says it."""
    try:
        served.check_rows(len(rows), "the table")
    except EmbedLabError as error:
        raise ValueError(str(error)) from None
    return rows


Text = Annotated[StrictStr, Field(max_length=MAX_TEXT_CHARS)]
Row = Annotated[StrictInt, Field(ge=1, le=MAX_ROWS)]
Pair = tuple[StrictStr, StrictStr]
Label = Annotated[StrictInt, Field(ge=0, le=1)]
LabelledRow = tuple[StrictStr, StrictStr, Label | None] | tuple[StrictStr, StrictStr, Label | None, StrictStr]
Threshold = Annotated[float, Field(ge=-1.0, le=1.0, strict=False)] | None


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    raw: Threshold = None
    trained: Threshold = None

    @model_validator(mode="before")
    @classmethod
    def _numbers_only(cls, values: object) -> object:
        if isinstance(values, dict) and any(isinstance(value, bool | str) for value in values.values()):
            raise ValueError("thresholds are numbers from -1 to 1 (or empty)")
        return values


class SettingsFields(BaseModel):
    """A projection's settings (``ProjectionSettings``) as plain fields."""

    model_config = ConfigDict(extra="forbid", strict=True)

    method: Method = "umap"
    dims: Annotated[int, Field(ge=2, le=3)] = 2
    n_neighbors: Annotated[int, Field(ge=NEIGHBOURS_RANGE[0], le=NEIGHBOURS_RANGE[1])] = DEFAULT_NEIGHBOURS
    min_dist: Annotated[float, Field(ge=0.0, le=MAX_MIN_DIST, strict=False)] = DEFAULT_MIN_DIST
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] | None = DEFAULT_SEED

    def settings(self) -> ProjectionSettings:
        return ProjectionSettings(self.method, self.dims, self.n_neighbors, float(self.min_dist), self.seed)


def settings_fields(settings: ProjectionSettings) -> dict:
    return {
        "method": settings.method,
        "dims": settings.dims,
        "n_neighbors": settings.n_neighbors,
        "min_dist": settings.min_dist,
        "seed": settings.random_state,
    }


def pairs_table(pairs: list) -> pd.DataFrame:
    """A Compare table (sentence1, sentence2) from a view's pairs."""
    return pd.DataFrame([list(pair) for pair in pairs], columns=list(PAIR_COLUMNS))


def labelled_table(rows: list) -> pd.DataFrame:
    """A negative-test table (sentence1, sentence2, label as Int64, category) from a view's table."""
    frame = pd.DataFrame(
        [[row[0], row[1], row[2], row[3] if len(row) == 4 else ""] for row in rows],
        columns=["sentence1", "sentence2", "label", "category"],
    )
    frame["label"] = frame["label"].astype("Int64")
    return frame


# ---------------------------------------------------------------- one schema per page


class PageView(BaseModel):
    """Fields every page view shares; ``PARAMS`` renames a field in a URL, ``LONG`` lists the fields a URL may
    leave out when it would be too long (longest first). A text field travels in a URL as it is, the others as
    JSON."""

    model_config = ConfigDict(extra="forbid", strict=True)
    PARAMS: ClassVar[dict[str, str]] = {}
    LONG: ClassVar[tuple[str, ...]] = ()

    def cross_check(self, view: dict) -> dict[str, str]:
        """Checks between fields: {field to leave out: why}."""
        return {}


class CompareView(PageView):
    page: Literal["compare"]
    raw: RawSpec | None = None
    trained: TrainedSpec | None = None
    pairs: Annotated[list[Pair], Field(max_length=MAX_ROWS), AfterValidator(_served_rows)] | None = None
    selected_pair: Row | None = None
    cross: CrossModel | None = None
    PARAMS: ClassVar[dict[str, str]] = {"selected_pair": "pair"}
    LONG: ClassVar[tuple[str, ...]] = ("pairs",)

    def cross_check(self, view: dict) -> dict[str, str]:
        selected, pairs = view.get("selected_pair"), view.get("pairs")
        if selected is not None and pairs is not None and selected > max(1, len(pairs)):
            return {"selected_pair": f"row {selected} does not exist (there are {len(pairs)})"}
        return {}


class ProjectionView(PageView):
    page: Literal["projection"]
    raw: RawSpec | None = None
    trained: TrainedSpec | None = None
    sentences: Literal["bundled", "pairs", "text"] | None = None
    text: Text | None = None
    settings: SettingsFields | None = None
    search: Annotated[StrictStr, Field(max_length=MAX_SEARCH_CHARS)] | None = None
    picked: Annotated[StrictInt, Field(ge=0, le=MAX_ROWS)] | None = None
    k: Annotated[StrictInt, Field(ge=1, le=MAX_NEIGHBOURS)] | None = None
    cross: CrossModel | None = None
    rerank: Annotated[StrictStr, Field(max_length=MAX_QUERY_CHARS)] | None = None
    PARAMS: ClassVar[dict[str, str]] = {"sentences": "source"}
    LONG: ClassVar[tuple[str, ...]] = ("text",)


class NegativeTestsView(PageView):
    page: Literal["negative_tests"]
    raw: RawSpec | None = None
    trained: TrainedSpec | None = None
    suite: Literal["bundled"] | None = None
    table: (
        Annotated[list[LabelledRow], Field(min_length=1, max_length=MAX_ROWS), AfterValidator(_served_rows)] | None
    ) = None
    thresholds: Thresholds | None = None
    LONG: ClassVar[tuple[str, ...]] = ("table",)


class StsView(PageView):
    page: Literal["sts_eval"]
    models: (
        Annotated[
            list[Annotated[StrictStr, Field(min_length=1, max_length=MAX_MODEL_CHARS, pattern=r"\S")]],
            Field(min_length=1, max_length=MAX_MODELS),
        ]
        | None
    ) = None
    data: Literal["bundled", "path", "hub"] | None = None
    path: Annotated[StrictStr, Field(max_length=MAX_PATH_CHARS, pattern=r"\S"), AfterValidator(_served_path)] | None = (
        None
    )
    hub: tuple[Literal[HUB_DATASETS], Literal[HUB_SPLITS]] | None = None  # type: ignore[valid-type]

    def cross_check(self, view: dict) -> dict[str, str]:
        if view.get("data") == "path" and "path" not in view:
            return {"data": "data 'path' needs the file's path"}
        return {}


class TokensView(PageView):
    page: Literal["tokens"]
    raw: RawSpec | None = None
    sentences: (
        Annotated[
            list[Annotated[StrictStr, Field(min_length=1, max_length=MAX_TOKEN_SENTENCE_CHARS, pattern=r"\S")]],
            Field(min_length=1, max_length=2),
        ]
        | None
    ) = None
    LONG: ClassVar[tuple[str, ...]] = ("sentences",)


class LessonView(PageView):
    page: Literal["lesson"]
    raw: RawSpec | None = None
    trained: TrainedSpec | None = None


class RetrievalView(PageView):
    page: Literal["retrieval"]
    data: Literal["bundled", "slice"] | None = None
    models: (
        Annotated[
            list[Annotated[StrictStr, Field(min_length=1, max_length=MAX_MODEL_CHARS, pattern=r"\S")]],
            Field(max_length=MAX_MODELS),
        ]
        | None
    ) = None
    bm25: StrictBool | None = None
    cross: CrossModel | None = None
    top_k: Annotated[StrictInt, Field(ge=1, le=MAX_RETRIEVAL_RERANK_K)] | None = None
    system: Annotated[StrictStr, Field(max_length=MAX_SEARCH_CHARS)] | None = None
    query: Annotated[StrictStr, Field(max_length=MAX_SEARCH_CHARS)] | None = None
    PARAMS: ClassVar[dict[str, str]] = {"top_k": "k"}


class TrainView(PageView):
    page: Literal["train"]


SCHEMAS: dict[str, type[PageView]] = {
    schema.model_fields["page"].annotation.__args__[0]: schema  # type: ignore[union-attr]
    for schema in (
        CompareView,
        ProjectionView,
        NegativeTestsView,
        StsView,
        TokensView,
        LessonView,
        TrainView,
        RetrievalView,
    )
}
PAGES: tuple[str, ...] = tuple(SCHEMAS)


# ---------------------------------------------------------------- validating field by field


def _fields(page: str) -> list[str]:
    return [name for name in SCHEMAS[page].model_fields if name != "page"]


@cache
def _adapter(page: str, field: str) -> TypeAdapter:
    info = SCHEMAS[page].model_fields[field]
    return TypeAdapter(Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation)


def _reason(error: ValidationError) -> str:
    """The first problem in words, with where it is inside the value ("at 0.1"); never the value itself."""
    first = error.errors(include_url=False, include_input=False)[0]
    message = str(first["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    parts = [part for part in first["loc"] if not _is_type_name(part)]
    where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts)
    return f"{message} (at {where.lstrip('.')})" if where else message


def _is_type_name(part: object) -> bool:
    """pydantic names union members in an error's location ("tuple[str, str]"): not a place in the value."""
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


def check_field(page: str, field: str, value: object) -> object:
    """``value`` checked as the page's ``field`` (returned as given: plain JSON values).

    Raises:
        EmbedLabError: the page has no such field, or the value does not fit it (the message names the limit).
    """
    if page not in SCHEMAS:
        raise EmbedLabError(f"Unknown page {page!r}: one of {', '.join(PAGES)}.")
    if field not in _fields(page):
        raise EmbedLabError(f"the {page} page does not use it")
    try:
        _adapter(page, field).validate_python(value)
    except ValidationError as error:
        raise EmbedLabError(_reason(error)) from None
    return value


def check_view(view: object, where: Where = "file") -> tuple[dict, list[str]]:
    """A view checked field by field: the good fields, and one note per field left out (naming it).

    Raises:
        EmbedLabError: not a dict naming a page of this app (nothing of it can be used).
    """
    if not isinstance(view, Mapping):
        raise EmbedLabError(f"This {where} names no page of this app: a view is a dict with at least a page.")
    if view.get("page") not in SCHEMAS:
        pages = ", ".join(PAGES)
        raise EmbedLabError(f"Unknown page {view.get('page')!r:.60}: this {where} names no page of this app ({pages}).")
    page = view["page"]
    whose, kind = WORDS[where]
    checked: dict = {"page": page}
    notes = []
    for field, value in view.items():
        if field == "page":
            continue
        name = SCHEMAS[page].PARAMS.get(field, field) if where == "link" else field
        try:
            checked[field] = check_field(page, str(field), value)
        except EmbedLabError as error:
            notes.append(f"Ignored the {whose} {kind} `{name}`: {error}")
    schema = SCHEMAS[page].model_construct()
    for field, why in schema.cross_check(checked).items():
        del checked[field]
        name = SCHEMAS[page].PARAMS.get(field, field) if where == "link" else field
        notes.append(f"Ignored the {whose} {kind} `{name}`: {why}.")
    return checked, notes


def validate_view(view: object) -> dict:
    """A view every field of which is good (the Lesson's own views); the view itself is returned.

    Raises:
        EmbedLabError: the first bad field, named.
    """
    checked, notes = check_view(view, "view")
    if notes:
        raise EmbedLabError(notes[0])
    return checked


# ---------------------------------------------------------------- query parameters


def _unwrap(annotation: object) -> list[object]:
    """The plain types a field annotation allows (Annotated and Optional unwrapped)."""
    if get_origin(annotation) is Annotated:
        return _unwrap(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return [kind for arg in get_args(annotation) for kind in _unwrap(arg)]
    return [annotation]


def _is_text(page: str, field: str) -> bool:
    """A field whose values are text travels in a URL as it is; the others as JSON."""
    kinds = [kind for kind in _unwrap(SCHEMAS[page].model_fields[field].annotation) if kind is not type(None)]
    return all(
        kind is str or (get_origin(kind) is Literal and all(isinstance(a, str) for a in get_args(kind)))
        for kind in kinds
    )


def _dump(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def params_from_view(view: dict) -> tuple[dict[str, str], list[str]]:
    """Query parameters for a checked view (the page itself is the URL's path), and notes on what was left out
    because the URL would be longer than ``MAX_URL_CHARS``."""
    schema = SCHEMAS[view["page"]]
    params: dict[str, str] = {}
    for field in _fields(view["page"]):
        value = view.get(field)
        if value is not None:
            text = isinstance(value, str) and _is_text(view["page"], field)
            params[schema.PARAMS.get(field, field)] = value if text else _dump(value)
    notes = []
    for field in schema.LONG:
        param = schema.PARAMS.get(field, field)
        if param in params and len(urlencode(params)) > MAX_URL_CHARS:
            length = len(urlencode({param: params.pop(param)}))
            notes.append(
                f"The {field} ({length:,} characters) make the link too long (over {MAX_URL_CHARS:,} characters), "
                "so it leaves them out: use Download view to share them."
            )
    return params, notes


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string, escapes included


def decode_untrusted_json(
    text: str | bytes, what: str, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> Any:
    """JSON a browser sent, decoded only once its size and nesting depth are known to be within bounds.

    The depth is counted on the brackets outside strings, so neither a huge nor a deeply nested text reaches
    ``json.loads`` (whose recursion would otherwise end in a ``RecursionError``).

    Args:
        text: the JSON text (bytes are read as UTF-8).
        what: names the input at the start of the message, e.g. ``"This file"`` or ``"it"``.

    Raises:
        EmbedLabError: too large, too deeply nested, not UTF-8 or not JSON; one line that names no server path.

    >>> decode_untrusted_json('{"a": [1, "]]"]}', "This text")
    {'a': [1, ']]']}
    """
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise EmbedLabError(f"{what} is too large ({size:,} bytes; the limit is {max_bytes:,}).")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise EmbedLabError(f"{what} is not readable (UTF-8 JSON expected).") from None
    brackets = np.frombuffer(_JSON_STRING.sub("", text).encode("utf-8", "surrogatepass"), dtype=np.uint8)
    steps = np.isin(brackets, _OPENING).astype(np.int64) - np.isin(brackets, _CLOSING)
    if steps.size and int(np.cumsum(steps).max()) > max_depth:
        raise EmbedLabError(f"{what} is nested too deeply (more than {max_depth} levels).")
    try:
        return json.loads(text)
    except ValueError:
        raise EmbedLabError(f"{what} is not readable (JSON expected).") from None


_OPENING = np.frombuffer(b"[{", dtype=np.uint8)
_CLOSING = np.frombuffer(b"]}", dtype=np.uint8)


def view_from_params(page: str, params: Mapping[str, str | list[str]]) -> tuple[dict, list[str]]:
    """The view a URL names, checked field by field, and one note per parameter left out (unknown, unreadable or
    refused), naming it."""
    if page not in SCHEMAS:
        return {"page": page}, []
    schema = SCHEMAS[page]
    fields = {schema.PARAMS.get(field, field): field for field in _fields(page)}
    view: dict[str, Any] = {"page": page}
    notes = []
    for param, raw_value in params.items():
        if param in STREAMLIT_PARAMS:
            continue
        value = raw_value[-1] if isinstance(raw_value, list) else raw_value
        field = fields.get(param)
        if field is None:
            notes.append(f"Ignored the link's parameter `{param}`: this page does not use it.")
            continue
        if _is_text(page, field):
            view[field] = value
            continue
        try:
            view[field] = decode_untrusted_json(value, "it")
        except EmbedLabError as error:
            notes.append(f"Ignored the link's parameter `{param}`: {error}")
    checked, refused = check_view(view, "link")
    return checked, notes + refused
