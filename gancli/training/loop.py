"""The alternating training loop of the lecture: fix G and update D (`n_critic` times), then fix D
and update G; repeat for `train.steps` generator updates.

Everything a run produces goes into its run folder: `metrics.jsonl`, `checkpoints/last.pt`,
`samples/step_<step>.png` and `samples/final.png` (Hydra adds `.hydra/` and `train.log`).
Under torchrun every rank runs this loop on its share of each batch and rank 0 alone writes
(`gancli.training.distributed`).
"""

from __future__ import annotations

import logging
import math
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

import torch
from omegaconf import DictConfig, OmegaConf

from gancli.checkpoint import load_checkpoint, save_checkpoint
from gancli.conditioning import build_conditioning
from gancli.data import load_dataset
from gancli.errors import GancliError
from gancli.evaluation.modes import score_mixture
from gancli.files import save_image_grid, save_scatter
from gancli.losses import build_loss
from gancli.runtime import resolve_device, rng_state, set_rng_state
from gancli.sampling import generate, run_generator, sample_latent
from gancli.training.augment import build_augment
from gancli.training.critic import CriticView
from gancli.training.distributed import Distributed, leave_process_group
from gancli.training.fast import Precision, channels_last, compile_module
from gancli.training.gan import build_gan
from gancli.training.monitor import Monitor
from gancli.training.resume import resume_config

log = logging.getLogger("gancli.train")

# Exit status after Ctrl-C, as shells report a SIGINT death.
INTERRUPTED = 130


class TrainingDiverged(GancliError):
    """A loss became NaN or infinite."""


