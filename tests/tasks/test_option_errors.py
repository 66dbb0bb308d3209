"""Every bad option is exit status 2 and one clear line on stderr, never a traceback (issue 13,
item 6): a table of (command line, expected phrase) for classify, lm and translate — training
options, and the options of the commands that read their runs — and a generic part run over every
registered task, so a task added later is held to the same rule."""

import pytest

from rnnkit.cli import main
from rnnkit.tasks import TASKS, task_class
from rnnkit.tasks.classify.task import TextClassifier

from .tiny_runs import CORE, TINY, synthetic_data, train


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Tiny data for each core task, another CSV, and a file that is not a folder."""
    root = tmp_path_factory.mktemp("options")
    data = synthetic_data(root)
    (root / "other.csv").write_text("text,label\nfine,good\npoor,bad\n", encoding="utf-8")
    (root / "a-file").write_text("not a folder\n")
    return {**data, "root": root, "file": root / "a-file"}


@pytest.fixture(scope="module")
def runs(files):
    """One-epoch tiny runs of each core task, for the commands that read a run folder."""
    out = {task: files["root"] / f"run-{task}" for task in CORE}
    for task in CORE:
        train(task, ["--data", files[task]], out[task], "--epochs", "1")
    return out


def run_error(capsys, argv):
    """(exit status, the error lines) of ``rnnkit ARGV``; argparse's usage lines are left out."""
    try:
        code = main(argv)
    except SystemExit as exit:  # argparse refuses a value of the wrong type or choice
        code = exit.code
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    lines = [
        line for line in err.splitlines() if line.strip() and not line.startswith(("usage:", " "))
    ]
    return code, lines


def check_error(capsys, argv, phrase):
    code, lines = run_error(capsys, [str(a) for a in argv])
    assert code == 2, (argv, lines)
    assert len(lines) == 1, (argv, lines)
    assert lines[0].startswith("rnnkit ") and "error:" in lines[0], lines
    assert phrase in lines[0], (argv, lines[0])


# (task, options, expected phrase): `rnnkit train TASK --data ... --out ... OPTIONS`
TRAIN_CASES = [
    ("classify", ["--hidden", "0"], "hidden must be at least 1, got 0"),
    ("classify", ["--embed", "0"], "embed must be at least 1"),
    ("classify", ["--layers", "0"], "layers must be at least 1"),
    ("classify", ["--dropout", "1.5"], "dropout must lie in [0, 1), got 1.5"),
    ("classify", ["--dropout", "nan"], "'dropout' expected a finite number"),
    ("classify", ["--forget-bias", "nan"], "'forget_bias' expected"),
    ("classify", ["--max-length", "0"], "max_length must be at least 1"),
    ("classify", ["--max-vocab", "0"], "max_vocab must be at least 2"),
    ("classify", ["--min-freq", "-1"], "min_freq must be at least 1"),
    ("classify", ["--val-fraction", "1.5"], "val_fraction must lie in (0, 1)"),
    ("classify", ["--test-fraction", "1"], "test_fraction must lie in [0, 1)"),
    ("classify", ["--val-fraction", "0.6", "--test-fraction", "0.5"], "must be below 1"),
    ("classify", ["--batch-size", "-3"], "batch_size must be at least 1, got -3"),
    ("classify", ["--batch-size", "0"], "batch_size must be at least 1, got 0"),
    ("classify", ["--limit", "-1"], "limit must be at least 1"),
    ("classify", ["--seed", "-1"], "seed must be >= 0, got -1"),
    ("classify", ["--lr", "inf"], "'lr' expected a finite number"),
    ("classify", ["--lr", "0"], "lr must be positive"),
    ("classify", ["--delimiter", "ab"], "delimiter must be one character"),
    ("classify", ["--cell", "lstn"], "invalid choice: 'lstn'"),
    ("classify", ["--hidden", "abc"], "invalid int value: 'abc'"),
    ("classify", ["--device", "cpu:99"], "cpu:99"),
    ("classify", ["--threads", "0"], "--threads must be at least 1"),
    ("classify", ["--max-time", "-1"], "max_time_minutes must be positive"),
    ("classify", ["--nesterov"], "nesterov needs optimizer='sgd'"),
    ("lm", ["--embed", "0"], "embed must be at least 1"),
    ("lm", ["--layers", "0"], "layers must be at least 1"),
    ("lm", ["--dropout", "nan"], "'dropout' expected a finite number"),
    ("lm", ["--lr", "inf"], "'lr' expected a finite number"),
    ("lm", ["--forget-bias", "nan"], "'forget_bias' expected"),
    ("lm", ["--seq-length", "0"], "seq_length must be at least 1"),
    ("lm", ["--max-vocab", "0"], "max_vocab must be at least 4"),
    ("lm", ["--min-freq", "0"], "min_freq must be at least 1"),
    ("lm", ["--eval-batch-size", "0"], "eval_batch_size must be at least 1"),
    ("lm", ["--val-fraction", "0.5", "--test-fraction", "0.5"], "leave nothing to train on"),
    ("lm", ["--sample-temperature", "-1"], "sample_temperature must be >= 0"),
    ("lm", ["--sample-length", "-5"], "sample_length must be >= 0"),
    ("lm", ["--recurrent-dropout", "1"], "recurrent_dropout must lie in [0, 1)"),
    ("lm", ["--tie-weights", "--embed", "3", "--hidden", "5"], "tie_weights needs an embedding"),
    ("lm", ["--level", "byte"], "invalid choice: 'byte'"),
    ("translate", ["--embed", "0"], "embed must be at least 1"),
    ("translate", ["--layers", "0"], "layers must be at least 1"),
    ("translate", ["--dropout", "1.5"], "dropout must lie in [0, 1), got 1.5"),
    ("translate", ["--dropout", "nan"], "'dropout' expected a finite number"),
    ("translate", ["--lr", "inf"], "'lr' expected a finite number"),
    ("translate", ["--min-freq", "-1"], "min_freq must be at least 1"),
    ("translate", ["--val-fraction", "1.5"], "val_fraction must lie in (0, 1)"),
    ("translate", ["--device", "cpu:99"], "cpu:99"),
    ("translate", ["--max-length", "0"], "max_length must be at least 1"),
    ("translate", ["--src-vocab", "0"], "src_vocab must be at least 16"),
    ("translate", ["--tgt-vocab", "8"], "tgt_vocab must be at least 16"),
    ("translate", ["--encoder-hidden", "0"], "encoder_hidden must be at least 1"),
    ("translate", ["--label-smoothing", "2"], "label_smoothing must lie in [0, 1]"),
    ("translate", ["--teacher-forcing", "-0.5"], "teacher_forcing must lie in [0, 1]"),
    ("translate", ["--src", "en", "--tgt", "en"], "--src and --tgt are both 'en'"),
    ("translate", ["--attention", "luong"], "invalid choice: 'luong'"),
]


