"""Times `hoist data load` against cp -a and rsync --link-dest; bytes written
come from the kernel's per-process block-output counter (rusage ru_oublock),
so a hard link counts as nothing and a copied file as its size."""
import json, os, random, shutil, subprocess, sys, tempfile
import common
from common import run, settle

hoist, files, total_mb = os.path.abspath(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
work = tempfile.mkdtemp(prefix="hoist-data-bench-", dir=os.environ.get("BENCH_DIR", "/var/tmp"))
src = os.path.join(work, "src")
site = os.path.join(work, "site")


def make_tree():
    size = total_mb * 1_000_000 // files
    for index in range(files):
        path = os.path.join(src, f"part{index // 100:02}", f"chunk{index:05}.bin")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(os.urandom(size))


def change_one_percent():
    rng = random.Random(11)
    size = total_mb * 1_000_000 // files
    for index in rng.sample(range(files), max(1, files // 100)):
        path = os.path.join(src, f"part{index // 100:02}", f"chunk{index:05}.bin")
        with open(path, "wb") as out:
            out.write(os.urandom(size))


def main():
    os.makedirs(os.path.join(site, "releases"))
    make_tree()
    settle()
    rows = []
    first = run([hoist, "--root", site, "data", "load", "--json", "-q", src])
    report1 = json.loads(common.last_stdout)
    settle()
    cp1 = run(["cp", "-a", src, os.path.join(work, "cp1")])
    settle()
    cp1s = run(["sh", "-c", f"cp -a {src} {work}/cp1s && sync -f {work}/cp1s"])
    settle()
    rs1 = run(["rsync", "-a", src + "/", os.path.join(work, "rs1") + "/"])
    settle()
    change_one_percent()
    settle()
    second = run([hoist, "--root", site, "data", "load", "--json", "-q", src])
    report2 = json.loads(common.last_stdout)
    settle()
    cp2 = run(["cp", "-a", src, os.path.join(work, "cp2")])
    settle()
    rs2 = run(["rsync", "-a", "--link-dest", os.path.join(work, "rs1"), src + "/", os.path.join(work, "rs2") + "/"])
    settle()
    roll = run([hoist, "--root", site, "data", "roll", "-q"])

    mb = lambda b: f"{b / 1e6:10.1f} MB"
    print(f"data set: {files} files, {total_mb} MB; then {max(1, files // 100)} files (1%) changed")
    print(f"{'contender':44} {'time':>9} {'written':>13}")
    for name, (t, b) in [
        ("hoist data load (first, verified, synced)", first),
        ("cp -a (full copy, not synced)", cp1),
        ("cp -a + sync", cp1s),
        ("rsync -a (fresh)", rs1),
        ("hoist data load (1% changed)", second),
        ("cp -a (full copy again)", cp2),
        ("rsync -a --link-dest (1% changed)", rs2),
        ("hoist data roll", roll),
    ]:
        print(f"{name:44} {t:8.2f}s {mb(b)}")
    print()
    print(f"first load:  {first[0] / cp1s[0]:.2f}x the time of cp -a + sync, {first[1] / max(cp1s[1], 1):.2f}x its bytes")
    print(f"second load: {second[0] / cp2[0]:.2f}x the time of a full cp -a, {second[1] / max(cp2[1], 1) * 100:.2f}% of its bytes;"
          f" {second[0] / first[0] * 100:.0f}% of hoist's first load")
    print(f"second load vs rsync --link-dest: {second[0] / rs2[0]:.2f}x time, {second[1] / max(rs2[1], 1):.2f}x bytes")
    print(f"hoist says: written {report2['bytes_written'] / 1e6:.1f} MB in {report2['files_written']} files,"
          f" linked {report2['files_linked']} files (first load wrote {report1['bytes_written'] / 1e6:.1f} MB)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
