"""The catalogue of named recordings: where each comes from, how to verify and convert it, and the cache.

One YAML file per name ships in the data package ``messenv_recordings`` (``recordings/`` in the
repository). Extra catalogue directories can be listed in ``$MESSENV_CATALOGUE`` (separated by
``os.pathsep``) for private recordings. A YAML file is a catalogue entry when it says
``format: messenv-catalogue/1``; other YAML files there (the synthetic zoo specs) are not entries.

Entry fields (all required unless marked optional):

``name``
    the catalogue name (lower case, digits, ``.``, ``_``, ``-``); one name per zoo, benchmark
    selection is an argument of :func:`load`, not a separate name.
``description``, ``zoo``, ``licence``
    text shown by ``python -m messenv.recordings info``.
``models``
    model label -> model id, cheapest first (what the recording is expected to hold).
``benchmarks``
    the benchmarks the converted recording holds.
``files`` (published recordings)
    list of ``{name, url, sha256, size}``; ``url`` may be ``https://``, ``http://`` or ``file://``.
``converter`` (published recordings)
    ``"module:function"`` taking the path of the single file, or of the directory holding all the
    files when there are several, and returning a :class:`Recording`.
``synthetic: true``, ``generator``, ``spec``, ``seed`` (generated recordings)
    ``generator`` is ``"module:function"`` called as ``generator(spec, seed)`` where ``spec`` is
    the path of the spec file (relative to the entry's directory); nothing is downloaded.

Converted recordings are cached as parquet (:mod:`messenv.recordings.store`) under
``$MESSENV_HOME/recordings/`` (default ``~/.cache/messenv``). Source bytes are verified against
the catalogue's sha256 *before* anything is converted or cached, so a corrupted download or a
different local file can never end up in the cache. The cache is tamper-evident: ``pull`` and
``import`` record the converted file's own sha256 in ``$MESSENV_HOME/checksums/<file>.sha256``
(``sha256sum`` format, apart from the parquet), and :func:`load` refuses a cached file that no
longer matches it, naming the file and the command that re-creates it.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.resources
import importlib.util
import inspect
import json
import os
import re
import tempfile
import tokenize
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

import yaml

from messenv.atomic import atomic_write_text
from messenv.home import messenv_home
from messenv.recordings.arrays import read_cached_recording
from messenv.recordings.errors import RecordingError
from messenv.recordings.features import ensure_features
from messenv.recordings.local import local_entries, local_entry, looks_like_path, read_path
from messenv.recordings.recording import Recording
from messenv.recordings.store import file_sha256, write_recording

__all__ = [
    "CATALOGUE_FORMAT",
    "DEFAULT_RECORDING",
    "CatalogueEntry",
    "CatalogueError",
    "SourceFile",
    "cache_path",
    "catalogue",
    "get_entry",
    "import_local",
    "is_cached",
    "load",
    "pull",
    "recording_file_sha256",
]

CATALOGUE_FORMAT = "messenv-catalogue/1"
DEFAULT_RECORDING = "synthetic-llama3"
"""The recording used when none is named: generated offline, always available."""

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CHUNK = 1 << 20
_DOWNLOAD_TIMEOUT_S = 60.0


class CatalogueError(RecordingError):
    """A catalogue entry is malformed, unknown, not cached, or its source cannot be fetched or verified."""


@dataclass(frozen=True)
class SourceFile:
    """One published raw file of a recording."""

    name: str
    url: str
    sha256: str
    size: int


@dataclass(frozen=True)
class CatalogueEntry:
    """A named recording: its provenance, how to obtain it and what it holds."""

    name: str
    description: str
    zoo: str
    licence: str
    models: Mapping[str, str]
    benchmarks: tuple[str, ...]
    origin: Path
    files: tuple[SourceFile, ...] = ()
    converter: str = ""
    synthetic: bool = False
    generator: str = ""
    spec: Path | None = None
    seed: int = 0

    @property
    def source_url(self) -> str:
        """The URL of the single source file, or one URL per line for several."""
        return "\n".join(f.url for f in self.files)


# ---------------------------------------------------------------------- reading the catalogue
def _field(data: Mapping[str, Any], key: str, kind: type, origin: Path, default: Any = ...) -> Any:
    """``data[key]`` checked to be of ``kind``; a missing or mistyped field names the file and key."""
    if key not in data:
        if default is ...:
            raise CatalogueError(f"{origin}: catalogue field {key!r} is missing")
        return default
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise CatalogueError(f"{origin}: catalogue field {key!r} should be a {kind.__name__}, got {value!r}")
    return value


def _source_file(raw: Any, origin: Path, index: int) -> SourceFile:
    where = origin.with_name(f"{origin.name} files[{index}]")
    if not isinstance(raw, Mapping):
        raise CatalogueError(f"{where}: expected a mapping with name, url, sha256, size")
    source = SourceFile(
        name=_field(raw, "name", str, where),
        url=_field(raw, "url", str, where),
        sha256=_field(raw, "sha256", str, where).lower(),
        size=_field(raw, "size", int, where),
    )
    if not _SHA256.match(source.sha256):
        raise CatalogueError(f"{where}: sha256 {source.sha256!r} is not 64 hex digits")
    if Path(source.name).name != source.name:
        raise CatalogueError(f"{where}: file name {source.name!r} must not contain a directory")
    return source


def _parse_entry(data: Any, origin: Path) -> CatalogueEntry:
    """Validate one catalogue YAML document (already parsed) and build its entry."""
    if not isinstance(data, Mapping):
        raise CatalogueError(f"{origin}: a catalogue entry is a mapping, got {type(data).__name__}")
    name = _field(data, "name", str, origin)
    if not _NAME.match(name):
        raise CatalogueError(f"{origin}: name {name!r} may only hold lower-case letters, digits, '.', '_' and '-'")
    models = _field(data, "models", Mapping, origin)
    common = dict(
        name=name,
        description=" ".join(_field(data, "description", str, origin).split()),
        zoo=_field(data, "zoo", str, origin),
        licence=_field(data, "licence", str, origin),
        models={str(k): str(v) for k, v in models.items()},
        benchmarks=tuple(str(b) for b in _field(data, "benchmarks", list, origin)),
        origin=origin,
    )
    if _field(data, "synthetic", bool, origin, default=False):
        spec = origin.parent / _field(data, "spec", str, origin)
        return CatalogueEntry(
            **common,
            synthetic=True,
            generator=_field(data, "generator", str, origin),
            spec=spec,
            seed=_field(data, "seed", int, origin),
        )
    raw_files = _field(data, "files", list, origin)
    if not raw_files:
        raise CatalogueError(f"{origin}: catalogue field 'files' is empty")
    files = tuple(_source_file(raw, origin, i) for i, raw in enumerate(raw_files))
    return CatalogueEntry(**common, files=files, converter=_field(data, "converter", str, origin))


def _catalogue_dirs() -> list[Path]:
    bundled = Path(str(importlib.resources.files("messenv_recordings")))
    extra = [Path(p).expanduser() for p in os.environ.get("MESSENV_CATALOGUE", "").split(os.pathsep) if p]
    return [bundled, *extra]


# libyaml's parser where PyYAML was built with it (as messenv.recordings.synthetic reads specs):
# the same documents ~10x faster than the pure-Python one, which cost ~30 ms per catalogue read.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def catalogue() -> dict[str, CatalogueEntry]:
    """Every catalogue entry by name: the bundled ones and those in ``$MESSENV_CATALOGUE``.

    Raises:
        CatalogueError: on a malformed entry or a name defined twice (both files are named).
    """
    entries: dict[str, CatalogueEntry] = {}
    for directory in _catalogue_dirs():
        if not directory.is_dir():
            raise CatalogueError(f"{directory}: catalogue directory (from $MESSENV_CATALOGUE) does not exist")
        for path in sorted(directory.glob("*.yaml")):
            try:
                data = yaml.load(path.read_text(encoding="utf-8"), Loader=_YAML_LOADER)
            except yaml.YAMLError as error:
                raise CatalogueError(f"{path}: not valid YAML ({error})") from error
            if not isinstance(data, Mapping) or data.get("format") != CATALOGUE_FORMAT:
                continue  # other package data (e.g. a synthetic zoo spec), not an entry
            entry = _parse_entry(data, path)
            if entry.name in entries:
                raise CatalogueError(f"recording {entry.name!r} is defined twice: {entries[entry.name].origin} and {path}")
            entries[entry.name] = entry
    return entries


def get_entry(name: str, entries: Mapping[str, CatalogueEntry] | None = None) -> CatalogueEntry:
    """The catalogue entry called ``name`` (in ``entries``, a :func:`catalogue` already read, or
    read now); an unknown name is an error listing the known ones."""
    entries = catalogue() if entries is None else entries
    if name not in entries:
        raise CatalogueError(
            f"no recording named {name!r} in the catalogue; known: {', '.join(sorted(entries))}; "
            f"local: {', '.join(sorted(local_entries())) or 'none'} (import your own with "
            "`python -m messenv.recordings import FILE --name NAME`, or pass a path to a recording file)"
        )
    return entries[name]


# ---------------------------------------------------------------------- cache
def _recordings_dir() -> Path:
    return messenv_home() / "recordings"


def _generator_source(entry: CatalogueEntry) -> str:
    """The source of the module that ``entry.generator`` names, read without importing it (as
    ``inspect.getsource`` reads a module: ``tokenize.open``), so that loading a cached synthetic
    recording does not import its generator (scipy: ~0.3 s and ~40 MiB of RSS)."""
    module_name = entry.generator.partition(":")[0]
    try:
        spec = importlib.util.find_spec(module_name)
    except (ImportError, ValueError) as error:
        raise CatalogueError(f"{entry.origin}: cannot import {entry.generator!r} ({error})") from error
    if spec is None or not spec.has_location or spec.origin is None:
        raise CatalogueError(f"{entry.origin}: cannot import {entry.generator!r} (no source file for {module_name!r})")
    with tokenize.open(spec.origin) as source:
        return source.read()


def _synthetic_key(entry: CatalogueEntry) -> str:
    """Hash of what determines a generated recording: spec bytes, seed and the generator's code
    (the source of the module its ``"module:function"`` names, where :func:`_generate` requires
    the function to be defined).

    Keying the cache on the generator's source means editing the generator invalidates the cache
    instead of silently replaying a zoo the current code would no longer produce.
    """
    assert entry.spec is not None
    digest = hashlib.sha256()
    digest.update(entry.spec.read_bytes())
    digest.update(str(entry.seed).encode())
    digest.update(_generator_source(entry).encode())
    return digest.hexdigest()[:16]


def cache_path(entry: CatalogueEntry) -> Path:
    """Where the converted recording of ``entry`` is (or would be) cached."""
    if entry.synthetic:
        return _recordings_dir() / f"{entry.name}-{_synthetic_key(entry)}.parquet"
    return _recordings_dir() / f"{entry.name}.parquet"


def checksum_path(cached: Path) -> Path:
    """Where the sha256 of the cached file ``cached`` is recorded (outside the recordings folder)."""
    return messenv_home() / "checksums" / f"{cached.name}.sha256"


def _cache(recording: Recording, entry: CatalogueEntry) -> Path:
    """Write ``recording`` to the cache of ``entry`` and record the file's sha256 beside the cache."""
    path = write_recording(recording, cache_path(entry))
    checksum = checksum_path(path)
    checksum.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(checksum, f"{file_sha256(path)}  {path.name}\n")
    return path


