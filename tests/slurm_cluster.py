"""A real two-node Slurm cluster on this machine, for the launch tests.

Debian's own packages: munge, MariaDB, slurmdbd (so that ``sacct``, which submitit polls, has
real accounting), slurmctld and two ``slurmd -N n1/n2`` on 127.0.0.1 posing as two nodes
(Slurm's build has MULTIPLE_SLURMD). Everything lives under one folder, on free ports, with
its own munge socket, so nothing of the host's is touched except two ``/etc/hosts`` names
(n1, n2), added when missing (or only lent by another test cluster's line) and removed again,
this cluster's own line only. Only processes started here are stopped, by their recorded PIDs.

    python -m tests.slurm_cluster up DIR     # prints the SLURM_CONF to export
    python -m tests.slurm_cluster down DIR

Needs root (to install missing packages and run the daemons as their own users would).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "slurmdbd", "munge", "mariadb-server")
DAEMONS = ("munged", "slurmctld", "slurmd", "slurmdbd", "mariadbd", "mariadb-install-db")
NODES = ("n1", "n2")
CLUSTER = "hpcvqvae"
HOSTS_MARK = "# hpc-vqvae test cluster"


class ClusterUnavailable(RuntimeError):
    """This machine cannot run the test cluster (the reason is the message)."""


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _run(*cmd: str, env: dict | None = None, timeout: float = 120) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    if proc.returncode != 0:
        raise ClusterUnavailable(f"{' '.join(cmd)} failed: {(proc.stderr or proc.stdout)[-800:]}")
    return proc.stdout


def _alive(pid: int) -> bool:
    """Running, not a zombie (PID 1 here reaps orphans late)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait(what: str, ok, timeout: float = 60, log: Path | None = None) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ok():
            return
        time.sleep(0.2)
    tail = log.read_text()[-1500:] if log and log.exists() else ""
    raise ClusterUnavailable(f"{what} not ready after {timeout:.0f} s\n{tail}")


def install_missing() -> None:
    """apt-get the Debian packages that are not there yet (~15 s)."""
    search = f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"  # daemons live in sbin
    missing = [d for d in DAEMONS if shutil.which(d, path=search) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        raise ClusterUnavailable(f"{', '.join(missing)} not installed and not root to install")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *PACKAGES]
    if subprocess.run(cmd, capture_output=True, env=env).returncode != 0:
        _run("apt-get", "update", "-q", env=env, timeout=300)
        _run(*cmd, env=env, timeout=600)


