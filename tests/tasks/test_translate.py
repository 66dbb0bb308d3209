"""rnnkit train translate / evaluate / translate / predict end to end, resume, and bad inputs;
the Python API (``rnnkit.Translator``) on in-memory pairs."""

import gzip
import random

import pytest
import torch

import rnnkit
from rnnkit.data.batching import make_loader
from rnnkit.errors import UserError
from rnnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from rnnkit.tasks.translate.data import TranslateData, build_side, encode_pairs, in_memory
from rnnkit.tasks.translate.decode import BeamTranslator
from rnnkit.tasks.translate.objective import TranslationObjective

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
    data = TranslateData(tokens="word", min_freq=1)
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
    translator = BeamTranslator(model, src, tgt, torch.device("cpu"))
    for beam in (1, 3):
        assert [t.text for t in translator.translate(de, beam=beam)] == en


def test_train_evaluate_translate_resume_on_a_real_slice(
    capsys, caplog, data_dir, slice_dir, tmp_path
):
    caplog.set_level("INFO")
    out = tmp_path / "run"
    code, stdout, err = run(
        capsys, "train", "translate", "--data", str(slice_dir), "--src", "de", "--tgt", "en",
        "--epochs", "2", "--out", str(out), "--json", *TINY,
    )  # fmt: skip
    assert code == 0, err
    result = last_json(stdout)
    assert result["epochs"] == 2 and {"val_loss", "val_perplexity", "val_bleu"} <= set(result)
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
    assert code == 0 and len(result["predictions"]) == 2 and plot.stat().st_size > 1000
    attention = result["attention"]
    assert len(attention["weights"]) == len(attention["target"])
    assert all(len(row) == len(attention["source"]) for row in attention["weights"])
    assert all(abs(sum(row) - 1) < 1e-3 for row in attention["weights"])

    code, stdout, _ = run(capsys, "translate", str(out), "Ein Hund.", "--max-length", "2",
                          "--beam", "2", "--json")  # fmt: skip
    assert code == 0 and len(last_json(stdout)["predictions"][0]["output"].split()) <= 2
    code, stdout, _ = run(capsys, "predict", str(out), "Ein Hund.", "--json")
    assert code == 0 and last_json(stdout)["predictions"][0]["input"] == "Ein Hund."

    tsv = tmp_path / "more.tsv"  # a file given to evaluate is scored whole, whatever --split
    de, en = (real_lines(data_dir, f"val.{lang}.gz", 300) for lang in ("de", "en"))
    tsv.write_text("".join(f"{s}\t{t}\n" for s, t in zip(de, en)), encoding="utf-8")
    code, stdout, _ = run(capsys, "evaluate", str(out), "--data", str(tsv), "--split", "test",
                          "--beam", "1", "--json")  # fmt: skip
    metrics = last_json(stdout)
    assert code == 0 and metrics["n"] == 300 and metrics["split"] == "all"
    assert metrics["data"] == str(tsv) and {"bleu", "loss", "perplexity"} <= set(metrics)

    code, stdout, _ = run(capsys, "train", "translate", "--resume", str(out), "--epochs", "3",
                          "--json")  # fmt: skip
    assert code == 0 and last_json(stdout)["epochs"] == 3
    code, _, err = run(capsys, "train", "translate", "--resume", str(out), "--hidden", "64")
    assert code == 2 and "cannot change hidden" in err


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
    assert code == 2 and "src_vocab must be at least 16" in err
    code, _, err = run(capsys, "translate", str(tmp_path / "missing"), "Hallo")
    assert code == 2 and "Traceback" not in err


# -- the Python API on in-memory pairs ------------------------------------------------------------

DE = ["eins", "zwei", "drei", "vier", "fünf", "sechs"]
EN = ["one", "two", "three", "four", "five", "six"]
SMALL = dict(tokens="word", min_freq=1, src_vocab=16, tgt_vocab=16, embed=16, encoder_hidden=16,
             hidden=32, dropout=0.0, label_smoothing=0.0, batch_size=8, lr=0.01,
             lr_schedule="none", patience=None, plot=False)  # fmt: skip


