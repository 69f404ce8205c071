"""Collectives that are no-ops outside a multi-rank job: the one place that asks whether
torch.distributed is up. Every stage that reduces over ranks (the codebook, validation, the
stop protocol, checkpoints) calls these instead of asking for itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch
import torch.distributed as dist

from .errors import UsageError

T = TypeVar("T")


def is_distributed() -> bool:
    """A process group with more than one rank is up."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def all_reduce_(t: torch.Tensor, op: str = "sum") -> torch.Tensor:
    """Reduce ``t`` over ranks in place (``sum``, ``max``, ``min`` or ``mean``)."""
    if is_distributed():
        ops = {"sum": dist.ReduceOp.SUM, "max": dist.ReduceOp.MAX, "min": dist.ReduceOp.MIN}
        dist.all_reduce(t, op=ops["sum" if op == "mean" else op])
        if op == "mean":
            t /= dist.get_world_size()
    return t


def all_gather(t: torch.Tensor) -> torch.Tensor:
    """Every rank's ``t`` concatenated along dim 0 in rank order, the same on every rank; ``t``
    itself outside a multi-rank job. Every rank must pass the same shape (gloo and NCCL gather
    equal-sized tensors)."""
    if not is_distributed():
        return t
    parts = [torch.empty_like(t) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def broadcast_(t: torch.Tensor, src: int = 0) -> torch.Tensor:
    """Rank ``src``'s ``t`` on every rank, in place."""
    if is_distributed():
        dist.broadcast(t, src=src)
    return t


def broadcast_object(obj, src: int = 0):
    """Rank ``src``'s picklable ``obj`` on every rank."""
    if not is_distributed():
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def decided_by_rank_0(decide: Callable[[], T]) -> T:
    """``decide()`` run by rank 0 alone, and its result, or its refusal (a UsageError), on
    every rank: what looks at every scan of a range is done once per job, not once per rank."""
    result, error = None, None
    if rank() == 0:
        try:
            result = decide()
        except UsageError as err:
            error = str(err)
    result, error = broadcast_object((result, error))
    if error:
        raise UsageError(error)
    return result


def leave() -> None:
    """Every rank leaves together and closes the group. A gloo group left to the interpreter's
    exit can abort a rank that exits first ('terminate called without an active exception',
    SIGABRT), and a launcher may kill the others at the first exit."""
    if dist.is_available() and dist.is_initialized():
        barrier()
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def any_rank(flag: bool, device: str | torch.device = "cpu") -> bool:
    """True on every rank iff ``flag`` is true on any rank (a stop request reaches all)."""
    if not is_distributed():  # no tensor, so no device round trip on a single GPU
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    return bool(all_reduce_(t, "max").item() > 0)
