"""Search a task's settings with Optuna: grid, random, TPE or a Gaussian process.

The space file (TOML) names the settings to vary, one table each:

  [lr]                        log-uniform between two numbers
  low = 1e-4
  high = 1e-2
  log = true
  [hidden]                    integers from 32 to 256 in steps of 32
  low = 32
  high = 256
  step = 32
  [optimizer]                 a list of choices
  choices = ["sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamax", "nadam"]

Every other task option (--epochs, --max-length, ...) is fixed for all trials. Each trial is a
run folder in OUT/trials/NNNN; at the end OUT/best/ is the best one, OUT/best.toml its settings
(rnnkit train TASK --config OUT/best.toml --data ... retrains it), OUT/plots/ the plots and
OUT/results.json every trial. Run the same command again (or with the same --storage and
--study elsewhere) to resume: only the trials still missing run.

Examples:
  rnnkit search classify --data gop-debate --space space.toml --sampler tpe --trials 40 \\
      --epochs 3 --out runs/search
  rnnkit search classify --data gop-debate --space space.toml --workers 2 --threads 2 \\
      --storage sqlite:///runs/study.db --study gop --out runs/search
"""

from __future__ import annotations

import argparse
import inspect

from rnnkit.commands import add_json_option
from rnnkit.commands.options import add_settings_options, given
from rnnkit.commands.train import HEADINGS
from rnnkit.search.config import SearchConfig
from rnnkit.tasks import TASKS, task_class

__all__ = ["add_arguments", "run"]

SEED_HELP = {
    "seed": "seeds every trial's training (the same for all: trials differ only in what is "
    "searched) and the sampler (default: 0)"
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    tasks = parser.add_subparsers(dest="task", metavar="TASK", required=True)
    for name in TASKS:
        task = task_class(name)
        description = inspect.cleandoc(task.__doc__ or name)
        task_parser = tasks.add_parser(
            name,
            help=f"search the settings of: {description.splitlines()[0]}",
            description=__doc__,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_json_option(task_parser)
        search = task_parser.add_argument_group("search")
        search.add_argument(
            "--space", required=True, metavar="SPACE.toml", help="the settings to vary (TOML)"
        )
        search.add_argument(
            "--out", required=True, metavar="DIR", help="the search's folder (trials, best, plots)"
        )
        add_settings_options(search, SearchConfig, SearchConfig().to_dict())
        shown = task.shown_defaults()
        fixed = [f for f in task.FIXED if f != "source"]
        for section, settings in task.SECTIONS.items():
            heading = f"{HEADINGS.get(section, section)} (fixed for every trial)"
            group = task_parser.add_argument_group(heading)
            add_settings_options(group, settings, shown, skip=fixed, help_overrides=SEED_HELP)


def run(args: argparse.Namespace) -> dict:
    import rnnkit.search

    cls = task_class(args.task)
    options = given(args, [SearchConfig, *cls.SECTIONS.values()])
    source = options.pop("source", None)
    results = rnnkit.search.run(
        args.task, space=args.space, out=args.out, data=source, verbose=1, **options
    )
    return {**results, "report": rnnkit.search.search_report(results)}
