"""Vector quantizer with the codebook mechanics done right (after lucidrains'
vector-quantize-pytorch): computed in fp32 whatever the autocast, straight-through gradients,
optional EMA updates, cosine and lower-dimensional lookup, k-means initialisation on a sample
gathered from every rank's first batch, dead-code revival from the batch. Under data
parallelism every statistic that moves the codebook is all-reduced or gathered, so every rank
holds the same codebook."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..distributed import all_gather, all_reduce_, broadcast_, rank, world_size

_CHUNK = 8192  # rows per distance block: bounds k-means' memory at (8192, K) floats


def _rank0_sample(x: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` rows of rank 0's ``x`` (with replacement if needed), the same on every rank."""
    if x.shape[0] >= n:
        rows = x[torch.randperm(x.shape[0], device=x.device)[:n]]
    else:
        rows = x[torch.randint(0, x.shape[0], (n,), device=x.device)]
    return broadcast_(rows.contiguous(), src=0)


def _rows(x: torch.Tensor, n: int, seed: int) -> torch.Tensor:
    """``n`` rows of ``x`` drawn by a generator of its own seeded with ``seed``: without
    replacement when ``x`` has ``n`` rows, and independent of the global RNG, so that the draw
    is the same in every run whatever else was sampled before."""
    g = torch.Generator().manual_seed(seed)
    if x.shape[0] >= n:
        pick = torch.randperm(x.shape[0], generator=g)[:n]
    else:
        pick = torch.randint(0, x.shape[0], (n,), generator=g)
    return x[pick.to(x.device)]


