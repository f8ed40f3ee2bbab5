"""wrk against the same backend: direct, nginx, hoist; then hoist with
`/metrics` scraped every second against hoist without; then errors per
switch; then memory with 10,000 and 50,000 idle keep-alive connections
against nginx and HAProxy; then TLS (keep-alive HTTP/1.1 and HTTP/2, full
and resumed handshakes) against nginx and HAProxy; then plain HTTP/1.1
bodies (small, 64 KiB, 1 MiB) against nginx and HAProxy. `--only metrics`,
`--only memory`, `--only tls` or `--only bodies` runs that scenario alone."""
import json, os, re, resource, shutil, signal, socket, statistics, subprocess, sys, tempfile, threading, time, urllib.request

only = None
if len(sys.argv) > 2 and sys.argv[1] == "--only":
    only = sys.argv[2]
    del sys.argv[1:3]
hoist, seconds, connections, rounds = os.path.abspath(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
nginx = shutil.which("nginx") or "/usr/sbin/nginx"
haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
work = tempfile.mkdtemp(prefix="hoist-proxy-bench-")
src, site = os.path.join(work, "src"), os.path.join(work, "site")
children = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sh(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def wrk(url, duration=seconds):
    out = sh("wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", url)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    def pct(p):
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    failed = (sum(int(g) for g in errors.groups()) if errors else 0) + (int(non2xx.group(1)) if non2xx else 0)
    total = int(re.search(r"(\d+) requests in", out).group(1))
    return {"rps": rps, "p50": pct(50), "p99": pct(99), "failed": failed, "requests": total}


def cpu_times():
    """The machine's CPU time counters (/proc/stat's first line), or None."""
    try:
        with open("/proc/stat") as stat:
            return [int(field) for field in stat.readline().split()[1:]]
    except OSError:
        return None


def steal_share(before, after):
    """The share of CPU time the hypervisor took for other guests between two readings."""
    if not before or not after or len(before) < 8:
        return None
    spent = [b - a for a, b in zip(before, after)]
    return spent[7] / max(sum(spent), 1)


# The proxying every nginx config here does: the same work per request as
# hoist (the client's Host, the forwarding headers, a request id).
NGINX_LOCATION = """    location / {
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Request-Id $request_id;
    }"""


def nginx_conf(port, backends, prefix, extra=""):
    upstream = "\n".join(f"    server 127.0.0.1:{b};" for b in backends)
    return f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
{extra}
  upstream app {{
{upstream}
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port};
    # The same work hoist does on every request: the client's Host, the
    # forwarding headers and a request id. Without them nginx sends the app
    # one header where hoist sends five, and the app's parsing alone costs
    # about 1.5 us more per request behind hoist.
{NGINX_LOCATION}
  }}
}}
"""


def start_nginx(port, backends, extra=""):
    prefix = tempfile.mkdtemp(dir=work)
    conf = os.path.join(prefix, "nginx.conf")
    open(conf, "w").write(nginx_conf(port, backends, prefix, extra))
    # In the foreground, as a child of this script like hoist's agent: a
    # daemonized nginx starts its own session, and with the kernel's
    # autogroup scheduling (/proc/sys/kernel/sched_autogroup_enabled) a
    # session is a scheduling group of its own, so its one worker would get
    # a core's share to itself while the agent shares one with wrk and the app.
    proc = subprocess.Popen([nginx, "-p", prefix, "-c", conf, "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(proc)
    wait_port(port)
    return prefix, conf


def stop_nginx(prefix, conf):
    subprocess.run([nginx, "-p", prefix, "-c", conf, "-s", "quit"], capture_output=True)
    for proc in children:
        if proc.args[0] == nginx and proc.args[2] == prefix:
            proc.wait(30)


def wait_port(port, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"nothing listens on {port}")


def app(port):
    proc = subprocess.Popen([hoist, "example-app", "--listen", f"127.0.0.1:{port}"], cwd=work,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(proc)
    wait_port(port)
    return proc


def deploy(version, where=None):
    where = where or src
    toml = os.path.join(where, "hoist.toml")
    text = re.sub(r'version = "[^"]*"', f'version = "{version}"', open(toml).read())
    open(toml, "w").write(text)
    out = sh(hoist, "deploy", "-q", "--json", cwd=where)
    return json.loads(out)["release"]


def make_site(where, agent_port, extra=""):
    """A source dir `where` for a site beside it, its agent on `agent_port`; `extra` is appended."""
    os.makedirs(os.path.join(where, "public"))
    open(os.path.join(where, "public/index.html"), "w").write("ok\n")
    open(os.path.join(where, "hoist.toml"), "w").write(f"""[app]
