#!/usr/bin/env bash
# Fails when packages/contracts/src/gen is not exactly what proto/buf.gen.yaml produces from proto/,
# and when the protos break buf lint or buf format. Regenerates into a temporary directory, never in place.
# Run from anywhere after `pnpm install`; `make check-generated` calls it.
# Optional: BUF_BREAKING_AGAINST=<buf input> also runs `buf breaking` (rule set FILE) against it, e.g.
#   BUF_BREAKING_AGAINST='../.git#branch=main,subdir=proto' (relative to proto/).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
proto_dir="$repo_root/proto"
gen_dir="$repo_root/packages/contracts/src/gen"
bin_dir="$repo_root/packages/contracts/node_modules/.bin"
buf="$bin_dir/buf"

for tool in buf protoc-gen-ts_proto; do
  if [[ ! -x "$bin_dir/$tool" ]]; then
    echo "check-generated: $bin_dir/$tool is missing; run pnpm install first" >&2
    exit 2
  fi
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$proto_dir"

"$buf" lint
"$buf" format --diff --exit-code --path aibox || {
  echo "check-generated: proto/aibox is not buf-formatted; run: cd proto && buf format -w --path aibox" >&2
  exit 1
}
if [[ -n "${BUF_BREAKING_AGAINST:-}" ]]; then
  "$buf" breaking --against "$BUF_BREAKING_AGAINST"
fi

# buf prefixes every plugin `out` (relative to proto/) with --output, so `../packages/contracts/src/gen`
# lands at $tmp/packages/contracts/src/gen.
"$buf" generate --output "$tmp/proto"
fresh="$tmp/packages/contracts/src/gen"
if [[ ! -d "$fresh" ]]; then
  echo "check-generated: buf generate wrote nothing under $fresh; does proto/buf.gen.yaml still output to ../packages/contracts/src/gen?" >&2
  exit 2
fi

if ! diff -rq "$fresh" "$gen_dir" >"$tmp/drift.txt"; then
  echo "check-generated: packages/contracts/src/gen is out of date with proto/:" >&2
  sed -e "s#$fresh#<regenerated>#g" -e "s#$gen_dir#packages/contracts/src/gen#g" "$tmp/drift.txt" >&2
  echo "run: make generate (pnpm --filter @aibox/contracts run generate) and commit the result" >&2
  exit 1
fi
echo "check-generated: packages/contracts/src/gen matches proto/"
