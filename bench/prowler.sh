#!/usr/bin/env bash
# An outside scanner on the network novactl builds (not run in CI; see docs/compliance.md,
# "An outside scanner"): starts the emulator on a free port, applies the shipped local spec
# (environments/local.yaml over base.yaml: `network.main`, `security_groups.inference`, the
# model in that network, the DR twin network), runs Prowler's `vpc`, `ec2` and `cloudwatch`
# services in both regions, and prints check id -> PASS / FAIL counts for the resources novactl
# made, then the rows it left out and why (moto's fixtures: the default VPC of every region and its parts, public AMIs and
# snapshots...; account-level settings).
#
# Needs Prowler 5 (PROWLER, default /work/prowler-venv/bin/prowler) and the emulator venv.
# Nothing leaves 127.0.0.1: Prowler runs with proxy variables pointing at a closed local port.
# KEEP=1 keeps the work directory (Prowler's CSV, the spec) and prints its path.
# NO_ECR=1 drops `ecr.api` and `ecr.dkr` from the network's endpoints (no image pulls from
# inside the VPC, so the S3 gateway policy has no ECR-layer statement).
set -euo pipefail
cd "$(dirname "$0")/.."
. tests/target-dir.sh
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
prowler="${PROWLER:-/work/prowler-venv/bin/prowler}"
venv="${NOVACTL_MOTO_VENV:-.moto-venv}"
work=$(mktemp -d)

if [ -z "${NOVACTL_BIN:-}" ]; then
  cargo build --locked >&2
  NOVACTL_BIN="$CARGO_TARGET_DIR/debug/novactl"
fi
bin="$NOVACTL_BIN"

