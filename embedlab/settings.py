"""Every ``EMBEDLAB_*`` setting in one place: typed, defaulted and documented (docs/configuration.md lists them).

Settings come from the environment of the process (the web server, a worker, a command). They are read when asked
for, never at import, so a test or a server that changes a variable is seen at the next call; the parsed object is
cached per distinct set of ``EMBEDLAB_*`` values, so asking costs a dictionary look-up.

A bad value stops the program with one line naming the variable, never a traceback or a silent default:

    >>> import os; os.environ["EMBEDLAB_SERVER_THREADS"] = "two"
    >>> get_settings()  # doctest: +SKIP
    SettingsError: EMBEDLAB_SERVER_THREADS='two': Input should be a valid integer, unable to parse string as an integer

The command line prints that line and exits 2; the app shows it and stops (``app.py``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from embedlab.errors import EmbedLabError

PREFIX = "EMBEDLAB_"


class SettingsError(EmbedLabError):
    """A setting whose value cannot be used; the message is one line naming the variable."""


class Settings(BaseSettings):
    """The settings, each an ``EMBEDLAB_<NAME>`` variable (``served`` is ``EMBEDLAB_SERVED``)."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, case_sensitive=False, extra="ignore", env_ignore_empty=True, frozen=True
    )

    # Serving a class
    served: bool = Field(False, description="Served mode: no server path is read because of anything a browser sends")
    endpoints: str = Field("", description="Comma-separated base URLs of the embeddings services a served app may use")
    admin_token: SecretStr | None = Field(None, description="The teacher's token: lets a session stop any run")
    api_key: SecretStr | None = Field(
        None, description="Key sent to embeddings services (OPENAI_API_KEY is read too when this is unset)"
    )
    server_threads: int = Field(1, ge=1, description="Torch threads of the web server's model calls")
    first_screen: bool = Field(
        True,
        description="A new browser session's first run of Compare draws the scores only, the rest of the page a "
        "second later (0: the whole page in one run)",
    )
    fast_backend: str = Field(
        "",
        description="onnx or openvino: the trained model's encodes through that fp32 engine, when its scores match "
        "PyTorch to 1e-4 (bench/bench_backends.py says whether it is faster here); empty: PyTorch",
    )
    service_timeout_s: float = Field(
        30.0,
        gt=0,
        description="Seconds one call to an embeddings service may take in all, every batch and retry together",
    )

    # Models
    models_dir: Path | None = Field(
        None, description="Where trained models are saved (default: $XDG_CACHE_HOME/embedlab/models)"
    )
    vector_cache_dir: str = Field(
        "",
        description="Where the reference sentences' vectors are kept per model revision, so a restart skips "
        "encoding them (default: $XDG_CACHE_HOME/embedlab/reference-states; none: not kept)",
    )
    hub_timeout_s: float = Field(15.0, gt=0, description="Seconds without a byte from the Hub before giving up")
    hub_models: str = Field(
        "bert-base-uncased,bert-base-multilingual-cased",  # the app's own suggestions (names.SUGGESTED_MODELS)
        description="Served mode: comma-separated Hub ids the app may download, or none (ids already in the local "
        "Hugging Face cache are allowed too; any other is refused)",
    )
    max_download_mb: float = Field(
        1000.0,
        gt=0,
        description="Served mode: a Hub download larger than this (MB, all its files) is refused before it starts",
    )
    max_models_mb: float = Field(
        2000.0, gt=0, description="Models held in memory for every session: at most this many MB of parameters in all"
    )

    # Training queue
    queue: str = Field("", description="redis://HOST:PORT/DB for several machines; empty: SQLite in the models dir")
    auto_worker: bool = Field(True, description="Start a worker when a run is queued and none is alive")
    max_queued: int = Field(3, ge=1, description="Queued + running runs per browser (a cookie it keeps)")
    max_queue_size: int = Field(
        30, ge=1, description="Served mode: queued + running runs in the whole queue, all browsers together"
    )

    # Test harness (tests/ and .ci/run): turn skips into failures in CI
    require_browser: bool = Field(False, description="Tests: fail instead of skipping when Chromium is missing")
    require_shared: bool = Field(False, description="Tests: fail instead of skipping without ../shared")
    require_nginx: bool = Field(False, description="Tests: fail instead of skipping when nginx is missing")
    require_redis: bool = Field(False, description="Tests: fail instead of skipping when redis-server is missing")

    @field_validator("*", mode="before")
    @classmethod
    def _strip(cls, value: object, info: ValidationInfo) -> object:
        """`` yes `` is ``yes``; a value of only spaces is unset (the default), like an empty one."""
        if isinstance(value, str):
            value = value.strip() or cls.model_fields[info.field_name].default
        return value

    @field_validator("fast_backend")
    @classmethod
    def _fast_backend(cls, value: str) -> str:
        if value.lower() not in ("", "onnx", "openvino"):
            raise ValueError("give onnx, openvino or nothing (int8 is never used silently)")
        return value.lower()

    @property
    def hub_model_list(self) -> tuple[str, ...]:
        """The listed Hub ids, without blanks or repeats; ``none`` lists none (an empty variable means the default)."""
        listed = (item.strip() for item in self.hub_models.split(","))
        return tuple(dict.fromkeys(item for item in listed if item and item.lower() != "none"))

    @property
    def endpoint_list(self) -> tuple[str, ...]:
        """The listed base URLs, normalised (no trailing /), without repeats."""
        return tuple(dict.fromkeys(item.strip().rstrip("/") for item in self.endpoints.split(",") if item.strip()))


