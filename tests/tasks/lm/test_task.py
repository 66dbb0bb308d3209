"""rnnkit.LanguageModel from Python: fit on in-memory text, generate, evaluate, save, load."""

import pytest

import rnnkit
from rnnkit.errors import UserError
from rnnkit.tasks.lm import LanguageModel

TEXT = "ROMEO:\nBut soft, what light.\n\nJULIET:\nO Romeo, Romeo.\n\n" * 10
TINY = dict(hidden=32, embed=16, epochs=2, seq_length=20, batch_size=4, verbose=0)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    return rnnkit.LanguageModel(sample_length=0, **TINY).fit(
        TEXT, out=tmp_path_factory.mktemp("run") / "lm"
    )


def test_fit_in_memory_text_and_generate_seeded(fitted):
    assert isinstance(fitted, rnnkit.LanguageModel)
    result = fitted.fit_result
    assert result["epochs"] == 2 and {"val_loss", "val_perplexity", "val_bpc"} <= set(result)
    a, b = fitted.generate("ROMEO:", 40, seed=1), fitted.generate("ROMEO:", 40, seed=1)
    assert a["text"] == b["text"] == a["input"] + a["output"] and a["input"] == "ROMEO:"
    assert len(a["output"]) == 40 and a["seed"] == 1
    assert fitted.generate("ROMEO:", 40, seed=2)["text"] != a["text"]
    model = fitted.model
    fitted.generate(length=5)
    assert fitted.model is model  # kept loaded between calls


def test_save_then_load_generates_the_same_text(fitted, tmp_path):
    fitted.save(tmp_path / "saved")
    loaded = rnnkit.load(tmp_path / "saved")
    assert isinstance(loaded, rnnkit.LanguageModel)
    assert loaded.get_params()["hidden"] == 32 and loaded.get_params()["seq_length"] == 20
    same = loaded.generate("JULIET:", 50, seed=7)["text"]
    assert same == fitted.generate("JULIET:", 50, seed=7)["text"]


def test_evaluate_in_memory_text_scores_it_whole(fitted):
    metrics = fitted.evaluate(TEXT[:200])
    assert metrics["split"] == "all" and metrics["data"] == "in-memory text"
    assert metrics["n"] == 200  # one token per character
    assert {"loss", "perplexity", "bpc", "report"} <= set(metrics)
    with pytest.raises(UserError, match="trained on in-memory text"):
        fitted.evaluate()


def test_predict_rows_continue_each_text(fitted):
    rows = fitted.predict_rows(["ROMEO:", "JULIET:"], length=10, seed=0)
    assert [set(row) for row in rows] == [{"input", "output", "text"}] * 2
    assert rows[1]["text"] == "JULIET:" + rows[1]["output"] and len(rows[0]["output"]) == 10
    assert fitted.predict_report(rows).startswith("ROMEO:")
    with pytest.raises(UserError, match="one string"):
        fitted.predict_rows("ROMEO:")


def test_resume_refuses_a_changed_model_setting_but_not_a_sample_setting(fitted, tmp_path):
    run = fitted.save(tmp_path / "copy")
    with pytest.raises(UserError, match="cannot change hidden when resuming"):
        rnnkit.LanguageModel(**{**TINY, "hidden": 64}).fit(out=run, resume=True)
    resumed = rnnkit.LanguageModel(epochs=3, sample_length=5, verbose=0)
    with pytest.raises(UserError, match="trained on in-memory text; expected that text again"):
        resumed.fit(out=run, resume=True)
    resumed.fit(TEXT, out=run, resume=True)
    assert resumed.fit_result["epochs"] == 3
    assert resumed.get_params()["hidden"] == 32 and resumed.get_params()["sample_length"] == 5


def test_unknown_and_bad_settings_are_refused():
    with pytest.raises(UserError, match="has no setting 'hiden'"):
        rnnkit.LanguageModel(hiden=32)
    with pytest.raises(UserError, match="tie_weights needs an embedding of the hidden size"):
        rnnkit.LanguageModel(tie_weights=True, embed=8, hidden=16)
    with pytest.raises(UserError, match="sample_every must be >= 0"):
        rnnkit.LanguageModel(sample_every=-1)
    with pytest.raises(UserError, match="sample_temperature must be >= 0"):
        rnnkit.LanguageModel(sample_temperature=-1.0)


def test_levels_preset_their_defaults():
    names = ("hidden", "embed", "seq_length", "max_vocab", "tie_weights")
    char = LanguageModel().get_params()
    assert [char[name] for name in names] == [384, 64, 100, None, False]
    word = LanguageModel(level="word").get_params()
    assert [word[name] for name in names] == [256, 256, 35, 30_000, True]
    assert word["precision"] == "auto" and word["lr_gamma"] == 0.8
    assert LanguageModel(level="word", hidden=64).get_params()["embed"] == 64  # tied
    assert not LanguageModel(level="word", one_hot=True).get_params()["tie_weights"]
    assert LanguageModel.shown_defaults()["hidden"] == "384 chars, 256 words"


def test_validation_text_selects_and_documents_train(tmp_path):
    docs = TEXT.split("\n\n")
    lm = rnnkit.LanguageModel(sample_length=0, **{**TINY, "epochs": 1})
    lm.fit(docs, validation_data=TEXT[:120])
    assert lm.fit_result["epochs"] == 1
    assert lm.evaluate(TEXT[:120])["loss"] == pytest.approx(lm.fit_result["val_loss"], rel=1e-4)
