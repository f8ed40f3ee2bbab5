"""The app's throughput and p99 during an expansion's backfill against the
same app with no migration running (issue 17's target: >= 0.8x throughput,
<= 2x p99). One site, one agent, one database of ROWS users; rounds take
turns: `quiet` measures the app alone, `backfill` starts `hoist deploy` of a
release whose `0002_add_email.toml` adds a NOT NULL column backfilled from
`name`, waits until `hoist db status` says the backfill runs, measures for
the same time, checks the backfill was still running at the end, then
`hoist rollback --with-db` puts the old shape back for the next round."""
import json, os, re, shutil, signal, socket, statistics, subprocess, sys, tempfile, time

hoist, rows, seconds, rounds = os.path.abspath(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
here = os.path.dirname(os.path.abspath(__file__))
app_py = os.path.join(here, "..", "crates/cli/tests/fixtures/schema_app/app.py")
work = tempfile.mkdtemp(prefix="hoist-expand-bench-")
src, site = os.path.join(work, "src"), os.path.join(work, "site")
children = []
CONNECTIONS, THREADS = 8, 2
# The backfill's host settings, when given (else hoist's defaults).
PACING = {key: os.environ[var] for key, var in (("backfill_pause", "HOIST_BENCH_BACKFILL_PAUSE"), ("backfill_batch", "HOIST_BENCH_BACKFILL_BATCH")) if os.environ.get(var)}


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def postgres_admin():
    """An admin url: the given server's, else a private one started here."""
    for var in ("HOIST_BENCH_POSTGRES", "HOIST_TEST_POSTGRES"):
        if os.environ.get(var):
            return os.environ[var]
    bins = sorted(d for d in os.listdir("/usr/lib/postgresql") if os.path.isdir(f"/usr/lib/postgresql/{d}/bin"))
    if not bins:
        sys.exit("PostgreSQL not found (/usr/lib/postgresql/*/bin): install postgresql")
    bin_dir, data, port = f"/usr/lib/postgresql/{bins[-1]}/bin", os.path.join(work, "pg"), free_port()
    # PostgreSQL refuses to run as root.
    run_as = ["runuser", "-u", "postgres", "--"] if os.getuid() == 0 else []
    os.makedirs(data)
    if run_as:
        shutil.chown(work, "postgres"), shutil.chown(data, "postgres")
    sh(*run_as, f"{bin_dir}/initdb", "-A", "trust", "-U", "postgres", "--no-sync", "-D", data)
    sh(*run_as, f"{bin_dir}/pg_ctl", "-w", "-s", "-l", os.path.join(data, "log"), "-D", data,
       "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {data}", "start")
    children.append(lambda: sh(*run_as, f"{bin_dir}/pg_ctl", "-s", "-m", "fast", "-D", data, "stop"))
    return f"postgres://postgres@127.0.0.1:{port}/postgres"


def psql(url, sql):
    return sh("psql", "-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", url, "-c", sql).strip()


def make_site(url, port):
    os.makedirs(os.path.join(src, "migrations"))
    os.makedirs(os.path.join(site, "shared"))
    env_file = os.path.join(site, "shared/app.env")
    open(env_file, "w").write(f"DATABASE_URL={url}\n")
    os.chmod(env_file, 0o600)
    shutil.copy(app_py, os.path.join(src, "app.py"))
    open(os.path.join(src, "migrations/0001_users.up.sql"), "w").write(
        "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);\n")
    open(os.path.join(src, "hoist.toml"), "w").write(f"""[app]
name = "users"
version = "1"
[deploy]
root = "../site"
keep_releases = 5
[process]
command = "gunicorn --workers 2 --bind 127.0.0.1:$PORT app:app"
health_path = "/health"
health_timeout = "60s"
drain_timeout = "10s"
env_file = "shared/app.env"
rollback_window = "10m"
[proxy]
listen = "127.0.0.1:{port}"
[database]
url = "$DATABASE_URL"
lock_timeout = "10s"
""" + "".join(f"{key} = {value if key == 'backfill_batch' else repr(value)}\n" for key, value in PACING.items()))


def build(label, columns, migration=None):
    toml = os.path.join(src, "hoist.toml")
    text = open(toml).read()
    open(toml, "w").write(re.sub(r'^version = ".*"$', f'version = "{label}"', text, count=1, flags=re.M))
    open(os.path.join(src, "shape.txt"), "w").write(f"{label} {columns}\n")
    extra = os.path.join(src, "migrations/0002_add_email.toml")
    if migration:
        open(extra, "w").write(migration)
    elif os.path.exists(extra):
        os.remove(extra)
    out = json.loads(sh(hoist, "build", "--json", cwd=src))
    return out["release"], out["artifact"]


ADD_EMAIL = """description = "users get an email"
[[op]]
type = "add_column"
table = "users"
column = "email"
sql_type = "text"
not_null = true
backfill = "replace(name, ' ', '.') || '@old.example'"
"""

# 80% reads of random rows, 20% updates of random rows (which meet the
# backfill's row locks); the body holds each release's record.
WRK_LUA = """
local rows = %d
local counter = 0
math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))
request = function()
  counter = counter + 1
  local id = math.random(1, rows)
  if counter %% 5 == 0 then
    local name = string.format("fb%%d lb%%d", counter, counter)
    local body = string.format('{"1": {"name": "%%s"}, "2-email": {"name": "%%s", "email": "b%%d@new.example"}}', name, name, counter)
    return wrk.format("PUT", "/users/" .. id, {["Content-Type"] = "application/json"}, body)
  end
  return wrk.format("GET", "/users/" .. id)
end
"""


def wrk(url, script):
    out = sh("wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", script, url)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = (sum(int(g) for g in errors.groups()) if errors else 0) + (int(non2xx.group(1)) if non2xx else 0)
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "failed": failed}