@pytest.mark.parametrize(
    ("task", "options", "phrase"),
    TRAIN_CASES,
    ids=[f"{task} {' '.join(options)}" for task, options, _ in TRAIN_CASES],
)
def test_bad_training_option(capsys, tmp_path, files, task, options, phrase):
    argv = ["train", task, "--data", files[task], "--out", tmp_path / "run", *TINY[task],
            *options]  # fmt: skip
    check_error(capsys, argv, phrase)
    assert not (tmp_path / "run").exists()  # refused before anything was written


@pytest.mark.parametrize("task", CORE)
@pytest.mark.parametrize(
    ("where", "phrase"),
    [
        ("file", "is a file; expected a folder"),
        ("/dev/null", "is a file; expected a folder"),
        ("/proc/x", "cannot write the run folder /proc/x"),
    ],  # fmt: skip
)
def test_out_that_cannot_be_a_run_folder(capsys, files, task, where, phrase):
    out = files["file"] if where == "file" else where
    check_error(capsys, ["train", task, "--data", files[task], "--out", out, *TINY[task]], phrase)


# (task whose run is read, command line with RUN for its folder, expected phrase)
RUN_CASES = [
    ("classify", ["evaluate", "RUN", "--batch-size", "0"], "--batch-size must be at least 1"),
    ("classify", ["evaluate", "RUN", "--beam", "2"], "--beam is not an option of classify"),
    ("classify", ["evaluate", "RUN", "--plot", "DIR"], "DIR is a folder; expected the name of a"),
    ("classify", ["evaluate", "RUN", "--plot", "/proc/x/c.png"], "cannot write /proc/x/c.png"),
    ("classify", ["evaluate", "RUN", "--split", "dev"], "invalid choice: 'dev'"),
    (
        "classify",
        ["train", "classify", "--resume", "RUN", "--hidden", "64", "--cell", "gru"],
        "cannot change hidden, cell",
    ),
    ("classify", ["train", "classify", "--resume", "RUN", "--data", "OTHER"], "cannot change data"),
    ("classify", ["train", "classify", "--resume", "RUN", "--epochs", "0"], "epochs must be at"),
    ("classify", ["train", "classify", "--resume", "RUN", "--out", "DIR"], "differ"),
    ("classify", ["predict", "RUN"], "nothing to do"),
    ("lm", ["generate", "RUN", "--temperature", "-1"], "temperature must be"),
    ("lm", ["generate", "RUN", "--temperature", "nan"], "temperature must be"),
    ("lm", ["generate", "RUN", "--top-p", "2"], "top_p must be in (0, 1]"),
    ("lm", ["generate", "RUN", "--top-k", "0"], "top_k must be"),
    ("lm", ["generate", "RUN", "--length", "-1"], "length"),
    ("lm", ["visualize", "RUN", "--text", "the cat", "--out", "DIR/v.html"], "DIR/v.html is a"),
    (
        "lm",
        ["visualize", "RUN", "--text", "the cat", "--out", "DIR/x.png", "--layer", "0"],
        "--layer must be in 1..1 for this 1-layer model, got 0",
    ),
    ("lm", ["train", "lm", "--resume", "RUN", "--seq-length", "9"], "cannot change seq_length"),
    ("translate", ["translate", "RUN", "ein hund", "--beam", "0"], "beam"),
    ("translate", ["translate", "RUN", "ein hund", "--max-length", "0"], "max_length"),
    ("translate", ["translate", "RUN", "ein hund", "--alpha", "nan"], "alpha"),
    ("translate", ["translate", "RUN", "ein hund", "--attention-plot", "DIR"], "DIR is a folder"),
    ("translate", ["evaluate", "RUN", "--beam", "0"], "beam"),
    ("translate", ["generate", "RUN"], "expected a language model"),
    (
        "lm",
        ["gradients", "--cell", "gru", "--steps", "3", "--out", "DIR/g.png"],
        "g.png is a folder",
    ),
    ("lm", ["gradients", "--cell", "gru", "--steps", "3", "--out", "/proc/x/g.png"], "/proc/x"),
]