def _recreate_hint(entry: CatalogueEntry) -> str:
    if entry.synthetic:
        return f"re-create it with `python -m messenv.recordings pull {entry.name}`"
    return (f"re-import it with `python -m messenv.recordings import PATH --name {entry.name}` "
            f"or `python -m messenv.recordings pull {entry.name}`")


def check_cached(entry: CatalogueEntry, path: Path | None = None) -> str:
    """The sha256 of the cached file of ``entry`` (at ``path``, default :func:`cache_path`), checked
    against the one recorded when it was cached.

    Raises:
        CatalogueError: the file was modified since (or its checksum is missing), naming the file
            and the command that re-creates it.
    """
    path = cache_path(entry) if path is None else path
    checksum = checksum_path(path)
    if not checksum.is_file():
        raise CatalogueError(f"{path}: no recorded sha256 ({checksum} is missing), so the cached recording cannot "
                             f"be trusted; {_recreate_hint(entry)}")
    expected = checksum.read_text(encoding="utf-8").partition(" ")[0]
    actual = file_sha256(path)
    if actual != expected:
        raise CatalogueError(f"{path}: the cached recording was modified after it was cached (sha256 {actual[:12]}…, "
                             f"{checksum.name} records {expected[:12]}…); {_recreate_hint(entry)}")
    return actual