port=$("$venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 tests/emulator/moto_launcher.py --port "$port" --no-stdin-watch \
  --replication-delay 1 --endpoint-delay 1 >"$work/ready" 2>"$work/moto.log" &
moto=$!
cleanup() {
  kill "$moto" 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "work directory: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
for _ in $(seq 1 600); do
  grep -q READY "$work/ready" 2>/dev/null && break
  kill -0 "$moto" 2>/dev/null || { cat "$work/moto.log" >&2; exit 1; }
  sleep 0.2
done

# The spec: the shipped environments (their managed network `network.main`, the model's
# `security_groups.inference` and the DR twin network in us-west-2), the emulator's port.
cp -a environments policies templates "$work/"
spec="$work/environments/local.yaml"
sed -i "s#^endpoint_url: .*#endpoint_url: http://127.0.0.1:$port#" "$spec"
if [ "${NO_ECR:-0}" = 1 ]; then
  sed -i 's/, ecr\.api, ecr\.dkr//' "$work/environments/base.yaml"
  if grep -q 'endpoints:.*ecr\.' "$work/environments/base.yaml"; then
    echo "NO_ECR: ecr endpoints still listed" >&2
    exit 1
  fi
fi

echo "== novactl apply ($spec)" >&2
"$bin" validate -e "$spec" >&2
"$bin" apply -e "$spec" --auto-approve --target s3.models >&2
"$venv/bin/python" - "$port" <<'PY'
import sys, boto3
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{sys.argv[1]}", region_name="us-east-1")
s3.put_object(Bucket="novamind-local-models", Key="models/mentallama-packaged.tar.gz",
              Body=b"stand-in for the packaged MentaLLaMA model", ChecksumAlgorithm="SHA256")
PY
"$bin" apply -e "$spec" --auto-approve >&2
"$bin" plan -e "$spec" --detailed-exitcode >&2

# What novactl made: every id in the VPCs tagged with the environment, and the log groups,
# alarms and metric filters (moto has none of its own).
"$venv/bin/python" - "$port" >"$work/ours.txt" <<'PY'
import sys, boto3
url = f"http://127.0.0.1:{sys.argv[1]}"
ids = set()
for region in ["us-east-1", "us-west-2"]:
    ec2 = boto3.client("ec2", endpoint_url=url, region_name=region)
    vpcs = [v["VpcId"] for v in ec2.describe_vpcs(Filters=[{"Name": "tag:novactl:environment", "Values": ["local"]}])["Vpcs"]]
    ids.update(vpcs)
    if not vpcs:
        continue
    f = [{"Name": "vpc-id", "Values": vpcs}]
    ids.update(s["SubnetId"] for s in ec2.describe_subnets(Filters=f)["Subnets"])
    ids.update(g["GroupId"] for g in ec2.describe_security_groups(Filters=f)["SecurityGroups"])
    ids.update(t["RouteTableId"] for t in ec2.describe_route_tables(Filters=f)["RouteTables"])
    ids.update(a["NetworkAclId"] for a in ec2.describe_network_acls(Filters=f)["NetworkAcls"])
    ids.update(e["VpcEndpointId"] for e in ec2.describe_vpc_endpoints(Filters=f)["VpcEndpoints"])
    ids.update(fl["FlowLogId"] for fl in ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": vpcs}])["FlowLogs"])
    ids.update(n["NetworkInterfaceId"] for n in ec2.describe_network_interfaces(Filters=f)["NetworkInterfaces"])
    logs = boto3.client("logs", endpoint_url=url, region_name=region)
    ids.update(g["logGroupName"] for g in logs.describe_log_groups()["logGroups"])
    cw = boto3.client("cloudwatch", endpoint_url=url, region_name=region)
    ids.update(a["AlarmName"] for a in cw.describe_alarms()["MetricAlarms"])
print("\n".join(sorted(ids)))
PY

echo "== prowler aws --service vpc ec2 cloudwatch (us-east-1, us-west-2)" >&2
set +e
AWS_ENDPOINT_URL="http://127.0.0.1:$port" HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 \
  NO_PROXY=127.0.0.1,localhost "$prowler" aws --service vpc ec2 cloudwatch \
  --region us-east-1 us-west-2 --scan-unused-services --no-banner --output-formats csv \
  --output-directory "$work/prowler" >"$work/prowler.log" 2>&1
code=$?
set -e
# Prowler exits 3 when a check fails; anything else non-zero is its own error.
if [ "$code" != 0 ] && [ "$code" != 3 ]; then tail -30 "$work/prowler.log" >&2; exit 1; fi

"$venv/bin/python" - "$work/ours.txt" "$work"/prowler/*.csv <<'PY'
import csv, sys
from collections import Counter, defaultdict
ours = [l.strip() for l in open(sys.argv[1]) if l.strip()]
rows = list(csv.DictReader(open(sys.argv[2]), delimiter=";"))
account = rows[0]["ACCOUNT_UID"] if rows else ""
counts = defaultdict(Counter)
fails = []
left_out = Counter()
def is_ours(r):
    text = " ".join([r.get("RESOURCE_UID", ""), r.get("RESOURCE_NAME", "")])
    return any(i in text for i in ours)
for r in rows:
    uid = r.get("RESOURCE_UID", "")
    if is_ours(r):
        counts[r["CHECK_ID"]][r["STATUS"]] += 1
        if r["STATUS"] == "FAIL":
            fails.append(r)
        continue
    if r.get("RESOURCE_NAME") == account or uid == account or uid.endswith(":root") \
            or "unknown" in uid or uid in ("", "None"):
        why = "account-level setting (not a resource novactl makes)"
    elif ":image/" in uid or ":snapshot/" in uid or ":volume/" in uid or ":instance/" in uid:
        why = "moto fixture (public AMIs / snapshots, instances and volumes novactl does not make)"
    elif any(p in uid for p in ("vpc-", "subnet-", "sg-", "acl-", "rtb-", "igw-", "security-group/", "network-acl/", "eni-")):
        why = "moto fixture: the default VPC of a region and its parts"
    else:
        why = "not made by novactl"
    left_out[(why, r["CHECK_ID"], r["STATUS"])] += 1
print("| Check (Prowler) | PASS | FAIL | MANUAL |")
print("|---|---|---|---|")
for c in sorted(counts):
    n = counts[c]
    print(f"| {c} | {n['PASS']} | {n['FAIL']} | {n['MANUAL']} |")
print()
if fails:
    print("Failures on novactl's resources:")
    for r in fails:
        print(f"- {r['CHECK_ID']} {r['REGION']} {r['RESOURCE_UID']}: {r['STATUS_EXTENDED']}")
    print()
print("Left out (not novactl's resources):")
print("| Why | Check | Status | Rows |")
print("|---|---|---|---|")
for (why, c, s), n in sorted(left_out.items()):
    print(f"| {why} | {c} | {s} | {n} |")
PY
