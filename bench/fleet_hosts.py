"""Simulated fleet hosts for bench/fleet.py, as the tests make them
(crates/cli/tests/util/fleet_host.rs and friends): one real sshd per host,
on its own 127.0.0.N and port, in its own private mount namespace where the
stage paths (<work>/stage/{site,bin,cap}) show that host's own
<work>/hosts/<name>/{site,bin,cap}. One client `ssh -F` config with a key
and known_hosts names them all. `stop()` kills, by pid, everything that
runs in each host's namespace, then the namespace's holder.
"""
import os, signal, socket, subprocess, sys, threading, time

STAGE_DIRS = ["site", "bin", "cap"]


def keygen(path):
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hoist-bench", "-f", path],
                   check=True, stdin=subprocess.DEVNULL)


def free_port(addr):
    with socket.socket() as sock:
        sock.bind((addr, 0))
        return sock.getsockname()[1]


def follow(stream, lines, wanted, seen):
    """Drains `stream` into `lines` (so the writer never blocks on a full
    pipe) and sets `seen` when a line contains `wanted`."""
    for raw in stream:
        line = raw.decode(errors="replace").rstrip()
        lines.append(line)
        if wanted in line:
            seen.set()
    seen.set()  # EOF: whoever waits looks at `lines` to see why


class KilledHolder(RuntimeError):
    """A namespace holder died of SIGKILL before it was ready."""


class Host:
    def __init__(self, work, name, addr, authorized):
        self.name, self.addr = name, addr
        self.dir = os.path.join(work, "hosts", name)
        self.stage = os.path.join(work, "stage")
        for sub in STAGE_DIRS:
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
            os.makedirs(os.path.join(self.stage, sub), exist_ok=True)
        self.port = free_port(addr)
        self.key = os.path.join(self.dir, "ssh_host_ed25519_key")
        keygen(self.key)
        config = os.path.join(self.dir, "sshd_config")
        with open(config, "w") as out:
            out.write(f"""ListenAddress {addr}:{self.port}
HostKey {self.key}
PidFile none
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AuthorizedKeysFile {authorized}
MaxSessions 64
MaxStartups 64
PrintMotd no
Subsystem sftp internal-sftp
""")
        self.holder = self.sshd = self.ns = None
        try:
            try:
                self._namespace()
            except KilledHolder as error:
                # Seen once with tests running beside: a mount namespace's
                # number is reused at once, and a cleanup that still kills
                # by the old number can hit a new holder. Once more.
                print(f"{error}; once more", file=sys.stderr)
                self._namespace()
            self._sshd(config)
        except BaseException:
            self.stop()
            raise

    def _sshd(self, config):
        """Starts sshd in the namespace and waits for "Server listening on"."""
        # sshd refuses to start without its privilege separation directory.
        os.makedirs("/run/sshd", exist_ok=True)
        self.sshd = subprocess.Popen(
            ["nsenter", "--target", str(self.holder.pid), "--mount", "--",
             "/usr/sbin/sshd", "-D", "-e", "-f", config],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.log = []
        listening = threading.Event()
        threading.Thread(target=follow, args=(self.sshd.stderr, self.log, "Server listening on", listening),
                         daemon=True).start()
        if not listening.wait(30) or not any("Server listening on" in line for line in self.log):
            raise RuntimeError(f"sshd of {self.name} did not start ({self.sshd.poll()}): " + "\n".join(self.log))

    def _namespace(self):
        """The holder: `unshare --mount --propagation private`, the binds,
        then "ready" and `cat` on a pipe we keep (its end ends it)."""
        script, args = "", []
        for index, sub in enumerate(STAGE_DIRS):
            script += f'mount --bind "${2 * index + 1}" "${2 * index + 2}" && '
            args += [os.path.join(self.dir, sub), os.path.join(self.stage, sub)]
        script += "echo ready && exec cat >/dev/null"
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *args],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.holder.stdout.readline().decode().strip()
        if line != "ready":
            self.holder.wait(10)
            error = KilledHolder if self.holder.returncode == -signal.SIGKILL else RuntimeError
            raise error(f"namespace of {self.name} did not come up (said {line!r}, exit "
                               f"{self.holder.returncode}): {self.holder.stderr.read().decode()}")
        self.ns = os.readlink(f"/proc/{self.holder.pid}/ns/mnt")

    def pids(self):
        """Live processes in this host's namespace (the holder among them)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if os.readlink(f"/proc/{entry}/ns/mnt") == self.ns:
                        found.append(int(entry))
                except OSError:
                    pass
        return found

    def known_hosts_line(self):
        kind, key = open(self.key + ".pub").read().split()[:2]
        return f"[{self.addr}]:{self.port} {kind} {key}\n"

    def stop(self):
        if self.sshd is not None and self.sshd.poll() is None:
            self.sshd.terminate()
            try:
                self.sshd.wait(10)
            except subprocess.TimeoutExpired:
                self.sshd.kill()
                self.sshd.wait()
        if self.holder is None:
            return
        # Sessions sshd left behind, and anything they started.
        deadline = time.monotonic() + 30
        while self.ns and time.monotonic() < deadline:
            rest = [pid for pid in self.pids() if pid != self.holder.pid]
            if not rest:
                break
            for pid in rest:
                try:
                    # Still in this namespace (not a reused pid)? Then kill it.
                    if os.readlink(f"/proc/{pid}/ns/mnt") == self.ns:
                        os.kill(pid, signal.SIGKILL)
                except (FileNotFoundError, ProcessLookupError):
                    pass
            for pid in rest:
                while time.monotonic() < deadline:
                    try:
                        if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z":
                            break
                    except FileNotFoundError:
                        break
                    time.sleep(0.01)  # a SIGKILLed process is gone within a tick
        if self.holder.poll() is None:
            self.holder.stdin.close()
            try:
                self.holder.wait(10)
            except subprocess.TimeoutExpired:
                self.holder.kill()
                self.holder.wait()


class Fleet:
    """`count` hosts under `work`, and the client config naming them."""

    def __init__(self, work, count):
        self.work, self.hosts = work, []
        os.makedirs(work, exist_ok=True)
        self.ssh_config = os.path.join(work, "ssh_config")
        self.known_hosts = os.path.join(work, "known_hosts")
        client_key = os.path.join(work, "client_key")
        keygen(client_key)
        authorized = os.path.join(work, "authorized_keys")
        with open(authorized, "w") as out:
            out.write(open(client_key + ".pub").read())
        try:
            for index in range(count):
                # 127.0.0.2 .. 127.0.0.21: one address per host.
                self.hosts.append(Host(work, f"web{index + 1:02}", f"127.0.0.{index + 2}", authorized))
        except BaseException:
            self.stop()
            raise
        with open(self.known_hosts, "w") as out:
            out.write("".join(host.known_hosts_line() for host in self.hosts))
        with open(self.ssh_config, "w") as out:
            for host in self.hosts:
                out.write(f"""Host {host.name}
  HostName {host.addr}
  Port {host.port}
  User root
  IdentityFile {client_key}
  IdentitiesOnly yes
  UserKnownHostsFile {self.known_hosts}
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  UpdateHostKeys no
  BatchMode yes
  ConnectTimeout 10
  LogLevel ERROR
""")

    def stage_path(self, sub):
        """`<work>/stage/<sub>`: the same path on every host, its own dir there."""
        return os.path.join(self.work, "stage", sub)

    def stop(self):
        for host in self.hosts:
            host.stop()
