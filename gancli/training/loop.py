"""The alternating training loop: fix G and update D (`n_critic` times), then fix D
and update G; repeat for `train.steps` generator updates.

Everything a run produces goes into its run folder: `metrics.jsonl`, `checkpoints/last.pt`,
`samples/step_<step>.png` and `samples/final.png` (Hydra adds `.hydra/` and `train.log`).
Under torchrun every rank runs this loop on its share of each batch and rank 0 alone writes
(`gancli.training.distributed`).
"""

from __future__ import annotations

import copy
import logging
import math
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager, nullcontext
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from gancli.checkpoint import keep_snapshots, load_checkpoint, remove_stale, save_checkpoint
from gancli.conditioning import build_conditioning
from gancli.data import TensorData, load_dataset
from gancli.data.kinds import data_kind
from gancli.data.store.stream import place
from gancli.errors import GancliError
from gancli.files import WriteFailed
from gancli.launch.jobs import JobDevice, JobDevices
from gancli.launch.torchrun import rank0_run_dir
from gancli.losses import build_loss
from gancli.models.latent import latent_distribution, sample_latent
from gancli.runtime import data_state_fits, rng_state, set_rng_state
from gancli.sampling import ScoreDraw, generate_scored, run_generator
from gancli.threads import choose_threads
from gancli.training import fast
from gancli.training.augment import build_augment
from gancli.training.critic import CriticView
from gancli.training.distributed import Distributed
from gancli.training.fast import (
    LayoutChoice,
    choose_layout,
    compile_counts,
    compile_module,
    log_compiled,
)
from gancli.training.gan import build_gan
from gancli.training.health import DETECTORS, Health
from gancli.training.loggers import Loggers, chosen
from gancli.training.monitor import Monitor
from gancli.training.optimizers import lr_factor, set_lr
from gancli.training.precision import Precision, build_precision, check_precision, choose_precision
from gancli.training.preview import Preview
from gancli.training.resume import resumed
from gancli.training.stopping import StopRequest

if TYPE_CHECKING:  # imported when the first evaluation runs
    from gancli.evaluation.evaluate import Evaluator

log = logging.getLogger("gancli.train")


class TrainingDiverged(GancliError):
    """A loss became NaN or infinite."""


