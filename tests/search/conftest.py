import csv
import json

import pytest

from rnnkit.cli import main


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Tiny models train faster on one thread."""


@pytest.fixture(scope="session")
def tweets(data_dir, tmp_path_factory):
    """A 600-row slice of the GOP-debate tweets (3 classes) as a small CSV: quick to read."""
    source = data_dir / "gop-debate-sentiment" / "Sentiment.csv"
    path = tmp_path_factory.mktemp("tweets") / "tweets.csv"
    with source.open(encoding="latin-1", newline="") as file, path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["text", "label"])
        for i, row in enumerate(csv.DictReader(file)):
            if i == 600:
                break
            writer.writerow([row["text"], row["sentiment"]])
    return path


# settings every test trial shares: a tiny model, one quick epoch
TINY = {
    "embed": 8, "hidden": 8, "max_length": 20, "batch_size": 32, "epochs": 1, "plot": False,
    "limit": 300,
}  # fmt: skip


def run_cli(capsys, *argv):
    """(exit status, the --json object or None, stderr) of ``rnnkit ARGV...``."""
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    result = json.loads(lines[-1]) if code == 0 and "--json" in argv and lines else None
    return code, result, captured.err