def is_cached(entry: CatalogueEntry) -> bool:
    """Whether the converted recording of ``entry`` is in the cache."""
    return cache_path(entry).is_file()


# ---------------------------------------------------------------------- fetching and converting
def _resolve(reference: str, entry: CatalogueEntry) -> Callable[..., Recording]:
    """Import ``"module:function"`` lazily, so the catalogue works before every reader is installed."""
    module_name, _, attribute = reference.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as error:
        raise CatalogueError(f"{entry.origin}: cannot import {reference!r} ({error})") from error
    if not callable(function):
        raise CatalogueError(f"{entry.origin}: {reference!r} is not callable")
    return function


def _copy_verified(
    stream: IO[bytes], destination: Path, source: SourceFile, origin: str, entry: CatalogueEntry, hint: str = ""
) -> None:
    """Copy ``stream`` to ``destination`` while hashing it; raise unless sha256 and size match
    (``hint``: a last sentence for that error)."""
    digest = hashlib.sha256()
    size = 0
    with destination.open("wb") as out:
        while True:
            try:
                chunk = stream.read(_CHUNK)
            except OSError as error:  # connection reset, timeout, unreadable local file
                raise CatalogueError(f"{origin}: reading failed after {size} bytes ({error}); nothing was cached") from error
            if not chunk:
                break
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    actual = digest.hexdigest()
    if actual != source.sha256 or size != source.size:
        raise CatalogueError(
            f"{origin}: sha256 {actual} ({size} bytes) does not match the catalogue's {source.sha256} "
            f"({source.size} bytes) for {source.name} of {entry.name!r}; nothing was cached{hint}"
        )


