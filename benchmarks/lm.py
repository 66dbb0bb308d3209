"""Language models (issue #6): Tiny Shakespeare (val nats/char <= 1.50 in 15 min) and
Penn Treebank (test perplexity <= 125 in 30 min); see quality.py.

    RNNKIT_DATA=../shared/data python benchmarks/lm.py shakespeare [--minutes M] [--extra ...]
"""

from quality import main

if __name__ == "__main__":
    main(("shakespeare", "ptb"), __doc__.split("\n\n")[0])
