"""The detector's rules taken from NAB: the probationary period capped at 750 steps (NAB scores
the steps after it, so the model must not learn on them) and the spatial anomaly of NAB's
Numenta detector (a value outside the range seen so far)."""

import numpy as np

from rnnkit.tasks.forecast.detect import (
    SPATIAL_SCORE,
    AnomalyDetector,
    DetectorSettings,
    spatial_anomalies,
)


def test_the_probationary_period_is_capped_as_nabs():
    settings = DetectorSettings()
    assert settings.probation_steps(4032) == 604  # ⌊0.15 × 4032⌋
    assert settings.probation_steps(22695) == 750  # NAB's cap, not ⌊0.15 × 22695⌋ = 3404
    assert settings.replace(max_probation=0).probation_steps(22695) == 3404


def test_the_model_learns_on_the_capped_probation_only():
    """Steps after the 750th do not change the scores before them (no training on them)."""
    rng = np.random.default_rng(1)
    values = np.sin(np.arange(6000) / 7.0) + 0.05 * rng.standard_normal(6000)
    other = values.copy()
    other[800:] = rng.standard_normal(5200)  # a different series after step 800
    tiny = dict(input_length=8, hidden=4, epochs=1, spatial=0, quiet=0)
    a, b = (AnomalyDetector(**tiny) for _ in range(2))
    np.testing.assert_array_equal(a.fit_score(values)[:800], b.fit_score(other)[:800])
    assert a.threshold_ == b.threshold_


def test_spatial_anomalies_by_hand():
    x = np.array([0.0, 0.0, 1.0, 1.04, 1.1, 0.5, -0.05, -0.2])
    # before t = 2 the range is empty (0 = 0): no flag; 1.04 within 1 + 0.05; 1.1 beyond
    # 1.04 + 0.052; -0.05 within 0 - 0.055; -0.2 beyond -0.05 - 0.0575
    assert spatial_anomalies(x, 0.05).tolist() == [0, 0, 0, 0, 1, 0, 0, 1]
    two = np.c_[x, np.zeros(8)]  # any column counts
    assert spatial_anomalies(two, 0.05).tolist() == spatial_anomalies(x, 0.05).tolist()
    assert spatial_anomalies(x[:1], 0.05).tolist() == [False]


def test_a_spatial_anomaly_scores_at_least_the_top_score():
    rng = np.random.default_rng(2)
    values = rng.standard_normal(2000)
    values[1500] = values[:1500].max() + 1.0  # outside the range so far, a z of about 4
    scores = AnomalyDetector(method="zscore").fit_score(values)
    plain = AnomalyDetector(method="zscore", spatial=0).fit_score(values)  # 0: off
    assert plain[1500] < SPATIAL_SCORE and scores[1500] == SPATIAL_SCORE


def test_combined_is_the_mean_of_the_two_surprises():
    rng = np.random.default_rng(3)
    values = np.sin(np.arange(1200) / 5.0) + 0.1 * rng.standard_normal(1200)
    tiny = dict(input_length=10, hidden=4, epochs=1, history=300, spatial=0, quiet=0)
    both = AnomalyDetector(method="combined", **tiny)
    scores = both.fit_score(values)
    alone = [AnomalyDetector(method=m, **tiny) for m in ("prediction", "autoencoder")]
    np.testing.assert_allclose(scores, np.mean([d.fit_score(values) for d in alone], 0))
    assert both.raw_.shape == (1200, 2)  # the forecast error and the reconstruction error
    np.testing.assert_array_equal(both.raw_[:, 1], alone[1].raw_[:, 0])