def _finalise(recording: Recording, entry: CatalogueEntry) -> Recording:
    """Name the converted recording after its entry and record the catalogue's provenance."""
    metadata = recording.metadata
    if len(entry.files) == 1:
        sha256 = entry.files[0].sha256
    else:
        sha256 = json.dumps({f.name: f.sha256 for f in entry.files}, sort_keys=True)
    metadata = replace(
        metadata,
        source_url=entry.source_url,
        source_sha256=sha256,
        zoo=metadata.zoo or entry.zoo,
        model_ids=dict(metadata.model_ids) or dict(entry.models),
        extra={**metadata.extra, "catalogue": entry.name, "licence": entry.licence},
    )
    return replace(recording, name=entry.name, metadata=metadata)


def _convert_verified(
    entry: CatalogueEntry, open_source: Callable[[SourceFile], tuple[IO[bytes], str]], hint: str = ""
) -> Path:
    """Stage every source file (verified), convert, and cache the parquet atomically (``hint``:
    appended to a checksum mismatch's error).

    Files are staged in a temporary directory inside the cache directory and removed afterwards,
    whatever happens; the cache file is only written once every file has verified and converted.
    """
    converter = _resolve(entry.converter, entry)
    directory = _recordings_dir()
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{entry.name}-staging-", dir=directory) as staging:
        origins = {}
        for source in entry.files:
            stream, origins[source.name] = open_source(source)
            with stream:
                _copy_verified(stream, Path(staging) / source.name, source, origins[source.name], entry, hint)
        converter_input = Path(staging) / entry.files[0].name if len(entry.files) == 1 else Path(staging)
        try:
            recording = _finalise(converter(converter_input), entry)
        except RecordingError as error:
            raise RecordingError(_name_origins(str(error), Path(staging), origins)) from error
        return _cache(recording, entry)


