"""A checkpoint is untrusted input (issue 13, items 4 and 5): hypothesis mutates the JSON files
of tiny trained runs of classify, lm, translate, caption, forecast, speech, speech-ctc and music
(config.json, the vocabularies, labels, tokenizer specs, warmup.json, a forecaster's
preprocessing.json, a speech run's feature normalisation, a CTC run's alphabet, a music run's
baselines: a value replaced by any JSON value, a key deleted or added, the whole file replaced,
or its bytes) and the training state of their last/ checkpoint; loading the run
(``rnnkit.tasks.load``), using it and evaluating it, or resuming it, ends in the result or in a
``UserError``, never another exception. And a ``data.source`` in config.json pointing at a file
that is not the run's data is refused without quoting that file.

``checkpoint_targets`` is shared with ``benchmarks/fuzz.py``, which runs many more examples.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnkit.cli import main
from rnnkit.errors import UserError
from rnnkit.tasks import load, task_class

from .tiny_runs import CORE, synthetic_data, train

FUZZED = (
    *CORE,
    "caption",
    "forecast",
    "speech",
    "speech-ctc",
    "music",
)  # the tasks whose checkpoints are fuzzed

BRIEF = settings(
    max_examples=6,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

_LEAF = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.sampled_from([0, 1, -1, 2, 10**9]),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8),
    st.sampled_from(["", "../x", "/etc/passwd", "config", "NaN", "lstm", "word", "<pad>"]),
)  # fmt: skip
JSON_VALUES = st.recursive(
    _LEAF,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),  # fmt: skip
    max_leaves=8,
)
_ACTION = st.sampled_from(["replace", "replace", "replace", "delete", "add", "whole", "bytes"])


@st.composite
def json_mutations(draw):
    """(which file, the path of integer picks into it, action, value, raw bytes)."""
    return (
        draw(st.integers(0, 50)),
        draw(st.lists(st.integers(0, 10**6), max_size=5)),
        draw(_ACTION),
        draw(JSON_VALUES),
        draw(st.binary(max_size=40)),
    )


@st.composite
def state_mutations(draw):
    """(the path of integer picks into training_state.pt, the value put there)."""
    tensors = st.one_of(
        st.lists(st.integers(-5, 10**6), max_size=4).map(lambda v: torch.tensor(v)),
        st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=4).map(
            lambda v: torch.tensor(v, dtype=torch.float32)
        ),
        st.sampled_from([torch.zeros(0), torch.zeros(3, 3), torch.tensor(7)]),
    )
    return draw(st.lists(st.integers(0, 10**6), max_size=6)), draw(st.one_of(JSON_VALUES, tensors))


def _children(node):
    if isinstance(node, dict):
        return sorted(node, key=str)
    if isinstance(node, list):
        return list(range(len(node)))
    return []


def _mutate(document, picks, action, value):
    """``document`` with the node that ``picks`` lead to replaced, deleted or given a new key."""
    if action == "whole" or not _children(document):
        return value
    parent, key = None, None
    node = document
    for pick in picks:
        keys = _children(node)
        if not keys:
            break
        parent, key = node, keys[pick % len(keys)]
        node = node[key]
    if parent is None:
        parent, key = document, _children(document)[0]
    if action == "delete":
        del parent[key]
    elif action == "add" and isinstance(parent, dict):
        parent[f"extra_{len(parent)}"] = value
    else:
        parent[key] = value
    return document


def _use(task_name: str, folder: Path, data: Path) -> None:
    """Load a checkpoint and use it the ways a user would: predict, generate, translate,
    caption a picture, forecast, evaluate (the synthetic data under ``data``)."""
    task = load(folder, device="cpu")
    task.verbose = 0
    if task_name == "classify":
        task.predict(["a good film", "bad"])
    elif task_name == "lm":
        task.generate("the", 5, seed=0)
    elif task_name == "translate":
        task.translate(["ein hund"], beam=2)
    elif task_name == "caption":
        task.caption([data / "pictures" / "0.png"], beam=2)
    elif task_name in ("speech", "speech-ctc"):
        task.predict([data / "recordings" / "1_bob_3.wav"])
    elif task_name == "music":
        task.sample(4, seed=0)
    else:
        task.forecast(steps=4)
    task.evaluate()


def make_runs(root: Path) -> dict[str, Path]:
    """task -> a one-epoch tiny run of it under ``root``, on a few synthetic lines (pictures, a
    series)."""
    data, runs = synthetic_data(root), {}
    for name in FUZZED:
        runs[name] = root / f"run-{name}"
        train(name, ["--data", data[name]], runs[name], "--epochs", "1")
    return runs


def checkpoint_targets(root: Path, runs: dict[str, Path] | None = None) -> dict:
    """Fuzz targets (name -> (strategy, target)) over tiny trained runs (made under ``root``
    unless given)."""
    runs = runs or make_runs(root)

    def json_target(name):
        def read(work: Path, case) -> None:
            which, picks, action, value, raw = case
            folder = work / "best"
            shutil.copytree(runs[name] / "best", folder)
            files = sorted(folder.glob("*.json"))
            path = files[which % len(files)]
            if action == "bytes":
                path.write_bytes(raw)
            else:
                document = json.loads(path.read_text(encoding="utf-8"))
                path.write_text(json.dumps(_mutate(document, picks, action, value)),
                                encoding="utf-8")  # fmt: skip
            _use(name, folder, runs[name].parent)

        return json_mutations(), read

    def state_target(name):
        def read(work: Path, case) -> None:
            picks, value = case
            run = work / "run"
            shutil.copytree(runs[name], run)
            path = run / "last" / "training_state.pt"
            state = torch.load(path, weights_only=True)
            torch.save(_mutate(state, picks, "replace", value), path)
            task_class(name)(epochs=2, verbose=0, progress=False).fit(out=run, resume=True)

        return state_mutations(), read

    targets = {}
    for name in FUZZED:
        targets[f"checkpoint JSON ({name})"] = json_target(name)
    for name in FUZZED:
        targets[f"training state ({name})"] = state_target(name)
    return targets


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return make_runs(tmp_path_factory.mktemp("checkpoints"))


@pytest.fixture(scope="module")
def targets(runs):
    return checkpoint_targets(Path(), runs)


def _only_user_errors(target, case, work: Path) -> None:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        target(work, case)
    except UserError:
        pass


@pytest.mark.parametrize("kind", ["checkpoint JSON", "training state"])
@pytest.mark.parametrize("task", FUZZED)
def test_damaged_checkpoints_raise_only_user_errors(targets, tmp_path, task, kind):
    strategy, target = targets[f"{kind} ({task})"]

    @BRIEF
    @given(case=strategy)
    def check(case):
        _only_user_errors(target, case, tmp_path / "work")

    check()


@pytest.mark.parametrize("task", FUZZED)
@pytest.mark.parametrize("source", ["/etc/passwd", "a file", "a binary file", "a folder"])
def test_a_data_source_elsewhere_is_refused_without_quoting_it(capsys, tmp_path, runs, task,
                                                                 source):  # fmt: skip
    """config.json's data.source is what evaluate and --resume read: pointed at something that
    is not the run's data, the error names it but shows none of its contents."""
    secrets = ["s3cr3t", "hunter2", "Zq!x"]
    text = "".join(f"user{i}:{s}:{i}:{i}::/home/{s}:/bin/sh\n" for i, s in enumerate(secrets))
    if source == "/etc/passwd":
        if not Path(source).is_file():
            pytest.skip("no /etc/passwd here")
        secrets = ["root:x:0:0", ":/bin/", "nologin"]
    elif source == "a file":
        source = tmp_path / "passwd"
        source.write_text(text, encoding="utf-8")
    elif source == "a binary file":
        source = tmp_path / "weights.txt"
        source.write_bytes(b"\x00\x01" + text.encode() + bytes(range(256)))
    else:
        source = tmp_path / "elsewhere"
        source.mkdir()
        for name in ("id_rsa", "settings.ini", "notes.md"):  # files, but no task's data
            (source / name).write_text(text, encoding="utf-8")
    run = tmp_path / "run"
    shutil.copytree(runs[task], run)
    for name in ("best", "last"):
        config = json.loads((run / name / "config.json").read_text(encoding="utf-8"))
        config["data"]["source"] = str(source)
        (run / name / "config.json").write_text(json.dumps(config), encoding="utf-8")
    resume = ["train", task, "--resume", str(run), "--epochs", "2", "--threads", "1",
              "--no-progress"]  # fmt: skip
    for argv in (["evaluate", str(run)], resume):
        code = main(argv)
        err = capsys.readouterr().err
        assert code == 2, (argv, err)
        assert "Traceback" not in err, err
        error = [line for line in err.splitlines() if "error:" in line]
        assert len(error) == 1, err
        shown = [s for s in secrets if s in err.replace(str(source), "SOURCE")]
        assert not shown, f"{argv[0]} showed {shown} of {source}: {err}"


