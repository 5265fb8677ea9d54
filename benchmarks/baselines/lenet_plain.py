"""A plain PyTorch LeNet-5 on scikit-learn's digits: the yardstick for `cnnzoo train lenet5`.

What a user would write by hand in 25 lines: tanh LeNet-5 (not the paper's sparse C3 or RBF output), digits
scaled to 32x32, a stratified 80/20 split, SGD with momentum, random shifts of up to 2 pixels, 30 epochs of
batch 32 on 2 threads. It prints the test top-1 and its own wall time. Time it as a whole process, alternately
with the command it is compared against (e.g. `farm-bench --vs` or interleaved runs in a script), because this
machine's speed drifts by 20-40% within a minute.
"""

import time

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

t0 = time.time()
torch.manual_seed(0)
torch.set_num_threads(2)
d = load_digits()
X = torch.tensor(d.images, dtype=torch.float32).unsqueeze(1) / 16
y = torch.tensor(d.target)
X = F.interpolate(X, size=(32, 32), mode="bilinear", align_corners=False)
Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
m = nn.Sequential(
    nn.Conv2d(1, 6, 5),
    nn.Tanh(),
    nn.AvgPool2d(2),
    nn.Conv2d(6, 16, 5),
    nn.Tanh(),
    nn.AvgPool2d(2),
    nn.Conv2d(16, 120, 5),
    nn.Tanh(),
    nn.Flatten(),
    nn.Linear(120, 84),
    nn.Tanh(),
    nn.Linear(84, 10),
)
opt = torch.optim.SGD(m.parameters(), lr=0.05, momentum=0.9, weight_decay=5e-4)
for _ in range(30):
    m.train()
    perm = torch.randperm(len(Xtr))
    for i in range(0, len(Xtr), 32):
        idx = perm[i : i + 32]
        dx, dy = torch.randint(-2, 3, (2,))
        xb = torch.roll(Xtr[idx], (int(dx), int(dy)), (2, 3))
        loss = F.cross_entropy(m(xb), ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
m.eval()
with torch.no_grad():
    acc = (m(Xte).argmax(1) == yte).float().mean().item()
print(f"test top-1 {acc:.4f} in {time.time() - t0:.1f} s")
