"""``Trainer``: the training loop every task shares, ``fit → run_epoch → train_step``.

The trainer knows nothing about tasks: an *objective* (see ``rnnkit.train.objective``) computes
losses and validation metrics, callbacks (``rnnkit.train.callbacks``) do the rest.

With ``fit(..., out_dir=DIR)`` the run is checkpointed: ``DIR/best/`` (the best weights, what
users load), ``DIR/last/`` (what resume reads) and run-wide reports; see
``rnnkit.train.run_dir`` for the layout and why it is crash-safe.

Resume (``fit(..., out_dir=DIR, resume=True)``, the CLI's ``--resume DIR``) loads ``DIR/last``:
weights, optimizer, schedule, history, early-stopping counters and the random-number state, and
continues with the next epoch, so finished epochs are never lost and the result equals an
uninterrupted run's. For that the trainer restores the random state captured at the end of each
training pass at the start of the next epoch, in every run: whatever evaluation and callbacks
draw in between changes neither training nor its resumption; and it tells a training sampler
with ``set_epoch`` the epoch before each pass, so the batch order is a function of the epoch.
Resume happens at epoch boundaries: an epoch cut short by Ctrl-C is done again from its start
(the batch order and carried state of a half-done epoch are not restorable in general); an epoch
cut short by the time budget has been evaluated and saved like any other and is not repeated.
The time budget counts per ``fit`` call, so a resumed run gets a fresh one.

Ctrl-C (KeyboardInterrupt) leaves ``last/`` at the last finished epoch, logs how to resume and
re-raises. A non-finite loss or gradient norm raises ``NonFiniteLossError`` (a ``UserError``)
before the optimizer step, so ``last/`` still holds the last good epoch. So does an epoch that
diverged without a NaN: one whose training or validation loss, monitored value or perplexity is
NaN or infinite, or whose training or validation loss exceeds ``EXPLODED`` (1000) times the loss
of the run's first batch (the untrained model's; at least 1) — it is neither saved nor kept as
best, and the error says to lower lr or clip the gradients.

Device moves: each batch is moved by the objective's ``move_batch`` when it has one, else by
``move_to_device``, which keeps sequence lengths on the CPU (see ``rnnkit.train.device``).

Several processes (started by ``torchrun``; see ``rnnkit.train.distributed``): ``fit`` joins the
process group, gives each rank its rows of every batch, trains the model wrapped in
``DistributedDataParallel`` with each rank's loss weighted by its share of the global batch,
reduces the metrics over the ranks, agrees on every stop, and lets rank 0 alone write and log.
Every rank saves its random state in ``last/``; a resume must use the same number of processes.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from rnnkit.errors import UserError
from rnnkit.train import distributed
from rnnkit.train.callbacks import Callback
from rnnkit.train.checkpoint import load_model_state
from rnnkit.train.config import TrainConfig
from rnnkit.train.device import move_to_device, resolve_device, use_bf16
from rnnkit.train.history import History
from rnnkit.train.metrics import WeightedMeans, bits_per_char, perplexity
from rnnkit.train.monitor import MetricMonitor
from rnnkit.train.optimizers import build_optimizer
from rnnkit.train.regularization import clip_gradients, penalized_parameters, weight_penalty
from rnnkit.train.rng import capture_rng_state, restore_rng_state, seed_everything
from rnnkit.train.run_dir import RunDirectory
from rnnkit.train.schedules import build_scheduler, step_scheduler
from rnnkit.train.state_check import check_training_state
from rnnkit.train.tensorboard import TensorBoardLogger

__all__ = ["EXPLODED", "NonFiniteLossError", "Trainer"]

logger = logging.getLogger(__name__)

STATE_FORMAT = 1
CURVES_EVERY_S = 30.0  # curves.png is redrawn at most this often, and when the run ends
EXPLODED = 1e3  # an epoch loss above this many times the first batch's loss (at least 1) diverged
_CHECKED_FINITE = ("train_loss", "val_loss", "train_perplexity", "val_perplexity")
_FROM_LOSS = {"perplexity": perplexity, "bpc": bits_per_char}  # metrics derived from the loss
# settings held in the optimizer's and the schedule's state: a resumed run keeps the saved ones
_KEPT_ON_RESUME = frozenset(
    "lr weight_decay momentum nesterov betas eps lr_step_size lr_gamma lr_min lr_patience".split()
)


class NonFiniteLossError(UserError):
    """The loss or the gradient norm became NaN or infinite: training diverged."""


class Trainer:
    """Trains ``model`` on what ``objective`` computes, as ``config`` says.

    Args:
        model: any ``nn.Module``; moved to ``device``.
        objective: the task's loss and evaluation (``rnnkit.train.objective``).
        config: the training settings (default ``TrainConfig()``).
        callbacks: ``Callback`` instances, called in order.
        device: "auto", "cpu", "cuda", "cuda:N", "mps" or a ``torch.device``.
        checkpoint_config: JSON settings the task needs to rebuild the model (task, model, data);
            written to each checkpoint's ``config.json``, with this config under ``"train"``.
        artifacts: name → JSON value (vocabulary, label names...), or a function returning
            them, written as ``<name>.json`` in each checkpoint.

    After ``fit``: ``history``, ``epoch`` (epochs done), ``global_step``, ``monitor`` (best value
    and epoch), ``stop_reason`` ("completed", "early stopping", "time budget" or a callback's).
    """

    def __init__(
        self,
        model: nn.Module,
        objective: Any,
        config: TrainConfig | None = None,
        *,
        callbacks: Iterable[Callback] = (),
        device: str | torch.device = "auto",
        checkpoint_config: Mapping[str, Any] | None = None,
        artifacts: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self.model = model
        self.objective = objective
        self.config = config if config is not None else TrainConfig()
        self.callbacks = list(callbacks)
        self.device = resolve_device(device)
        precision = self.config.precision
        self.bf16 = use_bf16(precision, self.device, model)  # UserError where bf16 cannot run
        self.checkpoint_config = dict(checkpoint_config or {})
        self.artifacts = artifacts
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: Any = None
        self.run_dir: RunDirectory | None = None
        self.world = distributed.World()  # this process among those training together
        self._ddp: nn.Module | None = None  # the model in DistributedDataParallel, when several
        self._reset_counters()

    # -- building ------------------------------------------------------------------------------

    def _reset_counters(self) -> None:
        c = self.config
        self.history = History()
        self.monitor = MetricMonitor(c.monitor, c.mode, c.min_delta)
        self.epoch = 0
        self.global_step = 0
        self.elapsed_s = 0.0
        self.stop_reason: str | None = None
        self._stop_request: str | None = None
        self._deadline: float | None = None
        self._late = False  # another rank ran out of time: this one stops too
        self._rng_state: dict[str, Any] | None = None
        self._saved_epoch: int | None = None
        self._curves_at = 0.0  # when curves.png was last drawn (time.monotonic), or fit began
        self._curves_stale = False  # epochs saved since, without a drawing
        self._first_loss: float | None = None  # the run's first batch loss: what "exploded" means

    def setup(self) -> None:
        """Move the model to the device, build the optimizer and schedule (fit calls this)."""
        self.model.to(self.device)
        self._trainable = [p for p in self.model.parameters() if p.requires_grad]
        self._penalized = penalized_parameters(self.model)
        self.optimizer = build_optimizer(self._trainable, self.config, model=self.model)
        self.scheduler = build_scheduler(self.optimizer, self.config)
        self._ddp = distributed.wrap_model(self.model, self.device)

    def request_stop(self, reason: str) -> None:
        """Ask fit to stop after the current batch (then evaluate and save as usual)."""
        self._stop_request = reason

    def _call(self, hook: str, *args: Any) -> None:
        for callback in self.callbacks:
            getattr(callback, hook)(self, *args)

    def _move(self, batch: Any) -> Any:
        mover = getattr(self.objective, "move_batch", None)
        return mover(batch, self.device) if mover else move_to_device(batch, self.device)

    def _bar(self, batches: Iterable[Any], desc: str) -> Any:
        total = _length(batches)
        return tqdm(
            batches,
            desc=desc,
            total=total,
            leave=False,
            file=sys.stderr,
            disable=not self._show_progress,
            unit="batch",
            dynamic_ncols=True,
        )

    @property
    def _show_progress(self) -> bool:
        if not self.world.is_main:
            return False
        progress = self.config.progress
        if progress is None:  # a terminal, or a notebook (tqdm.auto draws a widget there)
            return sys.stderr.isatty() or "ipykernel" in sys.modules
        return progress

    def _out_of_time(self) -> bool:
        return self._late or (self._deadline is not None and time.monotonic() >= self._deadline)

    def _agree_stop(self) -> bool:
        """Whether to stop now: a stop request or a spent budget, on any rank (all must ask)."""
        requested, late = self._stop_request is not None, self._out_of_time()
        if self.world.distributed:
            counts = distributed.sum_over_ranks([requested, late], self.device)
            if counts[0] and self._stop_request is None:
                self._stop_request = "stop requested by another process"
            self._late = bool(counts[1])
            requested, late = bool(counts[0]), self._late
        return requested or late

    # -- the loop ------------------------------------------------------------------------------

    def fit(
        self,
        train_batches: Iterable[Any],
        val_batches: Iterable[Any] | None = None,
        out_dir: str | Path | None = None,
        resume: bool = False,
        overwrite: bool = False,
    ) -> History:
        """Train until ``config.epochs`` epochs are done in total, or an earlier stop.

        ``train_batches`` and ``val_batches`` are re-iterable (a DataLoader, a list...); with a
        ``__len__`` the progress bar shows a total. With ``out_dir`` the run is checkpointed
        (``rnnkit.train.run_dir``); ``resume`` continues the run saved there; a fresh run
        refuses a folder that already holds one unless ``overwrite``; a folder another fit is
        writing to is refused (``RUN/.lock``, see ``rnnkit.train.run_dir``). A fresh fit seeds the
        generators (``config.seed``), builds a new optimizer and starts counting epochs at 1;
        the model keeps its current weights (seed before building it for a reproducible init).
        """
        c = self.config
        if val_batches is None and c.monitor.startswith("val_"):
            raise UserError(
                f"monitor={c.monitor!r} needs validation batches; pass val_batches or set "
                "monitor to a training column such as 'train_loss'"
            )
        self.run_dir = RunDirectory(out_dir) if out_dir is not None else None
        wants_tb = c.log == "tensorboard" and not any(
            isinstance(callback, TensorBoardLogger) for callback in self.callbacks
        )
        if wants_tb and self.run_dir is None:
            raise UserError('log="tensorboard" writes into the run folder: expected an out_dir')
        self.world, self.device, joined = distributed.init_from_env(
            self.device, c.dist_backend, c.dist_timeout_s
        )
        quiet = _quiet_logs() if not self.world.is_main else contextlib.nullcontext()
        try:
            with quiet:
                return self._fit_distributed(
                    train_batches, val_batches, resume, overwrite, wants_tb
                )
        except RuntimeError as error:
            if not (self.world.distributed and distributed.lost_peer(error)):
                raise
            where = f"; continue with resume from {self.run_dir}" if self.run_dir else ""
            first = " ".join(str(error).split())[:160]
            raise UserError(
                f"rank {self.world.rank} lost contact with the other training processes in epoch "
                f"{self.epoch + 1} ({first}): one of them died or hung; the run folder keeps the "
                f"last finished epoch{where}"
            ) from None
        finally:
            if self.world.distributed:  # the loaders' samplers give whole batches again
                distributed.unshard_batches(train_batches)
                distributed.unshard_batches(val_batches)
            if joined:
                self._ddp = None  # the group stays joined for a later fit (see init_from_env)

    def _fit_distributed(
        self,
        train_batches: Iterable[Any],
        val_batches: Iterable[Any] | None,
        resume: bool,
        overwrite: bool,
        tensorboard: bool,
    ) -> History:
        """Shard the batches, take the lock (rank 0 only) and fit; a plain fit in one process."""
        world = self.world
        if world.distributed:
            where = str(self.run_dir.path.resolve()) if self.run_dir else None
            if len(set(distributed.all_gather_objects(where))) > 1:
                raise UserError(
                    "the processes were given different run folders; expected the same out_dir "
                    "on every rank (a shared folder every machine sees)"
                )
            batch = distributed.batch_size_of(train_batches)
            per_process = f"{-(-batch // world.size)} per process" if batch else "split"
            shared = f"global batch {batch or 'of the data'} ({per_process})"
            logger.info(
                "training on %d processes (%s): %s, lr %g",
                world.size,
                distributed.dist.get_backend(),
                shared,
                self.config.lr,
            )
            train_batches = distributed.shard_batches(train_batches, world)
            if val_batches is not None:
                val_batches = distributed.shard_batches(val_batches, world)
        # one writer per run folder: held from before anything is written or deleted to the end
        lock = contextlib.nullcontext()
        if self.run_dir is not None and world.is_main:
            lock = self.run_dir.locked(create=not resume)
        with lock:
            history = self._fit_locked(
                train_batches, val_batches, resume, overwrite, tensorboard and world.is_main
            )
        distributed.barrier()  # the others read best/ once rank 0 has written it
        return history

    def _fit_locked(
        self,
        train_batches: Iterable[Any],
        val_batches: Iterable[Any] | None,
        resume: bool,
        overwrite: bool,
        tensorboard: bool,
    ) -> History:
        c, out_dir = self.config, self.run_dir
        if tensorboard:  # fit checked that there is a run folder
            self.callbacks.append(TensorBoardLogger(self.run_dir.path / "tensorboard"))
        self.setup()
        if resume:
            self._resume()
        else:
            self._start_fresh(overwrite)
        self._stop_request = None
        self.stop_reason = self._next_stop_reason()  # a resumed run may be over already
        started = time.monotonic()  # the budget counts from here: at least one batch runs
        self._curves_at = started  # a run shorter than CURVES_EVERY_S draws once, at its end
        self._deadline = None if c.max_time_minutes is None else started + 60 * c.max_time_minutes
        if self.stop_reason and resume:
            logger.info(
                "the run in %s is already over (%s): nothing to do", out_dir, self.stop_reason
            )
        self._call("on_fit_start")
        redirect = logging_redirect_tqdm() if self._show_progress else contextlib.nullcontext()
        try:
            with redirect:
                while self.stop_reason is None:
                    self._fit_epoch(train_batches, val_batches)
                    self.stop_reason = self.stop_reason or self._stop_request  # from on_epoch_end
        except KeyboardInterrupt:
            self._log_interrupt()
            raise
        finally:
            self._draw_stale_curves()
        self._log_stop()
        self._call("on_fit_end", self.history)
        return self.history

    def _fit_epoch(self, train_batches: Iterable[Any], val_batches: Iterable[Any] | None) -> None:
        c = self.config
        epoch = self.epoch + 1
        start = time.monotonic()
        restore_rng_state(self._rng_state)
        lr = self.optimizer.param_groups[-1]["lr"]  # the top group: --lr, scheduled
        self._call("on_epoch_start", epoch)
        train_metrics, batches = self.run_epoch(train_batches, epoch)
        self._rng_state = capture_rng_state()  # the next epoch starts from here, resumed or not
        self._call("on_train_epoch_end", epoch)
        row: dict[str, Any] = {"epoch": epoch}
        row.update({f"train_{k}": v for k, v in train_metrics.items()})
        if val_batches is not None:
            metrics = self._validate(val_batches, desc=f"validate {epoch}")
            row.update({f"val_{k}": v for k, v in metrics.items()})
            self._check_diverged(row)  # before callbacks use the weights (an LM's sample)
            self._call("on_evaluate", epoch, metrics)
        total = _length(train_batches)
        partial = int(total is not None and batches < total)  # a time budget or stop cut it
        row.update(lr=lr, time_s=time.monotonic() - start, batches=batches, partial=partial)
        if c.monitor not in row:
            raise UserError(
                f"monitor={c.monitor!r} is not a history column; expected one of: "
                f"{', '.join(k for k in row if k not in ('epoch', 'batches', 'partial'))}"
            )
        self._check_diverged(row)  # before anything is saved or kept as best
        self.epoch = epoch
        self.elapsed_s += row["time_s"]
        self.history.append(row)
        improved = self.monitor.update(row[c.monitor], epoch)
        step_scheduler(self.scheduler, row[c.monitor])
        self._agree_stop()  # every rank takes the same decision (a collective with several)
        self.stop_reason = self._next_stop_reason()
        self._save(improved)
        self._log_epoch(row, improved)
        self._call("on_epoch_end", epoch, row)

    def run_epoch(self, train_batches: Iterable[Any], epoch: int) -> tuple[dict[str, float], int]:
        """One pass over ``train_batches``; returns the epoch's metrics and the batches done.

        A sampler with ``set_epoch`` (``BucketBatchSampler``, ``DistributedSampler``) is told the
        epoch first (counted from 0, as they count), so its order depends on the epoch only and a
        resumed epoch gets the order of an uninterrupted run's.
        """
        c = self.config
        _set_sampler_epoch(train_batches, epoch - 1)
        self.model.train()
        start_epoch = getattr(self.objective, "start_epoch", None)
        if start_epoch is not None:
            start_epoch(self.model, train=True)
        means = WeightedMeans()
        done = 0
        bar = self._bar(train_batches, f"epoch {epoch}/{c.epochs}")
        try:
            for index, batch in enumerate(bar):
                loss, stats = self.train_step(self._move(batch))
                done += 1
                weight = stats.pop("n", 1.0)
                means.add({"loss": loss, **stats}, weight)
                self._call("on_batch_end", epoch, index, loss, stats)
                if bar.disable is False:
                    bar.set_postfix(
                        {k: f"{v:.4g}" for k, v in means.means().items()}, refresh=False
                    )
                if c.log_every and done % c.log_every == 0:
                    logger.info("epoch %d batch %d: %s", epoch, done, _format(means.means()))
                if self._agree_stop():
                    break
        finally:
            bar.close()
        if done == 0 and self._stop_request is None:
            raise UserError("the training batches are empty; expected at least one batch")
        summarize = getattr(self.objective, "summarize", None)
        metrics = distributed.reduce_weighted_means(means.sums, means.weights, self.device)
        return (summarize(metrics) if summarize else metrics), done

    def autocast(self) -> torch.autocast:
        """The mixed-precision context of forward passes (a no-op unless precision is bf16)."""
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def train_step(self, batch: Any) -> tuple[float, dict[str, float]]:
        """Loss, penalties, backward, clipping and one optimizer step on a batch on the device."""
        c = self.config
        with self.autocast():
            loss, stats = self.objective.train_loss(self._ddp or self.model, batch)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise TypeError(
                f"objective.train_loss must return a scalar tensor loss, got {type(loss).__name__}"
                f"{tuple(loss.shape) if isinstance(loss, torch.Tensor) else ''}"
            )
        loss_value = loss.item()
        stats = {k: float(v) for k, v in stats.items()}
        global_loss, share = self._share_of_batch(loss_value, stats.get("n", 1.0))
        if not math.isfinite(global_loss):
            raise NonFiniteLossError(self._diverged("training loss", global_loss))
        if self._first_loss is None:
            self._first_loss = global_loss
        penalty = weight_penalty(self._penalized, c.l1, c.l2)
        total = loss if share == 1.0 else loss * share
        total = total if penalty is None else total + penalty
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        norm = clip_gradients(self._trainable, c.clip_norm, c.clip_value)
        if norm is not None:
            if not math.isfinite(norm):
                raise NonFiniteLossError(self._diverged("gradient norm", norm))
            stats["grad_norm"] = norm
        if penalty is not None:
            stats["penalty"] = penalty.item()
        self._optimizer_step()
        self.global_step += 1
        return loss_value, stats

    def _share_of_batch(self, loss: float, weight: float) -> tuple[float, float]:
        """(the global batch's mean loss, the factor of this rank's loss): with ``R`` ranks of
        weights ``n_r`` and ``n = sum_r n_r``, ``R * n_r / n``, so that DDP's average of the
        gradients is the global batch's mean gradient (see ``rnnkit.train.distributed``)."""
        if not self.world.distributed:
            return loss, 1.0
        total_weight, total_loss = distributed.sum_over_ranks([weight, loss * weight], self.device)
        return total_loss / total_weight, self.world.size * weight / total_weight

    def _optimizer_step(self) -> None:
        warmup = self.config.warmup_steps
        if not warmup or self.global_step >= warmup:
            self.optimizer.step()
            return
        scale = (self.global_step + 1) / warmup  # linear warm-up, invisible to the schedule
        scheduled = [group["lr"] for group in self.optimizer.param_groups]
        for group, lr in zip(self.optimizer.param_groups, scheduled, strict=True):
            group["lr"] = lr * scale
        try:
            self.optimizer.step()
        finally:
            for group, lr in zip(self.optimizer.param_groups, scheduled, strict=True):
                group["lr"] = lr

    def evaluate(self, batches: Iterable[Any], desc: str = "evaluate") -> dict[str, float]:
        """The objective's metrics on ``batches``, in eval mode without gradients."""
        self.model.to(self.device)
        was_training = self.model.training
        self.model.eval()
        start_epoch = getattr(self.objective, "start_epoch", None)
        if start_epoch is not None:
            start_epoch(self.model, train=False)
        bar = self._bar(batches, desc)
        try:
            with torch.no_grad():
                with self.autocast():
                    metrics = self.objective.evaluate(self.model, (self._move(b) for b in bar))
        finally:
            bar.close()
            self.model.train(was_training)
        if not isinstance(metrics, Mapping) or "loss" not in metrics:
            raise TypeError(f"objective.evaluate must return a dict with 'loss', got {metrics!r}")
        return {k: float(v) for k, v in metrics.items()}

    def _validate(self, batches: Iterable[Any], desc: str) -> dict[str, float]:
        """``evaluate`` on this rank's share, reduced over the ranks: each metric's mean weighted
        by the rows every rank evaluated; ``summarize`` then recomputes what derives from the
        means, and perplexity and bpc are recomputed from the reduced loss. Exact for means over
        examples (accuracy, a classifier's loss) and for TBPTT windows (equal tokens per row);
        approximate for a per-token mean over sequences of different lengths and for metrics
        that are not means (macro-F1)."""
        if not self.world.distributed:
            return self.evaluate(batches, desc)
        counted = distributed.RowCounter(batches)
        metrics = self.evaluate(counted, desc)
        rows = float(counted.rows)
        reduced = distributed.reduce_weighted_means(
            {k: v * rows for k, v in metrics.items()}, dict.fromkeys(metrics, rows), self.device
        )
        summarize = getattr(self.objective, "summarize", None)
        derived = summarize(dict(reduced)) if summarize else dict(reduced)
        for name, from_loss in _FROM_LOSS.items():  # one meaning per name: exp(loss), loss/ln 2
            if name in metrics:
                derived[name] = from_loss(reduced["loss"])
        return {k: float(derived.get(k, reduced[k])) for k in metrics}

    def _next_stop_reason(self) -> str | None:
        c = self.config
        if self._stop_request is not None:
            return self._stop_request
        if self.epoch >= c.epochs:
            return "completed"
        if self.monitor.should_stop(c.patience):
            return "early stopping"
        if self._out_of_time():
            return "time budget"
        return None

    # -- start, resume, save -------------------------------------------------------------------

    def _start_fresh(self, overwrite: bool) -> None:
        if self.run_dir is not None and self.world.is_main:
            self.run_dir.prepare_fresh(overwrite)
        self._reset_counters()
        if self.config.seed is not None:  # each rank its own dropout masks; rank 0 as one alone
            seed_everything(self.config.seed + self.world.rank)
        self._rng_state = capture_rng_state()
        self._save(improved=False)  # epoch 0: a run stopped in its first epoch can resume

    def _resume(self) -> None:
        if self.run_dir is None:
            raise UserError("resume needs out_dir: the output folder of the run to continue")
        ckpt = self.run_dir.load_last()
        if self.world.is_main:
            self.run_dir.remove_debris()
        self._check_resumed_settings(ckpt.config.get("train", {}), ckpt.path)
        state = ckpt.training_state
        check_training_state(state, optimizer=self.optimizer, scheduler=self.scheduler,
                             where=str(ckpt.path / "training_state.pt"))  # fmt: skip
        saved_world = state.get("world_size", 1)
        if saved_world != self.world.size:
            raise UserError(
                f"cannot resume {self.run_dir} on {self.world.size} process(es): it was trained "
                f"on {saved_world}; expected the same number (--nproc-per-node times --nnodes), "
                "as each process's random state is saved for it"
            )
        load_model_state(self.model, ckpt.state_dict)
        self._reset_counters()
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            if self.scheduler is not None:
                self.scheduler.load_state_dict(state["scheduler"])
            self.epoch = int(state["epoch"])
            self.global_step = int(state["global_step"])
            self.elapsed_s = float(state["elapsed_s"])
            self.history = History(state["history"])
            self.monitor.load_state_dict(state["monitor"])
            if self.world.distributed:
                self._rng_state = state["rng_by_rank"][self.world.rank]
            else:
                self._rng_state = state["rng"]
            self._first_loss = state.get("first_loss")
        except (KeyError, IndexError, ValueError, RuntimeError, TypeError, AttributeError) as error:
            raise UserError(
                f"cannot resume from {ckpt.path}: its training state does not fit this run "
                f"({type(error).__name__}: {error}); expected the same model and optimizer"
            ) from None
        self._saved_epoch = self.epoch
        logger.info("resuming %s after epoch %d (%d steps)", self.run_dir, self.epoch,
                    self.global_step)  # fmt: skip

    def _check_resumed_settings(self, previous: Mapping[str, Any], path: Path) -> None:
        """The optimizer and schedule must match the run's; their state carries their settings."""
        current = self.config.to_dict()
        changed = {k: v for k, v in current.items() if previous.get(k, v) != v}
        for key in ("optimizer", "lr_schedule"):
            if key in changed:
                raise UserError(
                    f"cannot resume from {path} with {key}={current[key]!r}: the run used "
                    f"{previous[key]!r}; expected the same {key} (its state cannot carry over)"
                )
        kept = {k: v for k, v in changed.items() if k in _KEPT_ON_RESUME}
        if kept:
            logger.warning(
                "resuming keeps the optimizer and schedule state saved in %s, so these changed "
                "settings do not apply: %s",
                path,
                _format(kept),
            )
        others = {k: v for k, v in changed.items() if k not in _KEPT_ON_RESUME}
        if others:
            logger.info("resuming with changed settings: %s", _format(others))

    def _training_state(self) -> dict[str, Any]:
        """Everything resume needs besides the weights; ``torch.load(weights_only=True)``-safe."""
        return {
            "format": STATE_FORMAT,
            "epoch": self.epoch,
            "global_step": self.global_step,
            "elapsed_s": self.elapsed_s,
            "stop_reason": self.stop_reason,
            "history": self.history.rows,
            "monitor": self.monitor.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "rng": self._rng_state,
            "first_loss": self._first_loss,
            "world_size": self.world.size,
            **(
                {"rng_by_rank": distributed.all_gather_objects(self._rng_state)}
                if self.world.distributed
                else {}
            ),
        }

    def _save(self, improved: bool) -> None:
        if self.run_dir is None:
            return
        training_state = self._training_state()  # a collective with several processes
        if not self.world.is_main:
            self._saved_epoch = self.epoch
            return
        c, m = self.config, self.monitor
        row = self.history[-1] if len(self.history) else {"epoch": 0}
        best = {"monitor": c.monitor, "best_epoch": m.best_epoch, "best_value": m.best}
        summary = {
            "epochs": self.epoch,
            "stop_reason": self.stop_reason,
            "elapsed_s": self.elapsed_s,
            **best,
            "best": self.history[m.best_epoch - 1] if m.best_epoch else None,
            "last": row,
        }
        self.run_dir.save(
            self.model,
            {**self.checkpoint_config, "train": c.to_dict()},
            history=self.history,
            metrics={**row, **best},
            summary=summary,
            training_state=training_state,
            artifacts=self.artifacts() if callable(self.artifacts) else self.artifacts,
            improved=improved,
            plot=self._draw_curves_now(),
        )
        self._saved_epoch = self.epoch

    def _draw_curves_now(self) -> bool:
        """Whether this save draws curves.png: drawing costs about a second (more than a small
        model's epoch), so at most every ``CURVES_EVERY_S`` seconds (the first time that long
        after fit began) and at the run's end."""
        if not self.config.plot or not len(self.history):  # epoch 0's save: nothing to draw
            return False
        now = time.monotonic()
        draw = self.stop_reason is not None or now - self._curves_at >= CURVES_EVERY_S
        if draw:
            self._curves_at = now
        self._curves_stale = not draw
        return draw

    def _draw_stale_curves(self) -> None:
        """Bring the run folder's curves.png up to the history when the last save skipped it
        (a callback stopped the run, or Ctrl-C)."""
        if self._curves_stale and self.run_dir is not None and self.world.is_main:
            self._curves_stale = False
            self.run_dir.write_curves(self.history, self.monitor.best_epoch)

    # -- logging -------------------------------------------------------------------------------

    def _check_diverged(self, row: Mapping[str, Any]) -> None:
        """Raise ``NonFiniteLossError`` when the epoch's row shows divergence (module doc)."""
        names = dict.fromkeys((*_CHECKED_FINITE, self.config.monitor))
        for name in names:
            value = row.get(name)
            if isinstance(value, (int, float)) and not math.isfinite(value):
                raise NonFiniteLossError(self._diverged(_words(name), value, "end"))
        if self._first_loss is None:
            return
        limit = EXPLODED * max(abs(self._first_loss), 1.0)
        for name in ("train_loss", "val_loss"):
            value = row.get(name)
            if isinstance(value, (int, float)) and value > limit:
                expected = (
                    f"at most {limit:.4g}, {EXPLODED:g} times the first batch's loss "
                    f"{self._first_loss:.4g}"
                )
                raise NonFiniteLossError(self._diverged(_words(name), value, "end", expected))

    def _diverged(
        self, what: str, value: float, at: str = "step", expected: str = "finite values"
    ) -> str:
        c = self.config
        where = (
            f"at the end of epoch {self.epoch + 1}"
            if at == "end"
            else f"at epoch {self.epoch + 1}, step {self.global_step + 1}"
        )
        message = (
            f"the {what} became {value:.4g} {where}: training diverged; expected {expected}. "
            f"Lower lr (now {c.lr}) or set clip_norm (now {c.clip_norm})"
        )
        if self.run_dir is not None and self._saved_epoch is not None:
            message += (
                f"; the last good checkpoint (end of epoch {self._saved_epoch}) is in "
                f"{self.run_dir.last}, continue from it with resume"
            )
        return message

    def _log_epoch(self, row: dict[str, Any], improved: bool) -> None:
        shown = {k: v for k, v in row.items() if k not in ("epoch", "batches", "partial")}
        cut = f"  (partial: {row['batches']} batches)" if row.get("partial") else ""
        logger.info(
            "epoch %d/%d  %s%s%s",
            row["epoch"],
            self.config.epochs,
            _format(shown),
            cut,
            "  (best)" if improved else "",
        )

    def _log_stop(self) -> None:
        c, m = self.config, self.monitor
        if self.stop_reason == "early stopping":
            logger.info(
                "early stopping: %s has not improved for %d epochs (best %.4g at epoch %s)",
                c.monitor,
                m.bad_epochs,
                m.best,
                m.best_epoch,
            )
        elif self.stop_reason == "time budget":
            minutes = c.max_time_minutes
            logger.info(
                "time budget of %g minute%s spent: stopped after epoch %d",
                minutes,
                "" if minutes == 1 else "s",
                self.epoch,
            )
        elif self.stop_reason != "completed":
            logger.info("stopped after epoch %d: %s", self.epoch, self.stop_reason)

    def _log_interrupt(self) -> None:
        if self.run_dir is None or self._saved_epoch is None:
            logger.warning(
                "interrupted in epoch %d; nothing was saved (no out_dir)", self.epoch + 1
            )
            return
        logger.warning(
            "interrupted in epoch %d; %s holds the end of epoch %d: continue with resume=True "
            "(on the command line: --resume %s)",
            self.epoch + 1,
            self.run_dir.last,
            self._saved_epoch,
            self.run_dir,
        )


@contextlib.contextmanager
def _quiet_logs() -> Any:
    """rnnkit's info lines off (warnings and errors stay) on every rank but rank 0."""
    package = logging.getLogger("rnnkit")
    level = package.level
    package.setLevel(logging.WARNING)
    try:
        yield
    finally:
        package.setLevel(level)


def _length(batches: Iterable[Any]) -> int | None:
    """``len(batches)``, or None for batches without a length (an iterable dataset's loader)."""
    try:
        return len(batches)  # type: ignore[arg-type]
    except TypeError:
        return None


def _set_sampler_epoch(batches: Iterable[Any], epoch: int) -> None:
    """Call ``set_epoch(epoch)`` on ``batches`` or its (batch) sampler, where there is one."""
    for owner in (
        batches,
        getattr(batches, "batch_sampler", None),
        getattr(batches, "sampler", None),
    ):
        set_epoch = getattr(owner, "set_epoch", None)
        if callable(set_epoch):
            set_epoch(epoch)
            return


def _words(column: str) -> str:
    """``val_loss`` → "validation loss", as messages say it."""
    split, _, rest = column.partition("_")
    prefix = {"train": "training", "val": "validation"}.get(split)
    return f"{prefix} {rest}" if prefix and rest else column


def _format(values: Mapping[str, Any]) -> str:
    return "  ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items()
    )
