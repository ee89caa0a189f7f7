"""Export the installed sentence-transformers model to ONNX (optionally int8) without a model hub.

Why not sentence-transformers' own `backend="onnx"`: it needs `optimum-onnx`, whose only release
pins transformers < 4.58, while sentence-transformers 6 needs transformers >= 5 — the two cannot be
installed together. So the export uses the pieces that are installed anyway: torch's ONNX exporter,
onnxruntime's transformer graph optimiser (fused attention, GELU and layer norms) and onnxruntime's
dynamic int8 quantiser. The result is cached beside the index and rebuilt only when the model
files or this recipe change.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Literal

from filelock import FileLock

Variant = Literal["onnx", "onnx-int8"]

# Bump when the export recipe changes, so cached files from an older recipe are not reused.
EXPORT_VERSION = "1"
_FILES: dict[str, str] = {"onnx": "model-fp32.onnx", "onnx-int8": "model-int8.onnx"}


def exported_model(model_path: Path, cache_dir: Path, variant: Variant) -> Path:
    """The ONNX file for `variant`, exporting it first if it is not cached yet (a few seconds)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"v{EXPORT_VERSION}-{_FILES[variant]}"
    if target.exists():
        return target
    with FileLock(str(cache_dir / ".export.lock")):
        if target.exists():  # another process exported it while we waited
            return target
        with tempfile.TemporaryDirectory(dir=cache_dir) as work:
            work_dir = Path(work)
            optimised = _export_optimised(model_path, work_dir)
            if variant == "onnx-int8":
                optimised = _quantise(optimised, work_dir)
            # Atomic: a reader never sees a half-written model.
            os.replace(optimised, target)
    return target


def _export_optimised(model_path: Path, work_dir: Path) -> Path:
    import torch
    from onnxruntime.transformers import optimizer
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(str(model_path), local_files_only=True)
    # Eager attention exports as plain MatMul/Softmax, the pattern onnxruntime fuses into one
    # Attention kernel; the SDPA graph is not recognised and runs ~1.3x slower.
    model = AutoModel.from_pretrained(
        str(model_path), local_files_only=True, attn_implementation="eager"
    ).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones(2, 16, dtype=torch.long)
    raw = work_dir / "raw.onnx"
    with torch.no_grad():
        torch.onnx.export(
            LastHiddenState(model), (sample, torch.ones_like(sample), torch.zeros_like(sample)),
            str(raw), input_names=names, output_names=["last_hidden_state"],
            dynamic_axes={name: {0: "batch", 1: "sequence"} for name in [*names, "last_hidden_state"]},
            opset_version=17, dynamo=False,
        )
    fused = optimizer.optimize_model(
        str(raw), model_type="bert", num_heads=config.num_attention_heads,
        hidden_size=config.hidden_size, opt_level=1,
    )
    optimised = work_dir / "optimised.onnx"
    fused.save_model_to_file(str(optimised))
    return optimised


def _quantise(source: Path, work_dir: Path) -> Path:
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    target = work_dir / "int8.onnx"
    # Per-channel weights keep cosine similarity to fp32 at ~0.99 on the corpus (per-tensor: ~0.95).
    quantize_dynamic(
        str(source), str(target), weight_type=QuantType.QInt8, per_channel=True,
        extra_options={"DefaultTensorType": TensorProto.FLOAT},
    )
    return target
