"""WAV reading (bit depths, channels, rates, bad files) and the features against references."""

import io
import math
import wave

import numpy as np
import pytest
import scipy.fft
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.audio import (
    AudioError,
    FeatureScaler,
    dct_matrix,
    deltas,
    hz_to_mel,
    log_mel,
    mel_filterbank,
    mel_to_hz,
    mfcc,
    read_wav,
    read_wavs,
    resample,
)
from tests.tasks.speech.conftest import write_wav


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_every_pcm_width_reads_back_the_values_written(tmp_path, width):
    rng = np.random.default_rng(width)
    samples = rng.uniform(-0.9, 0.9, 500)
    ints = write_wav(tmp_path / "a.wav", samples, width=width)
    got = read_wav(tmp_path / "a.wav")
    expected = ints[:, 0] / float(1 << (8 * width - 1))
    assert got.dtype == torch.float32 and got.shape == (500,)
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-7)
    np.testing.assert_allclose(got.numpy(), samples, atol=1.0 / (1 << (8 * width - 1)))


def test_stereo_is_mixed_down_to_the_mean_of_the_channels(tmp_path):
    left, right = np.full(100, 0.5), np.full(100, -0.25)
    write_wav(tmp_path / "s.wav", np.stack([left, right], 1), channels=2)
    np.testing.assert_allclose(read_wav(tmp_path / "s.wav").numpy(), 0.125, atol=1e-4)


def test_a_wrong_rate_is_resampled_keeping_a_tone_below_nyquist(tmp_path):
    t = np.arange(16000) / 16000.0
    write_wav(tmp_path / "t.wav", 0.5 * np.sin(2 * math.pi * 440 * t), rate=16000)
    got = read_wav(tmp_path / "t.wav", 8000)
    assert got.shape == (8000,)
    spectrum = np.abs(np.fft.rfft(got.numpy()))  # 1 Hz bins
    assert abs(int(spectrum.argmax()) - 440) <= 1
    # a 3.5 kHz tone survives going down to 8 kHz; a 6 kHz one (above 4 kHz) is filtered out
    high = resample(torch.sin(2 * math.pi * 6000 * torch.arange(16000) / 16000.0), 16000, 8000)
    kept = resample(torch.sin(2 * math.pi * 3000 * torch.arange(16000) / 16000.0), 16000, 8000)
    assert high[100:-100].abs().max() < 0.1 < kept[100:-100].abs().max()
    assert resample(torch.ones(100), 8000, 16000).shape == (200,)


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty"), (b"hello, not audio at all" * 10, "not a WAV"), (None, "empty")],
)
def test_bad_files_raise_an_error_naming_the_file_and_reason(tmp_path, content, reason):
    path = tmp_path / "bad.wav"
    if content is None:
        write_wav(path, np.zeros(0))
    else:
        path.write_bytes(content)
    with pytest.raises(AudioError, match="bad.wav") as error:
        read_wav(path)
    assert error.value.reason == reason


def test_float_wav_is_refused_as_unsupported_and_a_header_cut_short_as_damaged(tmp_path):
    write_wav(tmp_path / "f.wav", np.zeros(10), width=4)
    raw = bytearray((tmp_path / "f.wav").read_bytes())
    raw[20:22] = (3).to_bytes(2, "little")  # WAVE_FORMAT_IEEE_FLOAT
    (tmp_path / "f.wav").write_bytes(bytes(raw))
    with pytest.raises(AudioError, match="f.wav: unsupported") as error:
        read_wav(tmp_path / "f.wav")
    assert "expected PCM of 8/16/24/32 bits" in str(error.value)
    (tmp_path / "h.wav").write_bytes(bytes(raw[:30]))
    with pytest.raises(AudioError, match="h.wav: damaged"):
        read_wav(tmp_path / "h.wav")


