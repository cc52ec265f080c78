"""Sentence parsing, projection, neighbours, label agreement and Projector export."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from embedlab.embedding.encoder import Encoder
from embedlab.embedding.specs import EmbedSpec
from embedlab.errors import EmbedLabError
from embedlab.limits import MAX_SENTENCES
from embedlab.tasks.projection import (
    ProjectionSettings,
    _pca_fit,
    bundled_sentences,
    coordinates_table,
    label_agreement,
    matches,
    metadata_tsv,
    nearest_neighbours,
    neighbour_table,
    neighbours_of,
    parse_sentence_csv,
    parse_sentence_file,
    parse_sentence_lines,
    project,
    sentences_from_pairs,
    vectors_tsv,
)

M = "all-MiniLM-L6-v2"


def pca_coords(unit: np.ndarray, dims: int) -> tuple[np.ndarray, float]:
    """PCA of the (n, dim) rows: (n, dims) coordinates (zero-padded if fewer components exist), variance kept."""
    coords, kept, _, _ = _pca_fit(unit, dims)
    return coords, kept


def read_vectors_tsv(text: str) -> np.ndarray:
    """Read a vectors.tsv back, as the Embedding Projector does: (n, dim) float32."""
    rows = [line.split("\t") for line in text.splitlines() if line.strip()]
    return np.array(rows, dtype=np.float32).reshape(len(rows), -1)


def read_metadata_tsv(text: str) -> tuple[list[str], list[str]]:
    """Read a metadata.tsv back the way the Projector does: (sentences, labels); labels "" for one column."""
    lines = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    if lines and lines[0] == "sentence\tlabel":
        pairs = [line.split("\t") for line in lines[1:]]
        return [pair[0] for pair in pairs], [pair[1] for pair in pairs]
    return lines, [""] * len(lines)


FAST_UMAP = {"n_neighbors": 8, "n_epochs": 60}  # numba compiles once per session (~15 s); keep the fits small


def clusters(n_per: int = 15, dim: int = 24, n_clusters: int = 3, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    """Well separated Gaussian clusters: (n_per * n_clusters, dim) float32 and their labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_clusters, dim)) * 4
    points = np.concatenate([centre + rng.normal(size=(n_per, dim)) for centre in centres]).astype(np.float32)
    return points, [f"c{i}" for i in range(n_clusters) for _ in range(n_per)]


def brute_force_ranking(vectors: np.ndarray, index: int) -> tuple[list[int], list[float]]:
    """Every other row ranked by float64 cosine with row ``index``, best first."""
    data = vectors.astype(np.float64)
    cosines = data @ data[index] / (np.linalg.norm(data, axis=1) * np.linalg.norm(data[index]))
    others = [i for i in range(len(data)) if i != index]
    ranked = sorted(others, key=lambda i: -cosines[i])
    return ranked, [float(cosines[i]) for i in ranked]


# ---------------------------------------------------------------------------------------------------- sentences


def test_lines_with_labels_and_empty_lines_counted():
    text = "sports\tThe striker scored.\n\n   \nRain again today.\nfinance\t  Stocks fell.  \nmusic\t\n"
    found = parse_sentence_lines(text)
    assert found.sentences == ("The striker scored.", "Rain again today.", "Stocks fell.")
    assert found.labels == ("sports", "", "finance")
    assert found.skipped_empty == 3  # two blank lines and a label without a sentence
    assert found.has_labels


def test_lines_without_labels():
    found = parse_sentence_lines("one\ntwo\n")
    assert found.labels == ("", "") and not found.has_labels and found.skipped_empty == 0


def test_more_than_the_limit_is_refused_not_dropped():
    text = "\n".join(f"sentence {i}" for i in range(MAX_SENTENCES + 3))
    with pytest.raises(EmbedLabError, match=r"5,003 sentences.*at most 5,000.*Remove 3"):
        parse_sentence_lines(text)
    assert len(parse_sentence_lines("\n".join(f"s {i}" for i in range(MAX_SENTENCES)))) == MAX_SENTENCES
    # Empty lines do not count towards the limit.
    assert len(parse_sentence_lines("\n\n".join(f"s {i}" for i in range(MAX_SENTENCES)))) == MAX_SENTENCES


def test_csv_with_sentence_and_label_columns():
    text = 'Label,Sentence,extra\nsports,"A goal, at last.",x\nfinance,,y\n,Rain.,z\n'
    found = parse_sentence_csv(text, "mine.csv")
    assert found.sentences == ("A goal, at last.", "Rain.")
    assert found.labels == ("sports", "")
    assert found.skipped_empty == 1


