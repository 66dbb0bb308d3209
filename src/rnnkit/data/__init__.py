"""The data pipeline shared by every task (imports torch and numpy only).

Modules, one concern each:

==================  =============================================================================
``tokenize``        text cleaning; ``word`` / ``char`` / ``whitespace`` tokenizers by name
``vocab``           ``Vocabulary``: tokens <-> indices, specials, JSON
``labels``          ``LabelEncoder``: class labels <-> indices, JSON; ``check_num_classes``
``examples``        ``LabeledTexts``: texts + labels (+ ids) of one split
``imdb``            IMDb reviews from the aclImdb tree or the tarball (streamed, not unpacked)
``tabular``         any CSV/TSV with a text and a label column
``text``            text corpora: one file, split files (PTB)
``parallel_files``  line-aligned parallel files: a pair, a TSV, a folder of splits (Multi30k)
``archive``         fast streaming reader of tar(.gz/.bz2/.xz) members
``download``        HTTP download with progress, checksum and atomic placement
``registry``        ``DATASETS``: name -> download URLs, checksums, local name, loader
``resolve``         finding data: path -> $RNNKIT_DATA -> cache -> download; ``load_dataset``
``parallel``        ``load_parallel``: a name or path -> ``ParallelCorpus`` for translation
``splits``          seeded, stratified train/validation splits
``batching``        truncation, padding with lengths, length-bucketed batches for DataLoader
``streams``         (B, n) token streams and TBPTT windows for language models
``files``           atomic writes, decoding with clear errors, JSON, hashes
==================  =============================================================================
"""

from rnnkit.data.batching import (
    BucketBatchSampler,
    Example,
    PadCollate,
    PaddedBatch,
    SequenceDataset,
    make_loader,
    pad_sequences,
    truncate,
)
from rnnkit.data.examples import LabeledTexts
from rnnkit.data.imdb import read_imdb
from rnnkit.data.labels import LabelEncoder, check_num_classes
from rnnkit.data.parallel import ParallelCorpus, load_parallel
from rnnkit.data.parallel_files import read_parallel_folder
from rnnkit.data.registry import DATASETS, DatasetEntry, RemoteFile
from rnnkit.data.resolve import cache_dir, load_dataset, resolve
from rnnkit.data.splits import stratified_split, train_val_fold, train_val_split
from rnnkit.data.streams import TBPTTStream, batchify, contiguous_split
from rnnkit.data.tabular import read_labeled_csv
from rnnkit.data.text import read_text, read_text_splits
from rnnkit.data.tokenize import TOKENIZERS, get_tokenizer, tokenizer_from_dict
from rnnkit.data.vocab import Vocabulary

__all__ = [
    "DATASETS",
    "TOKENIZERS",
    "BucketBatchSampler",
    "DatasetEntry",
    "Example",
    "LabelEncoder",
    "LabeledTexts",
    "PadCollate",
    "ParallelCorpus",
    "PaddedBatch",
    "RemoteFile",
    "SequenceDataset",
    "TBPTTStream",
    "Vocabulary",
    "batchify",
    "cache_dir",
    "check_num_classes",
    "contiguous_split",
    "get_tokenizer",
    "load_dataset",
    "load_parallel",
    "make_loader",
    "pad_sequences",
    "read_imdb",
    "read_labeled_csv",
    "read_parallel_folder",
    "read_text",
    "read_text_splits",
    "resolve",
    "stratified_split",
    "tokenizer_from_dict",
    "train_val_fold",
    "train_val_split",
    "truncate",
]
