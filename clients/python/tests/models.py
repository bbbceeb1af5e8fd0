"""Small real models and data shared by the tests."""
from __future__ import annotations

import copy
from typing import Tuple

import torch
from torch import nn


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(12, 32), nn.Tanh(), nn.Linear(32, 32))
        self.head = nn.Linear(32, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.encoder(x)))


LAYERS = ["encoder.0", "encoder.2", "head"]


def make(seed: int = 0) -> Tuple[Net, torch.optim.Optimizer]:
    torch.manual_seed(seed)
    model = Net()
    return model, torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)


def twin(model: nn.Module) -> Tuple[nn.Module, torch.optim.Optimizer]:
    other = copy.deepcopy(model)
    return other, torch.optim.SGD(other.parameters(), lr=0.05, momentum=0.9)


def batch(step: int, size: int = 16) -> Tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1000 + step)
    x = torch.randn(size, 12, generator=g)
    return x, torch.randint(0, 3, (size,), generator=g)


def loss_of(model: nn.Module, step: int) -> torch.Tensor:
    x, y = batch(step)
    return nn.functional.cross_entropy(model(x), y)


def layer_norm(model: nn.Module, prefix: str) -> float:
    grads = [p.grad.reshape(-1) for n, p in model.named_parameters() if n.startswith(prefix + ".") and p.grad is not None]
    return torch.linalg.vector_norm(torch.cat(grads)).item()


def torch_total(model: nn.Module) -> float:
    """torch's own total gradient norm: get_total_norm (torch >= 2.6), else what clip_grad_norm_ returns."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if hasattr(torch.nn.utils, "get_total_norm"):
        return torch.nn.utils.get_total_norm(grads).item()
    return torch.nn.utils.clip_grad_norm_(model.parameters(), float("inf")).item()
