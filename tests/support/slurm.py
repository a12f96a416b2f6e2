"""A real single-node Slurm cluster for tests, built from Debian's packages.

Why a real one: orgsim's Slurm launcher preset goes through ``hydra-submitit-launcher``, which
talks to ``sbatch``/``squeue``/``sacct``. A mock would only prove that we call a mock; a real
``slurmctld`` + ``slurmd`` on localhost starts in a few seconds and catches the mistakes that
matter (relative sweep dirs, wrong python in the job, missing environment).

The recipe follows ``shared/notes/cluster.md``: there is no init system here, so every daemon is
started by hand, configured to keep *all* of its state, logs and pid files in one work folder,
and stopped by the pid in its pid file (never by name: other engineers' clusters may be running
on the same machine). Ports are picked free at start for the same reason.

Accounting (MariaDB + slurmdbd) is on by default: without it submitit cannot ask ``sacct`` for a
job's state, and a job that Slurm kills before it writes its result makes a sweep wait forever
instead of failing in seconds.

Usage::

    with SlurmCluster(Path("/tmp/w")) as cluster:
        subprocess.run(["sbatch", "--wait", "--wrap", "hostname"], env=cluster.env, check=True)

Needs root (``SlurmUser=root``), which CI and the development machines are.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

__all__ = ["SlurmCluster", "SlurmError", "is_available", "missing_binaries"]

#: Binaries for a cluster without accounting (packages slurmctld slurmd slurm-client munge).
CORE_BINARIES: tuple[str, ...] = (
    "slurmctld",
    "slurmd",
    "sbatch",
    "srun",
    "sinfo",
    "squeue",
    "scancel",
    "munged",
    "munge",
    "unmunge",
)
#: Extra binaries for accounting (packages slurmdbd mariadb-server).
ACCOUNTING_BINARIES: tuple[str, ...] = (
    "slurmdbd",
    "sacct",
    "sacctmgr",
    "mariadbd",
    "mariadb-install-db",
    "mariadb",
    "mariadb-admin",
)

MUNGE_PID_FILE = Path("/run/munge/munged.pid")


class SlurmError(RuntimeError):
    """The cluster could not be brought up (or down); the message carries the daemon logs."""


def _which(name: str) -> str | None:
    """Find a binary on PATH or in the sbin folders, which a non-login PATH may lack."""
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin:/usr/local/sbin")


def missing_binaries(accounting: bool = True) -> list[str]:
    """Names of the binaries that are not installed (empty when the cluster can start)."""
    names = CORE_BINARIES + (ACCOUNTING_BINARIES if accounting else ())
    return [name for name in names if _which(name) is None]


def is_available(accounting: bool = True) -> bool:
    """True when the Slurm (and, if asked, accounting) binaries are installed and we are root.

    Root is part of availability because the daemons run as ``SlurmUser=root``.
    """
    return not missing_binaries(accounting) and os.geteuid() == 0


def _free_port() -> int:
    """A TCP port that is free right now on 127.0.0.1 (so parallel clusters do not collide)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie counts as dead (PID 1 in a container may never reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state is the field right after the ")" that closes the command name.
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _read_pid(pid_file: Path) -> int | None:
    """The pid in ``pid_file``, or None when the file is missing or empty."""
    try:
        text = pid_file.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file, for error messages that explain themselves."""
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"--- {path}: (no log)"
    return f"--- {path} (last {lines} lines):\n" + "\n".join(content[-lines:])


def _wait_for(predicate: Callable[[], object], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``predicate()`` until it is truthy or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class SlurmCluster:
    """A single-node Slurm (``NodeName=localhost``, partition ``debug``) living in ``workdir``.

    While the context is active, ``SLURM_CONF`` points at ``workdir/etc/slurm.conf`` both in
    ``os.environ`` (so in-process callers such as submitit see it) and in :attr:`env` (a full
    environment to pass to child processes explicitly).
    """

    partition = "debug"
    node = "localhost"

    def __init__(
        self,
        workdir: Path | str,
        *,
        accounting: bool = True,
        cpus: int | None = None,
        start_timeout: float = 60.0,
        stop_munge: bool = False,
    ) -> None:
        self.workdir = Path(workdir).resolve()
        self.accounting = accounting
        self.cpus = cpus or os.cpu_count() or 1
        self.start_timeout = start_timeout
        # munged is one per machine and other clusters (another test session, a CI run) may be
        # using the one we started: by default it is left running, which costs nothing.
        self.stop_munge = stop_munge
        self.conf = self.workdir / "etc" / "slurm.conf"
        self.log_dir = self.workdir / "log"
        self.env: dict[str, str] = {}
        self._old_slurm_conf: str | None = None
        self._started_munge = False
        self._mariadb: subprocess.Popen[bytes] | None = None
        self._active = False

    # -- public API -------------------------------------------------------------------------

    def __enter__(self) -> SlurmCluster:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Bring the cluster up and wait until the node is idle; raise SlurmError otherwise."""
        missing = missing_binaries(self.accounting)
        if missing:
            raise SlurmError(f"Slurm binaries missing: {', '.join(missing)}")
        for sub in ("etc", "state", "spool", "log", "db"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self._write_config()
        self._old_slurm_conf = os.environ.get("SLURM_CONF")
        os.environ["SLURM_CONF"] = str(self.conf)
        self.env = {**os.environ, "SLURM_CONF": str(self.conf)}
        self._active = True
        try:
            self._start_munge()
            if self.accounting:
                self._start_mariadb()
                self._start_slurmdbd()
            self._run_daemon(["slurmctld", "-c"], self.workdir / "slurmctld.pid")
            self._run_daemon(["slurmd", "-N", self.node], self.workdir / "slurmd.pid")
            if not _wait_for(self._node_idle, self.start_timeout, 0.5):
                raise SlurmError(
                    f"Slurm node never became idle within {self.start_timeout:.0f}s "
                    f"(sinfo says {self._sinfo_state()!r})\n{self.logs()}"
                )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Cancel all jobs, wait for the queue to drain, then end each daemon by its pid file."""
        if not self._active:
            return
        try:
            if _read_pid(self.workdir / "slurmctld.pid") is not None:
                self._drain_queue()
            self._kill_pid_file(self.workdir / "slurmd.pid")
            self._kill_pid_file(self.workdir / "slurmctld.pid")
            self._kill_pid_file(self.workdir / "slurmdbd.pid")
            if self._mariadb is not None:
                self._mariadb.terminate()
                try:
                    self._mariadb.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    self._mariadb.kill()
                    self._mariadb.wait()
                self._mariadb = None
            if self._started_munge and self.stop_munge:
                self._kill_pid_file(MUNGE_PID_FILE)
                self._started_munge = False
        finally:
            if self._old_slurm_conf is None:
                os.environ.pop("SLURM_CONF", None)
            else:
                os.environ["SLURM_CONF"] = self._old_slurm_conf
            self._active = False

    def run(self, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        """Run a Slurm client command against this cluster; raise with its output on failure."""
        result = subprocess.run(
            list(args),
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        if result.returncode != 0:
            raise SlurmError(
                f"{' '.join(args)} exited {result.returncode}\n"
                f"stdout: {result.stdout}\nstderr: {result.stderr}"
            )
        return result

    def logs(self, lines: int = 25) -> str:
        """Tails of every daemon log in the work folder, for failure messages."""
        names = ["slurmctld.log", "slurmd.log"]
        if self.accounting:
            names += ["slurmdbd.log", "mariadb.log"]
        return "\n".join(_tail(self.log_dir / name, lines) for name in names)

    # -- configuration ----------------------------------------------------------------------

    def _write_config(self) -> None:
        """Write slurm.conf (and slurmdbd.conf) with every path inside the work folder."""
        w = self.workdir
        self.ctld_port, self.slurmd_port = _free_port(), _free_port()
        if self.accounting:
            self.dbd_port, self.db_port = _free_port(), _free_port()
            accounting = (
                "AccountingStorageType=accounting_storage/slurmdbd\n"
                "AccountingStorageHost=localhost\n"
                f"AccountingStoragePort={self.dbd_port}\n"
            )
        else:
            accounting = "AccountingStorageType=accounting_storage/none\n"
        self.conf.write_text(
            "ClusterName=ci\n"
            "SlurmctldHost=localhost\n"
            f"SlurmctldPort={self.ctld_port}\n"
            f"SlurmdPort={self.slurmd_port}\n"
            "SlurmUser=root\n"
            "SlurmdUser=root\n"
            "AuthType=auth/munge\n"
            "CredType=cred/munge\n"
            f"StateSaveLocation={w}/state\n"
            f"SlurmdSpoolDir={w}/spool\n"
            f"SlurmctldPidFile={w}/slurmctld.pid\n"
            f"SlurmdPidFile={w}/slurmd.pid\n"
            f"SlurmctldLogFile={self.log_dir}/slurmctld.log\n"
            f"SlurmdLogFile={self.log_dir}/slurmd.log\n"
            "SchedulerType=sched/backfill\n"
            "SelectType=select/cons_tres\n"
            "SelectTypeParameters=CR_Core\n"
            "ProctrackType=proctrack/linuxproc\n"
            "TaskPlugin=task/none\n"
            "JobAcctGatherType=jobacct_gather/none\n"
            f"{accounting}"
            "JobCompType=jobcomp/none\n"
            "MpiDefault=none\n"
            "MailProg=/bin/true\n"
            "ReturnToService=2\n"
            "KillWait=5\n"
            f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory=2000 "
            "State=UNKNOWN\n"
            f"PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE "
            "State=UP\n"
        )
        if self.accounting:
            self._db_password = secrets.token_hex(12)
            dbd_conf = self.conf.parent / "slurmdbd.conf"
            dbd_conf.write_text(
                "AuthType=auth/munge\n"
                "DbdHost=localhost\n"
                f"DbdPort={self.dbd_port}\n"
                "SlurmUser=root\n"
                f"PidFile={w}/slurmdbd.pid\n"
                f"LogFile={self.log_dir}/slurmdbd.log\n"
                "StorageType=accounting_storage/mysql\n"
                "StorageHost=127.0.0.1\n"
                f"StoragePort={self.db_port}\n"
                "StorageUser=slurm\n"
                f"StoragePass={self._db_password}\n"
                "StorageLoc=slurm_acct_db\n"
            )
            dbd_conf.chmod(0o600)  # slurmdbd refuses a readable config holding a password

    # -- daemons ----------------------------------------------------------------------------

    def _run_daemon(self, argv: list[str], pid_file: Path) -> None:
        """Start a self-daemonising Slurm daemon and wait for its pid file."""
        log = (self.log_dir / f"{argv[0]}.stdout").open("ab")
        with log:
            # Output to a file, not a pipe: a daemon holding our pipe would hang run().
            result = subprocess.run(
                argv, env=self.env, stdout=log, stderr=log, stdin=subprocess.DEVNULL, timeout=60
            )
        if result.returncode != 0:
            raise SlurmError(f"{argv[0]} exited {result.returncode}\n{self.logs()}")

        def started() -> bool:
            pid = _read_pid(pid_file)
            return pid is not None and _pid_alive(pid)

        if not _wait_for(started, 20):
            raise SlurmError(f"{argv[0]} wrote no live pid to {pid_file}\n{self.logs()}")

    def _start_munge(self) -> None:
        """Start munged unless a working one is there (it is shared by the whole machine)."""
        if self._munge_works():
            return
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            subprocess.run([_which("mungekey") or "mungekey", "--create"], check=True)
            shutil.chown(key, "munge", "munge")
        run_dir = MUNGE_PID_FILE.parent
        run_dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(run_dir, "munge", "munge")
        subprocess.run(
            ["runuser", "-u", "munge", "--", _which("munged") or "munged"],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
        self._started_munge = True
        if not _wait_for(self._munge_works, 10):
            raise SlurmError("munged started but `munge -n | unmunge` still fails")

    @staticmethod
    def _munge_works() -> bool:
        """True when a credential round-trips through the local munged."""
        try:
            cred = subprocess.run(
                ["munge", "-n"], capture_output=True, timeout=10, stdin=subprocess.DEVNULL
            )
            if cred.returncode != 0:
                return False
            check = subprocess.run(["unmunge"], input=cred.stdout, capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return False
        return check.returncode == 0

    def _start_mariadb(self) -> None:
        """A private MariaDB in the work folder, reachable on 127.0.0.1:<free port>."""
        db = self.workdir / "db"
        data, sock = db / "data", db / "mysqld.sock"
        self._db_socket = sock
        if not (data / "mysql").exists():
            # --no-defaults first: ignore /etc/mysql/*.cnf (system socket, log paths).
            result = subprocess.run(
                [
                    "mariadb-install-db",
                    "--no-defaults",
                    "--user=root",
                    f"--datadir={data}",
                    "--auth-root-authentication-method=socket",
                    "--skip-test-db",
                ],
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=120,
            )
            if result.returncode != 0:
                raise SlurmError(f"mariadb-install-db failed:\n{result.stdout}\n{result.stderr}")
        log = (self.log_dir / "mariadb.stdout").open("ab")
        with log:
            self._mariadb = subprocess.Popen(
                [
                    _which("mariadbd") or "mariadbd",
                    "--no-defaults",
                    "--user=root",
                    f"--datadir={data}",
                    f"--socket={sock}",
                    f"--port={self.db_port}",
                    "--bind-address=127.0.0.1",
                    "--skip-name-resolve",
                    f"--pid-file={db / 'mysqld.pid'}",
                    f"--log-error={self.log_dir / 'mariadb.log'}",
                    "--innodb-buffer-pool-size=64M",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a Ctrl-C in pytest must not kill it mid-write
            )

        def ready() -> bool:
            ping = subprocess.run(
                ["mariadb-admin", f"--socket={sock}", "ping"],
                capture_output=True,
                stdin=subprocess.DEVNULL,
            )
            return ping.returncode == 0

        if not _wait_for(ready, 60, 0.3):
            raise SlurmError(f"MariaDB did not answer within 60s\n{self.logs()}")
        pw = self._db_password
        sql = "".join(
            f"CREATE USER IF NOT EXISTS 'slurm'@'{host}' IDENTIFIED BY '{pw}';"
            f"GRANT ALL ON slurm_acct_db.* TO 'slurm'@'{host}';"
            for host in ("127.0.0.1", "localhost")
        )
        self.run("mariadb", f"--socket={sock}", "-e", sql)

    def _start_slurmdbd(self) -> None:
        """Start slurmdbd, wait for its port, and register the cluster before slurmctld comes."""
        self._run_daemon(["slurmdbd"], self.workdir / "slurmdbd.pid")

        def listening() -> bool:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(1)
                return sock.connect_ex(("127.0.0.1", self.dbd_port)) == 0

        if not _wait_for(listening, 30):
            raise SlurmError(f"slurmdbd is not listening on {self.dbd_port}\n{self.logs()}")
        self.run("sacctmgr", "-i", "add", "cluster", "ci")

    # -- state queries and teardown ---------------------------------------------------------

    def _sinfo_state(self) -> str:
        """The node's short state as sinfo prints it (or sinfo's error), for waiting and errors."""
        try:
            result = subprocess.run(
                ["sinfo", "-h", "-n", self.node, "-o", "%t"],
                env=self.env,
                capture_output=True,
                text=True,
                timeout=10,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired:
            return "(sinfo timed out)"
        lines = (result.stdout.strip() or result.stderr.strip()).splitlines()
        return lines[0] if lines else ""

    def _node_idle(self) -> bool:
        """Exactly ``idle``: ``idle*`` means slurmctld cannot reach slurmd yet."""
        return self._sinfo_state() == "idle"

    def _queue(self) -> list[str]:
        """Job ids in the queue (empty also when slurmctld does not answer any more)."""
        result = subprocess.run(
            ["squeue", "-h", "-o", "%i"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )
        return result.stdout.split() if result.returncode == 0 else []

    def _drain_queue(self, timeout: float = 60.0) -> None:
        """scancel every job and wait until squeue is empty.

        Killing slurmctld while a cancelled step still finishes leaves a slurmstepd retrying
        forever, so the daemons only go once the queue is empty.
        """
        jobs = self._queue()
        if jobs:
            subprocess.run(
                ["scancel", *jobs], env=self.env, capture_output=True, timeout=30, check=False
            )
        if not _wait_for(lambda: not self._queue(), timeout, 0.5):
            raise SlurmError(f"jobs still queued after {timeout:.0f}s: {self._queue()}")

    @staticmethod
    def _kill_pid_file(pid_file: Path, timeout: float = 30.0) -> None:
        """SIGTERM the pid in ``pid_file``, wait, SIGKILL if needed. Never kills by name."""
        pid = _read_pid(pid_file)
        if pid is None or not _pid_alive(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not _wait_for(lambda: not _pid_alive(pid), timeout):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            _wait_for(lambda: not _pid_alive(pid), 5)
