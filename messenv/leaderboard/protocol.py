"""The leaderboard protocol (``leaderboard/protocol.yaml``): which tracks a submission is scored on.

A track is one recording, a set of benchmarks each with its own SLA α, the seeds, the stream
length, the feedback sparsity and, optionally, a scenario (issue 12: a latency SLO, delayed
feedback, a changing zoo, a drift of the request mix or a windowed SLA;
:class:`~messenv.env.scenario.Scenario`) that every run of the track plays and that its references
face. One *run* is one (track, benchmark, seed): a fresh agent plays the benchmark's request stream
under that α.

A drift (``scenario.drift``) sets its own benchmarks and stream length, so a drift track has one
stream instead of one per benchmark: it names it with ``stream`` and gives its one ``alpha``, in
place of ``alphas``; its runs are (track, stream, seed), and the stream's name stands where a
benchmark's would (``RunKey.benchmark``, results.json's ``benchmark``).

A track's recording is either a catalogue name (public, reproducible by anyone) or a private
recording supplied only at evaluation time through an environment variable or a path, so that
maintainers can keep a hidden test set; results record the content sha256 of every recording
they were computed on.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from messenv.env.scenario import Scenario
from messenv.env.stream import StreamOptions
from messenv.leaderboard.schema import LeaderboardError, StrictModel, parse, read_yaml
from messenv.recordings import Recording, RecordingError, load
from messenv.recordings.catalogue import recording_file_sha256

PROTOCOL_FORMAT = "messenv-leaderboard-protocol/1"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"

Probability = Annotated[float, Field(ge=0.0, le=1.0)]

RUN_FIELDS = ("alphas", "stream", "alpha")
"""What names a track's runs: ``alphas`` (benchmark: α), or ``stream`` and ``alpha`` on a drift track.
Left out of the protocol's digest when unset, so that adding the drift form changed no digest."""


class PrivateRecording(StrictModel):
    """A recording that is not in the public catalogue: given by ``env`` (a variable holding the
    path of a ``.parquet`` recording) or by ``path``; exactly one of the two."""

    env: str | None = None
    path: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> PrivateRecording:
        if (self.env is None) == (self.path is None):
            raise ValueError("a private recording needs exactly one of 'env' (variable name) or 'path'")
        return self

    def locate(self, track: str) -> Path:
        """The recording's path, or a :class:`LeaderboardError` saying how to supply it."""
        if self.env is not None:
            value = os.environ.get(self.env, "")
            if not value:
                raise LeaderboardError(
                    f"track {track!r}: its private recording is not supplied: set the environment variable "
                    f"{self.env} to the path of the .parquet recording (or leave the track out with --protocol)"
                )
            path, origin = Path(value).expanduser(), f"${self.env}"
        else:
            path, origin = Path(str(self.path)).expanduser(), "path"
        if not path.is_file():
            raise LeaderboardError(f"track {track!r}: private recording {path} (from {origin}) does not exist")
        return path


