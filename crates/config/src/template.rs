/// What `hoist init` writes: every key, commented, with its default.
pub const TEMPLATE: &str = r#"# hoist.toml: how this app is built and deployed. Docs: docs/config.md
# Unknown keys are errors, so a typo never silently becomes a default.

[app]
name = "myapp"
# version = "1.0.0"            # default: `git describe --tags`, else "0"

[build]
# command = "make assets"      # run in this directory before packing
include = ["**"]               # globs; .git and the output dir are always left out
exclude = ["*.log", "tmp/**"]

[deploy]
# root = "/srv/myapp"          # the site root; --root or HOIST_ROOT override it
keep_releases = 5              # prune keeps this many, plus live, previous and last good
# shared = ["log/", "uploads/", "config/secrets.env"]   # trailing slash = directory
# checks = ["perl -c lib/MyApp.pm"]                      # run in the new release before the switch
# test = { command = "prove -r t", min_tests = 100 }    # test count may not drop
# restart = "kill -USR2 $(cat shared/hypnotoad.pid)"    # run after the switch
# health = "http://127.0.0.1:8080/healthz"              # must answer 2xx after restart
# health_timeout = "30s"
# health_release = true        # the answer must name the new release in X-Hoist-Release
# max_release_size = "10 GiB"  # refuse artifacts that unpack to more

# With [process], `hoist agent` runs the app itself and deploys blue/green
# through its own proxy: no user sees an error during a switch.
# [process]
# command = "./bin/myapp --listen 127.0.0.1:$PORT"
# health_path = "/healthz"     # must answer 2xx `healthy_after` times in a row
# healthy_after = 2
# health_timeout = "30s"
# stop_signal = "TERM"
# stop_timeout = "30s"
# drain_timeout = "30s"        # in-flight requests on the old release may finish
# rollback_window = "5m"       # the old release stays warm for an instant rollback
# env_file = "shared/env"      # KEY=value secrets passed to the app
# watch = "30s"                # after a switch, roll back on its own if the process exits
# max_error_rate = 0.05        # ...or more than this share of answers are 5xx

# [proxy]
# listen = "127.0.0.1:8080"
# release_header = "X-Hoist-Release"   # "" turns it off
# connect_timeout = "5s"
# response_timeout = "60s"
# idle_timeout = "60s"          # no byte either way: keep-alive closed, stalled request 408, stalled body cut
# header_timeout = "60s"        # a request head must arrive whole within this (never more than idle_timeout); then 408
# min_body_rate = "1 KiB"       # request bodies slower than this on average (after header_timeout) get 408; "0" turns it off
# max_connections = 4000        # client connections at once (default: from the open-file limit); the oldest idle is closed first
# max_connections_per_client = 0   # per client address; 0 = no limit
# max_body_size = "100 MiB"
# tls_cert = "shared/tls/cert.pem"    # relative to the site root
# tls_key = "shared/tls/key.pem"
# admin_listen = "127.0.0.1:9901"     # TCP admin API, bearer token required
# admin_token_file = "shared/admin.token"

# [proxy.error_pages]                 # the app's own pages, relative to the live release
# 502 = "public/502.html"
# 503 = "public/503.html"
# 504 = "public/504.html"

# [maintenance]
# flag_file = "maintenance"           # `touch` it (relative to the root) for maintenance
# [[maintenance.window]]               # recurring windows, local time, DST-aware
# days = ["sun"]
# from = "02:00"
# to = "04:00"
# tz = "Europe/Berlin"
# message = "Weekly database maintenance"

# [metrics]                            # host setting, kept in site.toml
# listen = "127.0.0.1:9100"            # GET /metrics for Prometheus; off when left out

# [database]                           # migrated by `hoist deploy` and `hoist db`
# url = "sqlite://shared/app.db"        # or "postgres://shop@127.0.0.1/shop"
# migrations = "migrations"            # NNNN_name.up.sql / NNNN_name.down.sql in the release
# lock_timeout = "30s"
# keep_backups = 10                    # in data/backups/, newest first
# ddl_lock_timeout = "500ms"           # PostgreSQL expand/contract: each DDL's lock wait before a retry
# ddl_retries = 20
# backfill_batch = 1000                # rows per backfill transaction
# backfill_pause = "10ms"              # between backfill batches

# [data]                               # `hoist data load` / `roll`; apps read $HOIST_DATA
# reload = "restart"                   # blue/green restart after a roll; or a signal ("HUP") the app survives, or "none"
# header = "X-Hoist-Data"
# keep = 3
# requires = "WS221"                   # the data this release needs: a label or version id prefix
# requires_check = "./bin/check-data"  # or a command run with $HOIST_DATA = the live version

# [hooks]                              # run in the release, with the app's env plus $HOIST_FROM/$HOIST_TO
# pre_switch = "./bin/warm-cache"      # before a deploy/promote switches; failing aborts it
# post_switch = { command = "./bin/post-install", timeout = "2m", required = true }  # required: failing switches back
# post_rollback = "./bin/notify-rollback"
# post_data_roll = "./bin/reindex"

# [stages.production]                  # `hoist deploy --stage production`: every host over ssh
# hosts = ["web1", "web2", "deploy@10.0.0.7:2222"]
# root = "/srv/shop"
# waves = [1, "25%", "100%"]           # a canary host, then up to a quarter, then the rest
# watch = "30s"                        # health and error rate after each wave
# max_error_rate = 0.01
# [stages.production.balancer]
# kind = "haproxy"                     # or "hoist" (an agent with [[proxy.backend]])
# host = "lb1"                         # over ssh; omit when local
# socket = "/run/haproxy/admin.sock"
# backend = "shop"                     # server names default to the host names
"#;
