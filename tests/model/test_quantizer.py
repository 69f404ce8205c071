import math
import os

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from hpc_vqvae.model.quantizer import VectorQuantizer, perplexity
from hpc_vqvae.world import free_port


def test_perplexity_is_exp_entropy():
    counts = torch.tensor([10.0, 30.0, 60.0, 0.0])
    p = torch.tensor([0.1, 0.3, 0.6])
    assert math.isclose(
        float(perplexity(counts)), math.exp(-(p * p.log()).sum().item()), rel_tol=1e-6
    )
    assert math.isclose(float(perplexity(torch.ones(16))), 16.0, rel_tol=1e-6)
    assert math.isclose(float(perplexity(torch.tensor([0.0, 5.0, 0.0]))), 1.0, rel_tol=1e-6)


@pytest.mark.parametrize(
    "ema,cosine,lookup",
    [(True, False, None), (False, False, None), (True, True, None), (False, False, 8)],
)
def test_shapes_and_straight_through(ema, cosine, lookup):
    torch.manual_seed(0)
    vq = VectorQuantizer(32, 16, codebook_dim=lookup, ema=ema, cosine=cosine)
    z = torch.randn(2, 16, 8, 8, requires_grad=True)  # 128 vectors for 32 codes
    q, loss, info = vq(z)
    assert q.shape == z.shape and info["indices"].shape == (2, 8, 8)
    assert int(info["indices"].max()) < 32
    # straight-through: d(sum q)/dz passes as if q were z (identity when no projections)
    q.sum().backward(retain_graph=True)
    if lookup is None and not cosine:
        assert torch.allclose(z.grad, torch.ones_like(z))
    else:
        assert z.grad.abs().sum() > 0
    if not ema:
        assert vq.embed.grad is None  # the codebook learns through the codebook loss only,
        loss.backward()
        assert vq.embed.grad is not None and vq.embed.grad.abs().sum() > 0


def test_values_are_codes():
    vq = VectorQuantizer(8, 4, kmeans_init=False).eval()
    z = torch.randn(1, 4, 3, 3)
    q, _, info = vq(z)
    codes = vq.codebook()[info["indices"].reshape(-1)]
    assert torch.allclose(q.permute(0, 2, 3, 1).reshape(-1, 4), codes)
    dists = torch.cdist(z.permute(0, 2, 3, 1).reshape(-1, 4), vq.codebook())
    assert torch.equal(dists.argmin(1), info["indices"].reshape(-1))


def test_ema_update_moves_codes_toward_their_vectors():
    torch.manual_seed(0)
    vq = VectorQuantizer(4, 2, ema=True, decay=0.5, kmeans_init=False, dead_code_usage=0.0)
    vq.embed.copy_(torch.tensor([[0.0, 0.0], [10.0, 10.0], [-10.0, 10.0], [10.0, -10.0]]))
    vq.embed_avg.copy_(vq.embed * 1.0)
    vq.cluster_size.fill_(1.0)
    z = torch.tensor([[1.0, 1.0]] * 4).reshape(1, 4, 2).permute(0, 2, 1).reshape(1, 2, 2, 2)
    vq.train()(z)
    # code 0 got 4 vectors at (1, 1): cluster 0.5*1 + 0.5*4 = 2.5, avg 0.5*0 + 0.5*(4, 4)
    assert math.isclose(float(vq.cluster_size[0]), 2.5)
    n = float(vq.cluster_size.sum())
    smoothed = (2.5 + vq.eps) / (n + 4 * vq.eps) * n
    assert torch.allclose(vq.embed[0], torch.tensor([2.0, 2.0]) / smoothed, atol=1e-5)
    assert torch.allclose(
        vq.embed[1], torch.tensor([5.0, 5.0]) / ((0.5 + vq.eps) / (n + 4 * vq.eps) * n)
    )


def test_dead_codes_are_revived_from_the_batch():
    torch.manual_seed(0)
    # 32 vectors, 16 codes: an even share is 2; a quarter of it, 0.5, is the threshold
    vq = VectorQuantizer(16, 3, ema=True, decay=0.5, kmeans_init=False, dead_code_usage=0.25)
    vq.cluster_size.fill_(0.6)  # unused codes decay to 0.3: below the threshold
    vq.embed.copy_(torch.randn(16, 3) * 100)  # all far away: one code wins everything
    z = torch.randn(2, 3, 4, 4)
    _, _, info = vq.train()(z)
    vectors = z.permute(0, 2, 3, 1).reshape(-1, 3)
    assert int(info["dead_codes"]) > 0
    revived = [e for e in vq.embed if (vectors - e).abs().sum(1).min() < 1e-6]
    assert len(revived) >= int(info["dead_codes"])
    assert float(vq.cluster_size.min()) >= 0.5  # their EMA statistics were reset too


def test_kmeans_init_on_first_batch_only():
    torch.manual_seed(0)
    vq = VectorQuantizer(4, 2, ema=True, kmeans_init=True, dead_code_usage=0.0)
    centres = torch.tensor([[5.0, 5.0], [-5.0, 5.0], [5.0, -5.0], [-5.0, -5.0]])
    pts = (centres.repeat(64, 1) + 0.01 * torch.randn(256, 2)).T.reshape(1, 2, 16, 16)
    assert not bool(vq.initted)
    vq.train()(pts)
    assert bool(vq.initted)
    found = sorted(map(tuple, vq.embed.round().tolist()))
    assert found == sorted(map(tuple, centres.tolist()))


