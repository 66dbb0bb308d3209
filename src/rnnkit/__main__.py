"""``python -m rnnkit`` is the same as the ``rnnkit`` command."""

from rnnkit.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