class StopRequest:
    """Ctrl-C asks the loop to stop at the end of the current step (so the checkpoint it writes
    is a consistent state); a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self.requested = False
        self._previous = None

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        log.warning("Ctrl-C: stopping after this step and saving a checkpoint "
                    "(press again to abort at once)")

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


class Trainer:
    """Builds data, players and loss from a `TrainAppConfig` and runs the loop in `run_dir`."""

    def __init__(self, cfg: DictConfig, run_dir: Path, overrides: list[str] | None = None):
        ckpt = None
        if cfg.resume:
            ckpt = load_checkpoint(cfg.resume)
            cfg = resume_config(ckpt, cfg.resume, overrides or [])
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.ckpt_path = self.run_dir / "checkpoints" / "last.pt"
        self.dist, self.device = Distributed.start(resolve_device(cfg.train.device))
        self.precision = Precision(getattr(cfg.train.precision, "value", cfg.train.precision),
                                   self.device)
        torch.manual_seed(cfg.train.seed)

        world, rank, pack = self.dist.world_size, self.dist.rank, cfg.train.pack
        if cfg.train.batch_size % (world * pack):  # each process packs its own share
            what = f"train.pack={pack}" if world == 1 else \
                f"train.pack={pack} times the {world} processes ({world * pack})"
            raise GancliError(f"train.batch_size={cfg.train.batch_size} must be a multiple of "
                              f"{what}")
        self.local_batch = cfg.train.batch_size // world

        data = load_dataset(cfg.data, "train")
        self.info = data.info
        self.real_preview = data.x[:5000]  # background of 2D scatter pictures
        self.conditioning = build_conditioning(cfg, self.info,
                                               None if ckpt is None else ckpt.get("conditioning"))
        # Every dataset here fits in memory: keep it on the training device as one tensor.
        self.data = data.to(self.device).shard(rank, world)
        self.conditioning.attach(self.data)
        self.data_rng = torch.Generator(self.device).manual_seed(cfg.train.seed + rank)
        self.loss = build_loss(cfg.loss)
        self.gan = build_gan(cfg, self.conditioning, self.device, self.loss.needs_spectral_norm)
        if self.dist.enabled:
            # The players start equal on every rank (DDP copies rank 0's weights); from here on
            # each rank draws its own latents and augmentations.
            torch.manual_seed(cfg.train.seed + rank)
            if cfg.train.sync_batchnorm:
                self.gan.G = Distributed.sync_batchnorm(self.gan.G, self.device)
                self.gan.D = Distributed.sync_batchnorm(self.gan.D, self.device)
        if cfg.train.channels_last and self.info.kind == "image":
            for module in (self.gan.G, self.gan.D):
                channels_last(module)
            self.data.x = self.data.x.contiguous(memory_format=torch.channels_last)
        if cfg.train.compile:
            compile_module(self.gan.G, "G")
            compile_module(self.gan.D, "D")
        # What the loop calls: G and D inside DistributedDataParallel under torchrun. The
        # optimizers, EMA, pictures and checkpoints use the plain modules in self.gan.
        self.G = self.dist.wrap(self.gan.G, self.device)
        self.D = self.dist.wrap(self.gan.D, self.device)
        # What D is shown: the losses call this view, the optimizer and checkpoints use gan.D.
        self.critic = CriticView(self.gan.D, build_augment(cfg.augment), cfg.train.pack,
                                 call=self.D)

        points = self.info.kind == "points"
        n_preview = cfg.train.sample_n or (2500 if points else 64)
        # Fixed latents and conditions, so every picture of a run shows the same inputs.
        self.preview = self.conditioning.preview(n_preview)
        if self.preview.c is not None:
            n_preview = len(self.preview.c)
        self.preview_z = sample_latent(n_preview, cfg.latent,
                                       torch.Generator().manual_seed(cfg.train.seed + 1))
        self.step = 0
        self._scored_step = -1
        self.evaluator = None  # built at the first evaluation (it may train a classifier)
        # The best `eval.primary` value so far and its step, kept in checkpoints for resuming.
        self.best: dict | None = None
        if ckpt is not None:
            self.gan.load_state_dict(ckpt)
            self.step = ckpt["step"]
            self._restore_rng(ckpt)
            self.best = ckpt.get("eval_best")
            log.info("resumed from %s at step %d", cfg.resume, self.step)

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
            loss.after_discriminator_step(D)

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
        stats.update(loss_d=d_step.loss.detach(), loss_g=loss_g.detach(), d_real=d_step.d_real,
                     d_fake=d_step.d_fake, divergence=d_step.divergence)
        return stats

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> float:
        """Train to `train.steps`. Returns what a sweeper optimises: the best `eval.primary`
        value when `train.eval_every` evaluates, else the last logged divergence estimate (a
        training-time proxy: lower means D tells real from generated less well)."""
        t = self.cfg.train
        last: dict[str, float] = {}
        log.info("training %s on %s with loss=%s for %d steps on %s; run folder %s",
                 self.cfg.model.name, self.info.name, self.cfg.loss.name, t.steps,
                 self.device if not self.dist.enabled else
                 f"{self.dist.world_size} processes ({self.device.type})", self.run_dir)
        main = self.dist.is_main
        with StopRequest() as stop, Monitor(self.run_dir, self.step, t.steps,
                                            write=main) as monitor:
            run_start = window_start = time.perf_counter()
            window_steps = 0
            while self.step < t.steps:
                measure = (self.step + 1) % t.log_every == 0 or self.step + 1 == t.steps
                stats = self.train_step(measure)
                self.step += 1
                window_steps += 1
                stopping = self.dist.should_stop(stop.requested, measure, self.device)
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
                    record = {"step": self.step, **last, "imgs_per_s":
                              window_steps * t.batch_size * t.n_critic / max(elapsed, 1e-9),
                              "elapsed_s": time.perf_counter() - run_start}
                    monitor.record(record)
                    window_start, window_steps = time.perf_counter(), 0
                if self.step % t.sample_every == 0 and main:
                    self.write_samples(f"step_{self.step}.png", monitor)
                if t.eval_every and self.step % t.eval_every == 0:
                    self.evaluate(monitor)
                if self.step % t.ckpt_every == 0:
                    self.save()
                monitor.advance(self.step)
                if stopping:
                    self.save()
                    log.warning("interrupted at step %d; checkpoint %s; continue with: gancli "
                                "train resume=%s", self.step, self.ckpt_path, self.run_dir)
                    raise SystemExit(INTERRUPTED)
            self.save()
            if main:
                self.write_samples("final.png", monitor)
        log.info("done: %d steps; samples %s", self.step, self.run_dir / "samples" / "final.png")
        if self.best is not None:
            return float(self.best["value"])
        return last.get("divergence", math.nan)

    def _writes_after(self, step: int) -> bool:
        """Whether the loop writes a checkpoint, picture or evaluation after `step`."""
        t = self.cfg.train
        return (step % t.sample_every == 0 or step % t.ckpt_every == 0 or step == t.steps
                or bool(t.eval_every and step % t.eval_every == 0))

    def _check_finite(self, stats: dict[str, torch.Tensor]) -> None:
        """Stop before a NaN/Inf reaches a checkpoint: the last good one stays as it was."""
        losses = torch.stack([stats["loss_d"], stats["loss_g"]])
        if bool(torch.isfinite(losses).all()):
            return
        bad = "loss_d" if not torch.isfinite(stats["loss_d"]) else "loss_g"
        kept = self.ckpt_path if self.ckpt_path.exists() else "none written yet"
        raise TrainingDiverged(
            f"{bad} became {float(stats[bad])} by step {self.step}; training stopped (last good "
            f"checkpoint: {kept}). Lower optim.lr_d / optim.lr_g or try another loss")

    # -- artefacts ------------------------------------------------------------------------------

    def evaluate(self, monitor: Monitor) -> None:
        """Score `eval.n` samples of the sampling generator with `eval.metrics`, append the
        results to metrics.jsonl, and keep checkpoints/best.pt when `eval.primary` improved."""
        from gancli.evaluation.evaluate import Evaluator, is_better
        from gancli.evaluation.run import generated_samples

        opts, improved = self.cfg.eval, False
        # Every rank generates its share of the samples with rank 0's sampler (its batch-norm
        # statistics differ per rank otherwise); rank 0 puts them in order and scores them.
        self.dist.share_weights(self.gan.sampler)
        generated = generated_samples(self.gan.sampler, self.cfg, self.info, opts.n, opts.seed,
                                      self.device, opts.batch_size, self.conditioning,
                                      part=(self.dist.rank, self.dist.world_size))
        samples = self.dist.gather_rows(generated.samples)
        if self.dist.is_main:  # the other ranks wait at the broadcast below
            generated.samples = samples
            if self.evaluator is None:
                self.evaluator = Evaluator(opts, self.cfg.data, self.info, self.device,
                                           self.conditioning.evaluates)
            result = generated.score(self.evaluator, self.run_dir)
            monitor.record_eval(self.step, result)
            key = self.evaluator.primary
            value = float(result[key])
            if is_better(key, value, None if self.best is None else self.best["value"]):
                self.best = {"metric": key, "value": value, "step": self.step}
                improved = True
        self.best, improved = self.dist.broadcast((self.best, improved))
        if improved:
            key, value = self.best["metric"], self.best["value"]
            self.save(self.ckpt_path.with_name("best.pt"))
            log.info("step %d: best %s so far (%.4g); saved %s", self.step, key, value,
                     self.ckpt_path.with_name("best.pt"))

    def save(self, path: Path | None = None) -> None:
        """Write a checkpoint (rank 0; every rank must call this: the ranks' random states are
        gathered into it, so a resumed run draws what each rank would have drawn)."""
        states = self.dist.gather(rng_state(self.data_rng))
        if not self.dist.is_main:
            return
        save_checkpoint(path or self.ckpt_path, {
            "eval_best": self.best,
            "step": self.step,
            "config": OmegaConf.to_yaml(self.cfg),
            "data_info": self.info.to_dict(),
            "rng": states[0],
            "rng_ranks": states if self.dist.enabled else None,
            "conditioning": self.conditioning.state(),
            **self.gan.state_dict(),
        })

    def _restore_rng(self, ckpt: dict) -> None:
        """Continue each rank's random streams where the checkpoint left them. A checkpoint
        from another number of processes has no state for this rank: it then starts fresh
        streams from the seed, rank and step, so ranks still draw different batches."""
        ranks = ckpt.get("rng_ranks") or [ckpt["rng"]]
        if len(ranks) == self.dist.world_size:
            set_rng_state(ranks[self.dist.rank], self.data_rng)
            return
        seed = self.cfg.train.seed + 1_000_003 * self.step + self.dist.rank
        torch.manual_seed(seed)
        self.data_rng.manual_seed(seed)
        log.warning("the checkpoint was written by %d process(es), this run has %d: random "
                    "streams start afresh from the seed", len(ranks), self.dist.world_size)

    def write_samples(self, name: str, monitor: Monitor) -> None:
        """The preview picture for fixed latents: an image grid, or, for 2D mixtures, a scatter
        over real data plus the mode scores of those points (2,500 by default: the VEEGAN/PacGAN
        protocol's count) appended to metrics.jsonl."""
        out = generate(self.gan.sampler, self.preview_z, self.device, c=self.preview.c)
        path = self.run_dir / "samples" / name
        if self.info.kind == "points":
            score = score_mixture(out, self.info.name)
            save_scatter(out, self.real_preview, path,
                         f"{self.info.name}, step {self.step}: {score.modes_captured}/"
                         f"{score.modes_total} modes, {100 * score.hq_fraction:.1f}% HQ")
            if self.step != self._scored_step:  # final.png may repeat the last step's picture
                monitor.record_eval(self.step, score.to_dict())
                self._scored_step = self.step
        else:
            picture, nrow = self.conditioning.picture(out, self.preview, self.preview.nrow)
            save_image_grid(picture, path, nrow)


def _grad_norm(module: torch.nn.Module) -> torch.Tensor:
    """Total L2 norm of a module's gradients (clip_grad_norm_ with an infinite bound only
    measures)."""
    return torch.nn.utils.clip_grad_norm_(module.parameters(), float("inf")).detach()


def train_from_hydra(cfg: DictConfig) -> float:
    """`gancli train`'s body: train in Hydra's run folder, print that folder last."""
    from hydra.core.hydra_config import HydraConfig

    hydra_cfg = HydraConfig.get()
    run_dir = Path(hydra_cfg.runtime.output_dir)
    try:
        trainer = Trainer(cfg, run_dir, list(hydra_cfg.overrides.task))
        result = trainer.run()
    finally:
        leave_process_group()
    if trainer.dist.is_main:
        sys.stdout.write(f"{run_dir}\n")
        sys.stdout.flush()
    return result
