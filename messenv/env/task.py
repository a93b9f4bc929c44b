"""What an agent is allowed to know about the task it plays: the zoo, the SLA, the stream length.

A :class:`TaskSpec` is handed to agents in place of the recording, so that an agent can size its
predictor and choose its actions without ever seeing a label, an energy figure or a quality figure
of the recording it is scored on.
"""

from __future__ import annotations

from dataclasses import dataclass

from messenv.env.scenario import LatencySLO, Scenario
from messenv.recordings import Recording


@dataclass(frozen=True)
class TaskSpec:
    """The public description of one episode.

    Attributes:
        models: model labels, cheapest first; action ``i`` runs ``models[i]``.
        alpha: the SLA, the mean quality the episode must reach.
        n_requests: length T of the request stream.
        explore_action: index of the "query every model" action, or ``None`` if the env has none.
        feature_dim: length D of the ``features`` observation.
        features_kind: which features those are (``"minilm"``, ``"hashed-ngram"``, ...).
        benchmark_names: names behind the ``benchmark`` observation's integer.
        feedback_rate: probability that a step's quality is revealed in ``info``.
        latency_slo: the latency SLO of a latency scenario, the second constraint (``None``: none).
        feedback_delayed: qualities arrive late, in ``info["delayed_feedback"]`` (a delay scenario).
        sla_window: the window W of a windowed SLA: requests ``[kW, (k + 1)W)`` (the last window
            may be shorter) must each reach α on their own mean (``None``: the whole stream only).
    """

    models: tuple[str, ...]
    alpha: float
    n_requests: int
    explore_action: int | None
    feature_dim: int
    features_kind: str
    benchmark_names: tuple[str, ...]
    feedback_rate: float = 1.0
    latency_slo: LatencySLO | None = None
    feedback_delayed: bool = False
    sla_window: int | None = None

    @classmethod
    def for_recording(
        cls,
        recording: Recording,
        alpha: float,
        n_requests: int,
        explore_action: int | None,
        feedback_rate: float,
        scenario: Scenario | None = None,
    ) -> TaskSpec:
        """The spec of an episode replaying ``recording`` (which must carry features).

        Of a ``scenario`` only what a deployed router would know is passed on: the terms of its
        contract (the latency SLO, the windowed SLA's window) and whether feedback is delayed,
        never a schedule.
        """
        return cls(
            models=recording.models,
            alpha=alpha,
            n_requests=n_requests,
            explore_action=explore_action,
            feature_dim=recording.features.shape[1],
            features_kind=recording.metadata.features_kind or "unknown",
            benchmark_names=recording.benchmark_names,
            feedback_rate=feedback_rate,
            latency_slo=None if scenario is None else scenario.latency,
            feedback_delayed=scenario is not None and scenario.delay is not None,
            sla_window=None if scenario is None else scenario.window,
        )

    @property
    def n_models(self) -> int:
        """Number of models M (the explore action is not counted)."""
        return len(self.models)

    @property
    def n_actions(self) -> int:
        """Size of the action space: M, plus one with the explore action."""
        return self.n_models + (self.explore_action is not None)
