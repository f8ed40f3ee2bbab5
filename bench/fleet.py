"""Times `hoist deploy --stage` to N simulated hosts against what Capistrano
or a hand-written loop does: for each host, scp the artifact (a .tar.gz of
the same tree), `ssh tar -x` into a new release dir, switch the `current`
symlink (`ln -sfn` + `mv -T`), restart. Reports wall time and bytes sent per
host, for a first deploy and a second one that changes 10 files.

Hosts are real sshd's (see fleet_hosts.py). The restart is `true` for both
contenders (hoist: each host's site.toml `[deploy] restart = "true"`), so
neither pays for an app. Builds (`hoist build`, `tar -czf`) are not timed.
"""
import json, os, random, shutil, statistics, subprocess, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor
from fleet_hosts import Fleet
from common import settle

FILES, TOTAL_BYTES, CHANGED = 2000, 40_000_000, 10
WORDS = "deploy release rollback switch health ledger manifest artifact stage fleet wave host".split()

hoist_src = os.path.abspath(sys.argv[1])
counts = [int(arg) for arg in sys.argv[2:]] or [1, 5, 20]
work = tempfile.mkdtemp(prefix="hoist-fleet-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
src = os.path.join(work, "src")
dist = os.path.join(work, "dist")
hoist = os.path.join(work, "hoist")
LOAD = os.getloadavg()
running = set()  # Popen objects not yet reaped: killed, by pid, on the way out


def spawn(args, **kwargs):
    """Runs `args` to its end (raising, with its stderr, if it fails);
    returns (seconds, stdout)."""
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    running.add(proc)
    lines = []

    def drain():
        lines.extend(raw.decode(errors="replace").rstrip() for raw in proc.stderr)

    reader = threading.Thread(target=drain)
    reader.start()
    out = proc.stdout.read()
    proc.wait()
    reader.join()
    running.discard(proc)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                           + "\n".join(lines) + out.decode(errors="replace"))
    return seconds, out


def kill_running():
    for proc in list(running):
        proc.kill()
        proc.wait()
        running.discard(proc)


def file_path(index):
    kind = "txt" if index % 5 == 0 else "bin"
    return os.path.join(src, f"d{index // 100:02}", f"f{index:04}.{kind}")


