#!/usr/bin/env python3
"""novactl's benchmark (not a test: it measures, it asserts nothing). Run it with bench/run.sh,
which builds the release binary and runs this file with the emulator venv's python.

On ONE emulator (tests/emulator/moto_launcher.py, started here) it measures, with the release
binary, for the seed stack (environments/local.yaml, 15 resources) and for environments of 35
and 500 resources made by bench/gen_env.py:

* apply from empty, against the same creates by one sequential boto3 process (bench/baseline.py);
* a no-op plan, against the same reads by that boto3 process;
* the no-op plan again once the account also holds another 500-resource environment;
* with the emulator adding 50 ms to every call (its --latency-ms, switched at run time): the seed
  plan against boto3, and the 35-resource plan at the default parallelism against
  --parallelism 1.

The two sides of each comparison run alternately, BENCH_REPS times (default 5; 3 for the
500-resource plan), and the medians are compared. Every novactl run reports its AWS calls; the
client's CPU time (user + system) and peak memory (max RSS) come from wait4. Output: a plain
report on stdout (docs/performance.md keeps one).

Then, what users get (issue 21):

* `big50`: with 50 ms per call, the BENCH_BIG-resource apply from empty and no-op plan, novactl
  (default parallelism and --parallelism 1) against the sequential boto3 script;
* `dr`: the seed stack WITH its DR stack (environments/local.yaml as shipped: the primary
  stack, the network and security groups, and the standby region): apply from empty and no-op
  plan against boto3 (baseline.py covers every kind, EC2 network included), and
  `novactl dr drill --teardown`;
* `throttle`: the BENCH_BIG-resource apply from empty while the emulator throttles each API
  action (--throttle: IAM 5, KMS 10, SageMaker 10, CloudWatch 10, EC2 20, S3 50 calls per
  second): it must converge (exit 0, then a no-op plan) and reports the retries it needed.

Environment: NOVACTL_BIN (default target/release/novactl under CARGO_TARGET_DIR), BENCH_REPS,
BENCH_BIG (size of the large environments, default 500; smaller for a quick try),
BENCH_SECTIONS (comma-separated: base, big50, dr, throttle; default all).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
import gen_env  # noqa: E402

REPS = int(os.environ.get("BENCH_REPS", "5"))
BIG = int(os.environ.get("BENCH_BIG", "500"))
BIG_REPS = max(1, min(REPS, 3))
LATENCY_MS = 50
BIN = os.environ.get("NOVACTL_BIN") or str(
    Path(os.environ.get("CARGO_TARGET_DIR", str(Path.home() / ".cache/novactl/target"))) / "release/novactl"
)
PY = sys.executable
SECTIONS = set((os.environ.get("BENCH_SECTIONS") or "base,big50,dr,throttle").split(","))
# The throttled pass's rates, calls per second per API action (the order of AWS's own limits).
THROTTLE = {"iam": 5, "kms": 10, "sagemaker": 10, "cloudwatch": 10, "ec2": 20, "s3": 50}


class Result:
    def __init__(self, wall: float, cpu: float, rss_mb: float, out: str, err: str, code: int):
        self.wall, self.cpu, self.rss_mb, self.out, self.err, self.code = wall, cpu, rss_mb, out, err, code

    def calls(self) -> int:
        for line in reversed(self.err.splitlines()):
            if "AWS calls (" in line:
                return int(line.split()[0])
        for line in reversed(self.out.splitlines()):
            if line.startswith("calls "):
                return int(line.split()[1])
        raise SystemExit(f"no call count in output:\n{self.err[-2000:]}")

    def retries(self) -> int:
        """Retries novactl reported on its call summary line ("; N were retries")."""
        for line in reversed(self.err.splitlines()):
            if "AWS calls (" in line:
                part = line.split("; ")
                return int(part[1].split()[0]) if len(part) > 1 else 0
        return 0


def run(cmd: list, env: dict | None = None, check: bool = True) -> Result:
    """Runs `cmd`; wall time, CPU time and peak RSS of that process (wait4)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.monotonic()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - started
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        r = Result(
            wall,
            ru.ru_utime + ru.ru_stime,
            ru.ru_maxrss / 1024.0,
            out.read().decode("utf-8", "replace"),
            err.read().decode("utf-8", "replace"),
            p.returncode,
        )
    if check and r.code not in (0, 2):
        raise SystemExit(f"{' '.join(cmd)} exited {r.code}:\n{r.err[-3000:]}")
    return r