def toy_pairs(n=40, seed=0):
    """Sentences of 4-6 number words and their word-by-word English translations."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        words = [rng.randrange(len(DE)) for _ in range(rng.randint(4, 6))]
        out.append((" ".join(DE[i] for i in words), " ".join(EN[i] for i in words)))
    return out


@pytest.fixture(scope="module")
def fitted():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield rnnkit.Translator(**SMALL, epochs=40, val_fraction=0.1, verbose=0).fit(toy_pairs())
    finally:
        torch.set_num_threads(threads)


def test_fit_translate_save_load_on_in_memory_pairs(fitted, tmp_path):
    assert fitted.fit_result["val_bleu"] > 50  # it learned the word mapping
    sentences = ["eins zwei drei vier", "sechs fünf vier drei zwei"]
    rows = fitted.translate(sentences, beam=3)
    assert [row["input"] for row in rows] == sentences
    assert all(isinstance(row["output"], str) and row["score"] <= 0 for row in rows)
    assert fitted.predict_rows(sentences) == fitted.translate(sentences)
    fitted.save(tmp_path / "run")
    again = rnnkit.load(tmp_path / "run")
    assert isinstance(again, rnnkit.Translator)
    assert again.translate(sentences, beam=3) == rows
    assert again.get_params()["hidden"] == 32 and again.get_params()["tokens"] == "word"
    attention = again.attention(sentences[0], plot=tmp_path / "a.png")
    assert len(attention["weights"]) == len(attention["target"]) and attention["plot"]
    with pytest.raises(UserError, match="one string"):
        again.translate("eins zwei")


def test_evaluate_scores_every_in_memory_pair(fitted):
    pairs = toy_pairs(25, seed=1)
    sources, targets = [s for s, _ in pairs], [t for _, t in pairs]
    metrics = fitted.evaluate(sources, targets, beam=2)
    assert metrics["n"] == len(sources) == 25 and metrics["split"] == "all"
    assert metrics["bleu"] > 30 and metrics["perplexity"] > 1 and metrics["beam"] == 2
    assert fitted.evaluate(pairs, beam=2)["bleu"] == metrics["bleu"]
    with pytest.raises(UserError, match="in-memory data"):
        fitted.evaluate(split="test")  # trained on memory: nothing to split


def test_in_memory_forms():
    data = TranslateData(src="de", tgt="en")
    pairs = [("a b", "x y"), ("c", "z")]
    expected = (["a b", "c"], ["x y", "z"])
    assert in_memory(pairs, None, data) == expected
    assert in_memory(["a b", "c"], ("x y", "z"), data) == expected
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"de": ["a b", "c"], "en": ["x y", "z"]})
    assert in_memory(frame, None, data) == expected
    assert in_memory(frame["de"], frame["en"], data) == expected
    with pytest.raises(UserError, match="columns 'de' and 'en'"):
        in_memory(frame.rename(columns={"en": "fr"}), None, data)
    with pytest.raises(UserError, match="one target per source"):
        in_memory(["a", "b"], ["x"], data)
    with pytest.raises(UserError, match=r"\(source, target\) pairs"):
        in_memory(["a", "b"], None, data)


def test_fit_with_validation_data_and_bad_settings(tmp_path):
    pairs = toy_pairs(12)
    translator = rnnkit.Translator(**SMALL, epochs=1, verbose=0)
    translator.fit(pairs[:8], validation_data=pairs[8:], out=tmp_path / "run")
    assert (tmp_path / "run" / "best" / "src_vocab.json").exists()
    with pytest.raises(UserError, match="src_vocab must be at least 16"):
        rnnkit.Translator(src_vocab=3)
    with pytest.raises(UserError, match="has no setting 'src_vocab_size'"):
        rnnkit.Translator(src_vocab_size=3)