def step():
    status = json.loads(sh(hoist, "db", "status", "--json", cwd=src))
    open_ = (status.get("expansion") or {}).get("open")
    return open_ and open_["step"], open_


def backfill_round(url, script, artifact):
    psql(url, "VACUUM ANALYZE users")
    deploy = subprocess.Popen([hoist, "deploy", "-q", "--json", artifact], cwd=src, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started, deadline = time.time(), time.time() + 120
    while step()[0] != "backfill":
        if deploy.poll() is not None or time.time() > deadline:
            sys.exit(f"the backfill never ran: {deploy.communicate()}")
        time.sleep(0.05)
    waited = time.time() - started
    result = wrk(url_of_app, script)
    now, open_ = step()
    result["valid"] = now == "backfill"
    result["backfilled"] = sum(b["done"] for b in open_["backfill"]) if open_ else None
    out, err = deploy.communicate(timeout=600)
    if deploy.returncode != 0:
        sys.exit(f"deploy failed: {err}")
    result["deploy_s"] = time.time() - started
    result["to_backfill_s"] = waited
    sh(hoist, "rollback", "--with-db", "-q", cwd=src)
    if step()[1]:
        sys.exit("rollback --with-db left the expansion open")
    return result


def main():
    global url_of_app
    admin = postgres_admin()
    database = f"hoist_bench_expand_{os.getpid()}"
    psql(admin, f"CREATE DATABASE {database}")
    children.append(lambda: psql(admin, f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
    url = admin.rsplit("/", 1)[0] + "/" + database
    port = free_port()
    url_of_app = f"http://127.0.0.1:{port}"
    make_site(url, port)
    v1, a1 = build("1", "name")
    v2, a2 = build("2-email", "name email", ADD_EMAIL)
    sh(hoist, "deploy", "-q", a1, cwd=src)
    agent = subprocess.Popen([hoist, "agent"], cwd=src, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    children.append(lambda: (agent.send_signal(signal.SIGTERM), agent.wait(60)))
    agent.stdout.readline()
    psql(url, f"INSERT INTO users (name) SELECT 'f' || g || ' l' || g FROM generate_series(1, {rows}) g")
    script = os.path.join(work, "mixed.lua")
    open(script, "w").write(WRK_LUA % rows)
    wrk(url_of_app, script)  # warm up
    runs = {"quiet": [], "backfill": []}
    for index in range(rounds):
        order = ["quiet", "backfill"] if index % 2 == 0 else ["backfill", "quiet"]
        for kind in order:
            if kind == "quiet":
                psql(url, "VACUUM ANALYZE users")
                result = wrk(url_of_app, script)
            else:
                result = backfill_round(url, script, a2)
            runs[kind].append(result)
            print(f"round {index + 1} {kind:8} {result}", flush=True)
    med = lambda kind, key: statistics.median(r[key] for r in runs[kind])
    valid = all(r["valid"] for r in runs["backfill"])
    rps, p99 = med("backfill", "rps") / med("quiet", "rps"), med("backfill", "p99") / med("quiet", "p99")
    report = f"""
expand: wrk -t{THREADS} -c{CONNECTIONS}, {seconds}s per round, {rounds} rounds in turn, {rows} rows, backfill settings {PACING or 'default (1000 rows, 10ms pause)'}, medians ({hoist})

| | requests/s | p50 ms | p99 ms | failed |
|---|---|---|---|---|
| no migration | {med('quiet', 'rps'):.0f} | {med('quiet', 'p50'):.2f} | {med('quiet', 'p99'):.2f} | {sum(r['failed'] for r in runs['quiet'])} |
| during the backfill | {med('backfill', 'rps'):.0f} | {med('backfill', 'p50'):.2f} | {med('backfill', 'p99'):.2f} | {sum(r['failed'] for r in runs['backfill'])} |

throughput {rps:.2f}x (target >= 0.8: {'met' if rps >= 0.8 else 'MISSED'}), p99 {p99:.2f}x (target <= 2: {'met' if p99 <= 2 else 'MISSED'}); \
the backfill ran through every measured window: {'yes' if valid else 'NO (a window outlasted it)'}; \
deploys took {', '.join(f"{r['deploy_s']:.0f}s" for r in runs['backfill'])}
"""
    print(report)
    os.makedirs(os.path.join(here, "results"), exist_ok=True)
    path = os.path.join(here, "results", f"expand-{time.strftime('%Y-%m-%d')}.md")
    with open(path, "a") as out:
        out.write(report)


url_of_app = None
try:
    main()
finally:
    for stop in reversed(children):
        try:
            stop()
        except Exception as error:
            print(f"cleanup: {error}", file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)
