"""rnnkit train translate / evaluate / translate / predict end to end, resume, and bad inputs."""

import gzip

import pytest
import torch

from rnnkit.data.batching import make_loader
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.tasks.translate import TranslationObjective
from rnnkit.tasks.translate_data import TranslateData, build_side, encode_pairs
from rnnkit.tasks.translate_decode import Translator

from .cli import last_json, run

TINY = ["--embed", "16", "--encoder-hidden", "16", "--hidden", "32", "--src-vocab", "120",
        "--tgt-vocab", "120", "--min-freq", "1", "--threads", "1"]  # fmt: skip


def real_lines(data_dir, name, n):
    with gzip.open(data_dir / "multi30k" / name, "rt", encoding="utf-8") as f:
        return [next(f).rstrip("\n") for _ in range(n)]


@pytest.fixture
def slice_dir(data_dir, tmp_path):
    """The first pairs of real Multi30k splits, as a folder of <split>.<lang> files."""
    folder = tmp_path / "m30k"
    folder.mkdir()
    for split, stem, n in (("train", "train", 120), ("val", "val", 12),
                           ("test", "test_2016_flickr", 10)):  # fmt: skip
        for lang in ("de", "en"):
            text = "\n".join(real_lines(data_dir, f"{stem}.{lang}.gz", n)) + "\n"
            (folder / f"{split}.{lang}").write_text(text, encoding="utf-8")
    return folder


def test_overfits_a_few_real_pairs(data_dir):
    torch.manual_seed(0)
    de, en = real_lines(data_dir, "train.de.gz", 6), real_lines(data_dir, "train.en.gz", 6)
    data = TranslateData(source="", tokens="word", min_freq=1)
    src, tgt = build_side(de, data, 200), build_side(en, data, 200)
    model = Seq2Seq(Seq2SeqConfig(len(src.vocab), len(tgt.vocab), embed=32, encoder_hidden=32,
                                  hidden=64, dropout=0.0))  # fmt: skip
    (batch,) = make_loader(encode_pairs(src, tgt, (de, en), None, "training"), 6, shuffle=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    objective = TranslationObjective(pad_index=0)
    model.train()
    for _ in range(200):
        loss, _ = objective.train_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.02
    translator = Translator(model, src, tgt, torch.device("cpu"))
    for beam in (1, 3):
        assert [t.text for t in translator.translate(de, beam=beam)] == en


def test_train_evaluate_translate_resume_on_a_real_slice(capsys, caplog, slice_dir, tmp_path):
    caplog.set_level("INFO")
    out = tmp_path / "run"
    code, stdout, err = run(
        capsys, "train", "translate", "--data", str(slice_dir), "--src", "de", "--tgt", "en",
        "--epochs", "2", "--out", str(out), "--json", *TINY,
    )  # fmt: skip
    assert code == 0, err
    result = last_json(stdout)
    assert result["epochs"] == 2 and {"loss", "perplexity", "bleu"} <= set(result["val"])
    assert "| translated" in caplog.text  # sample translations while training
    for name in ("src_tokenizer.json", "tgt_tokenizer.json", "src_vocab.json", "tgt_vocab.json",
                 "model.safetensors", "config.json"):  # fmt: skip
        assert (out / "best" / name).exists(), name

    code, stdout, _ = run(capsys, "evaluate", str(out), "--split", "test", "--beam", "3", "--json")
    metrics = last_json(stdout)
    assert code == 0 and metrics["n"] == 10 and metrics["beam"] == 3
    assert 0 <= metrics["bleu"] <= 100 and metrics["perplexity"] > 1
    assert "BLEU" in stdout and "nrefs:1" in metrics["signature"]

    plot = tmp_path / "attention.png"
    code, stdout, _ = run(
        capsys, "translate", str(out), "Ein Mann fährt Fahrrad.", "Zwei Hunde.",
        "--attention-plot", str(plot), "--json",
    )  # fmt: skip
    result = last_json(stdout)
    assert code == 0 and len(result["translations"]) == 2 and plot.stat().st_size > 1000
    attention = result["attention"]
    assert len(attention["weights"]) == len(attention["target"])
    assert all(len(row) == len(attention["source"]) for row in attention["weights"])
    assert all(abs(sum(row) - 1) < 1e-3 for row in attention["weights"])

    code, stdout, _ = run(capsys, "translate", str(out), "Ein Hund.", "--max-length", "2",
                          "--beam", "2", "--json")  # fmt: skip
    assert code == 0 and len(last_json(stdout)["translations"][0]["translation"].split()) <= 2
    code, stdout, _ = run(capsys, "predict", str(out), "Ein Hund.", "--json")
    assert code == 0 and last_json(stdout)["predictions"][0]["text"] == "Ein Hund."

    code, stdout, _ = run(capsys, "train", "translate", "--resume", str(out), "--epochs", "3",
                          "--json")  # fmt: skip
    assert code == 0 and last_json(stdout)["epochs"] == 3
    code, _, err = run(capsys, "train", "translate", "--resume", str(out), "--hidden", "64")
    assert code == 2 and "cannot change --hidden" in err


def test_bad_inputs(capsys, tmp_path, slice_dir):
    (slice_dir / "val.en").write_text("only one line\n")
    code, _, err = run(capsys, "train", "translate", "--data", str(slice_dir), "--out",
                       str(tmp_path / "r"), *TINY)  # fmt: skip
    assert code == 2 and "val.de has 12 lines but" in err and "val.en has 1" in err
    assert len(err.strip().splitlines()) == 1 or "Traceback" not in err
    code, _, err = run(capsys, "train", "translate", "--data", str(slice_dir), "--src", "fr",
                       "--out", str(tmp_path / "r"), *TINY)  # fmt: skip
    assert code == 2 and "no train.fr" in err and "languages there: de, en" in err
    code, _, err = run(capsys, "train", "translate", "--data", str(slice_dir), "--src-vocab",
                       "3", "--out", str(tmp_path / "r"))  # fmt: skip
    assert code == 2 and "--src-vocab must be at least 16" in err
    code, _, err = run(capsys, "translate", str(tmp_path / "missing"), "Hallo")
    assert code == 2 and "Traceback" not in err