def _name_origins(message: str, staging: Path, origins: Mapping[str, str]) -> str:
    """A converter's error with each staged copy's path replaced by where the file came from:
    the staging folder is deleted when the command ends, so its paths would point nowhere."""
    for name, origin in origins.items():
        message = message.replace(str(staging / name), origin)
    return message.replace(str(staging), f"the source files ({', '.join(origins.values())})")


def _download(source: SourceFile) -> tuple[IO[bytes], str]:
    try:
        return urllib.request.urlopen(source.url, timeout=_DOWNLOAD_TIMEOUT_S), source.url
    except urllib.error.HTTPError as error:
        reason = f"HTTP {error.code} {error.reason}"
        raise CatalogueError(f"{source.url}: download failed ({reason}); nothing was cached") from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise CatalogueError(f"{source.url}: download failed ({reason}); nothing was cached") from error


def pull(name: str) -> Path:
    """Download, verify (sha256 + size), convert and cache the recording ``name``; returns the cache path.

    A synthetic entry is generated instead. Pulling again replaces the cached file atomically.
    """
    entry = get_entry(name)
    if entry.synthetic:
        return _generate(entry)
    return _convert_verified(entry, _download)


def import_local(path: str | os.PathLike[str], name: str) -> Path:
    """Like :func:`pull`, from a local copy of the source file(s); returns the cache path.

    ``path`` is the file itself or a directory holding it; for a recording published as several
    files, the directory holding all of them (under the catalogue's file names). Each file must
    have the catalogue's sha256, so a local copy yields the same cached recording as a download.
    """
    entry = get_entry(name)
    own_zoo = "; to import a zoo of your own, give it a --name the catalogue does not use"
    if entry.synthetic:
        raise CatalogueError(
            f"{name!r} is a generated catalogue recording, not imported: `python -m messenv.recordings pull {name}` "
            f"makes it{own_zoo}"
        )
    local = Path(path).expanduser()
    if not local.exists():
        raise CatalogueError(f"{local}: no such file or directory")
    if local.is_file() and len(entry.files) > 1:
        names = ", ".join(f.name for f in entry.files)
        raise CatalogueError(f"{local}: {name!r} has {len(entry.files)} files ({names}); pass the directory holding them")
    if local.is_dir():
        missing = [f.name for f in entry.files if not (local / f.name).is_file()]
        if missing:
            raise CatalogueError(f"{local}: missing {', '.join(missing)} for {name!r}; nothing was cached")

    def open_local(source: SourceFile) -> tuple[IO[bytes], str]:
        file = local / source.name if local.is_dir() else local
        return file.open("rb"), str(file)

    return _convert_verified(entry, open_local, f" (a catalogue name stands for its published files{own_zoo})")


