"""Find the export files under PATH and say what format each one is."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

from churnwhy.errors import InputError

# suffix (lower case, compression included) -> format
FORMATS = {
    ".csv": "csv", ".tsv": "csv", ".txt": "csv", ".tab": "csv",
    ".csv.gz": "csv", ".tsv.gz": "csv", ".txt.gz": "csv",
    ".parquet": "parquet", ".pq": "parquet",
    ".json": "json", ".json.gz": "json",
    ".ndjson": "ndjson", ".jsonl": "ndjson", ".ndjson.gz": "ndjson", ".jsonl.gz": "ndjson",
    ".xlsx": "excel", ".xlsm": "excel",
}
# Files churnwhy writes or reads for itself, never exports.
IGNORED_NAMES = {"churnwhy.toml", "truth.json", "report.json"}
_HIVE_PART = re.compile(r"^[^=/]+=[^/]*$")


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """One export: a file, or a hive-partitioned Parquet folder read as one table."""

    path: Path
    name: str  # path relative to the input folder, with '/' separators: how messages and config name it
    format: str
    compressed: bool = False


@dataclasses.dataclass(frozen=True)
class Discovery:
    files: tuple[SourceFile, ...]
    skipped: tuple[tuple[str, str], ...]  # (name, why) for files that are not exports
    unreadable: tuple[tuple[str, str], ...] = ()  # (name, why) for files and folders that could not be read


def suffix_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    two = "".join(suffixes)
    return two if two in FORMATS else (suffixes[-1] if suffixes else "")


_URI = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):(/.*)$")


def as_uri(path: Path | str) -> str | None:
    """`path` as a URI (file:///data/x, s3a://bucket/x) when it is one and not a local path, else None.

    A URI that went through pathlib (the command line's PATH argument) has lost a slash: s3a:/bucket/x and
    file:/data/x are given back as s3a://bucket/x and file:///data/x (hdfs://namenode/x keeps its host;
    write hdfs://host/path rather than hdfs:///path)."""
    text = str(path)
    found = _URI.match(text)
    if found is None or Path(text).exists():
        return None
    scheme, rest = found.groups()
    if rest.startswith("//"):
        return text
    return f"{scheme}://{rest}" if scheme.lower() == "file" else f"{scheme}:/{rest}"


def discover(path: Path) -> Discovery:
    """Every readable export under `path` (recursively), in a stable order."""
    uri = as_uri(path)
    if uri is not None:
        raise InputError(f"{uri} is a URI: the default engine reads local folders and files only",
                         hint="use --engine spark (Spark lists and reads it through its own filesystem), "
                              "or copy or mount the exports to a local folder")
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path} does not exist", hint="pass a folder of exports or one export file")
    if path.is_file():
        fmt = FORMATS.get(suffix_of(path))
        if fmt is None:
            raise InputError(
                f"{path.name}: unsupported file type {suffix_of(path) or '(no extension)'!r}",
                hint="export as CSV, TSV, Parquet, JSON/NDJSON or Excel .xlsx (gzip is fine)",
            )
        return Discovery((SourceFile(path, path.name, fmt, path.name.lower().endswith(".gz")),), ())

    files: list[SourceFile] = []
    hive_roots: set[Path] = set()
    paths, unreadable, skipped = _walk(path)
    for p in paths:
        rel_parts = p.relative_to(path).parts
        name = "/".join(rel_parts)
        fmt = FORMATS.get(suffix_of(p))
        if p.name.lower() in IGNORED_NAMES or p.name.startswith("~$"):
            skipped.append((name, "not an export (churnwhy's own file or an Office lock file)"))
            continue
        if fmt is None:
            skipped.append((name, f"unsupported file type {suffix_of(p) or '(no extension)'!r}"))
            continue
        if not os.access(p, os.R_OK):
            unreadable.append((name, "cannot be read (permission denied)"))
            continue
        if fmt == "parquet":
            hive = [i for i, part in enumerate(rel_parts[:-1]) if _HIVE_PART.match(part)]
            if hive:
                root = path.joinpath(*rel_parts[: hive[0]])
                if root not in hive_roots:
                    hive_roots.add(root)
                    files.append(SourceFile(root, "/".join(rel_parts[: hive[0]]) or ".", "parquet-hive"))
                continue
        files.append(SourceFile(p, name, fmt, p.name.lower().endswith(".gz")))
    unreadable.sort()
    if not files and unreadable:
        name, why = unreadable[0]
        raise InputError(f"{path}: no readable export files ({name}: {why}"
                         + (f", and {len(unreadable) - 1} more" if len(unreadable) > 1 else "") + ")",
                         hint="give churnwhy read access to the files (chmod), or copy them to a folder you own")
    if not files:
        raise InputError(
            f"{path}: no export files found" + (f" ({len(skipped)} other files skipped)" if skipped else ""),
            hint="put CSV, TSV, Parquet, JSON/NDJSON or Excel exports in the folder",
        )
    return Discovery(tuple(files), tuple(skipped), tuple(unreadable))


def _walk(root: Path) -> tuple[list[Path], list[tuple[str, str]], list[tuple[str, str]]]:
    """Every file under `root` in a stable order, following symlinked folders once each (a link back up the
    tree is not followed again); folders that cannot be listed and broken links are returned as (name, why),
    and so are what is not read: links not followed, hidden folders, hidden files that look like exports."""
    found: list[Path] = []
    problems: list[tuple[str, str]] = []
    loops: list[tuple[str, str]] = []
    seen = {os.path.realpath(root)}

    def rel(p: str) -> str:
        return os.path.relpath(p, root).replace(os.sep, "/")

    def failed(exc: OSError) -> None:
        problems.append((rel(exc.filename), f"folder cannot be read ({exc.strerror or exc})"))

    for folder, dirs, names in os.walk(root, onerror=failed, followlinks=True):
        keep = []
        for d in sorted(dirs):
            full = os.path.join(folder, d)
            if d.startswith("."):  # .git, .cache...: named, not read
                loops.append((rel(full) + "/", "hidden folder (not read)"))
                continue
            real = os.path.realpath(full)
            if real in seen:  # a loop, or a second link to a folder already read
                if os.path.islink(full):
                    loops.append((rel(full), "link to a folder already read (not read twice)"))
                continue
            seen.add(real)
            if not os.access(full, os.R_OK | os.X_OK):
                problems.append((rel(full), "folder cannot be read (permission denied)"))
                continue
            keep.append(d)
        dirs[:] = keep
        for n in sorted(names):
            full = os.path.join(folder, n)
            if n.startswith("."):
                if suffix_of(Path(n)) in FORMATS:  # a hidden export (.backup.csv) is named; .DS_Store is not
                    loops.append((rel(full), "hidden file (not read)"))
                continue
            if not os.path.exists(full):
                problems.append((rel(full), "broken link (its target does not exist)"))
                continue
            if os.path.isfile(full):
                found.append(Path(full))
            elif not os.path.isdir(full):  # a pipe, socket or device: reading it could block
                loops.append((rel(full), "not a regular file"))
    return sorted(found), problems, loops
