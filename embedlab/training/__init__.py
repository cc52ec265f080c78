"""Train your own sentence embedder: compose a pipeline, pick a method and data, train, measure, save.

Modules: ``compose`` (the module list), ``data`` (rows per method), ``run`` (the training run and its before/after
numbers), ``save`` (a standard sentence-transformers folder with this app's own card), ``script`` (the equivalent
Python code), ``jobs`` (one background run at a time for the app). Nothing here imports Streamlit.
"""
