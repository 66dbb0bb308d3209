"""The Optuna pieces by name: storages, samplers (seeded), pruners, the grid's next point."""

import optuna
import pytest

from rnnkit.errors import UserError
from rnnkit.search.backends import (
    WorkerGridSampler,
    make_pruner,
    make_sampler,
    make_storage,
    next_grid_point,
    sampler_seed,
)
from rnnkit.search.space import read_space
from rnnkit.tasks.classify import TextClassifier

SPACE = read_space({"hidden": [4, 8], "cell": ["lstm", "gru"]}, TextClassifier)


@pytest.mark.parametrize(
    "name, cls",
    [
        ("grid", WorkerGridSampler),
        ("random", optuna.samplers.RandomSampler),
        ("tpe", optuna.samplers.TPESampler),
        ("gp", optuna.samplers.GPSampler),
    ],
)
def test_samplers_by_name(name, cls):
    assert isinstance(make_sampler(name, SPACE, seed=0, startup_trials=2), cls)


def test_pruners_by_name():
    assert isinstance(make_pruner("none", startup_trials=1, epochs=3), optuna.pruners.NopPruner)
    median = make_pruner("median", startup_trials=1, epochs=3)
    assert isinstance(median, optuna.pruners.MedianPruner)
    hyperband = make_pruner("hyperband", startup_trials=1, epochs=3)
    assert isinstance(hyperband, optuna.pruners.HyperbandPruner)


def test_every_worker_and_every_resumption_samples_differently():
    seeds = {sampler_seed(0, finished, worker) for finished in (0, 4) for worker in (0, 1)}
    assert len(seeds) == 4 and sampler_seed(None, 0, 0) is None


def test_the_next_grid_point_skips_taken_ones_in_file_order():
    taken = [{"hidden": 4, "cell": "lstm"}, {"hidden": 8, "cell": "lstm"}]
    assert next_grid_point(SPACE, taken) == {"hidden": 4, "cell": "gru"}
    every = [{"hidden": h, "cell": c} for h in (4, 8) for c in ("lstm", "gru")]
    assert next_grid_point(SPACE, every) is None


def test_storages(tmp_path):
    assert isinstance(make_storage(f"sqlite:///{tmp_path}/a/s.db"), optuna.storages.RDBStorage)
    journal = make_storage(str(tmp_path / "s.log"))
    assert isinstance(journal, optuna.storages.JournalStorage)
    with pytest.raises(UserError, match="neither a database URL nor a journal file"):
        make_storage(str(tmp_path / "study.db"))
    with pytest.raises(UserError, match="cannot open storage|needs a database driver"):
        make_storage("nosuchdb://host/db")
