"""Find the export files under PATH and say what format each one is."""

from __future__ import annotations

import dataclasses
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


def suffix_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes[-2:]]
    two = "".join(suffixes)
    return two if two in FORMATS else (suffixes[-1] if suffixes else "")


def discover(path: Path) -> Discovery:
    """Every readable export under `path` (recursively), in a stable order."""
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
    skipped: list[tuple[str, str]] = []
    hive_roots: set[Path] = set()
    for p in sorted(path.rglob("*")):
        rel_parts = p.relative_to(path).parts
        if any(part.startswith(".") for part in rel_parts) or not p.is_file():
            continue
        name = "/".join(rel_parts)
        fmt = FORMATS.get(suffix_of(p))
        if p.name.lower() in IGNORED_NAMES or p.name.startswith("~$"):
            skipped.append((name, "not an export (churnwhy's own file or an Office lock file)"))
            continue
        if fmt is None:
            skipped.append((name, f"unsupported file type {suffix_of(p) or '(no extension)'!r}"))
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
    if not files:
        raise InputError(
            f"{path}: no export files found" + (f" ({len(skipped)} other files skipped)" if skipped else ""),
            hint="put CSV, TSV, Parquet, JSON/NDJSON or Excel exports in the folder",
        )
    return Discovery(tuple(files), tuple(skipped))
