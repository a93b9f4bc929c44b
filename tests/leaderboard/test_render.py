"""The board's number formats: a pass rate is never shown as perfect, or as nil, when it is not."""

from __future__ import annotations

import pytest

from messenv.leaderboard.render import percent, ratio


@pytest.mark.parametrize(
    ("value", "shown"),
    [(1.0, "100%"), (0.0, "0%"), (2 / 3, "67%"), (0.995, "99%"), (1 - 1 / 216, "99%"), (0.004, "1%"), (0.5, "50%")],
)
def test_a_pass_rate_rounds_to_100_or_0_percent_only_when_it_is_exact(value: float, shown: str) -> None:
    assert percent(value) == shown


def test_a_ratio_has_three_decimals_or_a_dash_without_passing_runs() -> None:
    assert ratio(6.6474) == "6.647" and ratio(None) == "—"
