"""Training-health alerts: the failures a GAN course teaches to recognise, read off the values
the loop already logs, each reported once per episode with what to try.

Each detector watches the stream of logged records (and evaluation scores) and says when its
condition starts to hold; it fires again only after the condition has cleared. The loop logs an
alert as a warning and as an `alert` line in `metrics.jsonl`, and `train.stop_on` names the
alerts that end a run (a sweep's hopeless jobs stop early). A new alert is one registered
`Detector` subclass.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gancli.registry import Registry

if TYPE_CHECKING:
    from gancli.losses.base import GANLoss

#: Logged records a condition must hold for before it is an alert (one noisy step is not).
PATIENCE = 3


@dataclass(frozen=True)
class Alert:
    """One alert: which, at which logged step, what was seen and what to try."""

    name: str
    step: int
    seen: str
    advice: str

    def to_record(self) -> dict:
        return {"step": self.step, "alert": self.name, "seen": self.seen, "advice": self.advice}


class Detector:
    """Watches the logged values for one failure. `check` returns what it sees while the
    failure holds (None otherwise); `Health` turns that into one alert per episode."""

    #: What to try, shown with the alert.
    advice: str
    #: The record keys it reads: it sees only records that have them all (`sees`).
    keys: tuple[str, ...] = ()

    def __init__(self, loss: GANLoss) -> None:
        #: The run's objective, which says how its logged values read (`d_wins` asks it).
        self.loss = loss

    def sees(self, record: dict) -> bool:
        """Whether `record` holds what `check` reads."""
        return bool(self.keys) and all(k in record for k in self.keys)

    def check(self, record: dict) -> str | None:
        """Training records (`step`, `loss_d`, `d_real`, ...)."""
        return None

    def check_eval(self, step: int, value: float, better: bool | None) -> str | None:
        """An evaluation of `eval.primary`: `value`, and whether it beat the best so far
        (None for the first)."""
        return None


DETECTORS: Registry[type[Detector]] = Registry("alert (train.stop_on)")
register_detector = DETECTORS.register


class Sustained(Detector):
    """A condition on one record that must hold for `PATIENCE` logged records in a row."""

    def __init__(self, loss: GANLoss) -> None:
        super().__init__(loss)
        self.run = 0

    def holds(self, record: dict) -> str | None:
        raise NotImplementedError

    def check(self, record: dict) -> str | None:
        seen = self.holds(record)
        self.run = self.run + 1 if seen else 0
        return seen if self.run >= PATIENCE else None


@register_detector("d_wins")
class DWins(Sustained):
    """D tells real from generated almost perfectly: G's gradient carries little (the JS
    divergence of disjoint supports is pinned at log 2)."""

    advice = (
        "lower optim.lr_d or raise optim.lr_g (TTUR), try loss=hinge or loss=wgan-gp, "
        "model.spectral_norm=true, loss.r1_gamma=10, or augment=diffaug"
    )
    keys = ("d_real", "d_fake")

    def holds(self, record: dict) -> str | None:
        real, fake = record["d_real"], record["d_fake"]
        # Thresholds set between a healthy run (the embedded default peaks at D(x) 0.973 with
        # D(G(z)) 0.023, its JS estimate at 0.666) and one whose D overpowers G.
        if self.loss.outputs_near_one_and_zero and real > 0.98 and fake < 0.1:
            return f"D(x) {real:.3f}, D(G(z)) {fake:.3f}"
        estimate, ceiling = record.get("divergence"), self.loss.divergence_ceiling
        if ceiling is not None and estimate is not None and estimate > 0.98 * ceiling:
            return (
                f"{self.loss.divergence_name} estimate {estimate:.3f}, near its ceiling "
                f"{ceiling:.3f}"
            )
        return None


@register_detector("vanishing_g")
class VanishingG(Sustained):
    """G's gradient has all but disappeared: G no longer learns."""

    advice = (
        "use the non-saturating loss (loss=ns) rather than loss=minimax, or a WGAN "
        "loss; check that D is not winning (d_wins)"
    )
    keys = ("grad_norm_g",)

    def holds(self, record: dict) -> str | None:
        norm = record["grad_norm_g"]
        return f"|grad G| {norm:.2e}" if norm < 1e-6 else None