def test_quantizer_is_fp32_under_bf16_autocast():
    vq = VectorQuantizer(8, 4, kmeans_init=False)
    z = torch.randn(1, 4, 2, 2).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        q, loss, info = vq(z)
    assert loss.dtype == torch.float32 and info["perplexity"].dtype == torch.float32
    assert q.dtype == torch.bfloat16  # handed back in the caller's dtype


def _worker(rank: int, port: int, out: dict):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(100 + rank)  # each rank sees different data
    # 64 vectors over both ranks, 16 codes: even share 4, revived below 2
    vq = VectorQuantizer(16, 4, ema=True, kmeans_init=True, dead_code_usage=0.5).train()
    ppl = []
    for _ in range(5):
        _, _, info = vq(torch.randn(2, 4, 4, 4) * (1 + rank))
        ppl.append(float(info["perplexity"]))
    out[rank] = (vq.embed.clone(), vq.cluster_size.clone(), ppl)
    dist.destroy_process_group()


def test_codebooks_agree_across_ranks():
    """Real gloo process group, two ranks with different data: k-means, EMA, revival and
    perplexity are all-reduced, so both ranks end with the same codebook and numbers."""
    out = mp.Manager().dict()
    mp.spawn(_worker, args=(free_port(), out), nprocs=2, join=True)
    (e0, c0, p0), (e1, c1, p1) = out[0], out[1]
    assert torch.equal(e0, e1) and torch.equal(c0, c1) and p0 == p1


def _revivals(z: torch.Tensor, steps: int = 4) -> tuple[list[int], torch.Tensor, torch.Tensor]:
    """(codes revived at each step, codebook, EMA usage) of a fresh seeded quantizer."""
    torch.manual_seed(7)
    vq = VectorQuantizer(16, 3, ema=True, decay=0.8, kmeans_init=False, dead_code_usage=0.3)
    vq.train()
    dead = [int(vq(z)[2]["dead_codes"]) for _ in range(steps)]
    return dead, vq.embed.clone(), vq.cluster_size.clone()


def _twice_the_batch(rank: int, port: int, out: dict):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    out[rank] = _revivals(torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1)))
    dist.destroy_process_group()


def test_revival_is_the_same_on_one_rank_or_two():
    """Two ranks with a copy of one rank's batch each: a global batch twice the size, every
    code's usage twice as large. Relative to the global batch, the same codes die and are
    revived, with the same vectors, as on one rank (an absolute threshold would not hold)."""
    one = _revivals(torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1)))
    out = mp.Manager().dict()
    mp.spawn(_twice_the_batch, args=(free_port(), out), nprocs=2, join=True)
    dead, embed, usage = out[0]
    assert sum(one[0]) > 0 and dead == one[0], (dead, one[0])
    torch.testing.assert_close(embed, one[1], rtol=1e-2, atol=1e-4)  # but for EMA eps smoothing
    assert torch.allclose(usage, 2 * one[2], rtol=1e-5)


def _two_regions(rank: int, port: int, out: dict):
    """Rank 0's vectors sit around (-10, 0), rank 1's around (+10, 0), with a batch half as
    large on rank 1 (uneven shares must still gather equal-sized samples)."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(rank)  # the global RNG differs by rank; the init must not depend on it
    g = torch.Generator().manual_seed(10 + rank)
    n = 128 if rank == 0 else 64
    x = torch.randn(n, 2, generator=g) + torch.tensor([20.0 * rank - 10.0, 0.0])
    vq = VectorQuantizer(16, 2, ema=True, kmeans_init=True, dead_code_usage=0.0).train()
    _, _, info = vq(x.T.reshape(1, 2, n, 1))
    out[rank] = (vq.embed.clone(), vq.cluster_size.clone(), info["indices"].reshape(-1).clone())
    dist.destroy_process_group()


def test_kmeans_init_gathers_a_sample_from_every_rank():
    """k-means on a sample gathered from both ranks: the codebooks agree bit for bit, and the
    codes cover rank 1's region too. Started from rank 0's batch alone, all 16 codes begin
    around (-10, 0) and Lloyd's iterations drag only one or two across to rank 1's vectors."""
    out = mp.Manager().dict()
    mp.spawn(_two_regions, args=(free_port(), out), nprocs=2, join=True)
    (e0, c0, i0), (e1, c1, i1) = out[0], out[1]
    assert torch.equal(e0, e1) and torch.equal(c0, c1)
    right = (e0[:, 0] > 5).nonzero().reshape(-1)
    assert 4 <= len(right) <= 12, e0  # about half the codes: half the sample is rank 1's
    assert int(((e0[:, 0] > -5) & (e0[:, 0] < 5)).sum()) == 0  # none stranded in the gap
    assert set(i1.tolist()) <= set(right.tolist()) and len(set(i1.tolist())) >= 4
    assert not set(i0.tolist()) & set(right.tolist())
    assert math.isclose(float(c0.sum()), 128 + 64, rel_tol=1e-5)  # both whole batches counted


def test_kmeans_init_does_not_depend_on_the_global_rng():
    """The sample and the initial centroids come from seeded generators of their own: two
    quantizers built and run after different global seeds end with the same codebook."""
    x = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(3))
    books = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        vq = VectorQuantizer(8, 3, ema=True, kmeans_init=True, dead_code_usage=0.0).train()
        vq(x)
        books.append(vq.embed.clone())
    assert torch.equal(books[0], books[1])