def perplexity(counts: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of the code-usage histogram: K when all K codes are used equally, 1 for one."""
    p = counts.float() / counts.sum().clamp(min=1)
    return torch.exp(-(p * torch.log(p.clamp(min=1e-12))).sum())


class VectorQuantizer(nn.Module):
    def __init__(
        self,
        num_codes: int,
        dim: int,
        *,
        codebook_dim: int | None = None,
        beta: float = 0.25,
        ema: bool = True,
        decay: float = 0.99,
        eps: float = 1e-5,
        cosine: bool = False,
        kmeans_init: bool = True,
        kmeans_iters: int = 10,
        kmeans_sample: int | None = None,
        kmeans_seed: int = 0,
        dead_code_usage: float = 0.03,
    ):
        """``kmeans_sample``: vectors k-means runs on, over all ranks together (16 per code
        if None), each rank giving an equal share of its first batch; ``kmeans_seed`` fixes
        which vectors and which initial centroids, so the init is reproducible."""
        super().__init__()
        cdim = codebook_dim or dim
        self.num_codes, self.beta, self.ema, self.decay, self.eps = num_codes, beta, ema, decay, eps
        self.cosine, self.kmeans_iters, self.dead_usage = cosine, kmeans_iters, dead_code_usage
        self.kmeans_sample, self.kmeans_seed = kmeans_sample or 16 * num_codes, kmeans_seed
        self.project_in = nn.Linear(dim, cdim) if cdim != dim else nn.Identity()
        self.project_out = nn.Linear(cdim, dim) if cdim != dim else nn.Identity()
        embed = torch.empty(num_codes, cdim).uniform_(-1.0 / num_codes, 1.0 / num_codes)
        if cosine:
            embed = F.normalize(embed, dim=-1)
        if ema:  # moved by statistics, not by the optimizer
            self.register_buffer("embed", embed)
            self.register_buffer("embed_avg", embed.clone())
        else:
            self.embed = nn.Parameter(embed)
        self.register_buffer("cluster_size", torch.zeros(num_codes))  # EMA of code usage
        self.register_buffer("initted", torch.tensor(not kmeans_init))

    # -- helpers -------------------------------------------------------------------------------
    def _keep_fp32(self) -> None:
        """Codebook statistics stay fp32 even if an engine cast the module to bf16."""
        for name, buf in self._buffers.items():
            if buf is not None and buf.is_floating_point() and buf.dtype != torch.float32:
                self._buffers[name] = buf.float()

    def _project(self, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        if isinstance(layer, nn.Identity):
            return x
        return F.linear(x, layer.weight.float(), layer.bias.float())

    def codebook(self) -> torch.Tensor:
        e = self.embed.float()
        return F.normalize(e, dim=-1) if self.cosine else e

    def _nearest(self, x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
        dist_ = x.pow(2).sum(1, keepdim=True) - 2 * x @ codebook.t() + codebook.pow(2).sum(1)[None]
        return dist_.argmin(dim=1)

    def _nearest_chunked(self, x: torch.Tensor, codebook: torch.Tensor) -> torch.Tensor:
        """``_nearest`` in blocks of rows: a gathered k-means sample (16 vectors per code over
        all ranks, 65536 x 4096 distances for a 4096-code book) would not fit in one block."""
        return torch.cat([self._nearest(b, codebook) for b in x.split(_CHUNK)])

    @torch.no_grad()
    def _kmeans_init(self, x: torch.Tensor) -> None:
        """Lloyd's k-means on a sample of every rank's first batch.

        Each rank contributes the same number of its vectors (all-gathered, as all_gather
        needs equal shapes), so the initial codes are drawn from the whole global batch: from
        rank 0's batch alone, 4096 codes would come from a few thousand vectors of one rank's
        crops. Every rank runs the same seeded iterations on the same gathered sample and
        rank 0's centroids are broadcast, so all codebooks are identical bit for bit. The
        usage statistics are then counted on the full global batch, the scale that the EMA
        and the dead-code threshold work in."""
        share = min(math.ceil(self.kmeans_sample / world_size()), x.shape[0])
        share = int(all_reduce_(torch.tensor([share], device=x.device), "min").item())
        sample = all_gather(_rows(x, share, self.kmeans_seed + 1 + rank()).contiguous())
        centroids = _rows(sample, self.num_codes, self.kmeans_seed)
        for _ in range(self.kmeans_iters):
            idx = self._nearest_chunked(sample, centroids)
            sums = torch.zeros_like(centroids).index_add_(0, idx, sample)
            counts = torch.bincount(idx, minlength=self.num_codes).float()
            new = sums / counts.clamp(min=1)[:, None]
            centroids = torch.where(counts[:, None] > 0, new, centroids)
            if self.cosine:
                centroids = F.normalize(centroids, dim=-1)
        centroids = broadcast_(centroids.contiguous(), src=0)
        idx = self._nearest_chunked(x, centroids)
        counts = all_reduce_(torch.bincount(idx, minlength=self.num_codes).float())
        self.embed.data.copy_(centroids)
        if self.ema:
            self.embed_avg.copy_(centroids * counts[:, None])
        self.cluster_size.copy_(counts)
        self.initted.fill_(True)

    @torch.no_grad()
    def _update(self, x: torch.Tensor, idx: torch.Tensor, counts: torch.Tensor) -> int:
        """EMA of usage (and, with ema, of the codes); then revive codes that fell out of use.
        Returns how many were revived."""
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        if self.ema:
            sums = all_reduce_(torch.zeros_like(self.embed_avg).index_add_(0, idx, x))
            self.embed_avg.mul_(self.decay).add_(sums, alpha=1 - self.decay)
            n = self.cluster_size.sum()
            smoothed = (self.cluster_size + self.eps) / (n + self.num_codes * self.eps) * n
            embed = self.embed_avg / smoothed[:, None]
            self.embed.copy_(F.normalize(embed, dim=-1) if self.cosine else embed)
        threshold = self.dead_threshold(counts.sum())
        dead = self.cluster_size < threshold
        n_dead = int(dead.sum())  # the same on every rank: cluster_size is all-reduced
        if n_dead:
            fresh = _rank0_sample(x, n_dead)
            self.embed.data[dead] = fresh
            self.cluster_size[dead] = threshold
            if self.ema:
                self.embed_avg[dead] = fresh * threshold
        return n_dead

    def dead_threshold(self, vectors: torch.Tensor | float) -> torch.Tensor | float:
        """The EMA usage below which a code is dead: ``dead_code_usage`` of what each code
        would get if the ``vectors`` of a global batch (all ranks) were spread evenly. Relative
        to the global batch, so that revival behaves alike on 1 GPU or 64."""
        return self.dead_usage * vectors / self.num_codes

    # -- forward -------------------------------------------------------------------------------
    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """z (B, C, H, W) -> (quantized z with straight-through gradients, loss, info).

        info: indices (B, H, W), perplexity and usage (codes used / K) of this batch (counts
        all-reduced over ranks when training), dead_codes (revived this step when training,
        below the usage threshold in eval), commit_loss, codebook_loss.
        Training-mode calls are collective: every rank must make them together.
        """
        in_dtype = z.dtype
        self._keep_fp32()
        with torch.autocast(device_type=z.device.type, enabled=False):
            b, c, h, w = z.shape
            x = self._project(self.project_in, z.float().permute(0, 2, 3, 1).reshape(-1, c))
            if self.cosine:
                x = F.normalize(x, dim=-1)
            if self.training and not bool(self.initted):
                self._kmeans_init(x.detach())
            codebook = self.codebook()
            idx = self._nearest(x.detach(), codebook.detach())
            q = F.embedding(idx, codebook)
            counts = torch.bincount(idx, minlength=self.num_codes).float()
            if self.training:
                all_reduce_(counts)
                dead = self._update(x.detach(), idx, counts)
            else:
                usage = self.dead_threshold(self.cluster_size.sum())  # the EMA of a batch
                dead = int((self.cluster_size < usage).sum())
            commit = F.mse_loss(x, q.detach())
            codebook_loss = torch.zeros_like(commit) if self.ema else F.mse_loss(q, x.detach())
            loss = codebook_loss + self.beta * commit
            q = x + (q - x).detach()  # straight-through estimator
            out = self._project(self.project_out, q).reshape(b, h, w, -1).permute(0, 3, 1, 2)
        info = {
            "indices": idx.reshape(b, h, w),
            "perplexity": perplexity(counts),
            "usage": (counts > 0).float().mean(),
            "dead_codes": torch.tensor(float(dead)),  # revived this step when training
            "commit_loss": commit.detach(),
            "codebook_loss": codebook_loss.detach(),
        }
        return out.to(in_dtype), loss, info
