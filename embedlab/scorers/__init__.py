"""Every kind of model behind one interface (``base.Scorer``); importing the package registers the built-in kinds,
in the order ``registry.open_scorer`` asks them: the specific kinds first, raw pooling and the own pipeline of any
model loadable here last. A new kind is one module that calls ``registry.register`` (before these, by default).
"""

from embedlab.scorers import (  # noqa: F401
    backend,
    cross_encoder,
    embeddings_service,
    hidden_states,
    sentence_transformer,
    static,
)