def test_what_the_fuzzing_found_is_refused(runs, tmp_path):
    """Regressions from benchmarks/fuzz.py: an Adam moment saved as one number (was a
    RuntimeError in the first step after resuming), a translation vocabulary without its <eos>
    token (was a RuntimeError while translating), a caption vocabulary without it (a TypeError
    in the beam search), a forecaster's scale of null (a TypeError while forecasting)."""
    run = tmp_path / "lm"
    shutil.copytree(runs["lm"], run)
    path = run / "last" / "training_state.pt"
    state = torch.load(path, weights_only=True)
    state["optimizer"]["state"][0]["exp_avg_sq"] = torch.tensor(7.0)
    torch.save(state, path)
    with pytest.raises(UserError, match=r"optimizer.state\[0\].exp_avg_sq is a Tensor; expected"):
        task_class("lm")(epochs=2, verbose=0).fit(out=run, resume=True)

    folder = tmp_path / "translate"
    shutil.copytree(runs["translate"] / "best", folder)
    vocab = json.loads((folder / "src_vocab.json").read_text(encoding="utf-8"))
    vocab["specials"]["eos"] = None
    (folder / "src_vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    with pytest.raises(UserError, match="src_vocab.json has no eos token"):
        load(folder, device="cpu").translate(["ein hund"])

    folder = tmp_path / "caption"  # no <eos> (was a TypeError in the beam search)
    shutil.copytree(runs["caption"] / "best", folder)
    vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
    vocab["specials"]["eos"] = None
    (folder / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    with pytest.raises(UserError, match="vocab.json has no eos token"):
        load(folder, device="cpu")

    folder = tmp_path / "forecast"  # a scale of null (was a TypeError while forecasting)
    shutil.copytree(runs["forecast"] / "best", folder)
    prep = json.loads((folder / "preprocessing.json").read_text(encoding="utf-8"))
    prep["scaler"]["target_scale"] = [None]
    (folder / "preprocessing.json").write_text(json.dumps(prep), encoding="utf-8")
    with pytest.raises(UserError, match="target_scale must be a list of finite numbers"):
        load(folder, device="cpu").forecast(steps=2)
