"""A small PyTorch training loop streaming its gradient norms to Gradient Monitor.

Run it from VS Code's integrated terminal (the endpoint is in the environment there):
    /usr/bin/python3 train.py
Needs the Python client: pip install -e clients/python (or PYTHONPATH=clients/python).
"""
import torch
from torch import nn

from gradient_monitor import Monitor

model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1))
optimizer = torch.optim.SGD(model.parameters(), lr=0.05)

with Monitor(run_name="demo: small MLP") as monitor:
    monitor.watch(model)
    for step in range(2000):
        x = torch.randn(64, 32)
        y = x[:, :1] * 3 + 0.1 * torch.randn(64, 1)
        if step == 1200:
            x = x * 1e3  # an exploding batch
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        monitor.step(loss=loss.item())
        optimizer.step()
