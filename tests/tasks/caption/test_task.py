"""rnnkit train caption / evaluate / caption / predict end to end on a slice of the real Flickr8k
release, resume, bad images, the Python API, and an overfit test on a few real images."""

import pytest
import torch

import rnnkit
from rnnkit import ImageCaptioner
from rnnkit.models.captioner import Captioner, CaptionerConfig
from rnnkit.tasks.caption.data import CaptionBatches, CaptionData, CaptionText, decode_split
from rnnkit.tasks.caption.decode import describe
from rnnkit.tasks.caption.objective import CaptionObjective

from ..cli import last_json, run

TINY = ["--image-size", "32", "--channels", "8", "--stages", "3", "--embed", "24", "--hidden",
        "32", "--attention-size", "16", "--min-freq", "1", "--bleu-images", "4", "--threads",
        "1"]  # fmt: skip


@pytest.mark.parametrize("attention", ["none", pytest.param("soft", marks=pytest.mark.slow)])
def test_overfits_a_few_real_images(flickr, attention):
    torch.manual_seed(0)
    data = CaptionData(image_size=32, min_freq=1, augment=False, batch_size=4)
    chosen = flickr["train"].take([0, 1, 2, 3])
    chosen.captions = [c[:1] for c in chosen.captions]  # one caption each, to reproduce
    split = decode_split(chosen, data, "train", verbose=0)
    text = CaptionText.build([c[0] for c in split.captions], data)
    config = CaptionerConfig(len(text.vocab), embed=24, hidden=48, attention=attention,
                             attention_size=16, channels=8, stages=3, dropout=0.0)  # fmt: skip
    model = Captioner(config)
    (batch,) = CaptionBatches.of(split, text, data, train=False)
    objective = CaptionObjective(pad_index=0, doubly_stochastic=0.01)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    model.train()
    for _ in range(80):
        loss, _ = objective.train_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.1
    found = describe(model, split.pixels, text, beam=1, max_length=30)
    assert [h[0].text for h in found] == [c[0].lower() for c in split.captions]
    (best,) = describe(model, split.pixels[:1], text, beam=3, n_best=2, max_length=30)
    assert best[0].text == split.captions[0][0].lower() and best[0].log_prob > best[1].log_prob


@pytest.mark.slow
def test_train_evaluate_caption_resume_on_a_real_slice(capsys, caplog, flickr_slice, tmp_path):
    caplog.set_level("INFO")
    out = tmp_path / "run"
    code, stdout, err = run(capsys, "train", "caption", "--data", str(flickr_slice), "--epochs",
                            "2", "--attention", "soft", "--out", str(out), "--json",
                            *TINY)  # fmt: skip
    assert code == 0, err
    result = last_json(stdout)
    assert result["epochs"] == 2 and {"val_loss", "val_bleu", "val_bleu1", "val_bleu4"} <= set(
        result
    )
    assert "| caption" in caplog.text and "12 of 12 images decoded" in caplog.text
    for name in ("tokenizer.json", "vocab.json", "model.safetensors", "config.json"):
        assert (out / "best" / name).exists(), name

    code, stdout, err = run(capsys, "evaluate", str(out), "--split", "test", "--beam", "2",
                            "--json")  # fmt: skip
    assert code == 0, err
    scores = last_json(stdout)
    assert scores["split"] == "test" and scores["n"] == 4 and scores["beam"] == 2
    assert all(0 <= scores[f"bleu{n}"] <= 100 for n in range(1, 5))
    assert "nrefs:5" in scores["signature"] and "BLEU-1" in stdout
    assert scores["cider"] >= 0 and "CIDEr-D" in stdout  # the caption-metrics extra (dev)

    image = str(next((flickr_slice / "Flicker8k_Dataset").glob("*.jpg")))
    code, stdout, err = run(capsys, "caption", str(out), image, "--beam", "3", "--n-best", "2",
                            "--json")  # fmt: skip
    assert code == 0, err
    (row,) = last_json(stdout)["predictions"]
    assert row["input"] == image and len(row["n_best"]) == 2 and row["log_prob"] < 0
    assert "(logprob -" in stdout
    plot = tmp_path / "attention.png"
    code, stdout, err = run(capsys, "caption", str(out), image, "--attention-plot", str(plot),
                            "--json")  # fmt: skip
    assert code == 0, err
    shown = last_json(stdout)["attention"]
    assert plot.stat().st_size > 1000 and len(shown["weights"][0]) == 4 * 4  # 32 px: 4x4 regions
    code, stdout, _ = run(capsys, "predict", str(out), image, "--json")
    assert code == 0 and last_json(stdout)["predictions"][0]["input"] == image

    code, stdout, err = run(capsys, "train", "caption", "--resume", str(out), "--epochs", "3",
                            "--threads", "1", "--json")  # fmt: skip
    assert code == 0, err
    assert last_json(stdout)["epochs"] == 3

    code, _, err = run(capsys, "caption", str(out), str(tmp_path / "gone.jpg"))
    assert code == 2 and "gone.jpg: missing" in err
    code, _, err = run(capsys, "caption", str(out))
    assert code == 2 and "nothing to caption" in err