def test_truncated_and_missing_files_and_the_skip_count(tmp_path):
    write_wav(tmp_path / "good.wav", np.zeros(800))
    whole = (tmp_path / "good.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(whole[: len(whole) - 400])
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(AudioError) as error:
        read_wav(tmp_path / "cut.wav")
    assert error.value.reason == "damaged" and "truncated" in str(error.value)
    read = read_wavs([tmp_path / n for n in ("good.wav", "cut.wav", "text.wav", "no.wav")], 8000)
    assert read.kept == [0]
    assert set(read.skipped) == {"damaged", "not a WAV", "missing"}
    assert "1 of 4 recordings read; skipped" in read.summary(4) and "cut.wav" in read.summary(4)


def test_the_mel_scale_and_filterbank_by_hand():
    assert float(hz_to_mel(700.0)) == pytest.approx(2595 * math.log10(2))
    assert float(mel_to_hz(hz_to_mel(1234.5))) == pytest.approx(1234.5)
    bank = mel_filterbank(2, 8, 8000)  # bins every 1 kHz: 0..4 kHz
    centres = mel_to_hz(torch.linspace(0, float(hz_to_mel(4000.0)), 4)).tolist()
    c0, c1, c2, c3 = centres
    expected = torch.zeros(2, 5, dtype=torch.float64)
    for k in range(5):
        f = 1000.0 * k
        expected[0, k] = max(0.0, min((f - c0) / (c1 - c0), (c2 - f) / (c2 - c1)))
        expected[1, k] = max(0.0, min((f - c1) / (c2 - c1), (c3 - f) / (c3 - c2)))
    torch.testing.assert_close(bank, expected.float())
    full = mel_filterbank(40, 256, 8000)
    assert full.shape == (40, 129) and float(full.max()) <= 1.0 and bool((full.sum(1) > 0).all())


def test_the_dct_is_scipys_orthonormal_dct_ii_and_mfcc_is_it_on_log_mel():
    x = np.random.default_rng(0).normal(size=(7, 40))
    ours = torch.tensor(x, dtype=torch.float32) @ dct_matrix(13, 40).T
    np.testing.assert_allclose(ours.numpy(), scipy.fft.dct(x, type=2, norm="ortho")[:, :13],
                               rtol=1e-5, atol=1e-5)  # fmt: skip
    samples = torch.randn(4000, generator=torch.Generator().manual_seed(1))
    options = {"n_mels": 40, "n_fft": 256, "hop": 80, "win": 200}
    logs = log_mel(samples, 8000, **options)
    plain = mfcc(samples, 8000, n_mfcc=13, with_deltas=False, **options)
    assert logs.shape == (51, 40) and plain.shape == (51, 13)  # 1 + 4000 // 80 frames
    reference = scipy.fft.dct(logs.double().numpy(), type=2, norm="ortho")[:, :13]
    np.testing.assert_allclose(plain.numpy(), reference, rtol=1e-4, atol=1e-4)
    full = mfcc(samples, 8000, n_mfcc=13, **options)
    torch.testing.assert_close(full[:, 13:26], deltas(plain))


def test_log_mel_against_a_numpy_power_spectrum():
    samples = torch.randn(1000, generator=torch.Generator().manual_seed(2))
    window = np.hanning(201)[:-1]  # periodic Hann of 200
    padded = np.pad(samples.numpy().astype(np.float64), 128, mode="reflect")
    frame = padded[80 * 3 : 80 * 3 + 256].copy()
    frame[:28], frame[228:] = 0, 0  # the 200-sample window sits in the middle of 256
    frame[28:228] *= window
    power = np.abs(np.fft.rfft(frame)) ** 2
    expected = np.log(np.maximum(mel_filterbank(40, 256, 8000).double().numpy() @ power, 1e-10))
    got = log_mel(samples, 8000, n_mels=40, n_fft=256, hop=80, win=200)[3]
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-3)


def test_deltas_by_hand():
    c = torch.tensor([[0.0], [1.0], [4.0], [9.0], [16.0]])
    # t=2: (1*(9-1) + 2*(16-0)) / 10 = 4.0; t=0: (1*(1-0) + 2*(4-0)) / 10 = 0.9 (edge repeated)
    got = deltas(c)
    assert got[2, 0].item() == pytest.approx(4.0) and got[0, 0].item() == pytest.approx(0.9)


def test_the_scaler_uses_only_the_frames_it_is_fitted_on():
    train = [torch.tensor([[1.0, 5.0], [3.0, 5.0]])]
    scaler = FeatureScaler.fit(train)
    torch.testing.assert_close(scaler.mean, torch.tensor([2.0, 5.0]))
    torch.testing.assert_close(scaler.std, torch.tensor([1.0, 1.0]))  # a constant feature: 1
    torch.testing.assert_close(scaler(torch.tensor([[4.0, 6.0]])), torch.tensor([[2.0, 1.0]]))
    again = FeatureScaler.from_dict(scaler.to_dict())
    torch.testing.assert_close(again.mean, scaler.mean)


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_damaged_wav_bytes_raise_only_audio_errors(data):
    """A real 16-bit header and samples with bytes overwritten, cut, or replaced."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1), out.setsampwidth(2), out.setframerate(8000)
        out.writeframes(np.arange(64, dtype="<i2").tobytes())
    raw = bytearray(buffer.getvalue())
    for _ in range(data.draw(st.integers(0, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(0, len(raw)))]
    try:
        samples = read_wav(bytes(raw), 8000)
    except AudioError:
        return
    assert samples.dim() == 1 and len(samples) > 0 and bool(torch.isfinite(samples).all())
