"""Reading a spreadsheet's CSV export as it comes: encoding, delimiter, rows with line numbers.

``open_csv(path)`` looks at the file once and returns a ``CsvFile``: its encoding
(UTF-8 with or without a byte-order mark, else Windows-1252, else Latin-1), its
delimiter (comma, semicolon or tab), its header row and how many physical lines
it has (for a progress bar). ``CsvFile.rows()`` then streams ``(line, values)``
pairs, where ``line`` is the line of the FILE on which the row starts: a quoted
field holding line breaks makes a row span several lines, and errors must name
the line a person finds in their editor. Blank lines are skipped.

Nothing here knows about customers; a file that cannot be read at all raises
``ImportFileError`` with a sentence naming the file (and the line, when there is one).
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tui.domain.errors import ClientbookError
from tui.domain.validation import PATH_SHOWN, quoted
from tui.i18n import _

DELIMITERS = (",", ";", "\t")
SNIFF_LINES = 50
CHUNK = 1 << 20
# Bytes Windows-1252 leaves undefined: a file holding one is read as Latin-1 instead.
_CP1252_HOLES = (b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}


class ImportFileError(ClientbookError):
    """The file cannot be read as CSV; the message names the file and, if known, the line."""


@dataclass(frozen=True)
class CsvFile:
    path: Path
    encoding: str  # a Python codec name: utf-8-sig, utf-8, cp1252 or latin-1
    delimiter: str
    headers: tuple[str, ...]
    header_line: int  # the line the header row starts on (1 unless blank lines precede it)
    total_lines: int  # physical lines in the file, for progress
    sha256: str

    @property
    def delimiter_name(self) -> str:
        return _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))

    def rows(self, *, after_line: int = 0) -> Iterator[tuple[int, list[str]]]:
        """``(line, values)`` for every data row; rows starting on or before ``after_line``
        are skipped (a resumed import). Short rows are padded to the header's width.

        Rows up to the header are skipped as ``open_csv`` found them (``_header``): blank
        lines and rows of empty cells (",," is how a spreadsheet exports a blank row). A
        byte the encoding cannot read (a forced encoding that stops fitting past the
        sample, or a file changed since ``open_csv``) raises ImportFileError naming its
        line, as a broken row does.
        """
        width = len(self.headers)
        end = 0
        try:
            with self.path.open("r", encoding=self.encoding, newline="") as handle:
                reader = csv.reader(handle, delimiter=self.delimiter)
                for values in reader:
                    start, end = end + 1, reader.line_num
                    if start <= self.header_line:
                        continue
                    if not values or (len(values) == 1 and not values[0].strip()):
                        continue
                    if start <= after_line:
                        continue
                    if len(values) < width:
                        values = values + [""] * (width - len(values))
                    yield start, values
        except csv.Error as error:
            raise ImportFileError(_("{file}, line {line}: cannot read the CSV ({reason}).")
                                  .format(file=quoted(self.path.name, PATH_SHOWN), line=end + 1,
                                          reason=error)) from None
        except UnicodeDecodeError as error:
            line = _undecodable_line(self.path, self.encoding) or end + 1
            raise ImportFileError(_("{file}, line {line}: not {encoding} text ({reason}); "
                                    "give the file's encoding, or save it as UTF-8.")
                                  .format(file=quoted(self.path.name, PATH_SHOWN), line=line,
                                          encoding=self.encoding, reason=error.reason)) from None
        except OSError as error:
            raise ImportFileError(_("Cannot read {path}: {reason}").format(
                path=quoted(self.path, PATH_SHOWN), reason=error.strerror or error)) from None


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _undecodable_line(path: Path, encoding: str) -> int | None:
    """The line holding the first byte ``encoding`` cannot decode, counted as csv counts
    lines (CR, LF or CR LF ends one); None when the whole file decodes (or cannot be read)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    breaks = 0
    try:
        with path.open("rb") as handle:
            while piece := handle.readline(CHUNK):
                try:
                    text = decoder.decode(piece)
                except UnicodeDecodeError as error:
                    good = piece[:max(error.start, 0)].decode(encoding, errors="replace")
                    return breaks + len(_LINE_BREAK.findall(good)) + 1
                breaks += len(_LINE_BREAK.findall(text))
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return breaks + 1
    except OSError:
        return None
    return None