@pytest.mark.parametrize(
    ("task", "argv", "phrase"),
    RUN_CASES,
    ids=[f"{task} {' '.join(argv)}" for task, argv, _ in RUN_CASES],
)
def test_bad_option_of_a_run(capsys, tmp_path, files, runs, task, argv, phrase):
    (tmp_path / "v.html").mkdir()  # folders where a file is to be written
    (tmp_path / "g.png").mkdir()
    names = {"RUN": runs[task], "OTHER": files["root"] / "other.csv"}
    argv = [str(names.get(a, a)).replace("DIR", str(tmp_path)) for a in argv]
    phrase = phrase.replace("DIR", str(tmp_path))
    check_error(capsys, argv, phrase)


# The generic part: (options, expected phrase) for every registered task that has the option.
GENERIC_CASES = [
    (["--hidden", "0"], "hidden must be at least 1, got 0"),
    (["--batch-size", "0"], "batch_size must be at least 1, got 0"),
    (["--lr", "nan"], "'lr' expected a finite number"),
    (["--epochs", "-1"], "epochs must be at least 1, got -1"),
    (["--seed", "-2"], "seed must be >= 0"),
    (["--out", "FILE"], "is a file; expected a folder"),
]


def _generic_params():
    for name in TASKS:
        for options, phrase in GENERIC_CASES:
            yield pytest.param(name, options, phrase, id=f"{name} {' '.join(options)}")


@pytest.mark.parametrize(("task", "options", "phrase"), list(_generic_params()))
def test_every_task_refuses_bad_common_options(capsys, tmp_path, files, task, options, phrase):
    settings = task_class(task).setting_names()
    option = options[0][2:].replace("-", "_")
    if option not in ("out", *settings):
        pytest.skip(f"{task} has no --{options[0][2:]}")
    options = [str(files["file"]) if o == "FILE" else o for o in options]
    out = [] if "--out" in options else ["--out", str(tmp_path / "run")]
    check_error(capsys, ["train", task, "--data", files["lm"], *out, *options], phrase)


def test_a_task_given_only_a_monitor_follows_its_metric():
    def train(**given):
        settings = TextClassifier.resolve_settings(given)["train"]
        return settings.monitor, settings.mode

    assert train() == ("val_accuracy", "max")
    assert train(monitor="val_loss") == ("val_loss", "min")
    assert train(monitor="val_loss", mode="max") == ("val_loss", "max")
    assert train(monitor="val_custom") == ("val_custom", "max")  # unknown: the task's mode
