"""A small PyTorch regression model trained on synthetic house prices, streaming its gradient norms
to Gradient Monitor.

Run it from VS Code's integrated terminal: the extension puts its endpoint and its bundled Python
client in the terminal's environment, so nothing needs installing beyond torch:
    python train.py
Two things go wrong on purpose, as they do in real data: one batch arrives in the wrong units
(x10, a gradient spike), and one record has a negative floor area, which `LogFeatures` turns
into a NaN. The monitor names the module and line the NaN came from.
"""
import argparse
import time

import torch
from torch import nn

from gradient_monitor import Monitor


class LogFeatures(nn.Module):
    """Log-scales the strictly positive features (floor area, price per square metre)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.log(x[:, :2]), x[:, 2:]], dim=1)


class PriceModel(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = LogFeatures()
        self.hidden = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU())
        self.head = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.hidden(self.features(x)))


def batch(size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    area = torch.rand(size, 1) * 150 + 30
    rate = torch.rand(size, 1) * 4 + 1
    other = torch.randn(size, 14)
    log_price = torch.log(area * rate) - 5.5 + 0.05 * torch.randn(size, 1)  # centred
    return torch.cat([area, rate, other], dim=1), log_price


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=0, help="steps per second (0: as fast as it trains)")
    parser.add_argument("--wrong-units-at", type=int, default=300)
    parser.add_argument("--negative-area-at", type=int, default=1200)
    args = parser.parse_args()

    torch.manual_seed(0)
    model = PriceModel()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    with Monitor(run_name="house prices: small MLP") as monitor:
        # skip_nonfinite: a NaN step leaves the weights as they were, so training goes on.
        monitor.watch(model, optimizer=optimizer, skip_nonfinite=True)
        for step in range(args.steps):
            x, y = batch()
            if step == args.wrong_units_at:
                x[:, 2:] *= 10  # a batch exported in the wrong units
            if step == args.negative_area_at:
                x[7, 0] = -42.0  # a corrupt record
            loss = nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            monitor.step(loss=loss)
            optimizer.step()
            if args.rate > 0:
                time.sleep(1 / args.rate)


if __name__ == "__main__":
    main()
