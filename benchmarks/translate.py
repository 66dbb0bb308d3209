"""Multi30k German->English (issue #5): test2016 BLEU >= 30 (sacrebleu, beam search) with at
most 60 minutes of training; see quality.py.

    RNNKIT_DATA=../shared/data python benchmarks/translate.py [--minutes M] [--extra ...]
"""

from quality import main

if __name__ == "__main__":
    main(("multi30k",), __doc__.split("\n\n")[0])
