"""A local PostgreSQL server (Debian's postgresql package) for tests, bench scripts and the demo.

`PostgresServer` creates a cluster with `initdb` on first start and runs `postgres -D DIR` with
its own config: one TCP listener on a free loopback port, no Unix socket, password (SCRAM)
authentication for the superuser `rv`, durability as in production (fsync and synchronous
commit on), and the log on stderr, appended to the work directory's `postgres.log`. Ready means
`pg_isready` answers on that port and our process holds the listening socket.

initdb and postgres refuse to run as root (CI runs as root). As root, both run as an
unprivileged user (`postgres`, which Debian's package creates, unless `run_as` says otherwise)
through Popen's `user=`, so no `runuser`/`su` process stands between us and the postmaster: it
still gets SIGKILL when we die (stack.process). That user cannot enter pytest's private temp
directories, so then the cluster lives in a private directory of its own under the system's
temp directory, linked from the work directory as `pgdata`; `remove_data()` deletes it.

    with PostgresServer(workdir) as pg:
        pg.create_database("registry")
        url = pg.url("registry")   # postgresql://rv:...@127.0.0.1:PORT/registry
        pg.kill(); pg.start()      # a crash and a restart: committed rows are still there
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from stack.errors import PostgresError, StackError
from stack.ports import LOOPBACK_HOST, free_port
from stack.process import DEFAULT_STOP_GRACE_S
from stack.server import LocalServer

__all__ = ["DEFAULT_POSTGRES_USER", "SUPERUSER", "PostgresServer", "postgres_bindir"]

#: The account initdb/postgres run as when we are root (created by Debian's postgresql package).
DEFAULT_POSTGRES_USER = "postgres"
#: The cluster's superuser role, reached with a password over TCP.
SUPERUSER = "rv"

_DEBIAN_VERSIONS_DIR = Path("/usr/lib/postgresql")
_ISREADY_TIMEOUT_S = 2
_SQL_TIMEOUT_S = 60.0
_CONFIG_FILE = "retrofit-stack.conf"

# Only settings that differ from PostgreSQL's defaults, or that the harness must pin. Written on
# every start, so a restart after choosing new ports listens on the new one.
_CONFIG_TEMPLATE = """\
# Written by stack.postgres for a local test server; not a production config.
listen_addresses = '{host}'
port = {port}
unix_socket_directories = ''   # TCP only: nothing outside this directory is touched
max_connections = 100
shared_buffers = 32MB
password_encryption = scram-sha-256
# Durability as in production, stated: a SIGKILLed server keeps every commit it acknowledged.
fsync = on
synchronous_commit = on
full_page_writes = on
# Logs to stderr, which stack.process appends to postgres.log.
logging_collector = off
log_destination = 'stderr'
log_line_prefix = '%m [%p] '
log_timezone = 'UTC'
timezone = 'UTC'
datestyle = 'iso, ymd'
lc_messages = 'C'
"""


def postgres_bindir() -> Path:
    """Directory of Debian's PostgreSQL server binaries (the newest installed major version).

    Raises StackError naming the package when none is installed.
    """
    versions: list[tuple[int, Path]] = []
    if _DEBIAN_VERSIONS_DIR.is_dir():
        for entry in _DEBIAN_VERSIONS_DIR.iterdir():
            if entry.name.isdigit() and (entry / "bin" / "postgres").is_file():
                versions.append((int(entry.name), entry / "bin"))
    if not versions:
        raise StackError(
            f"postgres: no server binaries under {_DEBIAN_VERSIONS_DIR}/<version>/bin; "
            "install Debian's postgresql package"
        )
    return max(versions)[1]


class PostgresServer(LocalServer):
    """A PostgreSQL cluster on a loopback port, its config and log under `workdir`."""

    name = "postgres"

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        bindir: Path | None = None,
        run_as: str | None = None,
        startup_timeout_s: float = 60.0,
        stop_grace_s: float = DEFAULT_STOP_GRACE_S,
    ) -> None:
        super().__init__(
            workdir,
            ports_chosen_by_caller=port is not None,
            startup_timeout_s=startup_timeout_s,
            stop_grace_s=stop_grace_s,
        )
        self._port = port if port is not None else free_port()
        self._bindir = bindir
        self._account = _account_for(run_as)
        self.password = secrets.token_urlsafe(18)
        self.data_dir = self.workdir / "pgdata"

    @property
    def port(self) -> int:
        """TCP port on `host`."""
        return self._port

    @property
    def run_as(self) -> str | None:
        """The account the server runs as; None when it runs as we do."""
        return self._account.pw_name if self._account is not None else None

    @property
    def log_path(self) -> Path:
        """postgres's log (stderr, appended to this file)."""
        return self.workdir / "postgres.log"

    @property
    def bindir(self) -> Path:
        """Directory of initdb, postgres, pg_isready and psql."""
        if self._bindir is None:
            self._bindir = postgres_bindir()
        return self._bindir

    def url(self, database: str = "postgres") -> str:
        """libpq URL of `database` as the superuser, password included."""
        return f"postgresql://{SUPERUSER}:{self.password}@{self.host}:{self._port}/{database}"

    def create_database(self, name: str) -> None:
        """CREATE DATABASE `name`. Raises PostgresError if it exists or the server refuses."""
        quoted = '"' + name.replace('"', '""') + '"'
        self.sql(f"CREATE DATABASE {quoted}")

    def sql(self, statements: str, database: str = "postgres") -> list[list[str]]:
        """Run SQL through psql and return the result rows as lists of text fields.

        For tests and checks, not for the collector (whose registry has its own client). Raises
        PostgresError with psql's message when any statement fails (ON_ERROR_STOP).
        """
        argv = [str(self.bindir / "psql"), "-X", "-q", "-A", "-t", "-F", "\x1f"]
        argv += ["-v", "ON_ERROR_STOP=1", "-c", statements, self.url(database)]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=_SQL_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            raise PostgresError(statements, done.stderr)
        return [line.split("\x1f") for line in done.stdout.splitlines() if line]

    def stop(self, grace_s: float | None = None) -> None:
        """Fast shutdown (SIGINT to the postmaster: roll back sessions, checkpoint, exit), then
        the harness's SIGTERM/SIGKILL of the whole group if it is still there after `grace_s`.

        Why not SIGTERM first: to the postmaster it is a *smart* shutdown, which waits for every
        client to disconnect, and to the group it would reach the auxiliary processes too.
        """
        pid = self.pid
        if self.is_running and pid is not None:
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + (self.stop_grace_s if grace_s is None else grace_s)
            while self.is_running and time.monotonic() < deadline:
                time.sleep(0.05)
        super().stop(grace_s)

    def remove_data(self) -> None:
        """Stop the server and delete the cluster (also when it lives outside `workdir`)."""
        self.stop()
        if self.data_dir.is_symlink():  # the account's private directory, made by _initdb
            shutil.rmtree(self.data_dir.resolve().parent, ignore_errors=True)
            self.data_dir.unlink()
        else:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # -- LocalServer ---------------------------------------------------------------------------

    def _argv(self) -> list[str]:
        # Resolved: the unprivileged account may not enter the work directory the link is in.
        cluster = self.data_dir.resolve()
        config = f"config_file={cluster / _CONFIG_FILE}"
        return [str(self.bindir / "postgres"), "-D", str(cluster), "-c", config]

    def _cwd(self) -> Path:
        return self.data_dir.resolve()

    def _env(self) -> dict[str, str]:
        # libpq and the server read PG* variables (PGPORT, PGDATA, ...): none of ours may leak in.
        env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
        env["LC_ALL"] = "C"
        if self._account is not None:
            env["HOME"] = self._account.pw_dir
            env["USER"] = env["LOGNAME"] = self._account.pw_name
        return env

    def _write_config(self) -> None:
        if not (self.data_dir / "PG_VERSION").is_file():
            self._initdb()
        config = self.data_dir.resolve() / _CONFIG_FILE
        config.write_text(_CONFIG_TEMPLATE.format(host=self.host, port=self._port))
        self._give_to_account(config)
        # postgres also reads the hba and ident files next to its config_file by default: point
        # it at initdb's own, which stay in the data directory.
        hba = self.data_dir.resolve() / "pg_hba.conf"
        ident = self.data_dir.resolve() / "pg_ident.conf"
        with config.open("a") as handle:
            handle.write(f"hba_file = '{hba}'\nident_file = '{ident}'\n")
        if self.host != LOOPBACK_HOST:
            self._allow_same_network(hba)

    def _allow_same_network(self, hba: Path) -> None:
        """Let clients on the server's own subnets in with the password (initdb's rules name
        only loopback): a server on a namespace host (stack.netns) is reached over its veth."""
        rule = "host all all samenet scram-sha-256"
        if rule not in hba.read_text().splitlines():
            with hba.open("a") as handle:
                handle.write(f"# stack.postgres: clients on this host's networks\n{rule}\n")

    def _is_ready(self) -> bool:
        if not self._process.listening_on(self.host, self._port):
            return False
        argv = [str(self.bindir / "pg_isready"), "-q", "-h", self.host, "-p", str(self._port)]
        argv += ["-t", str(_ISREADY_TIMEOUT_S)]
        done = subprocess.run(argv, capture_output=True, check=False, env=self._env())
        return done.returncode == 0

    def _choose_new_ports(self) -> None:
        self._port = free_port()

    # -- the cluster ---------------------------------------------------------------------------

    def _initdb(self) -> None:
        """Create the cluster (as the unprivileged account when we are root)."""
        cluster = self._make_cluster_dir()
        pwfile = cluster.parent / "initdb-password"
        pwfile.write_text(self.password + "\n")
        self._give_to_account(pwfile)
        argv = [str(self.bindir / "initdb"), "-D", str(cluster), "-U", SUPERUSER]
        argv += [f"--pwfile={pwfile}", "-E", "UTF8", "--no-locale", "--no-instructions"]
        # Passwords over TCP; the local (socket) rule is moot with unix_socket_directories = ''.
        argv += ["--auth-host=scram-sha-256", "--auth-local=peer"]
        # Only initdb's own files skip fsync (a crash during setup loses a test, not data).
        argv += ["--no-sync"]
        try:
            uid, gid = self._credentials() or (None, None)
            done = subprocess.run(
                argv,
                capture_output=True,
                text=True,
                check=False,
                env=self._env(),
                user=uid,
                group=gid,
                extra_groups=[] if uid is not None else None,
            )
        finally:
            pwfile.unlink(missing_ok=True)
        with self.log_path.open("a") as log_file:
            log_file.write(f"=== stack: {' '.join(argv)} ===\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            raise StackError(f"postgres: initdb failed ({done.returncode}): {done.stderr.strip()}")

    def _make_cluster_dir(self) -> Path:
        """An empty directory the server's account owns, reachable as `self.data_dir`."""
        if self._account is None:
            self.data_dir.mkdir(mode=0o700, exist_ok=True)
            return self.data_dir
        # The account cannot enter our (often 0700) work directory: a private one of its own.
        home = Path(tempfile.mkdtemp(prefix="rv-postgres-"))
        self._give_to_account(home)
        cluster = home / "pgdata"
        cluster.mkdir(mode=0o700)
        self._give_to_account(cluster)
        if self.data_dir.is_symlink():
            self.data_dir.unlink()
        self.data_dir.symlink_to(cluster, target_is_directory=True)
        return cluster

    def _give_to_account(self, path: Path) -> None:
        if self._account is not None:
            os.chown(path, self._account.pw_uid, self._account.pw_gid)

    def _credentials(self) -> tuple[int, int] | None:
        if self._account is None:
            return None
        return (self._account.pw_uid, self._account.pw_gid)


def _account_for(run_as: str | None) -> pwd.struct_passwd | None:
    """The account to run as: `run_as`, else `postgres` when we are root, else ourselves."""
    if run_as is None and os.geteuid() != 0:
        return None
    name = run_as or DEFAULT_POSTGRES_USER
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        raise StackError(
            f"postgres: no account {name!r} to run the server as (initdb and postgres refuse "
            "root); install Debian's postgresql package, which creates it, or pass run_as"
        ) from None
    if account.pw_uid == 0:
        raise StackError(f"postgres: run_as {name!r} is root, which postgres refuses")
    return None if account.pw_uid == os.geteuid() else account
