"""Real models in which a NaN/Inf is born in one known module (tests/test_nonfinite_*.py)."""
from __future__ import annotations

import math
import re
from pathlib import Path

import torch
from torch import nn


class LogGate(nn.Module):
    """log of its input: NaN wherever the input is negative."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(x)


class Block(nn.Module):
    def __init__(self, width: int, gate: nn.Module) -> None:
        super().__init__()
        self.proj = nn.Linear(width, width)
        self.gate = gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gate(self.proj(x))


class GatedNet(nn.Module):
    """Three residual blocks; ``gates[i]`` (default: tanh) is block i's gate, e.g. LogGate in blocks.2."""

    def __init__(self, width: int = 16, bad_block: int = 2) -> None:
        super().__init__()
        self.embed = nn.Linear(8, width)
        self.blocks = nn.ModuleList([Block(width, LogGate() if i == bad_block else nn.Tanh()) for i in range(3)])
        self.head = nn.Linear(width, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        for block in self.blocks:
            h = block(h)
        return self.head(h)


class SelfAttention(nn.Module):
    """Single-head attention with its logits in the model's dtype: float16 logits above 65504 are inf."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        logits = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        return self.out(logits.softmax(dim=-1) @ v)


class TransformerBlock(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = SelfAttention(width)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class TinyTransformer(nn.Module):
    def __init__(self, vocab: int = 50, width: int = 32, layers: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        self.blocks = nn.ModuleList([TransformerBlock(width) for _ in range(layers)])
        self.head = nn.Linear(width, vocab)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        h = self.embed(tokens)
        for block in self.blocks:
            h = block(h)
        return self.head(h)


class RowNorm(nn.Module):
    """Divides each row by its sum: 0/0 = NaN for a row the ReLU before it zeroed out."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / x.sum(dim=-1, keepdim=True)


class NormNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 16)
        self.act = nn.ReLU()
        self.norm = RowNorm()
        self.head = nn.Linear(16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.act(self.fc(x))))


class Distance(nn.Module):
    """Euclidean length of each row: sqrt(0) = 0 in forward, but its gradient at 0 is 0/0 = NaN."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sqrt((x * x).sum(dim=-1, keepdim=True))


class DistanceNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8, bias=False)
        self.dist = Distance()
        self.head = nn.Linear(1, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dist(self.fc(x)))


def forward_line(cls: type) -> int:
    """The 1-based line of ``def forward`` in ``cls``'s body, found in this file's text."""
    lines = Path(__file__).read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(rf"class {cls.__name__}\b", line))
    return next(i for i in range(start, len(lines)) if lines[i].strip().startswith("def forward")) + 1