name = "bench"
version = "1"
[deploy]
root = "../site-{os.path.basename(where)}"
[process]
command = "{hoist} example-app"
rollback_window = "1h"
[proxy]
listen = "127.0.0.1:{agent_port}"
{extra}""")


def start_agent(where):
    """`hoist agent --threads 1` for the site of `where`, once it serves."""
    agent = subprocess.Popen([hoist, "agent", "--threads", "1"], cwd=where, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    children.append(agent)
    agent.stdout.readline()
    return agent


class Scraper:
    """GET /metrics once a second while on, as Prometheus would."""

    def __init__(self, url):
        self.url, self.scrapes, self.bytes, self.on, self.done = url, 0, 0, threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.done.is_set():
            self.on.wait(0.2)
            if not self.on.is_set():
                continue
            started = time.monotonic()
            with urllib.request.urlopen(self.url, timeout=5) as reply:
                body = reply.read()
                assert reply.status == 200 and b"hoist_requests_total" in body
            self.scrapes += 1
            self.bytes = len(body)
            self.done.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    def stop(self):
        self.done.set()
        self.thread.join()


def metrics_scenario():
    """The agent's throughput with `[metrics]` on and scraped every second,
    against an agent without; the same app, rounds in turn."""
    plain_port, metered_port, metrics_port = free_port(), free_port(), free_port()
    plain_src, metered_src = os.path.join(work, "plain"), os.path.join(work, "metered")
    make_site(plain_src, plain_port)
    make_site(metered_src, metered_port, f'[metrics]\nlisten = "127.0.0.1:{metrics_port}"\n')
    deploy("1", plain_src), deploy("1", metered_src)
    start_agent(plain_src), start_agent(metered_src)
    scraper = Scraper(f"http://127.0.0.1:{metrics_port}/metrics")
    path = "/healthz"
    contenders = {"without /metrics": plain_port, "with /metrics, scraped 1/s": metered_port}
    for port in contenders.values():
        wrk(f"http://127.0.0.1:{port}{path}", 2)  # warm up
    runs = {name: [] for name in contenders}
    cpu_before = cpu_times()
    for round_ in range(rounds):
        order = list(contenders.items())
        for name, port in order if round_ % 2 == 0 else reversed(order):
            # Scraped only while measured: the scrape's CPU counts against its own side.
            if port == metered_port:
                scraper.on.set()
            runs[name].append(wrk(f"http://127.0.0.1:{port}{path}"))
            scraper.on.clear()
    steal = steal_share(cpu_before, cpu_times())
    scraper.stop()
    median = statistics.median
    rps = {name: median(r["rps"] for r in rs) for name, rs in runs.items()}
    plain, metered = rps["without /metrics"], rps["with /metrics, scraped 1/s"]
    print(f"\n/metrics cost: hoist (1 thread), wrk -t2 -c{connections}, {rounds} rounds of {seconds}s each in turn (medians), {path}\n")
    for name, value in rps.items():
        print(f"{name:<30} {value:>10.0f} req/s")
    print(f"ratio with/without: {metered / plain:.3f}  ({scraper.scrapes} scrapes of {scraper.bytes} bytes)")
    pairs = [m["rps"] / p["rps"] for m, p in zip(runs["with /metrics, scraped 1/s"], runs["without /metrics"])]
    # Paired by round, so a neighbour's burst moves both sides of a pair alike.
    print(f"median of the per-round ratios: {median(pairs):.3f}")
    print("by round: " + " ".join(f"{ratio:.3f}" for ratio in pairs))
    if steal is not None:
        print(f"CPU steal during these rounds: {steal:.0%}")


def main():
    agent_port = free_port()
    make_site(src, agent_port)
    v1 = deploy("1")
    agent = start_agent(src)
    status = json.loads(sh(hoist, "status", "--json", cwd=src))
    backend = status["agent"]["live"]["port"]
    nginx_port = free_port()
    prefix, conf = start_nginx(nginx_port, [backend])

    path = "/healthz"
    wrk(f"http://127.0.0.1:{nginx_port}{path}", 2)  # warm up both
    wrk(f"http://127.0.0.1:{agent_port}{path}", 2)
    # Short rounds taken in turn, the order rotating each round, and the
    # median of each: the cores are shared with other tenants, so one long
    # run per path puts whatever a neighbour did in that window on one side.
    paths = {
        "direct": backend,
        "nginx (1 worker, keepalive)": nginx_port,
        "hoist (1 thread)": agent_port,
    }
    runs = {name: [] for name in paths}
    cpu_before = cpu_times()
    for round_ in range(rounds):
        order = list(paths.items())
        order = order[round_ % 3:] + order[:round_ % 3]
        for name, port in order if round_ % 2 == 0 else reversed(order):
            runs[name].append(wrk(f"http://127.0.0.1:{port}{path}"))
    steal = steal_share(cpu_before, cpu_times())
    stop_nginx(prefix, conf)
    median = statistics.median
    results = {name: {key: median(r[key] for r in rs) for key in ("rps", "p50", "p99")} for name, rs in runs.items()}
    base = results["nginx (1 worker, keepalive)"]
    print(f"\nthroughput: wrk -t2 -c{connections}, {rounds} rounds of {seconds}s per path in turn (medians), {path}, {os.cpu_count()} cores shared by wrk, proxy and app\n")
    print(f"{'path':<30} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'rps/nginx':>10} {'p99/nginx':>10}")
    for name, r in results.items():
        print(f"{name:<30} {r['rps']:>10.0f} {r['p50']:>8.2f} {r['p99']:>8.2f} {r['rps'] / base['rps']:>10.2f} {r['p99'] / base['p99']:>10.2f}")
    if steal is not None:
        # Figures taken while the hypervisor took much of the CPU away are noise.
        warning = "  (high: neighbours took the cores; rerun for figures)" if steal > 0.10 else ""
        print(f"\nCPU steal during these rounds: {steal:.0%}{warning}")
    pairs = list(zip(runs["hoist (1 thread)"], runs["nginx (1 worker, keepalive)"]))
    print("\nhoist/nginx by round, rps: " + " ".join(f"{h['rps'] / n['rps']:.2f}" for h, n in pairs)
          + "; p99: " + " ".join(f"{h['p99'] / n['p99']:.2f}" for h, n in pairs))

    switches = 10
    print(f"\nfailed requests per switch: {switches} switches under wrk -c{connections}\n")
    # hoist: deploy v2 once, then switch between warm releases.
    v2 = deploy("2")
    load = subprocess.Popen(["wrk", "-t2", f"-c{connections}", "-d30s", f"http://127.0.0.1:{agent_port}/"], stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    for index in range(switches):
        sh(hoist, "rollback", "-q", "--to", [v1, v2][index % 2], cwd=src)
        time.sleep(0.5)
    load.send_signal(signal.SIGINT)
    hoist_out = load.communicate()[0]

    # nginx reload: two backends, the upstream rewritten and reloaded each time.
    a, b = free_port(), free_port()
    app(a), app(b)
    nginx_port = free_port()
    prefix, conf = start_nginx(nginx_port, [a])
    load = subprocess.Popen(["wrk", "-t2", f"-c{connections}", "-d30s", f"http://127.0.0.1:{nginx_port}/"], stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    for index in range(switches):
        open(conf, "w").write(nginx_conf(nginx_port, [[b, a][index % 2]], prefix))
        sh(nginx, "-p", prefix, "-c", conf, "-s", "reload")
        time.sleep(0.5)
    load.send_signal(signal.SIGINT)
    reload_out = load.communicate()[0]

    # plain restart behind nginx: stop the backend, start it again.
    open(conf, "w").write(nginx_conf(nginx_port, [a], prefix))
    sh(nginx, "-p", prefix, "-c", conf, "-s", "reload")
    time.sleep(0.5)
    backend_proc = [p for p in children if p.args[-1] == f"127.0.0.1:{a}"][0]
    load = subprocess.Popen(["wrk", "-t2", f"-c{connections}", "-d30s", f"http://127.0.0.1:{nginx_port}/"], stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    for _ in range(switches):
        backend_proc.terminate()
        backend_proc.wait()
        backend_proc = app(a)
        time.sleep(0.5)
    load.send_signal(signal.SIGINT)
    restart_out = load.communicate()[0]
    stop_nginx(prefix, conf)

    def failed(out):
        errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        total = int(re.search(r"(\d+) requests in", out).group(1))
        return (sum(int(g) for g in errors.groups()) if errors else 0) + (int(non2xx.group(1)) if non2xx else 0), total

    print(f"{'method':<36} {'failed':>8} {'requests':>10} {'failed/switch':>14}")
    for name, out in [("hoist rollback --to (warm)", hoist_out), ("nginx upstream edit + reload", reload_out), ("plain restart behind nginx", restart_out)]:
        bad, total = failed(out)
        print(f"{name:<36} {bad:>8} {total:>10} {bad / switches:>14.1f}")


IDLE_COUNTS = (10_000, 50_000)
# Idle connections over TLS (TLS 1.3, ECDSA certificate), measured once.
IDLE_TLS_COUNT = 10_000
# How long after the closes "after" is read.
AFTER_WINDOW = 10
# Open files for the idle scenario: the connections, and some to spare.
IDLE_FILES = max(IDLE_COUNTS) + 10_000


def rss_kb(pids):
    """The resident set of `pids`, summed, in KiB (VmRSS)."""
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as status:
            total += int(re.search(r"^VmRSS:\s+(\d+) kB", status.read(), re.M).group(1))
    return total


def child_pids(pid):
    with open(f"/proc/{pid}/task/{pid}/children") as children_file:
        return [int(child) for child in children_file.read().split()]


def settled_rss(pids, seconds=10):
    """RSS once it has stopped moving (three readings 0.5 s apart within 1%), at most `seconds`."""
    readings = [rss_kb(pids)]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.5)
        readings.append(rss_kb(pids))
        last = readings[-3:]
        if len(last) == 3 and max(last) - min(last) <= max(last) / 100:
            break
    return readings[-1]


def idle_nginx_conf(port, backend, prefix, certs=None):
    tls = f" ssl;\n    ssl_certificate {certs[0]};\n    ssl_certificate_key {certs[1]};\n    ssl_protocols TLSv1.2 TLSv1.3" if certs else ""
    return f"""worker_processes 1;
