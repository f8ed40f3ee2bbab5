"""What every bench script shares: run a contender and count what it wrote."""
import os, subprocess, sys, time

last_stdout = b""


def run(args, cwd=None):
    """Runs a command; returns (seconds, bytes written) for it and its children.

    Bytes written come from the kernel's per-process block-output counter
    (rusage ru_oublock, 512-byte units): a hard link counts as nothing and a
    copied file as its size."""
    global last_stdout
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    last_stdout = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        sys.exit(f"{args} failed: {proc.stderr.read().decode()}")
    return seconds, usage.ru_oublock * 512


def settle():
    """Flushes dirty pages, so each contender starts without an earlier one's to write."""
    subprocess.run(["sync"], check=True)