class Trainer:
    """Builds data, players and loss from a `TrainAppConfig` and runs the loop in `run_dir`."""

    def __init__(
        self,
        cfg: DictConfig,
        run_dir: Path,
        overrides: Sequence[tuple[str, Any]] = (),
        devices: JobDevices | None = None,
    ) -> None:
        """`overrides`: this command line's (key, value) pairs, which a resumed run applies to
        its checkpoint's config. `devices`: what resolves `train.device` (a sweep job's GPU
        claim, held by the caller); None: one of its own (outside a sweep: `resolve_device`)."""
        cfg, ckpt = resumed(cfg, overrides, Path(rank0_run_dir(str(run_dir))))
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.ckpt_path = self.run_dir / "checkpoints" / "last.pt"
        for stale in remove_stale(self.ckpt_path.parent):
            log.info("removed %s, left by a process killed while writing it", stale)
        # The clock of `train.ckpt_minutes` (a test gives its own).
        self.clock = time.monotonic
        self.last_save = self.clock()
        devices = devices or JobDevices()
        self.dist, self.device = Distributed.start(
            devices.resolve(cfg.train.device, "train.device")
        )
        #: Where this segment of the run trains (torchrun's rank may have moved it to its own
        #: GPU), as metrics.jsonl records it.
        self.placement = replace(
            cast(JobDevice, devices.chosen),  # `resolve` set it above
            device=self.device,
        )
        # What the config names and needs no data is built first: a wrong name (loss.divergence,
        # augment.policy, latent.dist) fails before the data is read.
        self.loss = build_loss(cfg.loss)
        check_precision(cfg.train.precision)
        augment = build_augment(cfg.augment)
        latent_distribution(cfg.latent)
        chosen(cfg)  # a logger whose package is missing
        torch.manual_seed(cfg.train.seed)
        self.local_batch = self._local_batch()

        data = load_dataset(cfg.data, "train")
        self.info = data.info
        self.kind = data_kind(self.info, data.spread)
        self.conditioning = build_conditioning(
            cfg, self.info, None if ckpt is None else ckpt.get("conditioning")
        )
        self.data, self.data_rng = self._place(data)
        if cfg.train.batch_size > len(data):  # drawn with replacement, a batch would repeat
            raise GancliError(
                f"train.batch_size={cfg.train.batch_size} is larger than the "
                f"training split of data={data.info.name} ({len(data)} items): "
                f"give train.batch_size={len(data)} or less"
            )
        self.gan = build_gan(cfg, self.conditioning, self.device, self.loss.needs_spectral_norm)
        with first_batch(cfg.train.batch_size, self.device):  # their probes allocate one
            self.precision = self._choose_precision()
            self.layout = self._choose_layout()
        if self.dist.enabled:
            # The players start equal on every rank (DDP copies rank 0's weights); from here on
            # each rank draws its own latents and augmentations.
            torch.manual_seed(cfg.train.seed + self.dist.rank)
        self.G, self.D = self._players()
        # What D is shown: the losses call this view, the optimizer and checkpoints use gan.D.
        self.critic = CriticView(self.gan.D, augment, cfg.train.pack, call=self.D)
        self.preview = Preview(self.kind, self.conditioning, cfg)

        self.health = Health(self.loss)
        for name in cfg.train.stop_on:
            DETECTORS.lookup(name)  # an unknown alert fails before any training
        self.step = 0
        # Built at the first evaluation (it may train a classifier).
        self.evaluator: Evaluator | None = None
        # The best `eval.primary` value so far and its step, kept in checkpoints for resuming.
        self.best: dict | None = None
        if ckpt is not None:
            self._restore(ckpt)
        first = self.dist.broadcast(self.step)  # a rank that found another checkpoint stops
        if first != self.step:
            raise GancliError(
                f"the processes would resume from different steps (rank 0: "
                f"{first}, rank {self.dist.rank}: {self.step}): give every rank "
                "the same resume=RUN"
            )

    # -- set-up ---------------------------------------------------------------------------------

    def _local_batch(self) -> int:
        """This process's share of `train.batch_size`, which each process packs on its own."""
        t, world = self.cfg.train, self.dist.world_size
        if t.batch_size % (world * t.pack):
            what = (
                f"train.pack={t.pack}"
                if world == 1
                else f"train.pack={t.pack} times the {world} processes ({world * t.pack})"
            )
            raise GancliError(f"train.batch_size={t.batch_size} must be a multiple of {what}")
        return t.batch_size // world

    def _place(self, data: TensorData) -> tuple[TensorData, torch.Generator]:
        """The training data as batches are drawn from it: this rank's shard, kept where
        `data.placement` says (`gancli.data.store.stream`), batches in the players' memory layout,
        shown to the conditioning mode; and the generator that draws this rank's batches."""
        seed = self.cfg.train.seed + self.dist.rank
        placed = place(
            data.shard(self.dist.rank, self.dist.world_size),
            self.device,
            self.cfg.data.get("placement", "auto"),
            seed,
        )
        self.conditioning.attach(placed)
        return placed, torch.Generator(self.device).manual_seed(seed)

    def _players(self) -> tuple[nn.Module, nn.Module]:
        """G and D as the loop calls them: with batch norm over the global batch if asked, the
        fast path's layout and compilation, inside DistributedDataParallel under torchrun. The
        optimizers, EMA, pictures and checkpoints use the plain modules in self.gan."""
        t, gan = self.cfg.train, self.gan
        if self.dist.enabled and t.sync_batchnorm:
            gan.G = Distributed.sync_batchnorm(gan.G, self.device)
            gan.D = Distributed.sync_batchnorm(gan.D, self.device)
        if self.layout.on:
            # The EMA copy too: its update's fused kernels need G's layout to match its own.
            for module in (gan.G, gan.D, gan.sampler):
                fast.channels_last(module)
            self.data.use_channels_last()
        #: dynamo's totals before compiling, for `log_compiled` after the first step.
        self.compile_before = compile_counts()
        if t.compile:
            compile_module(gan.G, "G")
            compile_module(gan.D, "D", double_backward=self.loss.double_backward)
        return self.dist.wrap(gan.G, self.device), self.dist.wrap(gan.D, self.device)

    def _restore(self, ckpt: dict) -> None:
        """Continue from a checkpoint: its weights, optimizer states, gradient scalers, step,
        random streams and best evaluation so far."""
        self.gan.load_state_dict(ckpt)
        # A checkpoint from before scalers were kept has none: they start afresh.
        self.precision.load_state_dict(ckpt.get("scalers") or {}, self.gan.optimizers)
        self.step = ckpt["step"]
        self.loss.d_updates = self.step * self.cfg.train.n_critic
        self._restore_rng(ckpt)
        self.best = ckpt.get("eval_best")
        log.info("resumed from %s at step %d", self.cfg.resume, self.step)

    def _restore_rng(self, ckpt: dict) -> None:
        """Continue each rank's random streams where the checkpoint left them. A checkpoint
        from another number of processes has no state for this rank, one from another kind of
        device (CPU or CUDA) no data stream this generator can take: the run then starts fresh
        streams from the seed, rank and step, so ranks still draw different batches."""
        ranks = ckpt.get("rng_ranks") or [ckpt["rng"]]
        world = self.dist.world_size
        if len(ranks) != world:
            why = f"the checkpoint was written by {len(ranks)} process(es), this run has {world}"
        elif not data_state_fits(ranks[self.dist.rank], self.data_rng):
            why = (
                f"the checkpoint's data stream was drawn on another kind of device than "
                f"{self.device.type}"
            )
        else:
            state = ranks[self.dist.rank]
            set_rng_state(state, self.data_rng)
            if self.data.stream is not None and "stream" in state:
                self.data.stream.load_state(state["stream"])
            return
        seed = self.cfg.train.seed + 1_000_003 * self.step + self.dist.rank
        torch.manual_seed(seed)
        self.data_rng.manual_seed(seed)
        if self.data.stream is not None:
            self.data.stream.load_state(torch.Generator().manual_seed(seed).get_state())
        log.warning("%s: random streams start afresh from the seed", why)

    # -- one step -------------------------------------------------------------------------------

    def train_step(self, measure: bool) -> dict[str, torch.Tensor]:
        """n_critic D updates, then one G update. Returns detached statistics as tensors;
        reading them (and so waiting for the device) is left to the caller."""
        G, D, critic, loss, amp = self.G, self.gan.D, self.critic, self.loss, self.precision
        bs, stats = self.local_batch, {}
        n_critic = self.cfg.train.n_critic
        cond = self.conditioning
        for i in range(n_critic):
            batch = cond.draw(self.data, bs, self.data_rng)
            z = sample_latent(bs, self.cfg.latent, device=self.device)
            last = i == n_critic - 1
            # The last critic step's fake batch is kept, graph and all, for G's update, as the
            # textbook loop does: one G forward per step instead of two.
            with torch.set_grad_enabled(last), amp.autocast():
                fake = run_generator(G, z, batch.c)
            critic.condition = batch.c
            with amp.autocast():
                d_step = cond.discriminator_step(loss, critic, batch, fake.detach())
            self.gan.opt_d.zero_grad(set_to_none=True)
            amp.backward(d_step.loss, self.gan.opt_d)
            if measure and last:
                amp.unscale(self.gan.opt_d)
                stats["grad_norm_d"] = _grad_norm(D)
            amp.step(self.gan.opt_d)
            loss.discriminator_updated(D)

        # G's update needs gradients through D, not for D's weights.
        with Distributed.frozen(D, self.D):
            with amp.autocast():
                loss_g = cond.generator_loss(loss, critic, batch, fake)
            self.gan.opt_g.zero_grad(set_to_none=True)
            amp.backward(loss_g, self.gan.opt_g)
        if measure:
            amp.unscale(self.gan.opt_g)
            stats["grad_norm_g"] = _grad_norm(self.gan.G)
        amp.step(self.gan.opt_g)
        if self.gan.G_ema is not None:
            self.gan.G_ema.update(self.gan.G)
        stats.update(
            loss_d=d_step.loss.detach(),
            loss_g=loss_g.detach(),
            d_real=d_step.d_real,
            d_fake=d_step.d_fake,
            divergence=d_step.divergence,
        )
        return stats

    def _schedule_lr(self) -> None:
        """Both players' learning rates for this step (`optim.decay`)."""
        o = self.cfg.optim
        if o.decay > 0:
            factor = lr_factor(self.step, self.cfg.train.steps, o.decay)
            set_lr(self.gan.opt_g, o.lr_g * factor)
            set_lr(self.gan.opt_d, o.lr_d * factor)

    def _thread_probe(self) -> Callable[[], None] | None:
        """What `train.threads=auto` times (`gancli.threads`): `_probe` of the players as they
        are. None for compiled players (a copy would compile anew)."""
        return None if self.cfg.train.compile else self._probe(self.precision)

    def _choose_precision(self) -> Precision:
        """`train.precision` (`gancli.training.precision`): `auto` on a GPU times `_probe` in
        fp32 and bf16 on the main process, whose choice every process takes."""
        name, how = self.dist.from_main(
            lambda: choose_precision(
                self.cfg.train.precision,
                self.device,
                self.kind.reduced_precision,
                lambda name: self._probe(build_precision(name, self.device)),
            )
        )
        return build_precision(name, self.device, how)

    def _choose_layout(self) -> LayoutChoice:
        """`train.channels_last` (`gancli.training.fast`): `auto` times `_probe` in both layouts
        on the main process, whose choice every process takes (DDP sums gradients bucket by
        bucket, so the ranks' layouts must agree)."""
        return self.dist.from_main(
            lambda: choose_layout(
                self.cfg.train.channels_last,
                self.kind.has_layout,
                self.device,
                lambda layout: self._probe(self.precision, layout),
            )
        )

    def _probe(
        self, amp: Precision, channels_last: bool | None = None
    ) -> Callable[[], None] | None:
        """G's forward pass and the backward pass through D and G in precision `amp`, at this
        run's batch, on copies of the players (in NHWC layout if `channels_last`, else as they
        are), so that the run's weights, batch-norm statistics and random streams stay as they
        were. None when there is no batch to draw."""
        pack = self.cfg.train.pack
        with torch.random.fork_rng(devices=[]):
            c = self.conditioning.eval_request(self.local_batch, torch.Generator().manual_seed(0)).c
            n = self.local_batch if c is None else len(c) - len(c) % pack
            z = sample_latent(n, self.cfg.latent, device=self.device)
        if n == 0:
            return None
        c = None if c is None else c[:n].to(self.device)
        G, D = copy.deepcopy(self.gan.G), copy.deepcopy(self.gan.D)
        if channels_last:
            G, D = fast.channels_last(G), fast.channels_last(D)
        critic = CriticView(D, None, pack)
        critic.condition = c

        def probe() -> None:
            with amp.autocast():
                score = critic(run_generator(G, z, c))
            score.mean().backward()

        return probe

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> float:
        """Train to `train.steps`. Returns what a sweeper optimises: the best `eval.primary`
        value when `train.eval_every` evaluates, else the last logged divergence estimate (a
        training-time proxy: lower means D tells real from generated less well)."""
        t = self.cfg.train
        last: dict[str, float] = {}
        if self.step >= t.steps:
            log.info(
                "nothing to do: %s is finished (step %d of %d); raise train.steps to train on",
                self.run_dir,
                self.step,
                t.steps,
            )
            return self._result(last)
        with first_batch(t.batch_size, self.device):  # the probe of `auto` allocates one
            threads = choose_threads(t.threads, "train.threads", self.device, self._thread_probe)
        log.info("%s", threads)
        log.info(
            "%s; train.precision: %s, %s", self.layout, self.precision.name, self.precision.how
        )
        log.info(
            "training %s on %s with loss=%s for %d steps on %s; run folder %s",
            self.cfg.model.name,
            self.info.name,
            self.cfg.loss.name,
            t.steps,
            self.placement
            if not self.dist.enabled
            else f"{self.dist.world_size} processes ({self.device.type})",
            self.run_dir,
        )
        main = self.dist.is_main
        # A streamed dataset's reader thread ends with the run (an in-process sweep runs many).
        reader = closing(self.data.stream) if self.data.stream is not None else nullcontext()
        loggers = (
            Loggers.start(self.cfg, self.run_dir, self.step, self.placement.sweep) if main else None
        )
        with (
            StopRequest() as stop,
            reader,
            Monitor(
                self.run_dir,
                self.step,
                t.steps,
                write=main,
                health=self.health,
                stop_on=t.stop_on,
                loggers=loggers,
            ) as monitor,
        ):
            if main:
                monitor.placement(
                    self.step,
                    {
                        **self.placement.describe(),
                        **threads.record(),
                        **self.precision.record(),
                        **self.layout.record(),
                    },
                )
            run_start = window_start = time.perf_counter()
            self.last_save = self.clock()
            window_steps, first = 0, self.step
            while self.step < t.steps:
                measure = (self.step + 1) % t.log_every == 0 or self.step + 1 == t.steps
                self._schedule_lr()
                try:
                    stats = self.train_step(measure)
                except (RuntimeError, MemoryError) as err:
                    error = batch_error(err, t.batch_size, self.device)
                    if self.step > first or error is None:
                        raise
                    raise error from None
                self.step += 1
                window_steps += 1
                if t.compile and self.step == first + 1:
                    log_compiled(self.compile_before)
                stopping = self.dist.should_stop(
                    stop.requested or monitor.stopping_alert is not None, measure, self.device
                )
                # Reading a loss waits for the device, so the check runs only where the loop
                # reads values anyway or is about to write: a NaN is caught at the next logged
                # step and never reaches a checkpoint or a picture. The values are averaged
                # over ranks first, so every rank stops together.
                if measure or stopping or self._writes_after(self.step):
                    stats = self.dist.mean(stats)
                    self._check_finite(stats)
                if measure:
                    elapsed = time.perf_counter() - window_start
                    last = {k: float(v) for k, v in stats.items()}
                    record = {
                        "step": self.step,
                        **last,
                        "imgs_per_s": window_steps * t.batch_size * t.n_critic / max(elapsed, 1e-9),
                        "elapsed_s": time.perf_counter() - run_start,
                    }
                    monitor.record(record)
                    window_start, window_steps = time.perf_counter(), 0
                if self.step % t.sample_every == 0 and main:
                    self.write_samples(f"step_{self.step}.png", monitor)
                if t.eval_every and self.step % t.eval_every == 0:
                    self.evaluate(monitor)
                if self.step % t.ckpt_every == 0 or (measure and self._save_is_due()):
                    self.save(periodic=True)
                monitor.advance(self.step)
                if stopping and not stop.requested and monitor.stopping_alert is not None:
                    self.save()
                    alert = monitor.stopping_alert
                    raise GancliError(
                        f"stopped at step {self.step} by the {alert.name} alert of "
                        f"step {alert.step} (train.stop_on): {alert.seen}; try: "
                        f"{alert.advice}; checkpoint {self.ckpt_path}"
                    )
                if stopping:
                    self.save()
                    stop.hand_over()  # a launcher's own handler (submitit: requeue)
                    log.warning(
                        "stopped at step %d of %d; checkpoint %s; continue with: "
                        "gancli train resume=%s (or the same command with "
                        "resume=auto hydra.run.dir=%s)",
                        self.step,
                        t.steps,
                        self.ckpt_path,
                        self.run_dir,
                        self.run_dir,
                    )
                    raise SystemExit(stop.exit_status)
            self.save()
            if main:
                self.write_samples("final.png", monitor)
        log.info("done: %d steps; samples %s", self.step, self.run_dir / "samples" / "final.png")
        return self._result(last)

    @property
    def result_metric(self) -> str:
        """The name of what `run` returns: `eval.primary`'s metric, or the divergence proxy."""
        return self.best["metric"] if self.best is not None else "divergence"

    def _result(self, last: dict[str, float]) -> float:
        """What `run` returns (see there)."""
        if self.best is not None:
            return float(self.best["value"])
        return last.get("divergence", math.nan)

    def _save_is_due(self) -> bool:
        """Whether `train.ckpt_minutes` have passed since the last checkpoint (rank 0's clock,
        so that every rank saves at the same step)."""
        minutes = self.cfg.train.ckpt_minutes
        if not minutes:
            return False
        return bool(self.dist.broadcast(self.clock() - self.last_save >= 60 * minutes))

    def _writes_after(self, step: int) -> bool:
        """Whether the loop writes a checkpoint, picture or evaluation after `step`."""
        t = self.cfg.train
        return (
            step % t.sample_every == 0
            or step % t.ckpt_every == 0
            or step == t.steps
            or bool(t.eval_every and step % t.eval_every == 0)
        )

    def _check_finite(self, stats: dict[str, torch.Tensor]) -> None:
        """Stop before a NaN/Inf reaches a checkpoint: the last good one stays as it was."""
        losses = torch.stack([stats["loss_d"], stats["loss_g"]])
        if bool(torch.isfinite(losses).all()):
            return
        bad = "loss_d" if not torch.isfinite(stats["loss_d"]) else "loss_g"
        kept = self.ckpt_path if self.ckpt_path.exists() else "none written yet"
        raise TrainingDiverged(
            f"{bad} became {float(stats[bad])} by step {self.step}; training stopped (last good "
            f"checkpoint: {kept}). Lower optim.lr_d / optim.lr_g or try another loss"
        )

    # -- artefacts ------------------------------------------------------------------------------

    def evaluate(self, monitor: Monitor) -> None:
        """Score `eval.n` samples of the sampling generator with `eval.metrics`, append the
        results to metrics.jsonl, and keep checkpoints/best.pt when `eval.primary` improved."""
        from gancli.evaluation.evaluate import Evaluator, is_better

        opts, improved = self.cfg.eval, False
        # Every rank generates its share of the samples with rank 0's sampler (its batch-norm
        # statistics differ per rank otherwise); rank 0 puts them in order and scores them.
        self.dist.share_weights(self.gan.sampler)
        generated = generate_scored(
            self.gan.sampler,
            self.conditioning,
            ScoreDraw(
                opts.n,
                opts.seed,
                self.cfg.latent,
                self.device,
                opts.batch_size,
                part=(self.dist.rank, self.dist.world_size),
            ),
        )
        samples = self.dist.gather_rows(generated.samples)
        if samples is not None:  # rank 0's; the other ranks wait at the broadcast below
            generated.samples = samples
            if self.evaluator is None:
                self.evaluator = Evaluator(
                    opts, self.cfg.data, self.info, self.device, self.conditioning.evaluates
                )
            result = generated.score(self.evaluator, self.run_dir)
            monitor.record_eval(self.step, result)
            key = self.evaluator.primary
            value = float(result[key])
            before = None if self.best is None else self.best["value"]
            if is_better(key, value, before):
                self.best = {"metric": key, "value": value, "step": self.step}
                improved = True
            monitor.alerts(
                self.health.update_eval(self.step, value, None if before is None else improved)
            )
        self.best, improved = self.dist.broadcast((self.best, improved))
        if improved and self.best is not None:  # rank 0 set it
            key, value = self.best["metric"], self.best["value"]
            self.save(self.ckpt_path.with_name("best.pt"))
            log.info(
                "step %d: best %s so far (%.4g); saved %s",
                self.step,
                key,
                value,
                self.ckpt_path.with_name("best.pt"),
            )

    def save(self, path: Path | None = None, periodic: bool = False) -> None:
        """Write a checkpoint (rank 0; every rank must call this: the ranks' random states are
        gathered into it, so a resumed run draws what each rank would have drawn). A `periodic`
        one is also kept as a `train.keep_checkpoints` snapshot. A failed write (a full disk)
        stops the run with one line; the last good checkpoint stays as it was."""
        state = rng_state(self.data_rng)
        if self.data.stream is not None:
            state["stream"] = self.data.stream.state()
        states = self.dist.gather(state)
        self.last_save = self.clock()
        if not self.dist.is_main:
            return
        target = path or self.ckpt_path
        try:
            self._write_checkpoint(target, states)
        except WriteFailed as err:
            good = (
                f"the last good checkpoint, {self.ckpt_path} (step "
                f"{load_checkpoint(self.ckpt_path)['step']}), is intact"
                if self.ckpt_path.is_file()
                else "no checkpoint was written before"
            )
            raise GancliError(
                f"{err}; {good}: free space and resume with gancli train resume={self.run_dir}"
            ) from None
        if periodic and self.cfg.train.keep_checkpoints and target == self.ckpt_path:
            keep_snapshots(target, self.step, self.cfg.train.keep_checkpoints)

    def _write_checkpoint(self, path: Path, states: list[dict]) -> None:
        """The checkpoint at `path`: the whole state, each rank's random streams (`states`)."""
        save_checkpoint(
            path,
            {
                "eval_best": self.best,
                "step": self.step,
                "config": OmegaConf.to_yaml(self.cfg),
                "data_info": self.info.to_dict(),
                "rng": states[0],
                "rng_ranks": states if self.dist.enabled else None,
                "conditioning": self.conditioning.state(),
                "scalers": self.precision.state_dict(self.gan.optimizers),
                **self.gan.state_dict(),
            },
        )

    def write_samples(self, name: str, monitor: Monitor) -> None:
        """The preview picture `samples/<name>` of the sampling generator at this step."""
        self.preview.write(
            self.gan.sampler, self.device, self.run_dir / "samples" / name, self.step, monitor
        )


