"""Reading pair files: CSV and TSV with a header, the STS benchmark's headerless format, and bad input."""

from __future__ import annotations

import pytest

from embedlab.data.pairfiles import decode_text, parse_pairs_text, read_pairs
from embedlab.errors import EmbedLabError
from tests.helpers import write

# ---------------------------------------------------------------- CSV / TSV with a header


def test_csv_with_header_extra_columns_and_quoted_commas(tmp_path):
    path = write(
        tmp_path,
        "pairs.csv",
        "id,Sentence1,sentence2,score,note\n"
        '1,"Near the entrance, the grocer stacks melons.",The grocer is stacking melons.,5.0,x\n'
        '2,"He said ""hello"".","He greeted us, warmly.",3.5,\n'
        "3,Plain one.,Plain two.,1,last\n",
    )
    frame = read_pairs(path)
    assert len(frame) == 3
    assert {"sentence1", "sentence2"} <= set(frame.columns)  # header names are matched case-insensitively
    assert frame["sentence1"].tolist() == [
        "Near the entrance, the grocer stacks melons.",
        'He said "hello".',
        "Plain one.",
    ]
    assert frame["sentence2"].tolist() == ["The grocer is stacking melons.", "He greeted us, warmly.", "Plain two."]
    assert frame["note"].tolist() == ["x", "", "last"]  # empty cells stay empty strings, never NaN


def test_csv_with_bom_crlf_and_blank_lines(tmp_path):
    content = "\ufeffsentence1,sentence2\r\nA cat sat.,A cat was sitting.\r\n\r\nNo.,Yes.\r\n"
    frame = read_pairs(write(tmp_path, "bom.csv", content))
    assert list(frame.columns) == ["sentence1", "sentence2"]
    assert frame.values.tolist() == [["A cat sat.", "A cat was sitting."], ["No.", "Yes."]]


def test_tsv_with_quotes_inside_sentences(tmp_path):
    lines = [
        "sentence1\tsentence2\tscore",
        'He is 6\' 2" tall.\tHis height is "about" two metres.\t4.0',
        '"Quoted from the start\tunbalanced " quote\t2.0',
        "It's fine.\tIt is fine.\t5.0",
    ]
    frame = read_pairs(write(tmp_path, "pairs.tsv", "\n".join(lines) + "\n"))
    expected = [line.split("\t") for line in lines[1:]]
    assert len(frame) == 3  # no rows merged by an unbalanced quote
    assert frame["sentence1"].tolist() == [row[0] for row in expected]
    assert frame["sentence2"].tolist() == [row[1] for row in expected]
    assert frame["score"].tolist() == [row[2] for row in expected]


# ---------------------------------------------------------------- STS format


def test_sts_headerless_with_quotes_and_licence_fields(tmp_path):
    rows = [
        ["main-news", "MSRpar", "2012test", "0001", "4.200", 'He said "no" to the offer.', "He refused the offer."],
        ["main-forums", "answers-forums", "2015", "0013", "0.000", '"Quote that never closes', "Another one."],
        ["main-news", "headlines", "2016", "0042", "2.5", 'A 5" pipe burst.', 'Water "everywhere".', "CC BY-SA", "x"],
        ["main-captions", "MSRvid", "2012test", "0007", "3", "It's raining.", "It rains.", "licence text"],
    ]
    path = write(tmp_path, "sts.csv", "\n".join("\t".join(row) for row in rows) + "\n")
    frame = read_pairs(path)
    assert len(frame) == len(rows)
    assert frame["sentence1"].tolist() == [row[5] for row in rows]
    assert frame["sentence2"].tolist() == [row[6] for row in rows]
    assert frame["score"].tolist() == [row[4] for row in rows]
    assert frame["genre"].tolist() == [row[0] for row in rows]
    assert frame["id"].tolist() == [row[3] for row in rows]


def test_sts_line_that_breaks_the_format_is_named(tmp_path):
    good = "main-news\tMSRpar\t2012test\t0001\t4.2\tOne.\tTwo."
    with pytest.raises(EmbedLabError, match="row 2 is not in STS format"):
        parse_pairs_text(good + "\nonly\ttwo fields\n", name="sts.csv")