def test_tsv_keeps_quote_characters():
    found = parse_sentence_csv('sentence\tlabel\nHe said "hi.\ta\nShe said "bye".\tb\n', "mine.tsv")
    assert found.sentences == ('He said "hi.', 'She said "bye".')


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("text,label\nhello,a\n", "no 'sentence' column.*found: text, label"),
        ("sentence,label\n,a\n", "no sentence in it"),
    ],
)
def test_bad_csv_says_what_to_do(text, message):
    with pytest.raises(EmbedLabError, match=message):
        parse_sentence_csv(text, "mine.csv")


def test_files_txt_csv_and_undecodable():
    assert parse_sentence_file(b"a\tOne.\nTwo.\n", "lines.txt").labels == ("a", "")
    assert parse_sentence_file("sentence\nÉté.\n".encode(), "x.csv").sentences == ("Été.",)
    with pytest.raises(EmbedLabError, match="not UTF-8"):
        parse_sentence_file(b"sentence\n\xff\xfe\x00bad\n", "x.csv")


def test_pairs_give_distinct_sentences_labelled_by_pair():
    frame = pd.DataFrame(
        {"sentence1": ["How old are you?", "A dog.", ""], "sentence2": ["What is your age?", "How old are you?", "X"]}
    )
    found = sentences_from_pairs(frame)
    assert found.sentences == ("How old are you?", "What is your age?", "A dog.", "X")
    assert found.labels == ("pair 0", "pair 0", "pair 1", "pair 2")
    assert found.skipped_empty == 1


def test_bundled_set_has_eight_topics():
    found = bundled_sentences()
    assert len(found) >= 300
    assert len(set(found.labels)) == 8 and all(found.labels)
    assert len(set(found.sentences)) == len(found)


# ---------------------------------------------------------------------------------------------------- projection


@pytest.mark.parametrize("dims", [2, 3])
def test_umap_shape_and_cluster_structure(dims):
    points, labels = clusters()
    result = project(points, ProjectionSettings(dims=dims, **FAST_UMAP))
    assert result.method == "umap"
    assert result.coords.shape == (len(points), dims) and result.coords.dtype == np.float32
    assert np.isfinite(result.coords).all()
    # Separated clusters stay separated: in the picture, each point's nearest point is from its own cluster.
    distances = np.linalg.norm(result.coords[:, None] - result.coords[None], axis=-1)
    np.fill_diagonal(distances, np.inf)
    nearest = distances.argmin(axis=1)
    assert np.mean([labels[i] == labels[j] for i, j in enumerate(nearest)]) > 0.95


def test_fixed_seed_repeats_exactly_and_another_seed_differs():
    points, _ = clusters(seed=3)
    first = project(points, ProjectionSettings(random_state=7, **FAST_UMAP)).coords
    again = project(points, ProjectionSettings(random_state=7, **FAST_UMAP)).coords
    other = project(points, ProjectionSettings(random_state=8, **FAST_UMAP)).coords
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


def test_too_few_points_fall_back_to_pca_with_a_note():
    points, _ = clusters(n_per=3)  # 9 points, n_neighbors 15
    result = project(points, ProjectionSettings())
    assert result.method == "pca"
    assert "n_neighbors (15)" in result.note and "with 9" in result.note and "PCA" in result.note
    assert result.coords.shape == (9, 2)
    assert result.coords.std(axis=0).min() > 0  # a real spread, not a placeholder


def test_pca_matches_an_svd_up_to_sign():
    points, _ = clusters()
    unit = points / np.linalg.norm(points, axis=1, keepdims=True)
    coords, kept = pca_coords(unit, 2)
    centered = unit - unit.mean(axis=0)
    _, singular, vt = np.linalg.svd(centered.astype(np.float64), full_matrices=False)
    expected = centered @ vt[:2].T
    np.testing.assert_allclose(np.abs(coords), np.abs(expected), atol=1e-4)
    assert kept == pytest.approx((singular[:2] ** 2).sum() / (singular**2).sum(), rel=1e-6)


def test_pca_of_two_points_and_of_three_d_with_few_components():
    two = project(np.array([[1, 0, 0], [0, 1, 0]], np.float32), ProjectionSettings(method="pca", dims=3))
    assert two.coords.shape == (2, 3)
    assert (two.coords[:, 1:] == 0).all() and two.coords[0, 0] == -two.coords[1, 0] != 0


