"""Times hoist deploys against tar -x and rsync; reports time and bytes written.

Bytes written come from the kernel's per-process block-output counter
(rusage ru_oublock, 512-byte units), which counts data dirtied by the
process, so a hard link counts as nothing and a copied file as its size.
"""
import os, random, shutil, subprocess, sys, tempfile
import common
from common import run, settle

hoist, files, total_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
hoist = os.path.abspath(hoist)
work = tempfile.mkdtemp(prefix="hoist-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
src = os.path.join(work, "src")




def make_tree():
    size = total_mb * 1_000_000 // files
    # Half random, half text-like: about 2:1 compressible, like code plus assets.
    words = b"deploy release rollback switch health ledger manifest artifact "
    for index in range(files):
        path = os.path.join(src, f"d{index // 100:03}", f"f{index:05}.dat")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        text = (words * (size // len(words) + 1))[: size - size // 2]
        with open(path, "wb") as out:
            out.write(os.urandom(size // 2) + text)
    with open(os.path.join(src, "hoist.toml"), "w") as out:
        out.write('[app]\nname = "bench"\nversion = "1"\n[deploy]\nkeep_releases = 5\n')


def build(version):
    toml = os.path.join(src, "hoist.toml")
    text = open(toml).read().replace(f'version = "{int(version) - 1}"', f'version = "{version}"')
    open(toml, "w").write(text)
    out = subprocess.run([hoist, "build", "--json", "-q"], cwd=src, check=True, capture_output=True, text=True).stdout
    import json
    return json.loads(out)["artifact"]


def main():
    make_tree()
    first = build(1)
    settle()
    results = []
    tar_dir = os.path.join(work, "tar")
    os.makedirs(tar_dir)
    results.append(("tar -x (zstd) of the artifact", *run(["tar", "-I", "zstd", "-xf", first, "-C", tar_dir])))
    settle()
    shutil.rmtree(tar_dir)
    os.makedirs(tar_dir)
    t, b = run(["sh", "-c", f"tar -I zstd -xf {first} -C {tar_dir} && sync -f {tar_dir}"])
    results.append(("tar -x + sync", t, b))
    settle()
    results.append(("rsync -a of the tree (fresh)", *run(["rsync", "-a", src + "/", os.path.join(work, "rsync") + "/"])))
    settle()
    site = os.path.join(work, "site")
    deploy_1 = run([hoist, "--root", site, "deploy", "-q", first], cwd=work)
    results.append(("hoist deploy (first)", *deploy_1))
    settle()

    rng = random.Random(7)
    for index in rng.sample(range(files), 10):
        path = os.path.join(src, f"d{index // 100:03}", f"f{index:05}.dat")
        with open(path, "r+b") as out:
            out.write(b"changed!")
    second = build(2)
    settle()
    results.append(("rsync -a of the tree (10 changed)", *run(["rsync", "-a", src + "/", os.path.join(work, "rsync") + "/"])))
    settle()
    deploy_2 = run([hoist, "--root", site, "deploy", "-q", "--json", second], cwd=work)
    import json
    report = json.loads(common.last_stdout)
    results.append(("hoist deploy (10 files changed)", *deploy_2))

    tar_time = results[0][1]
    print(f"\n{files} files, {total_mb} MB, artifact {os.path.getsize(first) / 1e6:.1f} MB, {os.cpu_count()} cores\n")
    print(f"{'method':<36} {'seconds':>8} {'MB written':>11} {'x tar -x':>9}")
    for name, seconds, written in results:
        print(f"{name:<36} {seconds:>8.3f} {written / 1e6:>11.1f} {seconds / tar_time:>9.2f}")
    print()
    print(f"first deploy / tar -x           = {deploy_1[0] / tar_time:.2f}  (target <= 1.30)")
    print(f"second deploy bytes / first     = {deploy_2[1] / max(deploy_1[1], 1) * 100:.2f}%  (target < 1%; all block writes:")
    print(f"    the release manifest, ledger, and link metadata for {report['files_linked']} hard links)")
    print(f"second deploy file data / first = {report['bytes_written'] / max(deploy_1[1], 1) * 100:.2f}%  "
          f"({report['files_written']} files written, {report['files_linked']} hard-linked)")
    print(f"second deploy time / first      = {deploy_2[0] / deploy_1[0] * 100:.1f}%  (target < 10%)")
    shutil.rmtree(work, ignore_errors=True)


main()
