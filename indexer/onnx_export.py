"""Export the installed sentence-transformers model to ONNX (optionally int8) without a model hub.

Why not sentence-transformers' own `backend="onnx"`: it needs `optimum-onnx`, whose only release
pins transformers < 4.58, while sentence-transformers 6 needs transformers >= 5 — the two cannot be
installed together. So the export uses the pieces that are installed anyway: torch's ONNX exporter,
onnxruntime's transformer graph optimiser (fused attention, GELU and layer norms) and onnxruntime's
dynamic int8 quantiser. The result is cached beside the index and rebuilt only when the model
files or this recipe change.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from filelock import FileLock

Variant = Literal["onnx", "onnx-int8"]

# Bump when the export recipe changes, so cached files from an older recipe are not reused.
EXPORT_VERSION = "1"
_FILES: dict[str, str] = {"onnx": "model-fp32.onnx", "onnx-int8": "model-int8.onnx"}
log = logging.getLogger("regqa.embeddings")


def exported_model(model_path: Path, cache_dir: Path, variant: Variant) -> Path:
    """The ONNX file for `variant`, exporting it first if it is not cached yet (a few seconds)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"v{EXPORT_VERSION}-{_FILES[variant]}"
    if target.exists():
        return target
    with FileLock(str(cache_dir / ".export.lock")):
        if target.exists():  # another process exported it while we waited
            return target
        log.info("preparing the embedding model (once, about 20 s)…")
        with tempfile.TemporaryDirectory(dir=cache_dir) as work, _known_harmless_notices_silenced():
            work_dir = Path(work)
            optimised = _export_optimised(model_path, work_dir)
            if variant == "onnx-int8":
                optimised = _quantise(optimised, work_dir)
            # Atomic: a reader never sees a half-written model.
            os.replace(optimised, target)
    return target


@contextmanager
def _known_harmless_notices_silenced() -> Iterator[None]:
    """The exporter's and quantiser's notices that are known not to apply here, silenced; any other
    warning still goes where the process sends warnings (for the CLI: the log under the data dir).

    - TracerWarning "Converting a tensor to a Python boolean": transformers' padding check, which is
      0 for every input of an encoder whose mask is as long as its input; a constant is right.
    - "Exporting aten::index operator ... negative values": the model indexes with position ids and
      masks, never negative.
    - onnxruntime's "Please consider to run pre-processing before quantization": advice for
      static image models; pre-processing would change the graph and so every vector.
    It is logged on the root logger, whose first record installs a stderr handler (basicConfig) that
    afterwards prints every library's DEBUG lines; that handler is removed again too.
    """
    root = logging.getLogger()
    handlers = list(root.handlers)

    def not_the_advice(record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Converting a tensor to a Python boolean")
        warnings.filterwarnings("ignore", message="Exporting aten::index operator")
        root.addFilter(not_the_advice)
        try:
            yield
        finally:
            root.removeFilter(not_the_advice)
            for handler in list(root.handlers):
                if handler not in handlers:
                    root.removeHandler(handler)


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