def content(index, generation):
    """Every 5th file is text (compressible), the rest random bytes; seeded
    by index and generation, so every run builds the same trees."""
    rng = random.Random(f"{index}-{generation}")
    size = TOTAL_BYTES // FILES
    if index % 5:
        return rng.randbytes(size)
    text = " ".join(rng.choices(WORDS, k=size // 5)).encode()
    return (text + b"\n" * size)[:size]


def changed():
    return random.Random(15).sample(range(FILES), CHANGED)


def write_tree(fleet):
    """The release tree (generation 0) and a hoist.toml naming `fleet`."""
    for index in range(FILES):
        os.makedirs(os.path.dirname(file_path(index)), exist_ok=True)
        with open(file_path(index), "wb") as out:
            out.write(content(index, 0))
    hosts = ", ".join(f'"{host.name}"' for host in fleet.hosts)
    with open(os.path.join(src, "hoist.toml"), "w") as out:
        out.write(f"""[app]
name = "bench"
version = "1.0.0"

[stages.bench]
hosts = [{hosts}]
root = "{fleet.stage_path('site')}"
hoist = "{fleet.stage_path('bin')}/hoist"
ssh_config = "{fleet.ssh_config}"
waves = ["100%"]
watch = "0s"
""")


def change_files():
    for index in changed():
        with open(file_path(index), "wb") as out:
            out.write(content(index, 1))


def build(name):
    """hoist's artifact and the baseline's .tar.gz of the same tree."""
    _, out = spawn([hoist, "build", "--json", "-q", "--out", dist], cwd=src)
    built = json.loads(out)
    tarball = os.path.join(dist, f"{name}.tar.gz")
    spawn(["tar", "-czf", tarball, "-C", src, "."])
    return built, tarball


def hoist_deploy(fleet, artifact):
    """`hoist deploy --stage bench --json`; returns (seconds, report, phases)."""
    start = time.time()
    seconds, out = spawn([hoist, "deploy", "--stage", "bench", "--json", artifact], cwd=src)
    return seconds, json.loads(out), phases(fleet, start, start + seconds)


def phases(fleet, start, end):
    """Where a deploy's time went, from when each step started on each host
    (the wrappers' calls.log): until the first host's version check (local
    checks, ssh connect); until every host is locked and has said what it
    runs (version, lock, status); ship and stage (until the first switch);
    waves (switch and health, to the end). Also the median host's version
    check (to its `fleet hold`) and shipping (from its `fleet need` to its
    stage step)."""
    steps = {"version": "fleet version", "hold": "fleet hold", "status": "status --fleet-op",
             "need": "fleet need", "stage": "--only-stage", "switch": "--reason"}
    per_host = []
    for host in fleet.hosts:
        seen = {}
        for line in open(os.path.join(host.dir, "bin", "calls.log")):
            at, call = line.split(" ", 1)
            if start <= float(at) <= end:
                for step, mark in steps.items():
                    if mark in call:
                        seen.setdefault(step, float(at))
        if len(seen) < len(steps):
            return None
        per_host.append(seen)
    connected = min(host["version"] for host in per_host)
    locked = max(host["status"] for host in per_host)
    switch = min(host["switch"] for host in per_host)
    return {"connect": connected - start, "lock": locked - connected, "ship_stage": switch - locked,
            "waves": end - switch, "check": statistics.median(host["hold"] - host["version"] for host in per_host),
            "ship": statistics.median(host["stage"] - host["need"] for host in per_host)}


def baseline(fleet, tarball, release, parallel):
    """Per host: scp the .tar.gz, then one ssh: extract into releases/ID,
    drop the upload, switch `current` atomically, restart (`true`). In
    parallel (all hosts at once, as Capistrano's default runner) or a loop."""
    cap = fleet.stage_path("cap")
    upload = f"{cap}/incoming-{release}.tar.gz"
    script = (f"set -e; mkdir -p {cap}/releases/{release}; tar -xzf {upload} -C {cap}/releases/{release}; "
              f"rm {upload}; ln -sfn {cap}/releases/{release} {cap}/current.new; "
              f"mv -T {cap}/current.new {cap}/current; true")

    def one(host):
        spawn(["scp", "-q", "-F", fleet.ssh_config, tarball, f"{host.name}:{upload}"])
        spawn(["ssh", "-F", fleet.ssh_config, host.name, script])

    start = time.perf_counter()
    if parallel:
        with ThreadPoolExecutor(max_workers=len(fleet.hosts)) as pool:
            list(pool.map(one, fleet.hosts))
    else:
        for host in fleet.hosts:
            one(host)
    return time.perf_counter() - start


def has_status_stage():
    _, out = spawn([hoist, "status", "--help"])
    return b"--stage" in out


def sent(report):
    """Bytes `hoist deploy --stage` sent each host (the most any host got)."""
    return max(host["shipped"]["bytes_sent"] for host in report["hosts"])


def check_switched(fleet, release, sub, link):
    """Every host's `current` points at the release: the deploy did deploy."""
    for host in fleet.hosts:
        target = os.readlink(os.path.join(host.dir, sub, link))
        if release not in target:
            raise RuntimeError(f"{host.name}: {sub}/{link} -> {target}, not {release}")


def install_hoist(fleet, host):
    """The host's hoist: a wrapper that notes when each step starts (bash's
    own clock: a bash start per step, no other process), then execs the one
    binary every host shares."""
    wrapper = os.path.join(host.dir, "bin", "hoist")
    with open(wrapper, "w") as out:
        out.write(f"""#!/bin/bash
printf '%s %s\\n' "$EPOCHREALTIME" "$*" >>{fleet.stage_path('bin')}/calls.log
exec {hoist} "$@"
""")
    os.chmod(wrapper, 0o755)


def run_fleet(count):
    fleet = Fleet(os.path.join(work, f"n{count}"), count)
    try:
        for host in fleet.hosts:
            install_hoist(fleet, host)
            with open(os.path.join(host.dir, "site", "site.toml"), "w") as out:
                out.write('[deploy]\nrestart = "true"\n')
        shutil.rmtree(src, ignore_errors=True)
        shutil.rmtree(dist, ignore_errors=True)
        write_tree(fleet)
        setup, _ = spawn([hoist, "setup", "--stage", "bench", "--json"], cwd=src)
        row = {"hosts": count, "setup": setup}
        built1, tar1 = build("r1")
        row["artifact"], row["tarball"] = os.path.getsize(built1["artifact"]), os.path.getsize(tar1)
        settle()
        row["hoist1"], report1, row["phases1"] = hoist_deploy(fleet, built1["artifact"])
        row["sent1"] = sent(report1)
        check_switched(fleet, built1["release"], "site", "current")
        settle()
        row["par1"] = baseline(fleet, tar1, "r1", parallel=True)
        check_switched(fleet, "r1", "cap", "current")
        settle()
        row["loop1"] = baseline(fleet, tar1, "r1b", parallel=False)
        change_files()
        built2, tar2 = build("r2")
        row["artifact2"], row["tarball2"] = os.path.getsize(built2["artifact"]), os.path.getsize(tar2)
        settle()
        row["hoist2"], report2, row["phases2"] = hoist_deploy(fleet, built2["artifact"])
        row["sent2"] = sent(report2)
        check_switched(fleet, built2["release"], "site", "current")
        settle()
        row["par2"] = baseline(fleet, tar2, "r2", parallel=True)
        settle()
        row["loop2"] = baseline(fleet, tar2, "r2b", parallel=False)
        check_switched(fleet, "r2b", "cap", "current")
        if has_status_stage():
            runs = [spawn([hoist, "status", "--stage", "bench", "--json"], cwd=src) for _ in range(3)]
            row["status"] = statistics.median(seconds for seconds, _ in runs)
            # A fast answer must also be a true one: every host on release 2.
            status = json.loads(runs[-1][1])
            if status["release"] != built2["release"] or status["mixed"] or status["drifting"]:
                row["status_wrong"] = f"release {status['release']}, drifting {status['drifting']}"
        return row
    finally:
        kill_running()
        fleet.stop()
        shutil.rmtree(fleet.work, ignore_errors=True)


def fmt_phases(phases):
    if not phases:
        return "n/a"
    return (f"{phases['connect']:.2f} / {phases['lock']:.2f} / {phases['ship_stage']:.2f} / {phases['waves']:.2f} "
            f"(version check {phases['check']:.2f}, ship {phases['ship']:.2f})")


def excl_waves(seconds, phases):
    return seconds - phases["waves"] if phases else None


def report(rows):
    mb = lambda b: f"{b / 1e6:.2f} MB"
    lines = [
        f"# Fleet benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"{FILES} files, {TOTAL_BYTES // 1_000_000} MB (4 in 5 random bytes, 1 in 5 text); second deploy changes "
        f"{CHANGED} files. hoist artifact {mb(rows[0]['artifact'])} (.tar.zst), baseline {mb(rows[0]['tarball'])} "
        f"(.tar.gz). {os.cpu_count()} cores, shared (load average {LOAD[0]:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end). Restart is `true` for every contender. "
        "Baseline per host: `scp` the .tar.gz, one `ssh` (tar -xzf into releases/ID, rm the upload, "
        "`ln -sfn` + `mv -T` of `current`, `true`); *parallel* runs every host at once (Capistrano's "
        "default runner), *loop* one host after another. Sent per host: hoist's `shipped.bytes_sent` from "
        "`--json` (manifest, stream and framing; the most any host got); the baseline's .tar.gz.",
        "",
        "| hosts | contender | 1st deploy s | 2nd deploy s | sent/host 1st | sent/host 2nd | 2nd sent / artifact |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        n = row["hosts"]
        lines.append(f"| {n} | hoist deploy --stage | {row['hoist1']:.2f} | {row['hoist2']:.2f} | {mb(row['sent1'])} | "
                     f"{mb(row['sent2'])} | {row['sent2'] / row['artifact2'] * 100:.2f}% |")
        for key, name in [("par", "baseline, parallel"), ("loop", "baseline, loop")]:
            lines.append(f"| {n} | {name} | {row[key + '1']:.2f} | {row[key + '2']:.2f} | {mb(row['tarball'])} | "
                         f"{mb(row['tarball2'])} | 100% |")
    lines += ["", "hoist's time by phase, seconds, from when each step started on each host: until the first host's "
              "version check (local checks, ssh connect) / until every host is locked and said what it runs "
              "(version, lock, status) / ship and stage "
              "(to the first switch) / waves (switch, health; `watch = \"0s\"`); and the median host's "
              "version check (`fleet version`, which hashes the host's hoist) and shipping time:", "",
              "| hosts | 1st deploy | 2nd deploy | `hoist setup --stage` s |", "|---:|---|---|---:|"]
    for row in rows:
        lines.append(f"| {row['hosts']} | {fmt_phases(row['phases1'])} | {fmt_phases(row['phases2'])} | "
                     f"{row['setup']:.2f} |")
    lines += ["", "Targets (issue 15):", ""]
    for row in rows:
        share = row["sent2"] / row["artifact2"] * 100
        lines.append(f"- N={row['hosts']}: second deploy sends {share:.2f}% of the artifact per host "
                     f"(target <= 2%): {'met' if share <= 2 else 'NOT met'}")
    by_n = {row["hosts"]: row for row in rows}
    if 20 in by_n:
        row = by_n[20]
        for which in ["1", "2"]:
            for key, name in [("par", "parallel"), ("loop", "loop")]:
                ratio = row["hoist" + which] / row[key + which]
                lines.append(f"- N=20, {'first' if which == '1' else 'second'} deploy: hoist / baseline ({name}) = "
                             f"{ratio:.2f} (target <= 0.5): {'met' if ratio <= 0.5 else 'NOT met'}")
    if 1 in by_n and 20 in by_n:
        one, twenty = by_n[1], by_n[20]
        ratio = twenty["hoist2"] / one["hoist2"]
        lines.append(f"- hoist second deploy, N=20 / N=1 = {ratio:.2f} with waves")
        a, b = excl_waves(twenty["hoist2"], twenty["phases2"]), excl_waves(one["hoist2"], one["phases2"])
        if a is not None and b is not None:
            lines.append(f"- hoist second deploy, N=20 / N=1 = {a / b:.2f} without waves ({a:.2f} s / {b:.2f} s; "
                         f"waves {twenty['phases2']['waves']:.2f} s / {one['phases2']['waves']:.2f} s) "
                         f"(target <= 4): {'met' if a / b <= 4 else 'NOT met'}")
    status = [row for row in rows if "status" in row]
    if not status:
        lines.append("- `hoist status --stage`: skipped, this hoist has no `status --stage`")
    for row in status:
        verdict = f": {'met' if row['status'] < 2 else 'NOT met'}" if row["hosts"] == 20 else ""
        lines.append(f"- `hoist status --stage bench --json` on {row['hosts']} hosts: {row['status']:.2f} s "
                     f"(median of 3; target < 2 s on 20){verdict}"
                     + (f"; but it said {row['status_wrong']}" if "status_wrong" in row else ""))
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    results = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(results, exist_ok=True)
    path = os.path.join(results, f"fleet-{time.strftime('%Y-%m-%d', time.gmtime())}.md")
    with open(path, "w") as out:
        out.write(text)
    print(f"written to {os.path.relpath(path)}")


def main():
    shutil.copy2(hoist_src, hoist)  # a rebuild meanwhile changes nothing here
    rows = []
    for count in counts:
        print(f"{count} host(s)...", file=sys.stderr, flush=True)
        rows.append(run_fleet(count))
    report(rows)


def leave(signum, _frame):
    sys.exit(128 + signum)


if __name__ == "__main__":
    import signal
    signal.signal(signal.SIGTERM, leave)
    signal.signal(signal.SIGHUP, leave)
    try:
        main()
    finally:
        kill_running()
        shutil.rmtree(work, ignore_errors=True)