def test_real_sts_dev_file(sts_dev):
    frame = read_pairs(sts_dev)
    lines = [line.split("\t") for line in sts_dev.read_text(encoding="utf-8").split("\n") if line]
    assert len(frame) == len(lines) == 1500
    assert frame["sentence1"].tolist() == [fields[5].strip() for fields in lines]
    assert frame["sentence2"].tolist() == [fields[6].strip() for fields in lines]
    scores = frame["score"].astype(float)
    assert scores.between(0, 5).all()
    assert scores.min() < 1 and scores.max() > 4
    assert any('"' in sentence for sentence in frame["sentence1"].tolist() + frame["sentence2"].tolist())


# ---------------------------------------------------------------- bad input


def test_missing_columns(tmp_path):
    path = write(tmp_path, "wrong.csv", "text_a,text_b\nOne.,Two.\n")
    with pytest.raises(EmbedLabError, match="no sentence1, sentence2 column") as caught:
        read_pairs(path)
    assert "2 fields" in str(caught.value)
    assert "text_a" not in str(caught.value)  # the header is a line of the file: never quoted


def test_missing_score_column_when_required(tmp_path):
    path = write(tmp_path, "noscore.csv", "sentence1,sentence2\nOne.,Two.\n")
    with pytest.raises(EmbedLabError, match="no score column"):
        read_pairs(path, required=("sentence1", "sentence2", "score"))


def test_undecodable_bytes(tmp_path):
    path = write(tmp_path, "latin1.csv", "sentence1,sentence2\nCaf\u00e9 au lait.,Un caf\u00e9.\n".encode("latin-1"))
    with pytest.raises(EmbedLabError, match="latin1.csv is not UTF-8") as caught:
        read_pairs(path)
    assert "bad byte at position" in str(caught.value)


def test_decode_text_drops_the_bom():
    assert decode_text("\ufeffsentence1".encode()) == "sentence1"


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", "\ufeff".encode()])
def test_empty_file(tmp_path, content):
    with pytest.raises(EmbedLabError, match="empty.csv is empty"):
        read_pairs(write(tmp_path, "empty.csv", content))


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.csv"
    with pytest.raises(EmbedLabError, match="not found") as caught:
        read_pairs(missing)
    assert str(missing) in str(caught.value)


def test_a_folder_is_not_a_file(tmp_path):
    with pytest.raises(EmbedLabError, match="is a folder: give the path of a file"):
        read_pairs(tmp_path)


@pytest.mark.parametrize("path", ["", "   "])
def test_an_empty_path_asks_for_one(path):
    with pytest.raises(EmbedLabError, match="No path given: type the path"):
        read_pairs(path)


def test_a_missing_file_is_not_found(tmp_path):
    with pytest.raises(EmbedLabError, match="not found"):
        read_pairs(tmp_path / "nothing.csv")


def test_rows_are_numbered_as_the_table_shows_them():
    # row 1 = the first pair under the header; blank lines are not rows (the loaded table has none)
    text = "sentence1,sentence2\nOne.,Two.\n\nThree.,Four.\nFive.\n"
    with pytest.raises(EmbedLabError, match="row 3 has 1 field but the header has 2: a cell is missing"):
        parse_pairs_text(text)
    good = parse_pairs_text("sentence1,sentence2\nOne.,Two.\n\nThree.,Four.\nFive.,Six.\n")
    assert good["sentence1"].tolist()[2] == "Five."  # row 3 is the third row of the table


def test_csv_that_cannot_be_parsed(tmp_path):
    path = write(tmp_path, "broken.csv", 'sentence1,sentence2\n"never closed,x\n')
    with pytest.raises(EmbedLabError, match="could not be read as CSV"):
        read_pairs(path)


def test_a_row_with_an_unquoted_comma_is_refused_not_shifted():
    # pandas would have taken "Hello" as the row's index and read " world." as sentence 1
    with pytest.raises(EmbedLabError, match="row 2 has 3 fields but the header has 2: quote sentences"):
        parse_pairs_text("sentence1,sentence2\nFine.,Also fine.\nHello, world.,Hi.\n")
