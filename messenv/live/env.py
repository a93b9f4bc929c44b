"""MessEnv backed by a live zoo: every step runs the chosen model (or every model) for real.

:class:`LiveMessEnv` is :class:`~messenv.env.MessEnv` with its outcome hook
(:meth:`MessEnv._outcome`) answered by :meth:`LiveBackend.run`: same spaces, stream sampling, info
and episode summary, but the quality, energy and latency of a step are measured when the step
happens. Its ``recording`` is only the request table (prompts, benchmarks, models): it holds no
outcomes, so there is no hindsight oracle for a live episode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from messenv.env.mess_env import MessEnv
from messenv.live.backend import LiveBackend
from messenv.recordings import Recording, RecordingMetadata


def request_table(backend: LiveBackend) -> Recording:
    """The backend's requests as a Recording with placeholder outcomes (zeros, never read).

    MessEnv builds its spaces, request pool and TaskSpec from a Recording; :class:`LiveMessEnv`
    takes every outcome from the backend instead.
    """
    shape = (backend.n_requests, len(backend.models))
    return Recording(
        name=f"live:{backend.zoo.name}",
        models=backend.models,
        doc_ids=backend.doc_ids,
        prompts=backend.prompts,
        benchmark_names=backend.benchmark_names,
        benchmark_index=backend.benchmark_index,
        quality=np.zeros(shape),
        energy_j=np.zeros(shape),
        latency_s=np.zeros(shape),
        metadata=RecordingMetadata(
            zoo=backend.zoo.description or backend.zoo.name,
            model_ids={spec.label: spec.model for spec in backend.zoo.models},
            energy_source=backend.meter.source,
            extra={"live": True},
        ),
    )


class LiveMessEnv(MessEnv):
    """MessEnv whose steps run real models through a :class:`LiveBackend`.

    Takes the backend plus MessEnv's keyword arguments (``alpha``, ``explore_action``,
    ``n_requests``, ``benchmarks``, ``replace``, ``feedback_rate``, ``features``, ``render_mode``).

    Example (CPU, no download; needs torch and transformers, the ``embed`` extra): the tiny random
    zoo of ``conf/zoo/tiny-random.yaml``, the shipped sample task and an estimated energy meter::

        import tempfile

        from messenv.live import EstimateMeter, LiveBackend, load_tasks, load_zoo
        from messenv.live.env import LiveMessEnv
        from messenv.live.tiny_models import build_tiny_zoo

        root = tempfile.mkdtemp()
        build_tiny_zoo(root)  # or: python -m messenv.live.tiny_models DIR
        zoo = load_zoo("tiny-random", root=root)  # a conf/zoo name, or the path of your own zoo YAML
        tasks = load_tasks("pkg://messenv.live.tasks/sample_mc.jsonl")
        with LiveBackend.open(zoo, tasks, EstimateMeter(15.0)) as backend:  # 15 W assumed, flagged
            env = LiveMessEnv(backend, alpha=0.4, explore_action=True, n_requests=5)
            obs, info = env.reset(seed=0)
            obs, reward, terminated, truncated, info = env.step(env.task.explore_action)
            print(info["outcomes"])

    On a GPU box, ``load_zoo("llama3-messplus")`` with ``make_meter({"meter": "zeus"}, zoo.gpu_indices)``
    runs the vLLM zoo and measures each step with Zeus (the ``live`` extra).
    """

    def __init__(self, backend: LiveBackend, **kwargs: Any) -> None:
        if "recording" in kwargs:
            raise TypeError("LiveMessEnv takes a backend, not a recording")
        self.backend = backend
        super().__init__(recording=request_table(backend), **kwargs)

    def _outcome(
        self, row: int, action: int, explored: bool
    ) -> tuple[float, float, float, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
        """Run the chosen model (every model when ``explored``) on request ``row`` and measure it."""
        models = list(range(self.n_models)) if explored else [action]
        quality, energy, latency = self.backend.run(row, models)
        per_model = (quality, energy, latency) if explored else None
        return float(quality[-1]), float(energy.sum()), float(latency.sum()), per_model
