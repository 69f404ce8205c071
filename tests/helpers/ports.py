"""Whose server answers on a port: under two pytest workers, another test's server (or a gloo
or torchrun socket) can take a port between ``free_port`` and a server's own bind, and a
health check alone would then be answered by someone else."""

from __future__ import annotations

import psutil


def listens(pid: int, port: int) -> bool:
    """True if a process of ``pid``'s tree listens on TCP ``port``."""
    try:
        top = psutil.Process(pid)
        tree = [top, *top.children(recursive=True)]
    except psutil.NoSuchProcess:
        return False
    for proc in tree:
        try:
            conns = proc.net_connections(kind="tcp")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if any(c.status == psutil.CONN_LISTEN and c.laddr.port == port for c in conns):
            return True
    return False
