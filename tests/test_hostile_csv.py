"""The CSV reader (tui/domain/imports/reading.py) under hostile files.

Whatever the bytes, encodings, delimiters, quotes and line breaks, ``open_csv`` and
``CsvFile.rows`` either read the file or raise ImportFileError with a sentence (naming
the line when the trouble is in one): never another exception. What a spreadsheet
writes comes back exactly, with the line each row starts on.
tests/test_import_values.py holds the hand-picked cases; this file generates them.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from tui.domain.imports.reading import DELIMITERS, ImportFileError, open_csv

PROPERTY = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

TOKENS = [b",", b";", b"\t", b'"', b'""', b"\r", b"\n", b"\r\n", b"\x00", b"\xef\xbb\xbf",
          b"\xff\xfe", b"\xe9", b"\xc3\xa9", b"\xe2\x82\xac", b"\x81", b"\x9d", b"\xc3",
          b"\x1b[31m", b"[bold]", b"Name", b"x" * 300, b" ", b"\x0b", b"\x0c", b"\x85",
          "\u2028".encode()]
HOSTILE_BYTES = st.one_of(
    st.binary(max_size=600),
    st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=8)), max_size=60)
    .map(b"".join),
)
LINE = re.compile(r"line \d+")


def read_all(path, **options) -> tuple[object, list] | None:
    """open_csv then every row; None when refused with ImportFileError (checked here)."""
    try:
        source = open_csv(path, **options)
    except ImportFileError as error:
        assert str(error).strip() and "\n" not in str(error)
        return None
    assert source.headers and source.header_line >= 1
    assert source.encoding in ("utf-8", "utf-8-sig", "cp1252", "latin-1")
    try:
        rows = list(source.rows())
    except ImportFileError as error:
        assert LINE.search(str(error)), str(error)  # a broken row names its line
        return None
    lines = [line for line, _values in rows]
    assert lines == sorted(set(lines)) and all(line > source.header_line for line in lines)
    assert all(len(values) >= len(source.headers) for _line, values in rows)
    assert all(isinstance(v, str) for _line, values in rows for v in values)
    return source, rows


@PROPERTY
@given(HOSTILE_BYTES)
@example(b",\r\x00")
@example(b'Name,Notes\nA,"unterminated\n')
@example(b"Name\n\x00\x00\n")
@example(b"\xef\xbb\xbf")
@example(b"Name;City\r\r\r\"a\"\"b\";c\r")
def test_any_bytes_are_read_or_refused_with_a_sentence(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("csv") / "hostile.csv"
    path.write_bytes(data)
    read = read_all(path)
    if read is not None:
        source, rows = read
        # resuming after any row gives the rest, as they were
        if rows:
            middle = rows[len(rows) // 2][0]
            assert list(source.rows(after_line=middle)) == [r for r in rows if r[0] > middle]


@PROPERTY
@given(HOSTILE_BYTES, st.sampled_from([*DELIMITERS, "|", "", "ab", "\n", '"']))
def test_a_forced_delimiter_is_used_or_refused(tmp_path_factory, data, delimiter):
    path = tmp_path_factory.mktemp("csv") / "hostile.csv"
    path.write_bytes(data)
    try:
        read = read_all(path, delimiter=delimiter)
    except ImportFileError as error:  # pragma: no cover - read_all handles these
        raise AssertionError(error) from None
    if read is not None:
        assert read[0].delimiter == delimiter
    elif delimiter not in DELIMITERS:
        with pytest.raises(ImportFileError):
            open_csv(path, delimiter=delimiter)


# ---------------------------------------------------------------- what a spreadsheet writes

CELL = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
PLAIN_CELL = st.text(st.characters(exclude_categories=("Cs", "Cc", "Zl", "Zp"),
                                   exclude_characters=',;\t"'), max_size=10)


@st.composite
def tables(draw, cell=CELL):
    width = draw(st.integers(1, 5))
    header = draw(st.lists(cell, min_size=width, max_size=width).filter(
        lambda h: any(c.strip() for c in h)))
    rows = draw(st.lists(st.lists(cell, min_size=1, max_size=width + 1), max_size=8))
    return [header, *rows]


def write_table(table, delimiter, terminator, quote_all, encoding) -> tuple[bytes, list[int]]:
    """The file's bytes as a spreadsheet writes them (a cell holding a delimiter, a quote or
    a line break is quoted), and the line each record starts on (CR, LF or CRLF ends one)."""
    def cell(value: str) -> str:
        if quote_all or any(c in value for c in (delimiter, '"', "\r", "\n")):
            return '"' + value.replace('"', '""') + '"'
        return value

    starts, text = [], ""
    for record in table:
        starts.append(len(re.findall(r"\r\n|\r|\n", text)) + 1)
        text += delimiter.join(cell(value) for value in record) + terminator
    return text.encode(encoding), starts


def expected_rows(table, starts) -> list[tuple[int, list[str]]]:
    width = len(table[0])
    rows = []
    for line, record in zip(starts[1:], table[1:]):
        if len(record) == 1 and not record[0].strip():
            continue  # a blank line (or one blank cell): skipped
        rows.append((line, record + [""] * (width - len(record))))
    return rows


@PROPERTY
@given(tables(), st.sampled_from(DELIMITERS), st.sampled_from(["\r\n", "\n", "\r"]),
       st.booleans(), st.sampled_from(["utf-8", "utf-8-sig"]))
def test_what_a_spreadsheet_writes_comes_back_exactly_on_its_lines(
        tmp_path_factory, table, delimiter, terminator, quote_all, encoding):
    data, starts = write_table(table, delimiter, terminator, quote_all, encoding)
    path = tmp_path_factory.mktemp("csv") / "table.csv"
    path.write_bytes(data)
    source = open_csv(path, delimiter=delimiter)
    assert source.encoding == encoding
    assert source.headers == tuple(cell.strip() for cell in table[0])
    assert source.header_line == 1
    assert list(source.rows()) == expected_rows(table, starts)


CP1252_CHARACTERS = "".join(
    character for character in bytes(range(0x20, 0x100)).decode("cp1252", errors="ignore")
    if character not in ',;\t"' and character.isprintable())


@st.composite
def regular_tables(draw):
    """(table, encoding): a header of two or more cells and rows just as wide, in characters
    the encoding can write; a cp1252 table holds at least one character beyond ASCII (else
    it is plain ASCII, which reads as UTF-8). Built, not filtered, so Hypothesis keeps
    almost every example."""
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    cell = PLAIN_CELL if encoding != "cp1252" else st.text(
        st.sampled_from(CP1252_CHARACTERS), max_size=10)
    width = draw(st.integers(2, 5))
    header = draw(st.lists(cell, min_size=width, max_size=width))
    header[0] = draw(st.sampled_from(["Name", "Nom", "Société", "Firma"])) + header[0]
    rows = draw(st.lists(st.lists(cell, min_size=width, max_size=width), max_size=8))
    if encoding == "cp1252":
        header[-1] += draw(st.sampled_from("éèàçøæåÆØÅ€ü"))
    return [header, *rows], encoding


@PROPERTY
@given(regular_tables(), st.sampled_from(DELIMITERS), st.sampled_from(["\r\n", "\n"]))
def test_delimiter_and_encoding_are_detected(tmp_path_factory, table_and_encoding, delimiter,
                                             terminator):
    table, encoding = table_and_encoding
    data, starts = write_table(table, delimiter, terminator, False, encoding)
    if encoding == "cp1252":
        try:
            data.decode("utf-8")
            assume(False)  # these bytes are also UTF-8 (rare): reading them so is right
        except UnicodeDecodeError:
            pass
    path = tmp_path_factory.mktemp("csv") / "table.csv"
    path.write_bytes(data)
    source = open_csv(path)
    assert source.delimiter == delimiter
    assert source.encoding == encoding
    assert list(source.rows()) == expected_rows(table, starts)


def test_a_field_beyond_the_csv_limit_names_its_line(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("Name,Notes\nA,b\nB,\"" + "x" * 200_000 + "\"\nC,d\n")
    with pytest.raises(ImportFileError, match="line 3"):
        list(open_csv(path).rows())


def test_a_row_of_empty_cells_before_the_header_is_not_the_header(tmp_path):
    path = tmp_path / "blank-first.csv"
    path.write_text(",,\nName,City,Phone\nAcme,Lyon,+4512345678\n")
    source = open_csv(path)
    assert (source.headers, source.header_line) == (("Name", "City", "Phone"), 2)
    assert list(source.rows()) == [(3, ["Acme", "Lyon", "+4512345678"])]


def test_an_encoding_that_does_not_fit_later_in_the_file_names_the_line(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"Name,City\n" + b"A,B\n" * 20_000 + b"Caf\xe9,X\n")
    source = open_csv(path, encoding="utf-8")
    with pytest.raises(ImportFileError, match="line 20002"):
        list(source.rows())


@pytest.mark.parametrize("blank", [",,", ";;;", " , ,", ",\r\n,,", '"",""'])
def test_rows_of_empty_cells_before_the_header_are_skipped_as_open_csv_does(tmp_path, blank):
    path = tmp_path / "blank-first.csv"
    delimiter = ";" if ";" in blank else ","
    path.write_text(f"{blank}\n\nName{delimiter}City\nAcme{delimiter}Lyon\n", newline="")
    source = open_csv(path, delimiter=delimiter)
    header_line = 2 + blank.count("\n")
    assert source.headers == ("Name", "City") and source.header_line == header_line + 1
    assert list(source.rows()) == [(header_line + 2, ["Acme", "Lyon"])]


@pytest.mark.parametrize("terminator", [b"\n", b"\r\n", b"\r"])
def test_the_undecodable_line_is_named_whatever_ends_lines(tmp_path, terminator):
    path = tmp_path / "latin.csv"
    lines = [b"Name,City"] + [b"A,B"] * 30_000 + [b"Caf\xe9,X", b"C,D"]
    path.write_bytes(terminator.join(lines) + terminator)
    source = open_csv(path, encoding="utf-8")
    with pytest.raises(ImportFileError, match=r'"latin\.csv", line 30002: not utf-8 text'):
        list(source.rows())


def test_a_file_changed_or_removed_since_open_csv_is_refused_with_a_sentence(tmp_path):
    path = tmp_path / "moving.csv"
    path.write_bytes(b"Name,City\nA,B\nC,D\n")
    source = open_csv(path)
    assert source.encoding == "utf-8"
    path.write_bytes(b"Name,City\nA,B\n\xff\xfe,D\n")
    with pytest.raises(ImportFileError, match="line 3"):
        list(source.rows())
    path.unlink()
    with pytest.raises(ImportFileError, match="Cannot read"):
        list(source.rows())


@pytest.mark.parametrize("name", ["evil\x1b[2J.csv", "bell\x07.csv"])
def test_file_names_in_refusals_are_inert(tmp_path, name):
    with pytest.raises(ImportFileError) as caught:
        open_csv(tmp_path / name)
    assert "\x1b" not in str(caught.value) and "\x07" not in str(caught.value)
    assert "No file" in str(caught.value) and ("\\x1b" in str(caught.value)
                                               or "\\x07" in str(caught.value))
    with pytest.raises(ImportFileError, match=r"Unsupported delimiter \"\\x1b\""):
        open_csv(__file__, delimiter="\x1b")