def _generate(entry: CatalogueEntry) -> Path:
    """Generate a synthetic entry's recording and cache it (keyed by spec, seed and generator code)."""
    generator = _resolve(entry.generator, entry)
    defined_in = getattr(inspect.getmodule(generator), "__name__", None)
    if defined_in != entry.generator.partition(":")[0]:
        raise CatalogueError(
            f"{entry.origin}: generator {entry.generator!r} is defined in {defined_in!r}; name that module "
            "(its source keys the cache)"
        )
    assert entry.spec is not None
    if not entry.spec.is_file():
        raise CatalogueError(f"{entry.origin}: synthetic spec {entry.spec} does not exist")
    recording = generator(entry.spec, entry.seed)
    recording = replace(recording, name=entry.name, metadata=replace(recording.metadata, synthetic=True))
    return _cache(recording, entry)


# ---------------------------------------------------------------------- loading
def recording_file_sha256(name_or_path: str | os.PathLike[str]) -> str:
    """sha256 of the file :func:`load` reads for ``name_or_path``: the file itself for a path, the
    converted parquet of a local name, the checked cache file of a catalogue name."""
    text = os.fspath(name_or_path)
    if looks_like_path(name_or_path):
        return file_sha256(text)
    entries = catalogue()
    local = local_entry(text) if text not in entries else None
    return file_sha256(local.path) if local is not None else check_cached(get_entry(text, entries))


def _load_full(name_or_path: str | os.PathLike[str]) -> Recording:
    text = os.fspath(name_or_path)
    if looks_like_path(name_or_path):
        return read_path(text)
    entries = catalogue()
    local = local_entry(text) if text not in entries else None
    if local is not None:
        if not local.path.is_file():
            raise RecordingError(
                f"{local.path}: no such recording file (local name {text!r}); import it again with "
                f"`python -m messenv.recordings import {local.source} --name {text}`"
            )
        return read_cached_recording(local.path, file_sha256(local.path))
    entry = get_entry(text, entries)
    path = cache_path(entry)
    if not path.is_file():
        if not entry.synthetic:
            raise CatalogueError(
                f"recording {text!r} is not cached in {path.parent}; fetch it with "
                f"`python -m messenv.recordings pull {text}` (downloads {sum(f.size for f in entry.files):,} bytes) "
                f"or import a local copy with `python -m messenv.recordings import PATH --name {text}`"
            )
        path = _generate(entry)
    elif entry.synthetic and not checksum_path(path).is_file():
        path = _generate(entry)  # cached before checksums were recorded: generating again is cheap and exact
    return read_cached_recording(path, check_cached(entry, path))


def load(
    name_or_path: str | os.PathLike[str] | None = None,
    benchmarks: str | Iterable[str] | None = None,
    features: str | None = None,
) -> Recording:
    """A recording by catalogue or local name, file path, or ``None`` for :data:`DEFAULT_RECORDING`.

    Args:
        name_or_path: a catalogue name (read from the cache; the synthetic default is generated
            on first use), a local name (``python -m messenv.recordings import FILE --name NAME``),
            or a path: a ``.parquet`` recording, or a MESS+ CSV, tarball or JSON that is converted
            once and cached by content (:mod:`messenv.recordings.local`).
        benchmarks: keep only these benchmarks (one name or several); ``None`` keeps all.
        features: ``None`` returns the recording without prompt features; ``"auto"``,
            ``"minilm"`` or ``"hashed"`` attach them via
            :func:`messenv.recordings.features.ensure_features`. Features are computed on the whole
            recording *before* the benchmark selection, so every selection reuses one cache entry.

    Raises:
        RecordingError: unknown name (the known ones are listed), a name not yet cached (the
            pull/import command is given), an unreadable file, or an unknown benchmark.
    """
    recording = _load_full(DEFAULT_RECORDING if name_or_path is None else name_or_path)
    if features is not None:
        recording = ensure_features(recording, kind=features)
    if benchmarks is not None:
        recording = recording.select(benchmarks=[benchmarks] if isinstance(benchmarks, str) else list(benchmarks))
    return recording
