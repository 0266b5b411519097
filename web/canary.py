"""Which version of the model answers a /predict: a configured share goes to the canary version
(TorchServe's /predictions/mnist/{version}), the rest to TorchServe's default version."""

from __future__ import annotations

import random
import re

# What torch-model-archiver --version names are made of here ("1.0", "2.0", "2.0-rc1").
VERSION_NAME = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,31}")


class Canary:
    def __init__(self, version: str, share: float, draw=random.random):
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"CANARY_SHARE must be between 0 and 1, not {share}")
        if share > 0 and not VERSION_NAME.fullmatch(version):
            raise ValueError(f"CANARY_VERSION must name a model version such as 2.0, not {version!r}")
        self.version, self.share, self.draw = version, share, draw

    def pick(self) -> str | None:
        """The canary version for this request, or None for TorchServe's default."""
        return self.version if self.share > 0 and self.draw() < self.share else None
