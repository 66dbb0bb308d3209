"""IMDb sentiment (issue #3): test accuracy >= 88.5% with at most 30 minutes of training;
see quality.py.

    RNNKIT_DATA=../shared/data python benchmarks/imdb.py [--minutes M] [--extra ...]
"""

from quality import main

if __name__ == "__main__":
    main(("imdb",), __doc__.split("\n\n")[0])
