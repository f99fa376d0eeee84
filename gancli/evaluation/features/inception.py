"""The `inception` feature space: the standard FID InceptionV3 (pool3 features, 1008 logits).

This is the network published FIDs use, through torch-fidelity (the implementation torchmetrics
wraps), which resizes to 299×299 bilinearly without antialiasing as the TF reference does.
Its weights come from `eval.inception_weights=PATH` (the `pt_inception-2015-12-05` file) or, when
online, torch-fidelity's own download. Grey images are tiled to three channels (Lucic et al.).
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig
from torch import nn

from gancli.data import DataInfo
from gancli.errors import GancliError
from gancli.evaluation.features.space import FeatureSpace, register_space

HOW = ("pass eval.inception_weights=PATH (the pt_inception-2015-12-05-6726825d.pth file "
       "torch-fidelity uses), or run once with network access so torch-fidelity downloads it; "
       "offline, eval.features=classifier works without either")


def load_inception(weights: str | None) -> nn.Module:
    """torch-fidelity's InceptionV3 returning (pool3 features, logits) for uint8 N×3×H×W."""
    try:
        from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    except ImportError:
        raise GancliError("eval.features=inception needs torch-fidelity: pip install "
                          "'gancli[inception]'; then " + HOW) from None
    if weights is not None and not Path(weights).expanduser().is_file():
        raise GancliError(f"eval.inception_weights={weights} is not a file; " + HOW)
    try:
        return FeatureExtractorInceptionV3(
            "inception-v3-compat", ["2048", "logits_unbiased"],
            feature_extractor_weights_path=None if weights is None
            else str(Path(weights).expanduser()))
    except Exception as err:  # no network, a truncated file, a wrong file: all the same fix
        raise GancliError(f"could not load the Inception weights ({str(err).splitlines()[0]}); "
                          + HOW) from None


@register_space("inception")
def inception_space(data_cfg: DictConfig, info: DataInfo, opts: DictConfig,
                    device: torch.device) -> FeatureSpace:
    """The Inception feature space; its 1008 logits are ImageNet's, not the dataset's classes."""
    if info.kind != "image":
        raise GancliError(f"eval.features=inception needs images; {info.name} is 2D points")
    net = load_inception(opts.inception_weights).to(device).eval()

    def extract(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if pixels.shape[1] == 1:
            pixels = pixels.expand(-1, 3, -1, -1)
        feats, logits = net(pixels)
        return feats, logits

    return FeatureSpace("inception", {"inception": "torch-fidelity inception-v3-compat",
                                      "weights": Path(opts.inception_weights).name
                                      if opts.inception_weights else "download"},
                        extract, device, classes=False, extra={})
