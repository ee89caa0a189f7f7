"""Word-piece counting with the embedding model's own tokenizer, so chunks fit its window."""

from __future__ import annotations

from pathlib import Path

from tokenizers import Tokenizer


class TokenCounter:
    """Counts and cuts text in the model's word pieces (no special tokens, no truncation)."""

    def __init__(self, model_path: Path) -> None:
        self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        # tokenizer.json ships with truncation on; counting must see every piece.
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def count(self, text: str) -> int:
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character spans of the word pieces of `text`, in order (one tokenizer pass)."""
        return self._tokenizer.encode(text, add_special_tokens=False).offsets

    def truncate(self, text: str, max_tokens: int) -> str:
        """The longest prefix of `text` that fits in `max_tokens` word pieces."""
        encoding = self._tokenizer.encode(text, add_special_tokens=False)
        if len(encoding.ids) <= max_tokens:
            return text
        if max_tokens <= 0:
            return ""
        return text[: encoding.offsets[max_tokens - 1][1]].rstrip()
