"""A random-weight CLIP ViT-B/32 (OpenAI architecture), exported to ONNX for benchmarks.

Speed does not depend on the weights, so benchmarks run the real architecture
without the real model: vision ViT-B/32 (width 768, 12 layers, 12 heads, patch
32, 224 px, 512-d projection), text transformer (width 512, 12 layers, 8
heads, causal mask, 77 tokens, 49,408 vocab, EOT pooling). Needs torch (the
``bench`` extra); the export is cached in the folder given.

    python bench/clip_random.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def _build():  # torch is imported only here: it is a bench-only dependency
    import torch
    from torch import nn

    class QuickGELU(nn.Module):
        def forward(self, x):
            return x * torch.sigmoid(1.702 * x)

    class Attention(nn.Module):
        """Multi-head self-attention written out (nn.MultiheadAttention's fused kernel does not export)."""

        def __init__(self, width: int, heads: int) -> None:
            super().__init__()
            self.heads = heads
            self.qkv = nn.Linear(width, width * 3)
            self.out = nn.Linear(width, width)

        def forward(self, x, mask=None):
            n, t, w = x.shape
            q, k, v = self.qkv(x).reshape(n, t, 3, self.heads, w // self.heads).permute(2, 0, 3, 1, 4)
            a = (q @ k.transpose(-2, -1)) * (w // self.heads) ** -0.5
            if mask is not None:
                a = a + mask
            y = (a.softmax(-1) @ v).transpose(1, 2).reshape(n, t, w)
            return self.out(y)

    class Block(nn.Module):
        def __init__(self, width: int, heads: int) -> None:
            super().__init__()
            self.attn = Attention(width, heads)
            self.ln_1 = nn.LayerNorm(width)
            self.mlp = nn.Sequential(nn.Linear(width, width * 4), QuickGELU(), nn.Linear(width * 4, width))
            self.ln_2 = nn.LayerNorm(width)

        def forward(self, x, mask=None):
            y = self.ln_1(x)
            x = x + self.attn(y, mask)
            return x + self.mlp(self.ln_2(x))

    class Vision(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            width = 768
            self.conv1 = nn.Conv2d(3, width, kernel_size=32, stride=32, bias=False)
            self.class_embedding = nn.Parameter(torch.randn(width) * 0.02)
            self.positional_embedding = nn.Parameter(torch.randn(50, width) * 0.01)
            self.ln_pre = nn.LayerNorm(width)
            self.blocks = nn.ModuleList(Block(width, 12) for _ in range(12))
            self.ln_post = nn.LayerNorm(width)
            self.proj = nn.Parameter(torch.randn(width, 512) * width**-0.5)

        def forward(self, x):
            x = self.conv1(x).flatten(2).transpose(1, 2)  # [N, 49, 768]
            cls = self.class_embedding.expand(x.shape[0], 1, -1)
            x = torch.cat([cls, x], dim=1) + self.positional_embedding
            x = self.ln_pre(x)
            for block in self.blocks:
                x = block(x)
            return self.ln_post(x[:, 0]) @ self.proj

    class Text(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            width = 512
            self.token_embedding = nn.Embedding(49408, width)
            self.positional_embedding = nn.Parameter(torch.randn(77, width) * 0.01)
            self.blocks = nn.ModuleList(Block(width, 8) for _ in range(12))
            self.ln_final = nn.LayerNorm(width)
            self.text_projection = nn.Parameter(torch.randn(width, 512) * width**-0.5)
            self.register_buffer("mask", torch.full((77, 77), float("-inf")).triu(1))

        def forward(self, ids):
            ids = ids.long()
            x = self.token_embedding(ids) + self.positional_embedding
            for block in self.blocks:
                x = block(x, self.mask)
            x = self.ln_final(x)
            eot = ids.argmax(dim=-1)
            return x[torch.arange(x.shape[0]), eot] @ self.text_projection

    return torch, Vision().eval(), Text().eval()


def export(folder: Path) -> Path:
    """Write image.onnx and text.onnx (random weights) into folder, unless already there."""
    folder.mkdir(parents=True, exist_ok=True)
    image, text = folder / "image.onnx", folder / "text.onnx"
    if image.exists() and text.exists():
        return folder
    torch, vision, textual = _build()
    torch.manual_seed(0)
    with torch.no_grad():
        torch.onnx.export(
            vision, (torch.randn(2, 3, 224, 224),), str(image), input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17, dynamo=False,
        )  # fmt: skip
        ids = torch.zeros(2, 77, dtype=torch.int32)
        ids[:, 0], ids[:, 5] = 49406, 49407
        torch.onnx.export(
            textual, (ids,), str(text), input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, opset_version=17, dynamo=False,
        )  # fmt: skip
    (folder / "README.json").write_text(json.dumps({"what": "random-weight CLIP ViT-B/32, for benchmarks only"}))
    return folder


if __name__ == "__main__":
    print(export(Path(sys.argv[1])))
