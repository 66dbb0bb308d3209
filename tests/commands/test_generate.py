"""`rnnkit train lm` -> `rnnkit generate` / `evaluate` / `predict` end to end on a tiny corpus."""

import json

import pytest
import torch

from rnnkit.cli import main

CORPUS = (
    "ROMEO:\nBut soft, what light through yonder window breaks?\n\n"
    "JULIET:\nO Romeo, Romeo, wherefore art thou Romeo?\n\n"
) * 12
TINY = ["--hidden", "24", "--embed", "8", "--layers", "1", "--seq-length", "16",
        "--batch-size", "4", "--sample-every", "0", "--sample-length", "30"]  # fmt: skip


def _json(capsys, *argv):
    code = main([*argv, "--json"])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    return code, json.loads(lines[-1]) if code == 0 else None, captured


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "play.txt"
    path.write_text(CORPUS, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def run(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "play"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        argv = ["train", "lm", "--data", str(corpus), *TINY, "--epochs", "2", "--out", str(out)]
        assert main(argv) == 0
    finally:
        torch.set_num_threads(threads)
    return out


def test_train_saves_a_run_with_vocabulary_and_metrics(run, capsys):
    for name in ("config.json", "model.safetensors", "vocab.json", "tokenizer.json"):
        assert (run / "best" / name).exists(), name
    config = json.loads((run / "best" / "config.json").read_text())
    assert config["task"] == "lm" and config["data"]["level"] == "char"
    history = (run / "history.csv").read_text().splitlines()
    assert "val_bpc" in history[0] and "val_perplexity" in history[0] and len(history) == 3


def test_training_logs_samples_and_reports(corpus, tmp_path, capsys, caplog):
    caplog.set_level("INFO")
    code, result, captured = _json(
        capsys, "train", "lm", "--data", str(corpus), *TINY[:-4], "--sample-every", "5",
        "--sample-length", "20", "--epochs", "1", "--out", str(tmp_path / "r"),
    )  # fmt: skip
    assert code == 0
    assert {"val_loss", "val_perplexity", "val_bpc"} <= set(result)
    assert result["epochs"] == 1 and result["stop_reason"] == "completed"
    assert "sample at epoch 1, batch 5" in caplog.text
    assert "sample after epoch 1 (val loss" in caplog.text
    assert "bits/char" in captured.out  # the report for people


def test_generate_json_starts_with_the_prime_and_is_seeded(run, capsys):
    code, a, captured = _json(capsys, "generate", str(run), "--prime", "ROMEO:", "--length",
                              "50", "--seed", "5")  # fmt: skip
    assert code == 0
    assert a["text"].startswith("ROMEO:") and a["text"] == a["input"] + a["output"]
    assert len(a["output"]) == 50 and a["seed"] == 5
    assert captured.out.startswith(a["text"])  # the text for people, then the JSON line
    _, b, _ = _json(capsys, "generate", str(run), "--prime", "ROMEO:", "--length", "50",
                    "--seed", "5")  # fmt: skip
    _, c, _ = _json(capsys, "generate", str(run), "--prime", "ROMEO:", "--length", "50",
                    "--seed", "6")  # fmt: skip
    assert a["text"] == b["text"] != c["text"]
    _, unseeded, _ = _json(capsys, "generate", str(run), "--length", "5")
    assert isinstance(unseeded["seed"], int)  # reported, so the text can be made again


def test_generate_greedy_and_filters(run, capsys):
    _, greedy, _ = _json(capsys, "generate", str(run), "--greedy", "--length", "30")
    _, cold, _ = _json(capsys, "generate", str(run), "--temperature", "0", "--length", "30")
    assert greedy["text"] == cold["text"] and greedy["greedy"] is True
    _, top1, _ = _json(capsys, "generate", str(run), "--top-k", "1", "--length", "30",
                       "--seed", "9")  # fmt: skip
    assert top1["text"] == greedy["text"]  # top-1 sampling is greedy
    code, nucleus, _ = _json(capsys, "generate", str(run), "--top-p", "0.9", "--length", "30")
    assert code == 0 and len(nucleus["output"]) == 30


def test_generate_stream_prints_as_it_goes(run, capsys):
    code = main(["generate", str(run), "--prime", "JULIET:", "--length", "40", "--seed", "2",
                 "--stream", "--json"])  # fmt: skip
    out = capsys.readouterr().out
    lines = out.rstrip("\n").split("\n")
    result = json.loads(lines[-1])
    assert code == 0 and out.startswith(result["text"] + "\n")
    assert out.count(result["text"]) == 1  # streamed once, not printed again


def test_generate_several_samples_at_once(run, capsys):
    code, many, captured = _json(capsys, "generate", str(run), "--prime", "ROMEO:", "--length",
                                 "30", "--seed", "5", "--samples", "3")  # fmt: skip
    assert code == 0 and many["samples"] == 3 and "output" not in many
    assert len(many["outputs"]) == 3 and all(len(out) == 30 for out in many["outputs"])
    assert many["texts"] == ["ROMEO:" + out for out in many["outputs"]]
    assert captured.out.startswith("--- sample 1 of 3 (seed 5) ---\nROMEO:")
    assert "--- sample 3 of 3 (seed 7) ---\n" + many["texts"][2] in captured.out
    _, alone, _ = _json(capsys, "generate", str(run), "--prime", "ROMEO:", "--length", "30",
                        "--seed", "6")  # fmt: skip
    assert alone["output"] == many["outputs"][1]  # sample i: the text of seed + i


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--samples", "0"], "samples must be an integer from 1 to 1024, got 0"),
        (["--samples", "-2"], "samples must be an integer from 1 to 1024, got -2"),
        (["--samples", "1025"], "samples must be an integer from 1 to 1024, got 1025"),
        (["--samples", "2", "--stream"], "expected --samples 1 with --stream"),
        (["--samples", "2", "--seed", str(2**64 - 1)], "seed must be from"),
        (["--seed", str(2**64)], "seed must be from"),
        (["--prime", "Zebra"], "characters the model never saw: 'Z' (U+005A)"),
        (["--temperature", "-1"], "temperature must be a finite number >= 0"),
        (["--top-p", "1.5"], "top_p must be in (0, 1]"),
        (["--top-k", "0"], "top_k must be an integer >= 1"),
        (["--greedy", "--top-k", "3"], "greedy takes the most likely token"),
        (["--length", "-3"], "length must be >= 0"),
    ],
)
def test_generate_bad_inputs(run, capsys, argv, message):
    code = main(["generate", str(run), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_generate_needs_a_language_model(tmp_path, capsys):
    code = main(["generate", str(tmp_path / "nowhere")])
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_evaluate_and_predict(run, capsys):
    code, metrics, captured = _json(capsys, "evaluate", str(run))
    assert code == 0 and metrics["split"] == "val"
    assert metrics["perplexity"] == pytest.approx(2.718281828 ** metrics["loss"], rel=1e-6)
    assert "nats/char" in captured.out
    code = main(["evaluate", str(run), "--split", "test"])
    assert code == 2 and "has no test split" in capsys.readouterr().err
    code, predicted, _ = _json(capsys, "predict", str(run), "ROMEO", "JULIET")
    rows = predicted["predictions"]
    assert code == 0 and [r["input"] for r in rows] == ["ROMEO", "JULIET"]
    assert rows[0]["text"].startswith("ROMEO")


def test_evaluate_scores_another_file_whole(run, corpus, tmp_path, capsys):
    other = tmp_path / "other.txt"
    other.write_text(CORPUS[:300], encoding="utf-8")
    code, metrics, captured = _json(capsys, "evaluate", str(run), "--data", str(other))
    assert code == 0 and metrics["split"] == "all" and metrics["n"] == 300
    assert metrics["data"] == str(other) and "all of it: 300 chars" in captured.out
    code, same, _ = _json(capsys, "evaluate", str(run), "--data", str(corpus))
    assert code == 0 and same["split"] == "val"  # the training data: cut as in training


def test_max_time_stops_cleanly_and_resume_continues(corpus, tmp_path, capsys):
    out = tmp_path / "timed"
    code, first, _ = _json(capsys, "train", "lm", "--data", str(corpus), *TINY, "--epochs", "3",
                           "--max-time", "0.00001", "--out", str(out))  # fmt: skip
    assert code == 0 and first["stop_reason"] == "time budget" and first["epochs"] == 1
    assert (out / "best" / "model.safetensors").exists()
    code, resumed, _ = _json(capsys, "train", "lm", "--resume", str(out), "--max-time", "10")
    assert code == 0 and resumed["epochs"] == 3 and resumed["stop_reason"] == "completed"
    code = main(["train", "lm", "--resume", str(out), "--hidden", "64"])
    assert code == 2 and "cannot change hidden when resuming" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "expected --data"),
        (["--data", "no/such/file.txt"], "neither a known corpus"),
        (["--data", "CORPUS", "--seq-length", "0"], "seq_length must be at least 1"),
        (["--data", "CORPUS", "--tie-weights", "--embed", "8"], "tie_weights needs"),
        (["--data", "BAD"], "cannot decode byte 0xff on line 2"),
        (["--data", "CORPUS", "--sample-temperature", "-1"], "sample_temperature must be"),
        (["--data", "CORPUS", "--sample-every", "-1"], "sample_every must be >= 0"),
    ],
)
def test_train_bad_inputs(corpus, tmp_path, capsys, argv, message):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"good text\nbad \xff byte\n" * 10)
    argv = [{"CORPUS": str(corpus), "BAD": str(bad)}.get(a, a) for a in argv]
    code = main(["train", "lm", *TINY, *argv, "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err


def test_word_level_model(tmp_path, capsys, caplog):
    folder = tmp_path / "words"
    folder.mkdir()
    line = "the cat sat on the mat\nthe dog sat on the log\n"
    for split, times in (("train", 30), ("valid", 4), ("test", 4)):
        (folder / f"corpus.{split}.txt").write_text(line * times)
    out = tmp_path / "wrun"
    code = main(["train", "lm", "--data", str(folder), "--level", "word", "--hidden", "16",
                 "--layers", "1", "--epochs", "2", "--batch-size", "4", "--seq-length", "8",
                 "--sample-every", "0", "--out", str(out)])  # fmt: skip
    assert code == 0
    capsys.readouterr()
    code, result, _ = _json(capsys, "generate", str(out), "--prime", "the zebra", "--length",
                            "12", "--seed", "0")  # fmt: skip
    assert code == 0 and result["text"].startswith("the zebra ")
    assert result["unknown"] == ["zebra"]
    assert "read as <unk>: zebra" in caplog.text  # said once, on stderr
    code, test, _ = _json(capsys, "evaluate", str(out), "--split", "test")
    assert code == 0 and "bpc" not in test and test["n"] == 4 * 2 * 7