class Emulator:
    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [PY, str(ROOT / "tests/emulator/moto_launcher.py"), "--port", "0"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        line = self.proc.stdout.readline().decode()
        if not line.startswith("READY "):
            raise SystemExit(f"emulator said {line!r}")
        self.url = f"http://127.0.0.1:{line.split()[1]}"

    def post(self, path: str, body: bytes = b"") -> bytes:
        req = urllib.request.Request(self.url + path, data=body, method="POST")
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.read()

    def reset(self) -> None:
        self.post("/moto-api/reset")

    def latency(self, ms: int) -> None:
        self.post("/moto-api/novactl/latency", json.dumps({"ms": ms}).encode())

    def throttle(self, rates: dict) -> dict:
        return json.loads(self.post("/moto-api/novactl/throttle", json.dumps(rates).encode()))

    def throttled(self) -> int:
        with urllib.request.urlopen(self.url + "/moto-api/novactl/throttle", timeout=60) as r:
            return json.loads(r.read())["throttled"]

    def stop(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(20)


def med(xs: list) -> float:
    return statistics.median(xs)


class Bench:
    def __init__(self, emu: Emulator, work: Path):
        self.emu, self.work = emu, work
        self.env = dict(os.environ)
        self.env.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_EC2_METADATA_DISABLED="true",
            NO_COLOR="1",
        )
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "NOVACTL_ENV"):
            self.env.pop(k, None)
        self.lines: list = []

    def nv(self, *args: str, check: bool = True) -> Result:
        return run([BIN, *args, "--endpoint-url", self.emu.url], env=self.env, check=check)

    def plan(self, spec: str, *extra: str) -> Result:
        r = self.nv("plan", "-e", spec, "--detailed-exitcode", *extra)
        if r.code != 0:
            raise SystemExit(f"plan of {spec} is not a no-op:\n{r.out[-3000:]}")
        return r

    def apply(self, spec: str, *extra: str) -> Result:
        return self.nv("apply", "-e", spec, "--auto-approve", *extra)

    def plan_json(self, spec: str) -> str:
        path = self.work / (Path(spec).stem + f".{len(os.listdir(self.work))}.plan.json")
        path.write_text(self.nv("plan", "-e", spec, "--json").out)
        return str(path)

    def boto3(self, mode: str, plan_file: str) -> Result:
        return run([PY, str(HERE / "baseline.py"), mode, self.emu.url, plan_file], env=self.env)

    def say(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def row(name: str, nv: list, b3: list | None = None) -> str:
    n = f"{name:<44} novactl {med([r.wall for r in nv]):7.2f} s  {nv[0].calls():5d} calls"
    n += f"  cpu {med([r.cpu for r in nv]):5.2f} s  rss {max(r.rss_mb for r in nv):5.1f} MB"
    if b3:
        bw = med([r.wall for r in b3])
        n += f" | boto3 {bw:7.2f} s  {b3[0].calls():5d} calls  cpu {med([r.cpu for r in b3]):5.2f} s"
        n += f"  rss {max(r.rss_mb for r in b3):5.1f} MB | {bw / med([r.wall for r in nv]):5.1f}x"
    return n


def alternate(reps: int, a, b) -> tuple:  # type: ignore[no-untyped-def]
    ra, rb = [], []
    for _ in range(reps):
        ra.append(a())
        if b is not None:
            rb.append(b())
    return ra, rb


def by_kind(r: Result) -> list:
    out, on = [], False
    for line in r.err.splitlines():
        if line.startswith("AWS calls by kind"):
            on = True
            continue
        if on and line.startswith("  "):
            out.append(line)
        elif on:
            break
    return out


def main() -> None:
    if not os.access(BIN, os.X_OK):
        raise SystemExit(f"no release binary at {BIN}; run bench/run.sh")
    work = Path(tempfile.mkdtemp(prefix="novactl-bench-"))
    for sub in ("policies", "templates", "environments"):
        shutil.copytree(ROOT / sub, work / sub, dirs_exist_ok=True)
    # The seed's primary stack: local.yaml without its `dr:` section (the boto3 baseline
    # replays creates of the primary kinds only; the DR stack's numbers are in architecture.md).
    shutil.copy(work / "environments/local.yaml", work / "environments/local-dr.yaml")
    seed_dr = str(work / "environments/local-dr.yaml")
    primary = []
    in_dr = False
    for line in (work / "environments/local.yaml").read_text().splitlines(keepends=True):
        if line.strip() and not line.startswith((" ", "#")):
            in_dr = line.startswith("dr:")
        if not in_dr:
            primary.append(line)
    # The DR section and the waiver of its endpoint come from base.yaml: `null` removes them.
    primary.append("dr: null\ncheck:\n  waive:\n"
                   "    - {rule: NOVA-SM-004, address: sagemaker_endpoint.mentallama, reason: pilot}\n"
                   "    - {rule: NOVA-S3-006, address: s3.trail, reason: audit logs stay in the primary region}\n")
    (work / "environments/local.yaml").write_text("".join(primary))
    seed = str(work / "environments/local.yaml")
    g35 = gen_env.write("g35", 35, str(work))
    g500 = gen_env.write("g500", BIG, str(work))
    other = gen_env.write("other", BIG, str(work))
    emu = Emulator()
    b = Bench(emu, work)
    try:
        cpu = (Path("/proc/cpuinfo").read_text().split("model name")[1].split("\n")[0].strip(": \t")
               if Path("/proc/cpuinfo").exists() else platform.processor())
        b.say(f"novactl benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        b.say(f"machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}")
        b.say(f"binary: {BIN} ({os.path.getsize(BIN) / 1e6:.1f} MB); reps: {REPS} ({BIG_REPS} at {BIG})")
        b.say("medians; 'x' = boto3 wall time / novactl wall time")

        # Warm-up: moto loads each service on its first call.
        b.apply(seed)
        b.plan(seed)
        emu.reset()
        if "base" in SECTIONS:
            base_sections(b, emu, seed, g35, g500, other)
        if "big50" in SECTIONS:
            big50(b, emu, g500)
        if "dr" in SECTIONS:
            with_dr(b, emu, seed_dr)
        if "throttle" in SECTIONS:
            throttled(b, emu, g500)
    finally:
        emu.stop()
        shutil.rmtree(work, ignore_errors=True)


def big50(b: Bench, emu: Emulator, g500: str) -> None:
    b.say()
    b.say(f"== {BIG} resources with {LATENCY_MS} ms per call: apply from empty (one run each), no-op plan")
    emu.reset()
    empty = b.plan_json(g500)
    emu.latency(LATENCY_MS)
    try:
        b3 = b.boto3("creates", empty)
        emu.reset()
        one = b.apply(g500, "--parallelism", "1")
        emu.reset()
        par = b.apply(g500)
        b.say(row(f"apply generated {BIG}, default parallelism", [par], [b3]))
        b.say(row(f"apply generated {BIG}, --parallelism 1", [one], [b3]))
        emu.latency(0)
        reads = b.plan_json(g500)
        emu.latency(LATENCY_MS)
        nv, b3r = alternate(BIG_REPS, lambda: b.plan(g500), lambda: b.boto3("reads", reads))
        b.say(row(f"plan generated {BIG}, default parallelism", nv, b3r))
        one, _ = alternate(1, lambda: b.plan(g500, "--parallelism", "1"), None)
        b.say(row(f"plan generated {BIG}, --parallelism 1", one, b3r))
    finally:
        emu.latency(0)


def with_dr(b: Bench, emu: Emulator, seed_dr: str) -> None:
    b.say()
    b.say("== seed stack with its DR stack (local.yaml as shipped: network, security groups, standby region)")
    emu.reset()
    empty = b.plan_json(seed_dr)

    def nv_apply():  # type: ignore[no-untyped-def]
        emu.reset()
        return b.apply(seed_dr)

    def b3_create():  # type: ignore[no-untyped-def]
        emu.reset()
        return b.boto3("creates", empty)

    nv, b3 = alternate(REPS, nv_apply, b3_create)
    resources = len(json.loads(Path(empty).read_text())["changes"])
    b.say(row(f"apply seed + DR ({resources})", nv, b3))
    emu.reset()
    b.apply(seed_dr)
    reads = b.plan_json(seed_dr)
    nv, b3 = alternate(REPS, lambda: b.plan(seed_dr), lambda: b.boto3("reads", reads))
    b.say(row(f"plan seed + DR ({resources})", nv, b3))
    drills = []
    for _ in range(REPS):
        r = b.nv("dr", "drill", "-e", seed_dr, "--teardown", check=False)
        if r.code not in (0, 3):
            raise SystemExit(f"dr drill exited {r.code}:\n{r.err[-3000:]}")
        drills.append(r)
    verdict = next((line for line in reversed(drills[-1].err.splitlines() + drills[-1].out.splitlines())
                    if line.startswith("Drill ")), "")
    b.say(row("dr drill --teardown", drills) + f" | exit {drills[-1].code}: {verdict[:100]}")


def throttled(b: Bench, emu: Emulator, g500: str) -> None:
    b.say()
    rates = ", ".join(f"{k} {v}/s" for k, v in THROTTLE.items())
    b.say(f"== {BIG}-resource apply from empty under an API-rate throttle ({rates} per API action)")
    for mode in ("standard", "adaptive"):
        emu.reset()
        emu.throttle(THROTTLE)
        env = b.env
        b.env = dict(env, AWS_RETRY_MODE=mode)
        try:
            r = b.nv("apply", "-e", g500, "--auto-approve", check=False)
            throttled_calls = emu.throttled()
            plan = b.nv("plan", "-e", g500, "--detailed-exitcode", check=False)
        finally:
            b.env = env
            emu.throttle({})
        name = f"apply generated {BIG}, throttled, AWS_RETRY_MODE={mode}"
        if r.code == 0 and plan.code == 0:
            b.say(row(name, [r]) + f" | converged; novactl retried {r.retries()} calls;"
                  f" the emulator throttled {throttled_calls}")
        else:
            failed = [line.strip() for line in r.err.splitlines() if " failed: " in line]
            b.say(f"{name:<44} novactl {r.wall:7.2f} s  cpu {r.cpu:5.2f} s | FAILED (apply exit {r.code},"
                  f" plan exit {plan.code}): {len(failed)} failed calls, the emulator throttled {throttled_calls}")
            for line in failed[:3]:
                b.say(f"  {line[:160]}")

def base_sections(b: Bench, emu: Emulator, seed: str, g35: str, g500: str, other: str) -> None:
    """The plain-emulator comparisons, then crowded plans and the 50 ms seed and 35 runs."""
    b.say()
    b.say("== apply from empty (emulator reset before each run)")
    empty_plans = {s: b.plan_json(s) for s in (seed, g35)}
    for name, spec in (("seed stack (15)", seed), ("generated 35", g35)):
        def nv_apply(spec=spec):  # type: ignore[no-untyped-def]
            emu.reset()
            return b.apply(spec)

        def b3_create(spec=spec):  # type: ignore[no-untyped-def]
            emu.reset()
            return b.boto3("creates", empty_plans[spec])

        nv, b3 = alternate(REPS if spec == seed else BIG_REPS, nv_apply, b3_create)
        b.say(row(f"apply {name}", nv, b3))
    emu.reset()
    g500_empty = b.plan_json(g500)
    b3_500 = b.boto3("creates", g500_empty)
    emu.reset()
    nv_500 = b.apply(g500)
    b.say(row(f"apply generated {BIG}", [nv_500], [b3_500]))
    b.apply(seed)
    b.apply(g35)

    b.say()
    b.say("== no-op plan")
    read_plans = {s: b.plan_json(s) for s in (seed, g35, g500)}
    alone = {}
    for name, spec, reps in (("seed stack (15)", seed, REPS), ("generated 35", g35, REPS),
                             (f"generated {BIG}", g500, BIG_REPS)):
        nv, b3 = alternate(reps, lambda spec=spec: b.plan(spec),
                           lambda spec=spec: b.boto3("reads", read_plans[spec]))
        alone[spec] = nv
        b.say(row(f"plan {name}", nv, b3))
    big = alone[g500]
    b.say(f"client CPU per AWS call ({BIG} plan): {1000 * med([r.cpu for r in big]) / big[0].calls():.2f} ms; "
          f"peak memory {max(r.rss_mb for r in big):.1f} MB")
    for name, spec in (("seed stack", seed), (f"generated {BIG}", g500)):
        b.say(f"calls by kind, {name} no-op plan:")
        for line in by_kind(b.plan(spec, "-v")):
            b.say(line)

    b.say()
    b.say(f"== no-op plan with another {BIG}-resource environment in the account")
    b.apply(other)
    for name, spec, reps in (("seed stack (15)", seed, REPS), ("generated 35", g35, REPS),
                             (f"generated {BIG}", g500, BIG_REPS)):
        nv, _ = alternate(reps, lambda spec=spec: b.plan(spec), None)
        before = alone[spec][0].calls()
        b.say(row(f"plan {name}, crowded", nv)
              + f" | calls {nv[0].calls()} vs {before} alone ({100.0 * (nv[0].calls() - before) / before:+.1f}%),"
              + f" time {med([r.wall for r in nv]) / med([r.wall for r in alone[spec]]):.2f}x")

    b.say()
    b.say(f"== with {LATENCY_MS} ms per call (emulator --latency-ms)")
    emu.latency(LATENCY_MS)
    nv, b3 = alternate(REPS, lambda: b.plan(seed), lambda: b.boto3("reads", read_plans[seed]))
    b.say(row("plan seed stack (15)", nv, b3))
    par, one = alternate(REPS, lambda: b.plan(g35), lambda: b.plan(g35, "--parallelism", "1"))
    b.say(row("plan generated 35, default parallelism", par))
    b.say(row("plan generated 35, --parallelism 1", one)
          + f" | default is {med([r.wall for r in one]) / med([r.wall for r in par]):.1f}x faster")
    emu.latency(0)


if __name__ == "__main__":
    main()
