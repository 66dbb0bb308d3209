import hashlib
import re

import pytest

from rnnkit.data.registry import DATASETS, get_entry
from rnnkit.errors import UserError


def test_registry_entries_are_well_formed():
    for name, entry in DATASETS.items():
        assert entry.name == name and entry.description
        assert not entry.target.startswith("/")
        assert entry.files or entry.manual, f"{name}: no download and no manual instructions"
        for remote in entry.files:
            assert remote.url.startswith("https://"), remote.url
            assert remote.sha256 is None or re.fullmatch("[0-9a-f]{64}", remote.sha256)
    imdb = DATASETS["imdb"].files[0]
    assert imdb.url == "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
    assert imdb.sha256 == "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
    assert DATASETS["gop-debate"].options["encoding"] == "latin-1"


def test_get_entry_unknown_name():
    assert get_entry("imdb") is DATASETS["imdb"]
    with pytest.raises(UserError, match="unknown dataset 'mnist'; expected one of imdb, "):
        get_entry("mnist")


@pytest.mark.parametrize("name", ["tinyshakespeare", "ptb", "multi30k"])
def test_real_copies_match_registry_checksums(data_dir, name):
    """These shared copies are byte-identical to the canonical files: the checksums are right."""
    for remote in DATASETS[name].files:
        path = data_dir / remote.path
        if not path.exists():
            pytest.skip(f"{remote.path} is missing from RNNKIT_DATA")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == remote.sha256, remote.path
