"""A whole corpus (tens or hundreds of thousands of lines) encoded once by the queue's workers, then read by every
page and command that needs its vectors, mapped, and searched for nearest neighbours.

- ``texts``: reading a corpus file (one text per line, or one column of a CSV) with its bounds: an empty file, a
  binary file, more than ``limits.MAX_CORPUS_LINES`` lines in served mode are one ``EmbedLabError`` each.
- ``store``: the vectors of one model revision and one list of texts, in a content-addressed folder under the
  models directory (``<models_dir>/.corpora/<key>/``): the texts, float32 ``.npy`` chunks written as they finish,
  and ``stored_vectors``, the read API.
- ``lookup``: the stored vectors by text, read by ``Encoder.embed`` instead of running the model again.
- ``encode``: the encoding loop a worker (or ``python -m embedlab embed``) runs: only the chunks not written yet,
  so a stopped or killed job resumes where it stopped.
- ``neighbours``: nearest neighbours in the original space, exact (a matrix product) or approximate
  (HNSW from ``usearch``), and the recall of the approximate index against the exact one.
- ``mapping``: the 2-D map of a big corpus (PCA, or UMAP fitted on a sample with the rest placed by ``transform``),
  fitted by a worker's map job (or ``embed --map``) and kept in the corpus folder, and clusters (``MiniBatchKMeans``)
  to colour it by.
"""