def test_bad_images_in_a_table_are_skipped_and_counted(capsys, caplog, flickr, tmp_path):
    caplog.set_level("INFO")
    rows = ["image\tcaption"]
    for path, captions in zip(flickr["val"].paths[:6], flickr["val"].captions[:6]):
        rows += [f"{path}\t{c}" for c in captions[:2]]
    (tmp_path / "notes.jpg").write_text("not an image", encoding="utf-8")
    rows += ["notes.jpg\ta text file", "gone.jpg\ta missing file"]
    table = tmp_path / "captions.tsv"
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, stdout, err = run(capsys, "train", "caption", "--data", str(table), "--epochs", "1",
                            "--val-fraction", "0.25", "--out", str(tmp_path / "run"), "--json",
                            "--seed", "2", *TINY)  # fmt: skip
    assert code == 0, err
    assert "skipped 1 missing (e.g. gone.jpg)" in caplog.text
    assert "1 not an image (e.g. notes.jpg)" in caplog.text
    image = str(flickr["val"].paths[0])
    code, _, err = run(capsys, "caption", str(tmp_path / "run"), image, "--attention-plot",
                       str(tmp_path / "a.png"))  # fmt: skip
    assert code == 2 and "expected a model trained with --attention soft" in err


def test_python_api_on_in_memory_images(flickr, tmp_path):
    paths = [str(p) for p in flickr["val"].paths[:6] for _ in range(2)]
    captions = [c for cs in flickr["val"].captions[:6] for c in cs[:2]]
    cap = rnnkit.ImageCaptioner(image_size=32, channels=8, stages=3, embed=16, hidden=24,
                                min_freq=1, epochs=1, bleu_images=2, verbose=0)  # fmt: skip
    cap.fit(paths, captions, out=tmp_path / "run")
    (row,) = cap.caption([paths[0]], beam=1)
    assert set(row) == {"input", "output", "log_prob", "score"} and row["log_prob"] <= 0
    scores = cap.evaluate(paths, captions)
    assert scores["split"] == "all" and scores["n"] == 6
    loaded = rnnkit.load(tmp_path / "run")
    assert isinstance(loaded, rnnkit.ImageCaptioner)
    assert loaded.caption([paths[0]], beam=1)[0]["output"] == row["output"]


@pytest.mark.parametrize("beam", [1, 3])
def test_the_unknown_token_is_never_generated(beam):
    torch.manual_seed(0)
    text = CaptionText.build(["a dog runs .", "a man sits ."], CaptionData(min_freq=1))
    config = CaptionerConfig(len(text.vocab), embed=8, hidden=8, channels=4, stages=2)
    model = Captioner(config).eval()
    with torch.no_grad():
        model.output.bias[text.vocab.unk_index] = 50.0  # the model's favourite: unknown
    pixels = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    for hypotheses in describe(model, pixels, text, beam=beam, n_best=beam, max_length=5):
        assert all(text.vocab.unk_index not in h.tokens and "<unk>" not in h.text
                   for h in hypotheses)  # fmt: skip


def test_the_cnn_trained_here_is_selected_on_the_loss_a_pretrained_one_on_bleu():
    def monitor(**given):
        train = ImageCaptioner.resolve_settings(given)["train"]
        return train.monitor, train.mode

    assert monitor() == ("val_loss", "min") == monitor(encoder="none")
    assert monitor(encoder="efficientnet-lite0") == ("val_bleu", "max")
    assert monitor(encoder="efficientnet-lite0", bleu_images=0) == ("val_loss", "min")
    assert monitor(encoder="efficientnet-lite0", monitor="val_loss") == ("val_loss", "min")
    assert monitor(monitor="val_bleu") == ("val_bleu", "max")  # the mode follows the metric
    assert monitor(monitor="val_bleu", mode="min") == ("val_bleu", "min")  # unless given