@dataclass
class SlurmCluster:
    root: Path
    host: str = field(default_factory=lambda: socket.gethostname().split(".")[0])
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        """The environment for client commands (sbatch, sacct, submitit)."""
        return dict(os.environ, SLURM_CONF=str(self.conf))

    # -- start ---------------------------------------------------------------------------
    def up(self) -> SlurmCluster:
        if os.geteuid() != 0:
            raise ClusterUnavailable("the test Slurm cluster needs root")
        install_missing()
        for d in ("etc", "log", "run", "state", "spool", "db"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        ports = dict(zip(("ctld", "dbd", "sql", *NODES), _free_ports(3 + len(NODES)), strict=True))
        self._hosts_add()
        self._munge()
        self._mariadb(ports["sql"])
        self._write_conf(ports)
        self._slurmdbd()
        self._register()
        self._slurmctld()
        for node in NODES:
            self._slurmd(node)
        _wait("nodes idle", self._idle, log=self.root / "log" / "slurmctld.log")
        (self.root / "pids").write_text(
            "".join(f"{name} {pid}\n" for name, pid in self.pids.items())
        )
        return self

    def _daemon(self, name: str, pidfile: Path, cmd: list[str], log: Path) -> None:
        """Start a self-daemonising program and record the PID it writes."""
        pidfile.unlink(missing_ok=True)
        proc = subprocess.run(cmd, capture_output=True, text=True, env=self.env, timeout=60)
        if proc.returncode != 0:
            tail = log.read_text()[-1500:] if log.exists() else ""
            raise ClusterUnavailable(f"{name} failed to start: {proc.stderr[-800:]}{tail}")
        _wait(f"{name} pid file", lambda: pidfile.exists() and pidfile.read_text().strip(), log=log)
        self.pids[name] = int(pidfile.read_text().split()[0])

    def _munge(self) -> None:
        key = self.root / "etc" / "munge.key"
        if not key.exists():
            key.write_bytes(os.urandom(1024))
        key.chmod(0o400)
        sock = self.root / "run" / "munge.socket"
        self._daemon(
            "munged",
            self.root / "run" / "munged.pid",
            [
                "munged",
                "--force",
                f"--key-file={key}",
                f"--socket={sock}",
                f"--pid-file={self.root / 'run' / 'munged.pid'}",
                f"--log-file={self.root / 'log' / 'munged.log'}",
                f"--seed-file={self.root / 'run' / 'munged.seed'}",
            ],
            self.root / "log" / "munged.log",
        )

    def _mariadb(self, port: int) -> None:
        data = self.root / "db"
        if not (data / "mysql").exists():
            _run(
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={data}",
                "--user=root",
                "--skip-test-db",
                "--auth-root-authentication-method=socket",
            )
        sock = self.root / "run" / "mariadb.sock"
        log = self.root / "log" / "mariadb.log"
        pidfile = self.root / "run" / "mariadb.pid"
        pidfile.unlink(missing_ok=True)
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [
                    "mariadbd",
                    "--no-defaults",
                    f"--datadir={data}",
                    f"--socket={sock}",
                    f"--port={port}",
                    "--bind-address=127.0.0.1",
                    f"--pid-file={pidfile}",
                    "--user=root",
                    "--skip-name-resolve",
                    "--innodb-buffer-pool-size=16M",
                    "--innodb-log-file-size=8M",
                ],
                stdout=out,
                stderr=out,
                start_new_session=True,
            )
        self.pids["mariadbd"] = proc.pid
        _wait("mariadb", lambda: sock.exists() and pidfile.exists(), log=log)
        _run(
            "mariadb",
            "--no-defaults",
            f"--socket={sock}",
            "-uroot",
            "-e",
            "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm';"
            "GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';",
        )

    def _write_conf(self, ports: dict[str, int]) -> None:
        r = self.root
        auth = f"AuthType=auth/munge\nAuthInfo=socket={r / 'run' / 'munge.socket'}\n"
        dbd = r / "etc" / "slurmdbd.conf"
        dbd.write_text(
            auth + f"DbdHost=localhost\nDbdPort={ports['dbd']}\nSlurmUser=root\n"
            f"PidFile={r / 'run' / 'slurmdbd.pid'}\nLogFile={r / 'log' / 'slurmdbd.log'}\n"
            "StorageType=accounting_storage/mysql\nStorageHost=127.0.0.1\n"
            f"StoragePort={ports['sql']}\nStorageUser=slurm\nStoragePass=slurm\n"
            "StorageLoc=slurm_acct_db\n"
        )
        dbd.chmod(0o600)
        nodes = "".join(
            f"NodeName={n} NodeHostname={self.host} NodeAddr=127.0.0.1 Port={ports[n]} "
            f"CPUs={os.cpu_count()} State=UNKNOWN\n"
            for n in NODES
        )
        self.conf.write_text(
            auth + f"ClusterName={CLUSTER}\nSlurmctldHost={self.host}(127.0.0.1)\n"
            f"SlurmctldPort={ports['ctld']}\nSlurmUser=root\nSlurmdUser=root\n"
            f"StateSaveLocation={r / 'state'}\nSlurmdSpoolDir={r / 'spool' / '%n'}\n"
            f"SlurmctldPidFile={r / 'run' / 'slurmctld.pid'}\n"
            f"SlurmdPidFile={r / 'run' / 'slurmd-%n.pid'}\n"
            f"SlurmctldLogFile={r / 'log' / 'slurmctld.log'}\n"
            f"SlurmdLogFile={r / 'log' / 'slurmd-%n.log'}\n"
            "ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
            "SelectType=select/cons_tres\nSelectTypeParameters=CR_CPU\n"
            "MpiDefault=none\nMailProg=/bin/true\nReturnToService=2\nJobRequeue=1\n"
            "SchedulerParameters=batch_sched_delay=0\nKillWait=30\nInactiveLimit=0\n"
            "JobAcctGatherType=jobacct_gather/none\n"
            f"AccountingStorageType=accounting_storage/slurmdbd\n"
            f"AccountingStorageHost=localhost\nAccountingStoragePort={ports['dbd']}\n"
            # the munge socket for slurmdbd connections (Slurm's "alternate munge" setting)
            f"AccountingStoragePass={r / 'run' / 'munge.socket'}\n"
            + nodes
            + f"PartitionName=debug Nodes={','.join(NODES)} Default=YES MaxTime=INFINITE "
            "State=UP\n"
        )

    def _slurmdbd(self) -> None:
        log = self.root / "log" / "slurmdbd.log"
        self._daemon("slurmdbd", self.root / "run" / "slurmdbd.pid", ["slurmdbd"], log)
        _wait("slurmdbd", lambda: self._sacctmgr_ok(), log=log)

    def _sacctmgr_ok(self) -> bool:
        cmd = ["sacctmgr", "-n", "show", "cluster"]
        return subprocess.run(cmd, capture_output=True, env=self.env).returncode == 0

    def _register(self) -> None:
        """The cluster, an account and this user, so that every job is accounted."""
        user = os.environ.get("USER") or "root"
        for args in (
            ("add", "cluster", CLUSTER),
            ("add", "account", "hpcvqvae", f"cluster={CLUSTER}"),
            ("add", "user", user, "account=hpcvqvae", f"cluster={CLUSTER}"),
        ):
            proc = subprocess.run(
                ["sacctmgr", "-i", *args], capture_output=True, text=True, env=self.env
            )
            if proc.returncode != 0 and "already exists" not in proc.stdout + proc.stderr:
                raise ClusterUnavailable(f"sacctmgr {' '.join(args)}: {proc.stderr[-500:]}")

    def _slurmctld(self) -> None:
        log = self.root / "log" / "slurmctld.log"
        self._daemon("slurmctld", self.root / "run" / "slurmctld.pid", ["slurmctld"], log)

    def _slurmd(self, node: str) -> None:
        log = self.root / "log" / f"slurmd-{node}.log"
        (self.root / "spool" / node).mkdir(exist_ok=True)
        pidfile = self.root / "run" / f"slurmd-{node}.pid"
        self._daemon(f"slurmd-{node}", pidfile, ["slurmd", "-N", node], log)

    def _idle(self) -> bool:
        proc = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%N %t"], capture_output=True, text=True, env=self.env
        )
        states = dict(line.split() for line in proc.stdout.splitlines() if line.strip())
        return proc.returncode == 0 and all(states.get(n) == "idle" for n in NODES)

    # -- /etc/hosts ------------------------------------------------------------------------
    @property
    def _hosts_mark(self) -> str:
        """This cluster's own mark: a second test cluster (another test run at the same time)
        adds and removes its own line, so that neither takes n1/n2 from the other's jobs."""
        return f"{HOSTS_MARK} {self.root}"

    def _hosts_add(self) -> None:
        """n1/n2 must resolve: jobs take MASTER_ADDR from ``scontrol show hostnames``."""
        lines = Path("/etc/hosts").read_text().splitlines()
        lent = {n for ln in lines if HOSTS_MARK in ln for n in ln.split("#")[0].split()[1:]}
        missing = []
        for n in NODES:
            try:
                socket.gethostbyname(n)
                if n in lent:  # by another test cluster's line: gone when that one stops
                    missing.append(n)
            except OSError:
                missing.append(n)
        if missing:
            with open("/etc/hosts", "a") as f:
                f.write(f"127.0.0.1 {' '.join(missing)} {self._hosts_mark}\n")

    def _hosts_remove(self) -> None:
        hosts = Path("/etc/hosts")
        lines = hosts.read_text().splitlines(keepends=True)
        kept = [line for line in lines if not line.rstrip().endswith(self._hosts_mark)]
        if kept != lines:
            hosts.write_text("".join(kept))

    # -- stop ------------------------------------------------------------------------------
    def down(self) -> None:
        """Stop what ``up`` started (recorded PIDs), controller first, database last."""
        pidfile = self.root / "pids"
        if pidfile.exists():
            recorded = dict(line.split() for line in pidfile.read_text().splitlines())
            self.pids = {**{k: int(v) for k, v in recorded.items()}, **self.pids}
        order = ["slurmctld", *(f"slurmd-{n}" for n in NODES), "slurmdbd", "mariadbd", "munged"]
        for name in order:
            pid = self.pids.pop(name, None)
            if pid is None or not _alive(pid):
                continue
            os.kill(pid, signal.SIGTERM)
            end = time.monotonic() + 20
            while _alive(pid) and time.monotonic() < end:
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        pidfile.unlink(missing_ok=True)
        self._hosts_remove()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.slurm_cluster", description=__doc__)
    p.add_argument("action", choices=("up", "down"))
    p.add_argument("root", type=Path)
    args = p.parse_args(argv)
    cluster = SlurmCluster(args.root.resolve())
    try:
        if args.action == "up":
            t0 = time.monotonic()
            cluster.up()
            print(f"export SLURM_CONF={cluster.conf}  # up in {time.monotonic() - t0:.1f} s")
        else:
            cluster.down()
    except ClusterUnavailable as err:
        print(f"error: {err}", file=sys.stderr)
        cluster.down()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