class Track(StrictModel):
    """One scored setting (see the module docstring)."""

    name: Annotated[str, Field(pattern=NAME_PATTERN)]
    description: str
    recording: str | PrivateRecording
    alphas: Annotated[dict[str, Probability], Field(min_length=1)] | None = None
    stream: Annotated[str, Field(pattern=NAME_PATTERN)] | None = None
    alpha: Probability | None = None
    seeds: Annotated[list[int], Field(min_length=1)]
    n_requests: Annotated[int, Field(gt=0)] | None = None
    feedback_rate: Annotated[float, Field(gt=0.0, le=1.0)] = 1.0
    features: Literal["hashed", "minilm"] = "hashed"
    scenario: dict[str, Any] | None = None

    @field_validator("scenario")
    @classmethod
    def _valid_scenario(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        """A mapping :meth:`Scenario.parse` accepts, without the parts a track cannot play."""
        if value is not None:
            Scenario.parse(value)  # a ValueError names the bad key or value
        return value

    @model_validator(mode="after")
    def _runs_match_the_drift(self) -> Track:
        """``alphas`` without a drift; ``stream`` and ``alpha`` (and no ``n_requests``) with one."""
        if self.drifts:
            if self.alphas is not None or self.stream is None or self.alpha is None:
                raise ValueError(
                    "a drift track (scenario.drift) has one stream: give 'stream' (its name) and 'alpha', not 'alphas'"
                )
            if self.n_requests is not None:
                raise ValueError("a drift sets the stream's length: leave 'n_requests' unset on a drift track")
        elif self.alphas is None or self.stream is not None or self.alpha is not None:
            raise ValueError(
                "a track without scenario.drift gives 'alphas' (benchmark: α); "
                "'stream' and 'alpha' are for a drift track"
            )
        return self

    @model_serializer(mode="wrap")
    def _without_unset_run_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The track's fields, less the :data:`RUN_FIELDS` it does not use (see there)."""
        data = handler(self)
        for key in RUN_FIELDS:
            if data.get(key) is None:
                data.pop(key, None)
        return data

    @property
    def drifts(self) -> bool:
        """Whether the track's scenario drifts (then its runs are its one ``stream``)."""
        return self.scenario is not None and self.scenario.get("drift") is not None

    @property
    def run_alphas(self) -> dict[str, float]:
        """α of each of the track's streams: per benchmark, or the drift stream's."""
        if self.alphas is not None:
            return dict(self.alphas)
        return {str(self.stream): float(self.alpha)}

    @property
    def play_scenario(self) -> Scenario:
        """The scenario every run of the track plays (the stationary stream when none is given)."""
        return Scenario.parse(self.scenario)

    @property
    def private(self) -> bool:
        """Whether the recording is supplied at evaluation time rather than by the catalogue."""
        return isinstance(self.recording, PrivateRecording)

    def load_recording(self) -> tuple[Recording, str]:
        """The track's recording with its prompt features, checked to hold every benchmark, and the
        sha256 of the converted file it was read from.

        Raises:
            LeaderboardError: a private recording that is not supplied, or a recording that
                cannot be loaded or lacks one of the track's benchmarks.
        """
        source = self.recording.locate(self.name) if isinstance(self.recording, PrivateRecording) else self.recording
        try:
            recording = load(source, features=self.features)
            file_sha256 = recording_file_sha256(source)
        except RecordingError as error:
            raise LeaderboardError(f"track {self.name!r}: {error}") from error
        missing = sorted(set(self.alphas or ()) - set(recording.benchmark_names))
        if missing:
            raise LeaderboardError(
                f"track {self.name!r}: benchmark(s) {missing} not in recording {recording.name!r} "
                f"(it has {list(recording.benchmark_names)})"
            )
        try:  # a drift's benchmarks and phase lengths, a zoo change's models
            self.play_scenario.check_stream(recording, StreamOptions(self.n_requests))
        except ValueError as error:
            raise LeaderboardError(f"track {self.name!r}: {error}") from error
        return recording, file_sha256


class Protocol(StrictModel):
    """The whole protocol: shared rules and the tracks.

    ``time_limit_s`` bounds a run from the start of its agent's worker, ``step_time_limit_s`` each
    wait for the agent (building it excepted, which only the run's limit bounds), and
    ``memory_limit_mb`` the worker's address space (see :mod:`messenv.leaderboard.worker`).
    """

    format: Literal["messenv-leaderboard-protocol/1"]
    warmup_requests: Annotated[int, Field(ge=0)]
    time_limit_s: Annotated[float, Field(gt=0.0)]
    step_time_limit_s: Annotated[float, Field(gt=0.0)] = 10.0
    memory_limit_mb: Annotated[int, Field(ge=256)] = 4096
    verify_runs: Annotated[int, Field(ge=1)]
    tracks: Annotated[list[Track], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_tracks(self) -> Protocol:
        names = [track.name for track in self.tracks]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"track name(s) {duplicated} are used twice")
        return self

    def digest(self) -> str:
        """sha256 of the protocol's meaning (canonical JSON), so comments and layout do not count."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()

    def track(self, name: str) -> Track:
        """The track called ``name``."""
        for track in self.tracks:
            if track.name == name:
                return track
        raise LeaderboardError(f"no track {name!r} in the protocol; tracks: {[t.name for t in self.tracks]}")

    def runs(self) -> list[RunKey]:
        """Every run a submission is scored on, in evaluation order."""
        return [
            RunKey(track.name, benchmark, seed)
            for track in self.tracks
            for benchmark in track.run_alphas
            for seed in track.seeds
        ]


@dataclass(frozen=True, order=True)
class RunKey:
    """One run: a benchmark of a track (a drift track's stream), played with one seed."""

    track: str
    benchmark: str
    seed: int

    def __str__(self) -> str:
        return f"{self.track}/{self.benchmark}/seed {self.seed}"


def load_protocol(path: str | os.PathLike[str]) -> Protocol:
    """Read and validate a protocol file.

    Raises:
        LeaderboardError: missing file, bad YAML, or a field that fails validation (named).
    """
    path = Path(path)
    return parse(Protocol, read_yaml(path, follow_links=True), str(path))  # the operator's file
