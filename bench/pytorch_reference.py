# The yardstick of issue 9's targets, not part of the product: the same work as the bench rows
# "generator inference 1x128x128 -> 512x512", "SRResNet step batch 16 96x96" and "SRGAN step batch 16
# 96x96 (VGG54)", in PyTorch on the CPU with 2 threads, so that the ratio is measured on one machine
# in one sitting. Needs Debian's python3-torch (apt-get install python3-torch); nothing in the project
# imports it. Usage: python3 bench/pytorch_reference.py [--runs N] [--threads N]
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument('--runs', type=int, default=5)
ap.add_argument('--threads', type=int, default=2)
args = ap.parse_args()
torch.set_num_threads(args.threads)
torch.manual_seed(0)


class Block(nn.Module):
    def __init__(self, c=64):
        super().__init__()
        self.c1, self.b1, self.a = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c), nn.PReLU(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c)

    def forward(self, x):
        return x + self.b2(self.c2(self.a(self.b1(self.c1(x)))))


class Generator(nn.Module):  # the paper's SRResNet: 16 blocks, 64 channels, two pixel-shuffle x2 steps
    def __init__(self):
        super().__init__()
        self.head = nn.Sequential(nn.Conv2d(3, 64, 9, padding=4), nn.PReLU(64))
        self.body = nn.Sequential(*[Block() for _ in range(16)])
        self.mid = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1), nn.BatchNorm2d(64))
        self.up = nn.Sequential(*[m for _ in range(2) for m in (nn.Conv2d(64, 256, 3, padding=1), nn.PixelShuffle(2), nn.PReLU(64))])
        self.out = nn.Conv2d(64, 3, 9, padding=4)

    def forward(self, x):
        h = self.head(x)
        return torch.tanh(self.out(self.up(self.mid(self.body(h)) + h)))


def d_block(ci, co, s):
    return [nn.Conv2d(ci, co, 3, stride=s, padding=1), nn.BatchNorm2d(co), nn.LeakyReLU(0.2)]


class Discriminator(nn.Module):  # the paper's: 8 convs (64..512), dense 1024, dense 1
    def __init__(self):
        super().__init__()
        layers = [nn.Conv2d(3, 64, 3, padding=1), nn.LeakyReLU(0.2)] + d_block(64, 64, 2)
        for ci, co in ((64, 128), (128, 256), (256, 512)):
            layers += d_block(ci, co, 1) + d_block(co, co, 2)
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(512 * 6 * 6, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 1))

    def forward(self, x):
        return self.head(self.features(x))


def vgg54():  # VGG19 up to relu5_4, random weights (timing only), frozen
    cfg = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512, 512, 512, 512]
    layers, c = [], 3
    for v in cfg:
        if v == 'M':
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
            c = v
    m = nn.Sequential(*layers)
    for p in m.parameters():
        p.requires_grad_(False)
    return m


def timed(name, fn):
    fn()  # warm-up
    ts = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1000)
    print(f'{name:<44} median {statistics.median(ts):8.0f} ms  (runs: {", ".join(f"{t:.0f}" for t in ts)})', flush=True)


G = Generator()
x128 = torch.rand(1, 3, 128, 128)
G.eval()


def infer():
    with torch.no_grad():
        G(x128)


timed('generator inference 1x128x128 -> 512x512', infer)

G.train()
optG = torch.optim.Adam(G.parameters(), lr=1e-4)
lr, hr = torch.rand(16, 3, 24, 24), torch.rand(16, 3, 96, 96) * 2 - 1


def srresnet_step():
    optG.zero_grad()
    F.mse_loss(G(lr), hr).backward()
    optG.step()


timed('SRResNet step batch 16 96x96', srresnet_step)

D, vgg = Discriminator(), vgg54()
optD = torch.optim.Adam(D.parameters(), lr=1e-4)
bce = nn.BCEWithLogitsLoss()
ones, zeros = torch.ones(16, 1), torch.zeros(16, 1)


def srgan_step():
    sr = G(lr)
    optG.zero_grad()
    content = F.mse_loss(vgg((sr + 1) / 2), vgg((hr + 1) / 2)) / 12.75
    (content + 1e-3 * bce(D(sr), ones)).backward()
    optG.step()
    optD.zero_grad()
    (bce(D(hr), ones) + bce(D(sr.detach()), zeros)).backward()
    optD.step()


timed('SRGAN step batch 16 96x96 (VGG54)', srgan_step)