@pytest.mark.parametrize("method", ["umap", "pca"])
def test_duplicates_share_a_point(method):
    points, _ = clusters()
    with_copies = np.concatenate([points, points[:10], points[:10] * 3.0])  # same direction = same cosine
    result = project(with_copies, ProjectionSettings(method=method, **FAST_UMAP))
    assert result.method == method
    assert np.isfinite(result.coords).all()
    np.testing.assert_array_equal(result.coords[len(points) : len(points) + 10], result.coords[:10])
    np.testing.assert_array_equal(result.coords[len(points) + 10 :], result.coords[:10])
    assert "20 duplicate vectors share a point" in result.note


def test_many_duplicates_do_not_break_umap():
    points, _ = clusters(n_per=6)  # 18 distinct points, each repeated 3 times
    result = project(np.repeat(points, 3, axis=0), ProjectionSettings(n_neighbors=10, n_epochs=60))
    assert result.method == "umap" and np.isfinite(result.coords).all()


def test_identical_vectors_give_a_note_not_a_crash():
    result = project(np.ones((12, 5), np.float32), ProjectionSettings())
    assert result.method == "none" and "same vector" in result.note
    assert result.coords.shape == (12, 2)


@pytest.mark.parametrize("settings", [{"method": "tsne"}, {"dims": 4}, {"n_neighbors": 1}, {"min_dist": 1.5}], ids=str)
def test_bad_settings_are_refused(settings):
    with pytest.raises(EmbedLabError):
        ProjectionSettings(**settings)


# ---------------------------------------------------------------------------------------------------- neighbours


def test_neighbours_equal_a_brute_force_cosine_ranking():
    vectors = np.random.default_rng(5).normal(size=(60, 16)).astype(np.float32)
    indices, scores = nearest_neighbours(vectors, 7)
    assert indices.shape == scores.shape == (60, 7)
    for row in range(60):
        ranked, cosines = brute_force_ranking(vectors, row)
        assert list(indices[row]) == ranked[:7]
        np.testing.assert_allclose(scores[row], cosines[:7], atol=1e-6)
        one, one_scores = neighbours_of(vectors, row, 7)
        assert list(one) == ranked[:7]
        np.testing.assert_allclose(one_scores, cosines[:7], atol=1e-6)


def test_neighbours_of_duplicates_never_include_self_and_break_ties_by_index():
    vectors = np.array([[1, 0], [1, 0], [0, 1], [2, 0], [1, 1]], np.float32)
    indices, scores = nearest_neighbours(vectors, 3)
    assert list(indices[0]) == [1, 3, 4] and list(indices[3]) == [0, 1, 4]
    np.testing.assert_allclose(scores[0], [1, 1, np.sqrt(0.5)], atol=1e-6)
    assert all(row not in indices[row] for row in range(len(vectors)))
    assert nearest_neighbours(vectors, 99)[0].shape == (5, 4)  # k capped at n - 1


def test_neighbour_table_lists_sentences_labels_and_scores():
    vectors = np.array([[1, 0], [0.8, 0.6], [0, 1], [-1, 0]], np.float32)
    table = neighbour_table(["a", "b", "c", "d"], ["x", "y", "z", "w"], vectors, 0, 2)
    assert table["sentence"].tolist() == ["b", "c"] and table["label"].tolist() == ["y", "z"]
    assert table["rank"].tolist() == [1, 2]
    np.testing.assert_allclose(table["cosine"], [0.8, 0.0], atol=1e-6)


def test_label_agreement_on_a_constructed_example():
    # Nearest neighbours by construction: 0<->1, 2<->3, 4<->5. With these labels 0..3 agree, 4 and 5 do not.
    vectors = np.array([[1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0, 0.99, 0.1], [0, 0, 1], [0.1, 0, 0.99]], np.float32)
    labels = ["a", "a", "b", "b", "a", "b"]
    found = label_agreement(vectors, labels)
    assert found.rate == pytest.approx(4 / 6) and found.counted == 6
    assert found.chance == pytest.approx(2 / 5)  # every label has 3 members: 2 of the 5 others share it
    partial = label_agreement(vectors, ["a", "a", "b", "", "a", "b"])  # unlabelled 3: not counted, a miss for 2
    assert partial.counted == 5 and partial.rate == pytest.approx(2 / 5)
    assert label_agreement(vectors, [""] * 6) is None
    assert label_agreement(vectors[:1], ["a"]) is None


