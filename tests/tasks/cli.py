"""Running the rnnkit command line inside a test."""

import json

from rnnkit.cli import main


def run(capsys, *argv):
    """(exit status, stdout, stderr) of ``rnnkit ARGV...``."""
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def last_json(out):
    """The JSON object on the last line of a command's stdout (``--json``)."""
    return json.loads(out.strip().splitlines()[-1])