def env_name(field: str) -> str:
    """The variable behind a field: ``env_name("served") == "EMBEDLAB_SERVED"``."""
    return PREFIX + field.upper()


@functools.lru_cache(maxsize=32)
def _parse(values: tuple[tuple[str, str], ...]) -> Settings:
    try:
        return Settings(_env_file=None, **{})  # reads os.environ, which ``values`` mirrors (the cache key)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first.get("loc") else "?"
        name = env_name(field)
        value = dict(values).get(name, "")
        shown = "***" if field in ("admin_token", "api_key") else repr(value)
        raise SettingsError(f"{name}={shown}: {first['msg']}") from None


def get_settings() -> Settings:
    """The settings now in force (see the module docstring).

    Raises:
        SettingsError: a variable holds a value that cannot be used; one line naming it.
    """
    values = tuple(sorted((key.upper(), value) for key, value in os.environ.items() if key.upper().startswith(PREFIX)))
    return _parse(values)


def _type_text(field: FieldInfo) -> str:
    """A field's type in words, with its bounds: ``whole number >= 1``."""
    annotation = field.annotation
    kinds = {
        bool: "on/off",
        int: "whole number",
        float: "number",
        str: "text",
        Path | None: "path",
        SecretStr | None: "secret text",
    }
    text = kinds.get(annotation, str(annotation))
    for bound in field.metadata:
        for attribute, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
            if getattr(bound, attribute, None) is not None:
                text += f" {sign} {getattr(bound, attribute):g}"
    return text


def _default_text(field: FieldInfo) -> str:
    default = field.default
    if isinstance(default, bool):
        return "`1`" if default else "`0`"
    if default is None or default == "":
        return "unset"
    return f"`{default:g}`" if isinstance(default, float) else f"`{default}`"


def markdown_table() -> str:
    """The table of docs/configuration.md: one row per variable (name, type, default, meaning).

    tests/core/test_configuration.py checks that the file holds exactly this table; after adding or changing a
    setting, paste ``python -c "from embedlab.settings import markdown_table; print(markdown_table())"`` there.
    """
    rows = ["| variable | type | default | meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        rows.append(f"| `{env_name(name)}` | {_type_text(field)} | {_default_text(field)} | {field.description} |")
    return "\n".join(rows) + "\n"


def documented() -> dict[str, str]:
    """Variable name -> its description, for docs/configuration.md (a test checks the file against it)."""
    return {env_name(name): field.description or "" for name, field in Settings.model_fields.items()}