def test_label_agreement_separates_clusters_from_noise():
    points, labels = clusters()
    assert label_agreement(points, labels).rate == 1.0
    shuffled = list(np.random.default_rng(0).permutation(labels))
    assert label_agreement(points, shuffled).rate < 0.7


def test_search_is_case_insensitive_substring():
    found = matches(["The Bank of England", "river bank", "Stick"], "BANK")
    assert found.tolist() == [True, True, False]
    assert not matches(["a"], "   ").any()


# ---------------------------------------------------------------------------------------------------- export


def test_vectors_tsv_round_trips_exactly():
    vectors = np.random.default_rng(1).normal(size=(7, 5)).astype(np.float32) * 1e3
    text = vectors_tsv(vectors)
    lines = text.splitlines()
    assert len(lines) == 7 and all(len(line.split("\t")) == 5 for line in lines)  # no header
    np.testing.assert_array_equal(read_vectors_tsv(text), vectors)


def test_metadata_tsv_with_labels_has_a_header_and_round_trips():
    sentences = ["A goal.", "Tab\there, and a\nline break", "Rain."]
    labels = ["sports", "odd", ""]
    text = metadata_tsv(sentences, labels)
    assert text.splitlines()[0] == "sentence\tlabel"
    assert len(text.splitlines()) == 1 + 3
    read_sentences, read_labels = read_metadata_tsv(text)
    assert read_sentences == ["A goal.", "Tab here, and a line break", "Rain."]
    assert read_labels == labels


def test_metadata_tsv_without_labels_is_one_column_without_header():
    text = metadata_tsv(["One.", "Two."], ["", ""])
    assert text == "One.\nTwo.\n"
    assert read_metadata_tsv(text) == (["One.", "Two."], ["", ""])


def test_coordinates_table_has_one_column_per_axis_and_configuration():
    table = coordinates_table(["a", "b"], ["x", ""], {"raw": np.ones((2, 2)), "trained": np.zeros((2, 3))})
    assert table.columns.tolist() == ["sentence", "label", "raw_x", "raw_y", "trained_x", "trained_y", "trained_z"]
    round_trip = pd.read_csv(io.StringIO(table.to_csv(index=False)), keep_default_na=False)
    assert round_trip["sentence"].tolist() == ["a", "b"] and round_trip["raw_x"].tolist() == [1.0, 1.0]


# ---------------------------------------------------------------------------------------------------- with the model


def test_trained_model_groups_bundled_topics_and_a_new_configuration_needs_no_forward_pass(encoder: Encoder):
    bundled = bundled_sentences()
    keep = [i for i, label in enumerate(bundled.labels) if bundled.labels[: i + 1].count(label) <= 8]  # 8 per topic
    sentences = [bundled.sentences[i] for i in keep]
    labels = [bundled.labels[i] for i in keep]
    trained = encoder.embed(sentences, EmbedSpec(M, "model"))
    passes = encoder.forward_passes
    raw = encoder.embed(sentences, EmbedSpec(M, "cls", "first-last"))
    assert encoder.forward_passes == passes  # every pooling and layer choice comes from the cached states
    found = label_agreement(trained, labels)
    assert found.rate >= 0.8 and found.rate > 4 * found.chance
    assert project(raw, ProjectionSettings(method="pca")).coords.shape == (64, 2)


def test_one_column_csv_keeps_commas_inside_sentences():
    parsed = parse_sentence_csv('sentence\nHello, world.\n\n"Quoted, too."\nPlain.\n')
    assert parsed.sentences == ("Hello, world.", "Quoted, too.", "Plain.")
    assert parsed.skipped_empty == 1


def test_a_failed_spectral_initialisation_is_said_not_swallowed(monkeypatch):
    """UMAP's spectral start can fail on odd neighbour graphs: the random start is used and the note says so."""
    import umap

    original = umap.UMAP.fit_transform
    tried = []

    def fit_transform(self, data, *args, **kwargs):
        tried.append(self.init)
        if self.init == "spectral":
            raise ValueError("eigsh did not converge\nsecond line")
        return original(self, data, *args, **kwargs)

    monkeypatch.setattr(umap.UMAP, "fit_transform", fit_transform)
    points, _ = clusters()
    result = project(points, ProjectionSettings(**FAST_UMAP))
    assert tried == ["spectral", "random"] and result.method == "umap" and np.isfinite(result.coords).all()
    assert "spectral initialisation failed (eigsh did not converge)" in result.note and "random" in result.note
