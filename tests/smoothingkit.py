"""A half-space classifier whose smoothed probability is known in closed form, and tasks on it."""

import torch

from curator.api import VerifyTask


class Halfspace(torch.nn.Module):
    def __init__(self, w, b):
        super().__init__()
        self.w = torch.tensor(w, dtype=torch.float32)
        self.b = b

    def forward(self, x):
        s = x.flatten(1) @ self.w - self.b
        return torch.stack([-s, s], dim=1)  # class 1 iff w·x > b


def task_for(model, x, runs, radius, params, norm="l2", seed=0):
    inputs = torch.tensor(x, dtype=torch.float32).repeat(runs, 1)
    return VerifyTask(model=model, inputs=inputs, labels=torch.ones(runs, dtype=torch.long), indices=list(range(runs)),
                      norm=norm, radius=radius, params=params, num_classes=2, seed=seed)