@register_detector("exploding_grad")
class ExplodingGrad(Detector):
    """A gradient norm far above its own history: the step is about to blow up."""

    advice = (
        "lower optim.lr_d / optim.lr_g, add a gradient penalty (loss=wgan-gp, "
        "loss.r1_gamma) or model.spectral_norm=true"
    )
    keys = ("grad_norm_d",)

    #: How many times its median so far a norm must be.
    FACTOR = 100.0

    def __init__(self, loss: GANLoss) -> None:
        super().__init__(loss)
        self.history: dict[str, list[float]] = {"grad_norm_d": [], "grad_norm_g": []}

    def check(self, record: dict) -> str | None:
        seen = None
        for key, past in self.history.items():
            value = record.get(key)
            if value is None:
                continue
            if not math.isfinite(value):
                seen = seen or f"{key} {value}"
                continue
            typical = max(statistics.median(past), 1e-12) if len(past) >= PATIENCE else None
            if typical is not None and value > self.FACTOR * typical:
                seen = seen or f"{key} {value:.3g}, {value / typical:.0f}× its median so far"
            else:  # a spike does not join the history it is judged against
                past.append(value)
        return seen


@register_detector("mode_collapse")
class ModeCollapse(Sustained):
    """G covers little of the data: the samples cover at most half of the modes (2D
    mixtures' VEEGAN/PacGAN count; the classes an evaluation's `modes` metric finds), or the
    training pictures' diversity, once at least `DIVERSITY` of the real images', has fallen
    below it and to under half of its best. An untrained G's pictures are alike too (the
    embedded default's: 0.27 of the real digits' diversity at step 50, 0.78 from step 300 on):
    the fall tells collapse from a start."""

    advice = "try train.pack=2 (PacGAN), loss=wgan-gp, a smaller optim.lr_g, or another train.seed"
    keys = ("modes_captured", "modes_total")
    #: The preview's mean pairwise distance over the real images' below which G has collapsed.
    DIVERSITY = 0.4

    def __init__(self, loss: GANLoss) -> None:
        super().__init__(loss)
        self.best_diversity = 0.0

    def sees(self, record: dict) -> bool:
        return super().sees(record) or "preview_diversity" in record

    def holds(self, record: dict) -> str | None:
        if "preview_diversity" in record:
            ratio = record["preview_diversity"]
            self.best_diversity = max(self.best_diversity, ratio)
            if self.best_diversity >= self.DIVERSITY and ratio < min(
                self.DIVERSITY, self.best_diversity / 2
            ):
                return (
                    f"the training pictures' diversity fell to {ratio:.2f} of the real "
                    f"images' (best {self.best_diversity:.2f})"
                )
            return None
        got, total = record["modes_captured"], record["modes_total"]
        return f"{got}/{total} modes" if got <= total / 2 else None


@register_detector("no_progress")
class NoProgress(Detector):
    """`eval.primary` has not improved for `EVALS` evaluations in a row."""

    advice = (
        "the run may have converged or be stuck: compare samples/step_*.png, try "
        "another optim.lr_g, or stop it"
    )
    EVALS = 4

    def __init__(self, loss: GANLoss) -> None:
        super().__init__(loss)
        self.since = 0

    def check_eval(self, step: int, value: float, better: bool | None) -> str | None:
        self.since = 0 if better in (None, True) else self.since + 1
        return (
            f"eval.primary {value:.4g}, no better for {self.since} evaluations"
            if self.since >= self.EVALS
            else None
        )


class Health:
    """Every detector over one run; `update` / `update_eval` return the alerts that start."""

    def __init__(self, loss: GANLoss) -> None:
        self.detectors = {name: cls(loss) for name, cls in DETECTORS.items()}
        self.active: set[str] = set()

    def _episodes(self, step: int, seen: dict[str, str | None]) -> list[Alert]:
        alerts = []
        for name, what in seen.items():
            if what is None:
                self.active.discard(name)
            elif name not in self.active:
                self.active.add(name)
                alerts.append(Alert(name, step, what, self.detectors[name].advice))
        return alerts

    def update(self, record: dict) -> list[Alert]:
        """A logged record (training values, or a training picture's scores)."""
        return self._episodes(
            record["step"],
            {n: d.check(record) for n, d in self.detectors.items() if d.sees(record)},
        )

    def update_eval(self, step: int, value: float, better: bool | None) -> list[Alert]:
        """An evaluation of `eval.primary`."""
        return self._episodes(
            step,
            {n: d.check_eval(step, value, better) for n, d in self.detectors.items() if not d.keys},
        )
