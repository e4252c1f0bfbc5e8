#!/usr/bin/env bash
# Load test of `medaid serve`: a fresh database (SQLite file or PostgreSQL),
# set up with `medaid hospitals/registry import` and `keys create`, one release server, and
# benches/load.rs settling distinct generated claims.
#
#   benches/load.sh sqlite   [CONCURRENCY] [TOTAL] [PERSONS] [SECONDS]
#   benches/load.sh postgres [CONCURRENCY] [TOTAL] [PERSONS] [SECONDS]   # PGURL, default postgres://postgres@127.0.0.1:5432/test
#
# RATE=N paces the medaid run at N settlements/s (open loop; latency counts
# from each request's due time): for p99 at a fraction of the maximum.
#
# Then the same load against the bare axum echo (benches/echo.rs: the same
# claim parser, a fixed answer), and the ratio of the two.
set -euo pipefail
cd "$(dirname "$0")/.."

backend=${1:-sqlite}
concurrency=${2:-32}
total=${3:-5000}
persons=${4:-1000}
seconds=${5:-15}
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432/test}

cargo build --release -q --bin medaid
cargo bench -q --bench load --no-run 2>/dev/null
cargo bench -q --bench echo --no-run 2>/dev/null
tdir=${CARGO_TARGET_DIR:-target}
loadbin=$(ls -t $tdir/release/deps/load-* | grep -v "\.d$" | head -n1)
echobin=$(ls -t $tdir/release/deps/echo-* | grep -v "\.d$" | head -n1)
bin=$tdir/release/medaid

work=$(mktemp -d)
server=""
dbname=""
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  [ -n "$dbname" ] && psql "$PGURL" -qc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

case "$backend" in
  sqlite) url="sqlite://$work/medaid.db" ;;
  postgres)
    dbname="medaid_load_$$"
    psql "$PGURL" -qc "CREATE DATABASE $dbname" >/dev/null
    url="${PGURL%/*}/$dbname"
    ;;
  *) echo "usage: $0 sqlite|postgres [concurrency] [total] [persons]" >&2; exit 2 ;;
esac

printf 'code,name,level,region\nH0001,乡镇卫生院,township,411303\nH0002,县医院,county,411303\nH0003,市医院,city,411303\n' > "$work/hospitals.csv"
{
  echo "person_id,name,category,valid_from,valid_to"
  cats=(dibao tekun_centralized tekun_dispersed poverty "")
  for ((i = 0; i < persons; i++)); do
    printf '41130320000101%04d,某,%s,2016-01-01,\n' "$i" "${cats[$((i % 5))]}"
  done
} > "$work/registry.csv"

"$bin" hospitals import "$work/hospitals.csv" --database-url "$url" >/dev/null
"$bin" registry import "$work/registry.csv" --database-url "$url" >/dev/null
keys=""
for h in H0001 H0002 H0003; do
  k=$("$bin" keys create --role hospital --hospital $h --database-url "$url" 2>/dev/null | tail -n1)
  keys="${keys:+$keys,}$k"
done

MEDAID_LOG=warn "$bin" serve --listen 127.0.0.1:0 --policies fixtures/policies --database-url "$url" > "$work/serve.out" &
server=$!
for _ in $(seq 1 100); do
  grep -q 'listening on' "$work/serve.out" 2>/dev/null && break
  sleep 0.1
done
base=$(grep -o 'http://[0-9.:]*' "$work/serve.out" | head -n1)

echo "backend $backend, $persons persons, $(nproc) cores, at most $total claims or $seconds s"
"$loadbin" --base "$base" --keys "$keys" --concurrency "$concurrency" --total "$total" --persons "$persons" --seconds "$seconds" ${RATE:+--rate "$RATE"} | tee "$work/medaid.out"
kill "$server"; wait "$server" 2>/dev/null || true; server=""

"$echobin" --listen 127.0.0.1:0 > "$work/echo.out" &
server=$!
for _ in $(seq 1 100); do
  grep -q 'listening on' "$work/echo.out" 2>/dev/null && break
  sleep 0.1
done
ebase=$(grep -o 'http://[0-9.:]*' "$work/echo.out" | head -n1)
"$loadbin" --base "$ebase" --path /echo --keys "$keys" --concurrency "$concurrency" --total "$total" --persons "$persons" --seconds "$seconds" --run echo | tee "$work/echo.load"
rate() { grep -o ': [0-9]*/s' "$1" | head -n1 | tr -d ':/s '; }
m=$(rate "$work/medaid.out"); e=$(rate "$work/echo.load")
echo "ratio: medaid $m/s ÷ bare echo $e/s = $(awk -v m="$m" -v e="$e" 'BEGIN { printf "%.1f %%", 100 * m / e }')"