def detect_encoding(path: Path) -> str:
    """utf-8-sig (a BOM), utf-8, cp1252 or latin-1: the first that fits the whole file."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    is_utf8, holes, bom = True, False, None
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            if bom is None:
                bom = chunk.startswith(codecs.BOM_UTF8)
            if is_utf8:
                try:
                    decoder.decode(chunk)
                except UnicodeDecodeError:
                    is_utf8 = False
            holes = holes or any(byte in chunk for byte in _CP1252_HOLES)
            if holes and not is_utf8:
                break
    if is_utf8:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            is_utf8 = False
    if is_utf8:
        return "utf-8-sig" if bom else "utf-8"
    return "latin-1" if holes else "cp1252"


def detect_delimiter(sample: list[str]) -> str:
    """The candidate that splits the first lines into the most columns, consistently.

    Each candidate parses the sample (quotes respected); the score prefers the
    same width on every row, then the widest. A single column means comma.
    """
    best, best_score = ",", (-1, 0)
    text = "\n".join(sample)
    for delimiter in DELIMITERS:
        try:
            widths = [len(row) for row in csv.reader(text.splitlines(), delimiter=delimiter)
                      if row]
        except csv.Error:  # e.g. a huge field: reading the rows will say where
            continue
        if not widths or widths[0] < 2:
            continue
        consistent = sum(1 for w in widths if w == widths[0])
        score = (consistent, widths[0])
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _hash_and_count(path: Path) -> tuple[str, int]:
    digest, lines, last = hashlib.sha256(), 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    return digest.hexdigest(), lines


def open_csv(path: str | Path, *, delimiter: str | None = None,
             encoding: str | None = None) -> CsvFile:
    """Look at ``path`` and describe how to read it; ``delimiter``/``encoding`` force a choice."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ImportFileError(_("No file {path}.").format(path=quoted(path, PATH_SHOWN)))
    if path.is_dir():
        raise ImportFileError(_("{path} is a folder, not a CSV file.").format(
            path=quoted(path, PATH_SHOWN)))
    try:
        encoding = encoding or detect_encoding(path)
        sha256, total = _hash_and_count(path)
        with path.open("r", encoding=encoding, newline="") as handle:
            sample = []
            for line in handle:
                sample.append(line.rstrip("\r\n"))
                if len(sample) >= SNIFF_LINES:
                    break
    except OSError as error:
        raise ImportFileError(_("Cannot read {path}: {reason}").format(
            path=quoted(path, PATH_SHOWN), reason=error.strerror or error)) from None
    except LookupError:
        raise ImportFileError(_("Unknown encoding {encoding}: give a Python codec name such as "
                                "utf-8 or cp1252.").format(encoding=quoted(encoding))) from None
    except UnicodeDecodeError as error:
        raise ImportFileError(_("Cannot read {path} as {encoding}: {reason}").format(
            path=quoted(path, PATH_SHOWN), encoding=encoding, reason=error)) from None
    if delimiter is None:
        delimiter = detect_delimiter([line for line in sample if line.strip()][:SNIFF_LINES])
    if delimiter not in DELIMITERS:
        raise ImportFileError(_("Unsupported delimiter {value}: use a comma, a semicolon or a "
                                "tab.").format(value=quoted(delimiter)))
    headers, header_line = _header(path, encoding, delimiter)
    if not headers:
        raise ImportFileError(_("{path} is empty: the first line must name the columns.")
                              .format(path=quoted(path, PATH_SHOWN)))
    return CsvFile(path, encoding, delimiter, headers, header_line, total, sha256)


def _header(path: Path, encoding: str, delimiter: str) -> tuple[tuple[str, ...], int]:
    with path.open("r", encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        end = 0
        try:
            for values in reader:
                start, end = end + 1, reader.line_num
                if values and any(v.strip() for v in values):
                    return tuple(v.strip() for v in values), start
        except csv.Error as error:
            raise ImportFileError(_("{file}, line {line}: cannot read the CSV ({reason}).")
                                  .format(file=quoted(path.name, PATH_SHOWN), line=end + 1,
                                          reason=error)) from None
    return (), 0