worker_rlimit_nofile {IDLE_FILES};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections {IDLE_FILES}; }}
http {{
  access_log off;
  keepalive_timeout 600s;
  keepalive_requests 100000;
  upstream app {{
    server 127.0.0.1:{backend};
    keepalive 64;
  }}
  server {{
    listen 127.0.0.1:{port} backlog=4096{tls};
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""


def haproxy_conf(port, backend, certs=None):
    tls = f" ssl crt {certs[2]} alpn http/1.1" if certs else ""
    return f"""global
  maxconn {IDLE_FILES}
  # It asks for two descriptors a connection; idle ones hold one: below that, warn, not fail.
  no strict-limits
  nbthread 1
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 10m
  timeout server 10m
  timeout http-keep-alive 10m
frontend front
  bind 127.0.0.1:{port}{tls}
  default_backend app
backend app
  http-reuse safe
  server app 127.0.0.1:{backend}
"""


def idle_round(port, pids, count, tls=False):
    """Opens `count` idle keep-alive connections to `port`; returns RSS (KiB) of
    `pids` before, with them open, and after they closed."""
    before = settled_rss(pids)
    opener = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "idle.py"), str(port), str(count)] + (["--tls"] if tls else []),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    children.append(opener)
    if opener.stdout.readline().strip() != "open":
        sys.exit(f"bench/idle.py could not open {count} connections to {port}")
    held = settled_rss(pids)
    opener.stdin.write("\n")
    opener.stdin.flush()
    opener.stdout.readline()
    opener.wait(60)
    # A fixed window, not a settle: an allocator returns freed pages after a
    # delay (mimalloc: purge_delay), so RSS stays flat for a while, then drops.
    time.sleep(AFTER_WINDOW)
    after = rss_kb(pids)
    return before, held, after


def memory_scenario():
    """RSS per idle keep-alive connection, and RSS after they all closed against
    before, for hoist, nginx (1 worker) and HAProxy (1 thread); a fresh proxy
    for each count, behind the same app."""
    global IDLE_FILES
    counts = IDLE_COUNTS
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (IDLE_FILES, IDLE_FILES))
    except (ValueError, OSError):
        # Raising the hard limit takes CAP_SYS_RESOURCE, which a container may lack:
        # then as many connections as the hard limit allows, said in the table's title.
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        IDLE_FILES = hard
        counts = tuple(min(count, hard - 1_000) for count in IDLE_COUNTS)
    certs = certificates()["ecdsa"]
    cases = [(count, False) for count in counts] + [(IDLE_TLS_COUNT, True)]
    rows = []
    for count, tls in cases:
        # hoist: a fresh agent for each case, so each starts cold.
        agent_port = free_port()
        where = os.path.join(work, f"idle-{count}-{'tls' if tls else 'plain'}")
        extra = f'idle_timeout = "10m"\nmax_connections = {IDLE_FILES}\n'
        if tls:
            extra += f'tls_cert = "{certs[0]}"\ntls_key = "{certs[1]}"\n'
        make_site(where, agent_port, extra)
        deploy("1", where)
        agent = start_agent(where)
        backend = json.loads(sh(hoist, "status", "--json", cwd=where))["agent"]["live"]["port"]
        case = "TLS " if tls else ""
        rows.append((f"{case}hoist (1 thread)", count, idle_round(agent_port, [agent.pid], count, tls)))

        port = free_port()
        prefix = tempfile.mkdtemp(dir=work)
        conf = os.path.join(prefix, "nginx.conf")
        open(conf, "w").write(idle_nginx_conf(port, backend, prefix, certs if tls else None))
        proc = subprocess.Popen([nginx, "-p", prefix, "-c", conf, "-g", "daemon off;"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append(proc)
        wait_port(port)
        rows.append((f"{case}nginx (1 worker)", count, idle_round(port, [proc.pid] + child_pids(proc.pid), count, tls)))
        stop_nginx(prefix, conf)

        port = free_port()
        conf = os.path.join(work, f"haproxy-{count}-{tls}.cfg")
        open(conf, "w").write(haproxy_conf(port, backend, certs if tls else None))
        proc = subprocess.Popen([haproxy, "-f", conf, "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        children.append(proc)
        wait_port(port)
        rows.append((f"{case}HAProxy (1 thread)", count, idle_round(port, [proc.pid], count, tls)))
        proc.terminate()
        proc.wait(30)
        # Its app was the others' backend too.
        agent.terminate()
        agent.wait(30)
    capped = "" if counts == IDLE_COUNTS else f" (capped by the open-file hard limit {IDLE_FILES}; {IDLE_COUNTS} asked)"
    print(f"\nidle keep-alive connections{capped}: one GET each (TLS rows: over TLS 1.3), then idle; RSS (VmRSS, nginx master + worker) before, held, {AFTER_WINDOW} s after all closed\n")
    print(f"{'proxy':<24} {'conns':>7} {'start MB':>9} {'held MB':>9} {'KB/conn':>8} {'after MB':>9} {'after/start':>12} {'KB/conn ÷ nginx':>16}")
    per_conn = {(name, count): (held - before) * 1.024 / count for name, count, (before, held, _) in rows}
    for name, count, (before, held, after) in rows:
        nginx_row = ("TLS " if name.startswith("TLS ") else "") + "nginx (1 worker)"
        ratio = per_conn[(name, count)] / max(per_conn[(nginx_row, count)], 0.001)
        print(f"{name:<24} {count:>7} {before / 1024:>9.1f} {held / 1024:>9.1f} {per_conn[(name, count)]:>8.2f} "
              f"{after / 1024:>9.1f} {after / before:>12.2f} {ratio:>16.2f}")


# Concurrent `openssl s_time` clients for the handshake rows: each runs its
# handshakes one after another, so one alone leaves the proxy idle while it
# works; four keep a proxy core busy on RSA.
HANDSHAKE_CLIENTS = 4
# h2load clients for resumed handshakes, each reconnecting (and resuming) per request.
RESUME_CLIENTS = 8
# Resumed handshakes asked per second of SECONDS: a count, not -D, since
# h2load with -D and `Connection: close` can wait for minutes after its
# time is up for the connections it was reopening.
RESUMES_A_SECOND = 3000


def certificates():
    """An RSA-2048 and an ECDSA P-256 self-signed certificate for localhost,
    made for this run: {"rsa": (cert, key, both), "ecdsa": …}; `both` is the
    one-file PEM HAProxy wants."""
    where = tempfile.mkdtemp(dir=work, prefix="certs-")
    made = {}
    for kind, newkey in (("rsa", ["-newkey", "rsa:2048"]), ("ecdsa", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"])):
        cert, key, both = (os.path.join(where, f"{kind}.{ext}") for ext in ("crt", "key", "pem"))
        sh("openssl", "req", "-x509", *newkey, "-nodes", "-keyout", key, "-out", cert, "-subj", "/CN=localhost", "-days", "2")
        os.chmod(key, 0o600)
        open(both, "w").write(open(cert).read() + open(key).read())
        os.chmod(both, 0o600)
        made[kind] = (cert, key, both)
    return made


def tls_nginx_conf(ports, backend, prefix, certs):
    servers = "\n".join(f"""  server {{
    listen 127.0.0.1:{ports[kind]} ssl http2;
    ssl_certificate {certs[kind][0]};
    ssl_certificate_key {certs[kind][1]};
    # nginx 1.22 speaks TLS 1.2 and 1.1 without this: no TLS 1.3.
    ssl_protocols TLSv1.2 TLSv1.3;
{NGINX_LOCATION}
  }}""" for kind in ports)
    return f"""worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  # Its default closes a connection after 1,000 requests (HTTP/2: GOAWAY,
  # and h2load counts the streams in flight as failed); hoist and HAProxy
  # keep a connection for as long as the client does.
  keepalive_requests 1000000;
  upstream app {{
    server 127.0.0.1:{backend};
    keepalive 64;
  }}
{servers}
}}
"""


def tls_haproxy_conf(ports, backend, certs):
    # The forwarding headers and request id hoist and nginx add, so the app parses the same request.
    fronts = "\n".join(f"""frontend front-{kind}
  bind 127.0.0.1:{ports[kind]} ssl crt {certs[kind][2]} alpn h2,http/1.1
  option forwardfor
  http-request set-header X-Forwarded-Proto https
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  unique-id-format %{{+X}}o%ci:%cp_%fi:%fp_%Ts_%rt:%pid
  unique-id-header X-Request-Id
  default_backend app""" for kind in ports)
    return f"""global
  nbthread 1
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 1m
  timeout server 1m
{fronts}
backend app
  http-reuse safe
  server app 127.0.0.1:{backend}
"""


def proc_cpu_us(pids):
    """User + system CPU time of `pids` (all their threads), in microseconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as stat:
            # Fields after the command (which may hold spaces): utime and stime are 14th and 15th.
            fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total * 1_000_000 / ticks


def pin(pids, cpus):
    """Pins every thread of `pids` to `cpus` (taskset -a), so a proxy and its load never share a core."""
    for pid in pids:
        sh("taskset", "-a", "-cp", cpus, str(pid))


def h2load_latencies(log):
    """Per-request durations (ms) from an h2load --log-file."""
    with open(log) as rows:
        return sorted(int(row.split("\t")[2]) / 1000 for row in rows if row.split("\t")[1] != "-1")


def h2load(url, extra, load_cpus):
    """h2load for `seconds` against `url`: rate, p99 (ms, from its per-request log) and failures."""
    log = os.path.join(work, "h2load.log")
    # A count (-n) runs until done; else -D, for `seconds`.
    duration = [] if "-n" in extra else [f"-D{seconds}"]
    out = sh("taskset", "-c", load_cpus, "h2load", "-t1", *duration, f"--log-file={log}", *extra, url, timeout=seconds * 10 + 60)
    done = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    ok = int(done.group(4))
    rate = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", out).group(1))
    latencies = h2load_latencies(log)
    os.remove(log)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] if latencies else float("nan")
    return {"rate": rate, "p99": p99, "failed": int(done.group(5)) + int(done.group(6)), "ops": ok}


def s_time(port, mode, load_cpus):
    """HANDSHAKE_CLIENTS `openssl s_time` at once for `seconds`: handshakes a
    second, and how many the server let the client resume ('r' in s_time's
    per-connection marks, '*' a full one)."""
    started = time.monotonic()
    procs = [subprocess.Popen(["taskset", "-c", load_cpus, "openssl", "s_time", "-connect", f"127.0.0.1:{port}", mode, "-time", str(seconds)]
                              + (["-www", "/healthz"] if mode == "-reuse" else []),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(HANDSHAKE_CLIENTS)]
    outs = [proc.communicate()[0] for proc in procs]
    wall = time.monotonic() - started
    marks = "".join(line for out in outs for line in out.splitlines() if line and set(line) <= set("r*"))
    total = sum(int(m.group(1)) for out in outs for m in [re.search(r"(\d+) connections in [\d.]+s", out)] if m)
    return {"rate": total / wall, "p99": float("nan"), "failed": 0, "ops": total,
            "resumed": marks.count("r") / max(len(marks), 1)}


def wrk_tls(url, load_cpus):
    out = sh("taskset", "-c", load_cpus, "wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url)
    r = re.search(r"Requests/sec:\s+([\d.]+)", out)
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {"rate": float(r.group(1)), "p99": float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)],
            "failed": sum(int(g) for g in errors.groups()) if errors else 0,
            "ops": int(re.search(r"(\d+) requests in", out).group(1))}


def wrk_beside_handshakes(port, load_cpus):
    """wrk's keep-alive requests while two `openssl s_time -new` run full
    handshakes on the same proxy: a handshake runs on the proxy's one
    thread, so what it costs the other connections shows in their p99."""
    handshakes = [subprocess.Popen(["taskset", "-c", load_cpus, "openssl", "s_time", "-connect", f"127.0.0.1:{port}", "-new", "-time", str(seconds + 1)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
    result = wrk_tls(f"https://127.0.0.1:{port}/healthz", load_cpus)
    for proc in handshakes:
        proc.wait()
    # The proxy's CPU went to both; per request it would overstate.
    result["ops"] = 0
    return result


def tls_scenario():
    """TLS through hoist, nginx (1 worker) and HAProxy (1 thread), each proxy
    pinned to the last core and its load to the others: TLS 1.3 + HTTP/1.1
    keep-alive (wrk), TLS + HTTP/2 (h2load, 10 streams per connection), full
    handshakes with an RSA-2048 and an ECDSA P-256 certificate (openssl
    s_time -new: wrk and h2load resume or keep connections), and resumed
    handshakes (h2load with `Connection: close`, which resumes each new
    connection with the last one's ticket, and openssl s_time -reuse, whose
    marks say how many were resumed). Rounds in turn; medians; the proxy's
    CPU per operation beside each rate."""
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2:
        sys.exit("the TLS scenario pins the proxy to one core and its load to another: it needs 2 cores")
    proxy_cpu, load_cpus = str(max(cpus)), ",".join(str(c) for c in sorted(cpus) if c != max(cpus))
    certs = certificates()
    agents, ports = {}, {}
    for kind in certs:
        ports[("hoist", kind)] = free_port()
        where = os.path.join(work, f"tls-{kind}")
        make_site(where, ports[("hoist", kind)], f'tls_cert = "{certs[kind][0]}"\ntls_key = "{certs[kind][1]}"\n')
        deploy("1", where)
        agents[kind] = start_agent(where)
        backend = json.loads(sh(hoist, "status", "--json", cwd=where))["agent"]["live"]["port"]
        pin(child_pids(agents[kind].pid), load_cpus)
        pin([agents[kind].pid], proxy_cpu)
    nginx_ports = {kind: free_port() for kind in certs}
    prefix = tempfile.mkdtemp(dir=work)
    conf = os.path.join(prefix, "nginx.conf")
    open(conf, "w").write(tls_nginx_conf(nginx_ports, backend, prefix, certs))
    nginx_proc = subprocess.Popen([nginx, "-p", prefix, "-c", conf, "-g", "daemon off;"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(nginx_proc)
    haproxy_ports = {kind: free_port() for kind in certs}
    haproxy_cfg = os.path.join(work, "haproxy-tls.cfg")
    open(haproxy_cfg, "w").write(tls_haproxy_conf(haproxy_ports, backend, certs))
    haproxy_proc = subprocess.Popen([haproxy, "-f", haproxy_cfg, "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(haproxy_proc)
    for port in list(nginx_ports.values()) + list(haproxy_ports.values()):
        wait_port(port)
    for kind in certs:
        ports[("nginx", kind)], ports[("HAProxy", kind)] = nginx_ports[kind], haproxy_ports[kind]
    nginx_pids = [nginx_proc.pid] + child_pids(nginx_proc.pid)
    pin(nginx_pids, proxy_cpu)
    pin([haproxy_proc.pid], proxy_cpu)
    pids = {"hoist": None, "nginx": nginx_pids, "HAProxy": [haproxy_proc.pid]}
    proxies = ["hoist", "nginx", "HAProxy"]
    names = {"hoist": "hoist (1 thread)", "nginx": "nginx (1 worker)", "HAProxy": "HAProxy (1 thread)"}
    path = "/healthz"
    rows = {
        "TLS 1.3 + HTTP/1.1 keep-alive (wrk)": ("ecdsa", lambda port: wrk_tls(f"https://127.0.0.1:{port}{path}", load_cpus)),
        "TLS + HTTP/2, 10 streams/conn (h2load)": ("ecdsa", lambda port: h2load(f"https://127.0.0.1:{port}{path}", ["-c", str(connections), "-m10"], load_cpus)),
        "full handshakes, RSA-2048 (s_time -new)": ("rsa", lambda port: s_time(port, "-new", load_cpus)),
        "full handshakes, ECDSA P-256 (s_time -new)": ("ecdsa", lambda port: s_time(port, "-new", load_cpus)),
        "resumed handshakes (h2load, Connection: close)": ("rsa", lambda port: h2load(f"https://127.0.0.1:{port}{path}", ["--h1", "-c", str(RESUME_CLIENTS), "-n", str(RESUMES_A_SECOND * seconds), "-H", "Connection: close"], load_cpus)),
        "resumed handshakes (s_time -reuse)": ("rsa", lambda port: s_time(port, "-reuse", load_cpus)),
        "TLS h1 keep-alive beside full RSA handshakes (wrk)": ("rsa", lambda port: wrk_beside_handshakes(port, load_cpus)),
    }

    def proxy_pids(proxy, kind):
        return [agents[kind].pid] if proxy == "hoist" else pids[proxy]

    # Warm up: each proxy's first connections, its backend pool, the app.
    for (proxy, kind), port in ports.items():
        h2load(f"https://127.0.0.1:{port}{path}", ["-c", "4", "-m10"], load_cpus)
    runs = {(row, proxy): [] for row in rows for proxy in proxies}
    load_before = os.getloadavg()[0]
    cpu_before = cpu_times()
    for round_ in range(rounds):
        for row, (kind, measure) in rows.items():
            order = proxies[round_ % 3:] + proxies[:round_ % 3]
            for proxy in order if round_ % 2 == 0 else reversed(order):
                print(f"round {round_ + 1}: {row}, {proxy}", file=sys.stderr, flush=True)
                before = proc_cpu_us(proxy_pids(proxy, kind))
                result = measure(ports[(proxy, kind)])
                spent = proc_cpu_us(proxy_pids(proxy, kind)) - before
                result["cpu_us"] = spent / result["ops"] if result["ops"] else float("nan")
                runs[(row, proxy)].append(result)
    steal = steal_share(cpu_before, cpu_times())
    median = statistics.median
    print(f"\nTLS: each proxy pinned to CPU {proxy_cpu}, its load and the app to CPU {load_cpus}; {rounds} rounds of {seconds}s per proxy in turn (medians); "
          f"wrk -t2 -c{connections}, h2load -c{connections} -m10, s_time x{HANDSHAKE_CLIENTS}, h2load --h1 -c{RESUME_CLIENTS} with Connection: close\n")
    print(f"{'row':<52} {'proxy':<20} {'ops/s':>9} {'p99 ms':>8} {'CPU us/op':>10} {'rate/nginx':>11} {'p99/nginx':>10} {'CPU/nginx':>10} {'spread':>7} {'failed':>7} {'resumed':>8}")
    for row in rows:
        base = {key: median(r[key] for r in runs[(row, "nginx")]) for key in ("rate", "p99", "cpu_us")}
        for proxy in proxies:
            rs = runs[(row, proxy)]
            m = {key: median(r[key] for r in rs) for key in ("rate", "p99", "cpu_us")}
            # Per-round spread: (max - min) / median of the rates.
            spread = (max(r["rate"] for r in rs) - min(r["rate"] for r in rs)) / max(m["rate"], 1e-9)
            resumed = f"{median(r['resumed'] for r in rs):.0%}" if "resumed" in rs[0] else "-"
            p99 = f"{m['p99']:>8.2f}" if m["p99"] == m["p99"] else f"{'-':>8}"
            p99_ratio = f"{m['p99'] / base['p99']:>10.2f}" if m["p99"] == m["p99"] else f"{'-':>10}"
            print(f"{row:<52} {names[proxy]:<20} {m['rate']:>9.0f} {p99} {m['cpu_us']:>10.1f} {m['rate'] / base['rate']:>11.2f} {p99_ratio} "
                  f"{m['cpu_us'] / base['cpu_us']:>10.2f} {spread:>7.0%} {sum(r['failed'] for r in rs):>7} {resumed:>8}")
    for row in rows:
        pairs = list(zip(runs[(row, "hoist")], runs[(row, "nginx")]))
        print(f"hoist/nginx by round, {row}: rate " + " ".join(f"{h['rate'] / n['rate']:.2f}" for h, n in pairs)
              + "; CPU/op " + " ".join(f"{h['cpu_us'] / max(n['cpu_us'], 1e-9):.2f}" for h, n in pairs))
    if steal is not None:
        warning = "  (high: neighbours took the cores; rerun for figures)" if steal > 0.10 else ""
        print(f"\nCPU steal during these rounds: {steal:.0%}{warning}")
    print(f"load average (1 min) at the start: {load_before:.2f}, at the end: {os.getloadavg()[0]:.2f}")
    # h2load cannot say whether it resumed; its CPU per handshake on the RSA
    # port can: a full one signs with RSA, as s_time -new's rows show.
    full, resumed = "full handshakes, RSA-2048 (s_time -new)", "resumed handshakes (h2load, Connection: close)"
    print("resumption check, CPU per h2load handshake ÷ per full RSA one (well below 1: resumed): "
          + ", ".join(f"{proxy} {median(r['cpu_us'] for r in runs[(resumed, proxy)]) / median(r['cpu_us'] for r in runs[(full, proxy)]):.2f}" for proxy in proxies))
    stop_nginx(prefix, conf)
    haproxy_proc.terminate()
    haproxy_proc.wait(30)
    # Off the proxy core before the next scenario pins its own there.
    for agent in agents.values():
        agent.terminate()
        agent.wait(30)


def bodies_haproxy_conf(port, backend):
    # The forwarding headers and request id hoist and nginx add, so the app parses the same request.
    return f"""global
  nbthread 1
defaults
  mode http
  option http-keep-alive
  timeout connect 5s
  timeout client 1m
  timeout server 1m
frontend front
  bind 127.0.0.1:{port}
  option forwardfor
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  unique-id-format %{{+X}}o%ci:%cp_%fi:%fp_%Ts_%rt:%pid
  unique-id-header X-Request-Id
  default_backend app
backend app
  http-reuse safe
  server app 127.0.0.1:{backend}
"""


def bodies_scenario():
    """Plain HTTP/1.1 keep-alive through hoist, nginx (1 worker) and HAProxy
    (1 thread), each proxy pinned to the last core and wrk and the app to
    the others: small responses, 64 KiB and 1 MiB ones (the app's
    `/bytes?n=`). Rounds in turn; medians; the proxy's CPU per request
    beside each rate."""
    cpus = os.sched_getaffinity(0)
    if len(cpus) < 2:
        sys.exit("the bodies scenario pins the proxy to one core and its load to another: it needs 2 cores")
    proxy_cpu, load_cpus = str(max(cpus)), ",".join(str(c) for c in sorted(cpus) if c != max(cpus))
    where = os.path.join(work, "bodies")
    agent_port = free_port()
    make_site(where, agent_port)
    deploy("1", where)
    agent = start_agent(where)
    backend = json.loads(sh(hoist, "status", "--json", cwd=where))["agent"]["live"]["port"]
    pin(child_pids(agent.pid), load_cpus)
    pin([agent.pid], proxy_cpu)
    nginx_port = free_port()
    # Its default closes a connection after 1,000 requests, and spills a
    # response bigger than its buffers to a temp file on disk; hoist and
    # HAProxy keep the connection and stream the body through memory.
    prefix, conf = start_nginx(nginx_port, [backend], "  keepalive_requests 1000000;\n  proxy_max_temp_file_size 0;")
    haproxy_port = free_port()
    haproxy_cfg = os.path.join(work, "haproxy-bodies.cfg")
    open(haproxy_cfg, "w").write(bodies_haproxy_conf(haproxy_port, backend))
    haproxy_proc = subprocess.Popen([haproxy, "-f", haproxy_cfg, "-db"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children.append(haproxy_proc)
    wait_port(haproxy_port)
    nginx_proc = [p for p in children if p.args[0] == nginx and p.args[2] == prefix][0]
    nginx_pids = [nginx_proc.pid] + child_pids(nginx_proc.pid)
    pin(nginx_pids, proxy_cpu)
    pin([haproxy_proc.pid], proxy_cpu)
    ports = {"hoist": agent_port, "nginx": nginx_port, "HAProxy": haproxy_port}
    pids = {"hoist": [agent.pid], "nginx": nginx_pids, "HAProxy": [haproxy_proc.pid]}
    proxies = ["hoist", "nginx", "HAProxy"]
    names = {"hoist": "hoist (1 thread)", "nginx": "nginx (1 worker)", "HAProxy": "HAProxy (1 thread)"}
    rows = {
        "HTTP/1.1 keep-alive, small responses": "/healthz",
        "64 KiB responses": "/bytes?n=65536",
        "1 MiB responses": "/bytes?n=1048576",
    }
    for proxy in proxies:
        for path in rows.values():
            wrk_tls(f"http://127.0.0.1:{ports[proxy]}{path}", load_cpus)
    runs = {(row, proxy): [] for row in rows for proxy in proxies}
    load_before = os.getloadavg()[0]
    cpu_before = cpu_times()
    for round_ in range(rounds):
        for row, path in rows.items():
            order = proxies[round_ % 3:] + proxies[:round_ % 3]
            for proxy in order if round_ % 2 == 0 else reversed(order):
                before = proc_cpu_us(pids[proxy])
                result = wrk_tls(f"http://127.0.0.1:{ports[proxy]}{path}", load_cpus)
                result["cpu_us"] = (proc_cpu_us(pids[proxy]) - before) / max(result["ops"], 1)
                runs[(row, proxy)].append(result)
    steal = steal_share(cpu_before, cpu_times())
    median = statistics.median
    print(f"\nplain HTTP/1.1 bodies: each proxy pinned to CPU {proxy_cpu}, wrk and the app to CPU {load_cpus}; wrk -t2 -c{connections}; "
          f"{rounds} rounds of {seconds}s per proxy in turn (medians)\n")
    print(f"{'row':<40} {'proxy':<20} {'req/s':>9} {'p99 ms':>8} {'CPU us/req':>11} {'rate/nginx':>11} {'p99/nginx':>10} {'rate/HAProxy':>13} {'CPU/HAProxy':>12} {'spread':>7} {'failed':>7}")
    for row in rows:
        base = {key: median(r[key] for r in runs[(row, "nginx")]) for key in ("rate", "p99", "cpu_us")}
        other = {key: median(r[key] for r in runs[(row, "HAProxy")]) for key in ("rate", "p99", "cpu_us")}
        for proxy in proxies:
            rs = runs[(row, proxy)]
            m = {key: median(r[key] for r in rs) for key in ("rate", "p99", "cpu_us")}
            spread = (max(r["rate"] for r in rs) - min(r["rate"] for r in rs)) / max(m["rate"], 1e-9)
            print(f"{row:<40} {names[proxy]:<20} {m['rate']:>9.0f} {m['p99']:>8.2f} {m['cpu_us']:>11.1f} {m['rate'] / base['rate']:>11.2f} {m['p99'] / base['p99']:>10.2f} "
                  f"{m['rate'] / other['rate']:>13.2f} {m['cpu_us'] / other['cpu_us']:>12.2f} {spread:>7.0%} {sum(r['failed'] for r in rs):>7}")
    for row in rows:
        print(f"hoist by round, {row}: rate/nginx " + " ".join(f"{h['rate'] / n['rate']:.2f}" for h, n in zip(runs[(row, "hoist")], runs[(row, "nginx")]))
              + "; rate/HAProxy " + " ".join(f"{h['rate'] / a['rate']:.2f}" for h, a in zip(runs[(row, "hoist")], runs[(row, "HAProxy")]))
              + "; p99/nginx " + " ".join(f"{h['p99'] / n['p99']:.2f}" for h, n in zip(runs[(row, "hoist")], runs[(row, "nginx")])))
    if steal is not None:
        warning = "  (high: neighbours took the cores; rerun for figures)" if steal > 0.10 else ""
        print(f"\nCPU steal during these rounds: {steal:.0%}{warning}")
    print(f"load average (1 min) at the start: {load_before:.2f}, at the end: {os.getloadavg()[0]:.2f}")
    stop_nginx(prefix, conf)
    haproxy_proc.terminate()
    haproxy_proc.wait(30)


try:
    if only == "metrics":
        metrics_scenario()
    elif only == "memory":
        memory_scenario()
    elif only == "tls":
        tls_scenario()
    elif only == "bodies":
        bodies_scenario()
    elif only is not None:
        sys.exit(f"unknown scenario `{only}`; try --only metrics, --only memory, --only tls or --only bodies")
    else:
        main()
        metrics_scenario()
        memory_scenario()
        tls_scenario()
        bodies_scenario()
finally:
    for proc in children:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
    shutil.rmtree(work, ignore_errors=True)
