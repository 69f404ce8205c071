"""What looks at every scan of a range is decided by rank 0 and broadcast: two real ranks
(torch.distributed, gloo on loopback), rank 1 never decides, and gets rank 0's answer or its
refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch.multiprocessing as mp

from hpc_vqvae.world import free_port

pytestmark = pytest.mark.slow


def _rank(rank: int, port: int, out: Path) -> None:
    import torch.distributed as dist

    from hpc_vqvae.distributed import decided_by_rank_0
    from hpc_vqvae.errors import UsageError

    dist.init_process_group("gloo", f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    calls: list[str] = []

    def decide() -> dict:
        calls.append("decide")
        return {"decided_by": rank}

    def refuse() -> dict:
        calls.append("refuse")
        raise UsageError(f"the range changes fixed grid (seen by rank {rank})")

    got = decided_by_rank_0(decide)
    try:
        decided_by_rank_0(refuse)
        refusal = None
    except UsageError as err:
        refusal = str(err)
    dist.destroy_process_group()
    (out / f"{rank}.json").write_text(json.dumps({"got": got, "refusal": refusal, "calls": calls}))


def test_rank_0_decides_and_the_other_rank_receives(tmp_path):
    mp.spawn(_rank, args=(free_port(), tmp_path), nprocs=2, join=True)
    zero, one = (json.loads((tmp_path / f"{r}.json").read_text()) for r in (0, 1))
    assert zero["calls"] == ["decide", "refuse"] and one["calls"] == []
    assert zero["got"] == one["got"] == {"decided_by": 0}
    assert zero["refusal"] == one["refusal"] == "the range changes fixed grid (seen by rank 0)"