@contextmanager
def first_batch(batch_size: int, device: torch.device) -> Iterator[None]:
    """Where a whole batch is first allocated (the layout and thread probes, the first step):
    a batch that does not fit becomes `batch_error`'s one line."""
    try:
        yield
    except (RuntimeError, MemoryError) as err:
        error = batch_error(err, batch_size, device)
        if error is None:
            raise
        raise error from None


def batch_error(err: BaseException, batch_size: int, device: torch.device) -> GancliError | None:
    """The one-line error for a batch that does not fit (see `allocation_failed`), or None when
    `err` is another failure."""
    tried = allocation_failed(err)
    if tried is None:
        return None
    return GancliError(
        f"train.batch_size={batch_size} does not fit in the memory of {device}: "
        f"the first step could not allocate {tried}; give a smaller "
        "train.batch_size"
    )


def allocation_failed(err: BaseException) -> str | None:
    """What an allocation that failed tried to take ("25.6 GB"; "memory" where the error does
    not say), or None for an error that is not a failed allocation: torch's OutOfMemoryError,
    the CPU allocator's RuntimeError ("DefaultCPUAllocator: can't allocate memory: you tried to
    allocate 25600000000 bytes"), Python's MemoryError."""
    text = str(err)
    if not (
        isinstance(err, (torch.OutOfMemoryError, MemoryError))
        or "can't allocate memory" in text
        or "out of memory" in text
    ):
        return None
    if found := re.search(r"allocate (\d+) bytes", text):
        return f"{int(found[1]) / 1e9:.1f} GB"
    if found := re.search(r"[Tt]ried to allocate ([\d.]+ \w+)", text):
        return found[1]
    return "memory"


def _grad_norm(module: torch.nn.Module) -> torch.Tensor:
    """Total L2 norm of a module's gradients (clip_grad_norm_ with an infinite bound only
    measures)."""
    return torch.nn.utils.clip_grad_norm_(module.parameters(), float("inf")).detach()
