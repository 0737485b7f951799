"""Tests for tests/emulator/moto_launcher.py: start-up protocol, shutdown, and every patch.

Run with the emulator venv's python (boto3 and cbor2 come from there):

    python3 tests/emulator/moto_launcher.py --install-only
    .moto-venv/bin/python -m unittest tests/emulator/test_launcher.py -v
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import boto3
import botocore.config
import cbor2
from botocore.exceptions import ClientError

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "moto_launcher.py"
REGION = "us-east-1"
ACCOUNT = "123456789012"
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"
CW_PREFIX = "/service/GraniteServiceVersion20100801/operation/"
FAKE_AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/{service}/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


def base_python() -> str:
    """The interpreter the venv was made from: what `python3 moto_launcher.py` would run."""
    return getattr(sys, "_base_executable", None) or "python3"


class Launcher:
    """A launcher subprocess with stdin/stdout pipes; stderr goes to a temp file."""

    def __init__(self, python: str, *args: str, env: dict | None = None):
        self.stderr_file = tempfile.TemporaryFile()
        run_env = dict(os.environ)
        run_env["NOVACTL_MOTO_VENV"] = sys.prefix  # the venv running these tests
        run_env.update(env or {})
        self.proc = subprocess.Popen(
            [python, str(LAUNCHER), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
            env=run_env,
        )
        self.port: int | None = None

    def wait_ready(self, timeout: float = 60) -> int:
        line = read_line(self.proc.stdout, timeout)
        if not line.startswith(b"READY "):
            raise AssertionError(f"expected READY line, got {line!r}; stderr:\n{self.stderr()}")
        self.port = int(line.split()[1])
        return self.port

    def stderr(self) -> str:
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for stream in (self.proc.stdin, self.proc.stdout, self.stderr_file):
            if not stream.closed:
                stream.close()
        return self.proc.returncode


def read_line(stream, timeout: float) -> bytes:
    result: list = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not result:
        raise AssertionError(f"no line on stdout within {timeout}s")
    return result[0]


SERVER: Launcher | None = None
ENDPOINT = ""


def setUpModule() -> None:
    # Start the shared server the way the Rust tests do: the system python3, which
    # checks the venv stamp and re-execs itself with the venv's python.
    global SERVER, ENDPOINT
    SERVER = Launcher(base_python())
    port = SERVER.wait_ready(120)
    ENDPOINT = f"http://127.0.0.1:{port}"


def tearDownModule() -> None:
    if SERVER is not None:
        SERVER.stop()


def client(service: str):
    config = botocore.config.Config(
        retries={"max_attempts": 1},
        s3={"addressing_style": "path"},
    )
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="dummy-secret",
        config=config,
    )


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def http(method: str, path: str, body: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(ENDPOINT + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def get(port: int, path: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as resp:
        resp.read()
        return resp


# ---------------------------------------------------------------------------
# Launcher protocol
# ---------------------------------------------------------------------------


class LauncherProcessTests(unittest.TestCase):
    def test_shared_server_reexeced_into_the_venv_with_the_same_pid(self) -> None:
        cmdline = Path(f"/proc/{SERVER.proc.pid}/cmdline").read_bytes().split(b"\0")
        self.assertEqual(os.path.realpath(cmdline[0].decode()), os.path.realpath(os.path.join(sys.prefix, "bin", "python")))
        self.assertIn("patch applied: patch_cloudwatch_rpcv2_cbor", SERVER.stderr())

    def test_exits_when_stdin_is_closed_and_prints_only_ready(self) -> None:
        launcher = Launcher(sys.executable)
        try:
            port = launcher.wait_ready()
            # Make that server do some work (moto may print) before we stop it.
            self.assertEqual(get(port, "/").status, 200)  # S3 ListBuckets, moto's default service
            launcher.proc.stdin.close()
            self.assertEqual(launcher.proc.wait(15), 0, launcher.stderr())
            self.assertEqual(launcher.proc.stdout.read(), b"", "stdout must carry only the READY line")
            self.assertIn("stdin closed", launcher.stderr())
        finally:
            launcher.stop()

    def test_exits_on_sigterm(self) -> None:
        launcher = Launcher(sys.executable, "--no-stdin-watch")
        try:
            port = launcher.wait_ready()
            launcher.proc.stdin.close()  # ignored with --no-stdin-watch
            time.sleep(0.7)
            self.assertIsNone(launcher.proc.poll(), "--no-stdin-watch must keep running after stdin EOF")
            self.assertLess(get(port, "/moto-api/config").status, 300)
            launcher.proc.send_signal(signal.SIGTERM)
            self.assertEqual(launcher.proc.wait(15), 0, launcher.stderr())
        finally:
            launcher.stop()

    def test_fixed_port(self) -> None:
        probe = Launcher(sys.executable)
        port = probe.wait_ready()
        probe.stop()  # free the port again, then ask for it explicitly
        launcher = Launcher(sys.executable, "--port", str(port))
        try:
            self.assertEqual(launcher.wait_ready(), port)
        finally:
            launcher.stop()

    def test_install_only_fast_path_runs_no_pip(self) -> None:
        started = time.monotonic()
        result = subprocess.run(
            [base_python(), str(LAUNCHER), "--install-only"],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=dict(os.environ, NOVACTL_MOTO_VENV=sys.prefix),
            timeout=60,
        )
        self.assertEqual(result.returncode, 0, result.stderr.decode())
        self.assertEqual(result.stdout, b"")
        self.assertNotIn(b"pip", result.stderr)
        self.assertLess(time.monotonic() - started, 10)


class PatchDefinitionTests(unittest.TestCase):
    def setUp(self) -> None:
        import importlib.util

        spec = importlib.util.spec_from_file_location("moto_launcher_under_test", LAUNCHER)
        self.launcher = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(self.launcher)

    def test_every_patch_names_its_gap(self) -> None:
        patches = list(self.launcher.PATCHES) + [self.launcher.patch_cloudwatch_rpcv2_cbor]
        self.assertEqual(len(patches), 25)
        for patch in patches:
            self.assertTrue(patch.__doc__.startswith("Close: | "), patch.__name__)

    def test_missing_patch_target_fails_loudly(self) -> None:
        class Moved:
            present = True

        with self.assertRaises(self.launcher.PatchTargetMissing):
            self.launcher._require(Moved, "gone")
        with self.assertRaises(self.launcher.PatchTargetMissing):
            self.launcher._require(Moved, "present", present=False)
        self.launcher._require(Moved, "present")

    def test_tls_only_condition_matcher(self) -> None:
        matches = self.launcher._is_tls_only_condition
        self.assertTrue(matches({"Bool": {"aws:SecureTransport": "false"}}))
        self.assertTrue(matches({"Bool": {"aws:securetransport": ["false"]}}))
        self.assertTrue(matches({"Bool": {"aws:SecureTransport": False}}))
        self.assertFalse(matches({"Bool": {"aws:SecureTransport": "true"}}))
        self.assertFalse(matches({"Bool": {"aws:SecureTransport": "false"}, "StringEquals": {"aws:SourceVpce": "v"}}))
        self.assertFalse(matches({"Bool": {"aws:SecureTransport": "false", "aws:ViaAWSService": "false"}}))
        self.assertFalse(matches(None))


class Ec2FixtureTests(unittest.TestCase):
    """Launcher setting: moto's public AMIs are not loaded (their set-up was ~280 ms of server
    CPU per region after every reset); the region's default VPC is still made."""

    def test_a_region_starts_without_public_images_but_with_its_default_vpc(self) -> None:
        ec2 = client("ec2")
        self.assertEqual(ec2.describe_images(Owners=["amazon"])["Images"], [])
        self.assertEqual(ec2.describe_snapshots(OwnerIds=["amazon"])["Snapshots"], [])
        default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
        self.assertEqual(len(default), 1)


class KmsKeyPairPatchTests(unittest.TestCase):
    def test_asymmetric_keys_still_sign_verify_and_give_their_public_key(self) -> None:
        kms = client("kms")
        key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        sig = kms.sign(KeyId=key, Message=b"phi", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
        ok = kms.verify(KeyId=key, Message=b"phi", Signature=sig, SigningAlgorithm="RSASSA_PSS_SHA_256")
        self.assertTrue(ok["SignatureValid"])
        self.assertGreater(len(kms.get_public_key(KeyId=key)["PublicKey"]), 200)
        ec = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
        sig = kms.sign(KeyId=ec, Message=b"phi", SigningAlgorithm="ECDSA_SHA_256")["Signature"]
        self.assertTrue(kms.verify(KeyId=ec, Message=b"phi", Signature=sig, SigningAlgorithm="ECDSA_SHA_256")["SignatureValid"])

    def test_a_symmetric_key_makes_no_key_pair_and_still_encrypts(self) -> None:
        import importlib.util

        spec = importlib.util.spec_from_file_location("moto_launcher_kms", LAUNCHER)
        launcher = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(launcher)
        made = []
        proxy = launcher._LazyPrivateKey(lambda key_spec: made.append(key_spec) or "pair", "RSA_2048")
        self.assertFalse(proxy.made())
        self.assertEqual(made, [], "nothing is made before use")
        self.assertEqual(proxy.upper(), "PAIR")
        self.assertEqual(made, ["RSA_2048"])
        proxy.lower()
        self.assertEqual(made, ["RSA_2048"], "made once")
        # Wired into moto's Key (in this process): a symmetric key's pair is never made.
        launcher.patch_kms_key_pair_on_use()
        from moto.kms.models import Key

        sym = Key(None, "ENCRYPT_DECRYPT", "SYMMETRIC_DEFAULT", "", ACCOUNT, REGION)
        self.assertFalse(sym.private_key.made())
        kms = client("kms")
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        blob = kms.encrypt(KeyId=key, Plaintext=b"phi")["CiphertextBlob"]
        self.assertEqual(kms.decrypt(CiphertextBlob=blob)["Plaintext"], b"phi")


class DispatchCachePatchTests(unittest.TestCase):
    def test_cached_lookups_answer_as_moto_does(self) -> None:
        import importlib.util

        import moto.backends as moto_backends
        import moto.core.responses as core_responses
        from moto.core.utils import method_names_from_class
        from moto.sagemaker.responses import SageMakerResponse

        before = list(moto_backends.list_of_moto_modules())
        spec = importlib.util.spec_from_file_location("moto_launcher_dispatch", LAUNCHER)
        launcher = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(launcher)
        launcher.patch_dispatch_lookups_cached()
        self.assertEqual(list(moto_backends.list_of_moto_modules()), before)
        self.assertIn("ec2", moto_backends.list_of_moto_modules())
        cached = core_responses.method_names_from_class(SageMakerResponse)
        self.assertEqual(set(cached), set(method_names_from_class(SageMakerResponse)))
        self.assertIn("create_endpoint", cached)
        self.assertIs(core_responses.method_names_from_class(SageMakerResponse), cached, "computed once")
        # Through the server: every service still dispatches (one call each).
        self.assertIn("Buckets", client("s3").list_buckets())
        self.assertIn("Vpcs", client("ec2").describe_vpcs())
        self.assertIn("Models", client("sagemaker").list_models())


class KeepAliveTests(unittest.TestCase):
    """Patch w: connections stay open between requests, as on AWS (werkzeug closed every one)."""

    def connect(self):  # type: ignore[no-untyped-def]
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", SERVER.port, timeout=30)
        self.addCleanup(conn.close)
        return conn

    def config(self, conn, **kwargs):  # type: ignore[no-untyped-def]
        conn.request("GET", "/moto-api/config", **kwargs)
        resp = conn.getresponse()
        body = resp.read()
        self.assertEqual(resp.status, 201, body)
        self.assertIn("batch", json.loads(body))
        return resp

    def test_requests_share_one_connection(self) -> None:
        conn = self.connect()
        first = self.config(conn)
        self.assertIsNone(first.getheader("Connection"))
        sock = conn.sock
        self.assertIsNotNone(sock, "the server closed the connection after one request")
        for _ in range(3):
            self.config(conn)
            self.assertIs(conn.sock, sock, "each request should reuse the first connection")
        # A real AWS call on a kept connection: the SDK pools it too.
        s3 = client("s3")
        bucket = unique("keepalive")
        s3.create_bucket(Bucket=bucket)
        self.assertIn(bucket, [b["Name"] for b in s3.list_buckets()["Buckets"]])

    def test_a_body_the_application_does_not_read_does_not_become_the_next_request(self) -> None:
        # GET /moto-api/config ignores its body. If the server left it on the socket, the next
        # request would be read from inside it ("GET /moto-api/reset ..." is a request line).
        junk = b"GET /moto-api/reset HTTP/1.1\r\nHost: x\r\n\r\n" * 300
        conn = self.connect()
        self.config(conn, body=junk, headers={"Content-Length": str(len(junk))})
        sock = conn.sock
        self.config(conn)
        self.assertIs(conn.sock, sock)
        conn.request("GET", "/moto-api/config", body=iter([junk[:1000], junk[1000:]]), encode_chunked=True)
        resp = conn.getresponse()
        resp.read()
        self.assertEqual(resp.status, 201)
        self.config(conn)
        self.assertIs(conn.sock, sock)

    def test_a_client_that_asks_to_close_gets_a_closed_connection(self) -> None:
        conn = self.connect()
        resp = self.config(conn, headers={"Connection": "close"})
        self.assertEqual(resp.getheader("Connection"), "close")
        self.assertIsNone(conn.sock, "http.client closes once the server says close")


# ---------------------------------------------------------------------------
# a. S3 GetBucketVersioning root element
# ---------------------------------------------------------------------------


class S3VersioningPatchTests(unittest.TestCase):
    def raw_versioning(self, bucket: str) -> ET.Element:
        status, _, body = http("GET", f"/{bucket}?versioning", headers={"Authorization": FAKE_AUTH.format(service="s3")})
        self.assertEqual(status, 200, body)
        return ET.fromstring(body)

    def test_root_is_versioning_configuration(self) -> None:
        s3 = client("s3")
        bucket = unique("ver")
        s3.create_bucket(Bucket=bucket)

        root = self.raw_versioning(bucket)
        self.assertEqual(root.tag, S3_NS + "VersioningConfiguration")
        self.assertEqual(list(root), [], "never-versioned bucket: empty VersioningConfiguration")

        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Disabled"})
        root = self.raw_versioning(bucket)
        self.assertEqual(root.tag, S3_NS + "VersioningConfiguration")
        self.assertEqual(root.findtext(S3_NS + "Status"), "Enabled")
        self.assertEqual(root.findtext(S3_NS + "MfaDelete"), "Disabled")

        got = s3.get_bucket_versioning(Bucket=bucket)
        self.assertEqual(got["Status"], "Enabled")
        self.assertEqual(got["MFADelete"], "Disabled")

        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
        self.assertEqual(s3.get_bucket_versioning(Bucket=bucket)["Status"], "Suspended")

    def test_missing_bucket_is_still_an_error(self) -> None:
        with self.assertRaises(ClientError) as ctx:
            client("s3").get_bucket_versioning(Bucket=unique("nobucket"))
        self.assertEqual(ctx.exception.response["Error"]["Code"], "NoSuchBucket")


# ---------------------------------------------------------------------------
# b. S3 bucket policy: aws:SecureTransport is "true"
# ---------------------------------------------------------------------------


def tls_only_statement(bucket: str) -> dict:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


class S3PolicyPatchTests(unittest.TestCase):
    def test_tls_only_policy_allows_object_calls(self) -> None:
        s3 = client("s3")
        bucket = unique("tls")
        s3.create_bucket(Bucket=bucket)
        policy = json.dumps({"Version": "2012-10-17", "Statement": [tls_only_statement(bucket)]})
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)

        s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
        self.assertEqual(s3.get_object(Bucket=bucket, Key="k")["Body"].read(), b"hello")
        self.assertEqual(s3.head_object(Bucket=bucket, Key="k")["ContentLength"], 5)
        s3.delete_object(Bucket=bucket, Key="k")
        # The policy itself is stored untouched.
        stored = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
        self.assertEqual(stored["Statement"][0]["Condition"], {"Bool": {"aws:SecureTransport": "false"}})

    def test_tls_only_statement_as_single_object_and_bool_value(self) -> None:
        s3 = client("s3")
        bucket = unique("tls1")
        s3.create_bucket(Bucket=bucket)
        statement = tls_only_statement(bucket)
        statement["Condition"] = {"Bool": {"aws:SecureTransport": ["false"]}}
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statement}))
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
        self.assertEqual(s3.get_object(Bucket=bucket, Key="k")["Body"].read(), b"x")

    def test_other_statements_keep_mottos_behaviour(self) -> None:
        s3 = client("s3")
        bucket = unique("tls2")
        s3.create_bucket(Bucket=bucket)
        deny_delete = {
            "Sid": "NoDeletes",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:DeleteObject",
            "Resource": f"arn:aws:s3:::{bucket}/*",
        }
        policy = {"Version": "2012-10-17", "Statement": [tls_only_statement(bucket), deny_delete]}
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))

        s3.put_object(Bucket=bucket, Key="k", Body=b"x")
        self.assertEqual(s3.get_object(Bucket=bucket, Key="k")["Body"].read(), b"x")
        with self.assertRaises(ClientError) as ctx:
            s3.delete_object(Bucket=bucket, Key="k")
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)

    def test_a_different_condition_is_not_dropped(self) -> None:
        # moto still ignores other conditions: a Deny with another condition denies (unchanged).
        s3 = client("s3")
        bucket = unique("tls3")
        s3.create_bucket(Bucket=bucket)
        statement = tls_only_statement(bucket)
        statement["Condition"] = {"StringEquals": {"aws:SourceVpce": "vpce-123"}}
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
        with self.assertRaises(ClientError) as ctx:
            s3.put_object(Bucket=bucket, Key="k", Body=b"x")
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)


# ---------------------------------------------------------------------------
# c, d, e. SageMaker
# ---------------------------------------------------------------------------

ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/model:latest"


def make_model(sm, name: str, **extra) -> None:
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE,
        PrimaryContainer={"Image": IMAGE, "ModelDataUrl": "s3://bucket/model.tar.gz"},
        **extra,
    )


def variant(model: str, instance_type: str, name: str = "primary") -> dict:
    return {
        "VariantName": name,
        "ModelName": model,
        "InitialInstanceCount": 1,
        "InstanceType": instance_type,
        "InitialVariantWeight": 1.0,
    }


class S3LoggingPatchTests(unittest.TestCase):
    """i. patch_s3_logging_policy_principal_star"""

    def setUp(self) -> None:
        self.s3 = client("s3")
        self.bucket = unique("logs")
        self.s3.create_bucket(Bucket=self.bucket)
        self.arn = f"arn:aws:s3:::{self.bucket}"

    def put_policy(self, with_delivery: bool) -> None:
        statements = [{"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                       "Resource": [self.arn, f"{self.arn}/*"],
                       "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]
        if with_delivery:
            statements.append({"Sid": "Delivery", "Effect": "Allow",
                               "Principal": {"Service": "logging.s3.amazonaws.com"},
                               "Action": "s3:PutObject", "Resource": f"{self.arn}/*"})
        self.s3.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))

    def test_logging_to_a_tls_only_bucket_that_admits_log_delivery(self) -> None:
        self.put_policy(with_delivery=True)
        self.s3.put_bucket_logging(Bucket=self.bucket, BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": self.bucket, "TargetPrefix": "self/"}})
        got = self.s3.get_bucket_logging(Bucket=self.bucket)["LoggingEnabled"]
        self.assertEqual((got["TargetBucket"], got["TargetPrefix"]), (self.bucket, "self/"))
        # The stored policy still has both statements.
        stored = json.loads(self.s3.get_bucket_policy(Bucket=self.bucket)["Policy"])
        self.assertEqual([s["Sid"] for s in stored["Statement"]], ["TlsOnly", "Delivery"])

    def test_without_the_delivery_statement_it_is_still_refused(self) -> None:
        self.put_policy(with_delivery=False)
        with self.assertRaises(ClientError) as e:
            self.s3.put_bucket_logging(Bucket=self.bucket, BucketLoggingStatus={
                "LoggingEnabled": {"TargetBucket": self.bucket, "TargetPrefix": "self/"}})
        self.assertEqual(e.exception.response["Error"]["Code"], "InvalidTargetBucketForLogging")


class LogsMetricFilterPatchTests(unittest.TestCase):
    """h. patch_logs_put_metric_filter_replaces"""

    def test_put_replaces_a_filter_of_the_same_name(self) -> None:
        logs = client("logs")
        group, other = unique("/g"), unique("/g")
        for g in (group, other):
            logs.create_log_group(logGroupName=g)
        transform = [{"metricName": "M", "metricNamespace": "N", "metricValue": "1"}]
        for g in (group, other):
            logs.put_metric_filter(logGroupName=g, filterName="f", filterPattern="old", metricTransformations=transform)
        logs.put_metric_filter(logGroupName=group, filterName="f", filterPattern="new", metricTransformations=transform)
        found = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
        self.assertEqual([(f["filterName"], f["filterPattern"]) for f in found], [("f", "new")])
        # The same name on another group is another filter, left alone.
        kept = logs.describe_metric_filters(logGroupName=other)["metricFilters"]
        self.assertEqual([f["filterPattern"] for f in kept], ["old"])


# ---------------------------------------------------------------------------
# g. S3 conditional writes are one step
# ---------------------------------------------------------------------------


class S3ConditionalWritePatchTests(unittest.TestCase):
    """A lock object: of several writers racing on one key, exactly one conditional write wins."""

    ROUNDS = 15
    WRITERS = 8

    @classmethod
    def setUpClass(cls) -> None:
        cls.s3 = client("s3")
        cls.bucket = unique("cond")
        cls.s3.create_bucket(Bucket=cls.bucket)

    def race(self, call) -> list:  # type: ignore[no-untyped-def]
        """Runs call(i) in WRITERS threads released at once; returns the indexes that succeeded."""
        barrier = threading.Barrier(self.WRITERS)
        won: list = []
        failures: list = []

        def run(i: int) -> None:
            barrier.wait()
            try:
                call(i)
                won.append(i)
            except ClientError as err:
                failures.append(err.response["Error"]["Code"])

        threads = [threading.Thread(target=run, args=(i,)) for i in range(self.WRITERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(set(failures) - {"PreconditionFailed"}, set(), failures)
        return won

    def test_one_create_wins(self) -> None:
        for _ in range(self.ROUNDS):
            key = unique("lock")
            won = self.race(lambda i: self.s3.put_object(Bucket=self.bucket, Key=key, Body=f"writer {i}".encode(), IfNoneMatch="*"))
            self.assertEqual(len(won), 1, won)
            body = self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
            self.assertEqual(body, f"writer {won[0]}".encode())

    def test_one_take_over_wins(self) -> None:
        for _ in range(self.ROUNDS):
            key = unique("lock")
            etag = self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"old")["ETag"]
            won = self.race(lambda i: self.s3.put_object(Bucket=self.bucket, Key=key, Body=f"writer {i}".encode(), IfMatch=etag))
            self.assertEqual(len(won), 1, won)

    def test_conditional_delete_and_mismatch(self) -> None:
        key = unique("lock")
        etag = self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"mine")["ETag"]
        with self.assertRaises(ClientError) as err:
            self.s3.delete_object(Bucket=self.bucket, Key=key, IfMatch='"0000"')
        self.assertEqual(err.exception.response["Error"]["Code"], "PreconditionFailed")
        self.s3.delete_object(Bucket=self.bucket, Key=key, IfMatch=etag)
        with self.assertRaises(ClientError):
            self.s3.head_object(Bucket=self.bucket, Key=key)
        # Unconditional writes are not serialised (and still work).
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"again")
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=b"again 2")


class SageMakerPatchTests(unittest.TestCase):
    def setUp(self) -> None:
        self.sm = client("sagemaker")

    def test_c_new_instance_families_accepted(self) -> None:
        model = unique("m")
        make_model(self.sm, model)
        for instance_type in ("ml.g5.xlarge", "ml.g6.2xlarge", "ml.p5.48xlarge", "ml.g6e.12xlarge"):
            config = unique("cfg")
            self.sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[variant(model, instance_type)])
            described = self.sm.describe_endpoint_config(EndpointConfigName=config)
            self.assertEqual(described["ProductionVariants"][0]["InstanceType"], instance_type)

    def test_c_non_ml_instance_type_still_rejected(self) -> None:
        model = unique("m")
        make_model(self.sm, model)
        with self.assertRaises(ClientError) as ctx:
            self.sm.create_endpoint_config(EndpointConfigName=unique("cfg"), ProductionVariants=[variant(model, "g5.xlarge")])
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ValidationException")

    def test_d_enable_network_isolation_is_kept(self) -> None:
        isolated, open_model = unique("iso"), unique("open")
        make_model(self.sm, isolated, EnableNetworkIsolation=True)
        make_model(self.sm, open_model)
        self.assertIs(self.sm.describe_model(ModelName=isolated)["EnableNetworkIsolation"], True)
        self.assertIs(self.sm.describe_model(ModelName=open_model)["EnableNetworkIsolation"], False)
        explicit_false = unique("nf")
        make_model(self.sm, explicit_false, EnableNetworkIsolation=False)
        self.assertIs(self.sm.describe_model(ModelName=explicit_false)["EnableNetworkIsolation"], False)

    def test_r_add_tags_replaces_the_value_of_an_existing_key(self) -> None:
        model = unique("m")
        make_model(self.sm, model, Tags=[{"Key": "a", "Value": "old"}, {"Key": "b", "Value": "kept"}])
        arn = self.sm.describe_model(ModelName=model)["ModelArn"]
        self.sm.add_tags(ResourceArn=arn, Tags=[{"Key": "a", "Value": "new"}, {"Key": "c", "Value": "added"}])
        tags = sorted((t["Key"], t["Value"]) for t in self.sm.list_tags(ResourceArn=arn)["Tags"])
        self.assertEqual(tags, [("a", "new"), ("b", "kept"), ("c", "added")])

    def test_e_update_endpoint_switches_config(self) -> None:
        model = unique("m")
        make_model(self.sm, model)
        config_a, config_b, endpoint = unique("cfga"), unique("cfgb"), unique("ep")
        self.sm.create_endpoint_config(EndpointConfigName=config_a, ProductionVariants=[variant(model, "ml.m5.large", "a")])
        self.sm.create_endpoint_config(
            EndpointConfigName=config_b,
            ProductionVariants=[variant(model, "ml.g5.xlarge", "b1"), variant(model, "ml.g5.2xlarge", "b2")],
        )
        arn = self.sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config_a)["EndpointArn"]
        before = self.sm.describe_endpoint(EndpointName=endpoint)
        time.sleep(0.05)

        updated = self.sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=config_b, RetainAllVariantProperties=False)
        self.assertEqual(updated["EndpointArn"], arn)

        after = self.sm.describe_endpoint(EndpointName=endpoint)
        self.assertEqual(after["EndpointConfigName"], config_b)
        self.assertEqual(after["EndpointStatus"], "InService")
        self.assertEqual([v["VariantName"] for v in after["ProductionVariants"]], ["b1", "b2"])
        self.assertGreater(after["LastModifiedTime"], before["LastModifiedTime"])
        self.assertEqual(after["CreationTime"], before["CreationTime"])

    def test_e_update_endpoint_missing_endpoint(self) -> None:
        model = unique("m")
        make_model(self.sm, model)
        config = unique("cfg")
        self.sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[variant(model, "ml.m5.large")])
        missing = unique("noep")
        with self.assertRaises(ClientError) as ctx:
            self.sm.update_endpoint(EndpointName=missing, EndpointConfigName=config)
        error = ctx.exception.response["Error"]
        self.assertEqual(error["Code"], "ValidationException")
        self.assertIn(f"Could not find endpoint \"arn:aws:sagemaker:{REGION}:{ACCOUNT}:endpoint/{missing}\"", error["Message"])

    def test_e_update_endpoint_missing_config(self) -> None:
        model = unique("m")
        make_model(self.sm, model)
        config, endpoint = unique("cfg"), unique("ep")
        self.sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[variant(model, "ml.m5.large")])
        self.sm.create_endpoint(EndpointName=endpoint, EndpointConfigName=config)
        with self.assertRaises(ClientError) as ctx:
            self.sm.update_endpoint(EndpointName=endpoint, EndpointConfigName=unique("nocfg"))
        error = ctx.exception.response["Error"]
        self.assertEqual(error["Code"], "ValidationException")
        self.assertIn("Could not find endpoint configuration", error["Message"])
        self.assertEqual(self.sm.describe_endpoint(EndpointName=endpoint)["EndpointConfigName"], config)


# ---------------------------------------------------------------------------
# f. CloudWatch over Smithy rpc-v2-cbor
# ---------------------------------------------------------------------------


def cw_call(operation: str, params: dict | None = None, raw_body: bytes | None = None):
    """POST one rpc-v2-cbor request like aws-sdk-cloudwatch does; returns (status, headers, raw body)."""
    headers = {
        "smithy-protocol": "rpc-v2-cbor",
        "Accept": "application/cbor",
        "Authorization": FAKE_AUTH.format(service="monitoring"),
        "x-amzn-query-mode": "true",
    }
    body = raw_body
    if params is not None:
        body = cbor2.dumps(params)
    if body:
        headers["Content-Type"] = "application/cbor"
    return http("POST", CW_PREFIX + operation, body=body or b"", headers=headers)


def cw_ok(test: unittest.TestCase, operation: str, params: dict | None = None):
    status, headers, body = cw_call(operation, params)
    test.assertEqual(status, 200, f"{operation}: {cbor2.loads(body) if body else body!r}")
    test.assertEqual(headers.get("smithy-protocol"), "rpc-v2-cbor")
    return headers, body


class AutoScalingNotFoundPatchTests(unittest.TestCase):
    """m. A missing scaling target or policy is ObjectNotFoundException, as on AWS."""

    def setUp(self) -> None:
        self.aas = client("application-autoscaling")
        self.rid = f"endpoint/{unique('ep')}/variant/default"
        self.dims = dict(
            ServiceNamespace="sagemaker",
            ResourceId=self.rid,
            ScalableDimension="sagemaker:variant:DesiredInstanceCount",
        )

    def test_m_missing_target_and_policy_are_object_not_found(self) -> None:
        with self.assertRaises(ClientError) as ctx:
            self.aas.deregister_scalable_target(**self.dims)
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ObjectNotFoundException")
        self.assertIn("No scalable target found", ctx.exception.response["Error"]["Message"])
        with self.assertRaises(ClientError) as ctx:
            self.aas.delete_scaling_policy(PolicyName="p", **self.dims)
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ObjectNotFoundException")

    def test_m_existing_target_and_policy_still_delete(self) -> None:
        self.aas.register_scalable_target(MinCapacity=1, MaxCapacity=2, **self.dims)
        self.aas.put_scaling_policy(
            PolicyName="p",
            PolicyType="TargetTrackingScaling",
            TargetTrackingScalingPolicyConfiguration={
                "TargetValue": 5.0,
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            },
            **self.dims,
        )
        self.aas.delete_scaling_policy(PolicyName="p", **self.dims)
        self.aas.deregister_scalable_target(**self.dims)
        left = self.aas.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[self.rid])
        self.assertEqual(left["ScalableTargets"], [])


class CloudWatchCborTests(unittest.TestCase):
    maxDiff = None

    def put_alarm(self, name: str, **overrides) -> dict:
        params = {
            "AlarmName": name,
            "AlarmDescription": "p99 latency too high",
            "ActionsEnabled": True,
            "OKActions": [f"arn:aws:sns:{REGION}:{ACCOUNT}:ok"],
            "AlarmActions": [f"arn:aws:sns:{REGION}:{ACCOUNT}:alarm"],
            "InsufficientDataActions": [f"arn:aws:sns:{REGION}:{ACCOUNT}:insufficient"],
            "MetricName": "ModelLatency",
            "Namespace": "AWS/SageMaker",
            "Statistic": "Average",
            "Dimensions": [
                {"Name": "EndpointName", "Value": "ep"},
                {"Name": "VariantName", "Value": "primary"},
            ],
            "Period": 60,
            "EvaluationPeriods": 3,
            "DatapointsToAlarm": 2,
            "Threshold": 250000.5,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "Tags": [{"Key": "app", "Value": "novactl"}],
        }
        params.update(overrides)
        params = {k: v for k, v in params.items() if v is not None}
        headers, body = cw_ok(self, "PutMetricAlarm", params)
        # PutMetricAlarm has no output: no body and no Content-Type (rpcv2Cbor spec).
        self.assertEqual(body, b"")
        self.assertNotIn("content-type", headers)
        return params

    def describe(self, names: list) -> tuple:
        headers, body = cw_ok(self, "DescribeAlarms", {"AlarmNames": names})
        self.assertEqual(headers.get("content-type"), "application/cbor")
        return cbor2.loads(body), body

    def test_put_and_describe_alarm_round_trip(self) -> None:
        name = unique("alarm")
        sent = self.put_alarm(name)
        other = unique("alarm-p99")
        self.put_alarm(other, Statistic=None, ExtendedStatistic="p99", Threshold=3.0, ActionsEnabled=False)

        reply, raw = self.describe([name])
        self.assertEqual(len(reply["MetricAlarms"]), 1)
        alarm = reply["MetricAlarms"][0]
        for key in (
            "AlarmName", "AlarmDescription", "ActionsEnabled", "OKActions", "AlarmActions",
            "InsufficientDataActions", "MetricName", "Namespace", "Statistic", "Dimensions",
            "Period", "EvaluationPeriods", "DatapointsToAlarm", "Threshold", "ComparisonOperator",
            "TreatMissingData",
        ):
            self.assertEqual(alarm[key], sent[key], key)
        self.assertEqual(alarm["AlarmArn"], f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}")
        self.assertIn(alarm["StateValue"], ("OK", "ALARM", "INSUFFICIENT_DATA"))
        # Types the Rust SDK's strict CBOR decoder needs:
        self.assertIsInstance(alarm["Threshold"], float)
        self.assertIsInstance(alarm["Period"], int)
        self.assertIsInstance(alarm["ActionsEnabled"], bool)
        self.assertIn(b"iThreshold\xfb", raw, "Threshold must be a CBOR double")
        self.assertIn(b"fPeriod\x18\x3c", raw, "Period must be a CBOR unsigned integer")
        self.assertIn(b"uStateUpdatedTimestamp\xc1\xfb", raw, "timestamps must be tag 1 + double")
        self.assertLess(abs(alarm["StateUpdatedTimestamp"].timestamp() - time.time()), 300)

        reply, raw = self.describe([other])
        alarm = reply["MetricAlarms"][0]
        self.assertEqual(alarm["ExtendedStatistic"], "p99")
        self.assertNotIn("Statistic", alarm)
        self.assertIs(alarm["ActionsEnabled"], False)
        self.assertEqual(alarm["Threshold"], 3.0)
        self.assertIn(b"iThreshold\xfb", raw, "a whole-number Threshold is still a CBOR double")

        # The AlarmNames filter really filters.
        reply, _ = self.describe([name, other])
        self.assertEqual(sorted(a["AlarmName"] for a in reply["MetricAlarms"]), sorted([name, other]))

    def test_tags_on_alarms(self) -> None:
        name = unique("alarm")
        self.put_alarm(name)
        arn = f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
        _, body = cw_ok(self, "ListTagsForResource", {"ResourceARN": arn})
        self.assertEqual(cbor2.loads(body)["Tags"], [{"Key": "app", "Value": "novactl"}])
        _, body = cw_ok(self, "TagResource", {"ResourceARN": arn, "Tags": [{"Key": "team", "Value": "ml"}]})
        self.assertEqual(cbor2.loads(body), {})  # TagResourceOutput is an empty structure
        _, body = cw_ok(self, "UntagResource", {"ResourceARN": arn, "TagKeys": ["app"]})
        _, body = cw_ok(self, "ListTagsForResource", {"ResourceARN": arn})
        self.assertEqual(cbor2.loads(body)["Tags"], [{"Key": "team", "Value": "ml"}])

    def test_delete_alarms(self) -> None:
        name = unique("alarm")
        self.put_alarm(name)
        headers, body = cw_ok(self, "DeleteAlarms", {"AlarmNames": [name]})
        self.assertEqual(body, b"")
        reply, _ = self.describe([name])
        self.assertEqual(reply["MetricAlarms"], [])

    def test_dashboard_round_trip(self) -> None:
        name = unique("dash")
        dashboard_body = json.dumps({"widgets": [{"type": "text", "x": 0, "y": 0, "width": 6, "height": 3, "properties": {"markdown": "hi"}}]})
        _, body = cw_ok(self, "PutDashboard", {"DashboardName": name, "DashboardBody": dashboard_body})
        self.assertEqual(cbor2.loads(body).get("DashboardValidationMessages", []), [])

        _, body = cw_ok(self, "GetDashboard", {"DashboardName": name})
        got = cbor2.loads(body)
        self.assertEqual(got["DashboardName"], name)
        self.assertEqual(got["DashboardArn"], f"arn:aws:cloudwatch::{ACCOUNT}:dashboard/{name}")
        self.assertEqual(json.loads(got["DashboardBody"]), json.loads(dashboard_body))

        _, body = cw_ok(self, "ListDashboards", {"DashboardNamePrefix": name})
        entries = cbor2.loads(body)["DashboardEntries"]
        self.assertEqual([e["DashboardName"] for e in entries], [name])
        self.assertIsInstance(entries[0]["Size"], int)
        self.assertIn(b"lLastModified\xc1\xfb", body)

        _, body = cw_ok(self, "DeleteDashboards", {"DashboardNames": [name]})
        status, _, _ = cw_call("GetDashboard", {"DashboardName": name})
        self.assertEqual(status, 404)

    def test_list_dashboards_with_empty_body(self) -> None:
        headers, body = cw_ok(self, "ListDashboards")
        self.assertIn("DashboardEntries", cbor2.loads(body))

    def test_missing_dashboard_is_a_cbor_error(self) -> None:
        status, headers, body = cw_call("GetDashboard", {"DashboardName": unique("nope")})
        self.assertEqual(status, 404)
        self.assertEqual(headers.get("smithy-protocol"), "rpc-v2-cbor")
        self.assertEqual(headers.get("content-type"), "application/cbor")
        error = cbor2.loads(body)
        # As AWS: __type is the modelled error shape (GetDashboard's DashboardNotFoundError), and the
        # awsQueryCompatible header carries the query code "ResourceNotFound" that the SDKs report.
        self.assertEqual(error["__type"], "com.amazonaws.cloudwatch#DashboardNotFoundError")
        self.assertEqual(headers.get("x-amzn-query-error"), "ResourceNotFound;Sender")
        self.assertTrue(error["message"])

    def test_gzip_request_body(self) -> None:
        # aws-sdk-cloudwatch gzips large PutMetricData bodies (requestCompression trait).
        import gzip

        name = unique("gz")
        self.put_alarm(name)
        status, headers, body = http(
            "POST",
            CW_PREFIX + "DescribeAlarms",
            body=gzip.compress(cbor2.dumps({"AlarmNames": [name]})),
            headers={
                "smithy-protocol": "rpc-v2-cbor",
                "Content-Type": "application/cbor",
                "Content-Encoding": "gzip",
                "Authorization": FAKE_AUTH.format(service="monitoring"),
            },
        )
        self.assertEqual(status, 200)
        self.assertEqual([a["AlarmName"] for a in cbor2.loads(body)["MetricAlarms"]], [name])

    def test_timestamp_inputs(self) -> None:
        # Input timestamps arrive as CBOR tag 1 and must reach moto as epoch seconds.
        namespace = unique("ns")
        now = time.time()
        cw_ok(self, "PutMetricData", {
            "Namespace": namespace,
            "MetricData": [{"MetricName": "Hits", "Value": 4.0, "Unit": "Count", "Timestamp": cbor2.CBORTag(1, now - 30)}],
        })
        _, body = cw_ok(self, "GetMetricStatistics", {
            "Namespace": namespace,
            "MetricName": "Hits",
            "StartTime": cbor2.CBORTag(1, float(int(now) - 600)),
            "EndTime": cbor2.CBORTag(1, float(int(now) + 600)),
            "Period": 60,
            "Statistics": ["Sum"],
        })
        points = cbor2.loads(body)["Datapoints"]
        self.assertEqual(sum(p["Sum"] for p in points), 4.0)
        self.assertIn(b"iTimestamp\xc1\xfb", body)

    def test_unknown_operation_and_bad_body(self) -> None:
        status, headers, body = cw_call("NoSuchOperation", {})
        self.assertEqual(status, 404)
        self.assertEqual(cbor2.loads(body)["__type"], "com.amazonaws.cloudwatch#UnknownOperationException")
        status, headers, body = cw_call("DescribeAlarms", raw_body=b"\xff\x00garbage")
        self.assertEqual(status, 400)
        self.assertEqual(headers.get("smithy-protocol"), "rpc-v2-cbor")
        self.assertEqual(cbor2.loads(body)["__type"], "com.amazonaws.cloudwatch#SerializationException")

    def test_botocore_cbor_client(self) -> None:
        # A second, independent rpc-v2-cbor implementation: botocore's own CBOR serializer and
        # parser. botocore prefers awsJson for CloudWatch, so make it pick CBOR for this client.
        import botocore.model

        saved = botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = ("smithy-rpc-v2-cbor",) + tuple(
            p for p in saved if p != "smithy-rpc-v2-cbor"
        )
        try:
            cw = boto3.session.Session().client(
                "cloudwatch",
                endpoint_url=ENDPOINT,
                region_name=REGION,
                aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                aws_secret_access_key="dummy-secret",
                config=botocore.config.Config(retries={"max_attempts": 1}),
            )
        finally:
            botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = saved
        self.assertEqual(cw.meta.service_model.resolved_protocol, "smithy-rpc-v2-cbor")

        name = unique("boto")
        resp = cw.put_metric_alarm(
            AlarmName=name, MetricName="CPU", Namespace="Custom", Statistic="Maximum", Period=300,
            EvaluationPeriods=1, Threshold=90, ComparisonOperator="GreaterThanThreshold",
            Dimensions=[{"Name": "Host", "Value": "a"}], AlarmDescription="d", TreatMissingData="missing",
        )
        self.assertEqual(resp["ResponseMetadata"]["HTTPHeaders"].get("smithy-protocol"), "rpc-v2-cbor")
        alarm = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]
        self.assertEqual(alarm["Threshold"], 90.0)
        self.assertEqual(alarm["Period"], 300)
        self.assertEqual(alarm["Dimensions"], [{"Name": "Host", "Value": "a"}])
        self.assertEqual(alarm["StateUpdatedTimestamp"].tzinfo is not None, True)

        cw.put_dashboard(DashboardName=name, DashboardBody='{"widgets": []}')
        self.assertEqual(cw.get_dashboard(DashboardName=name)["DashboardBody"], '{"widgets": []}')
        entries = cw.list_dashboards(DashboardNamePrefix=name)["DashboardEntries"]
        self.assertEqual([e["DashboardName"] for e in entries], [name])
        cw.delete_dashboards(DashboardNames=[name])
        with self.assertRaises(ClientError) as ctx:
            cw.get_dashboard(DashboardName=name)
        # botocore reports the awsQueryCompatible code from x-amzn-query-error.
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ResourceNotFound")
        self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)

        arn = alarm["AlarmArn"]
        cw.tag_resource(ResourceARN=arn, Tags=[{"Key": "k", "Value": "v"}])
        self.assertEqual(cw.list_tags_for_resource(ResourceARN=arn)["Tags"], [{"Key": "k", "Value": "v"}])
        cw.untag_resource(ResourceARN=arn, TagKeys=["k"])
        self.assertEqual(cw.list_tags_for_resource(ResourceARN=arn)["Tags"], [])
        cw.delete_alarms(AlarmNames=[name])
        self.assertEqual(cw.describe_alarms(AlarmNames=[name])["MetricAlarms"], [])


# ---------------------------------------------------------------------------
# DR: replication configuration as written, object replication, endpoint transitions, the
# canary's InvokeEndpoint, and the settings endpoint (DR_SETTINGS)
# ---------------------------------------------------------------------------


def regional(service: str, region: str):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="dummy-secret",
        config=botocore.config.Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def settings(**update) -> dict:
    if update:
        status, _, body = http("POST", "/novactl-api/config", json.dumps(update).encode(), {"Content-Type": "application/json"})
    else:
        status, _, body = http("GET", "/novactl-api/config")
    if status != 200:
        raise AssertionError(f"settings: {status} {body!r}")
    return json.loads(body)


class DelaysReset(unittest.TestCase):
    """Tests that change DR_SETTINGS on the shared server put the defaults back."""

    def tearDown(self) -> None:
        settings(replication_delay=0, endpoint_delay=0)


def wait_for(predicate, timeout: float = 5.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def replicated_pair(delay: float = 0.0):  # type: ignore[no-untyped-def]
    """A versioned source (us-east-1) and destination (us-west-2), a DR key, and a rule."""
    s3, s3w, kms = client("s3"), regional("s3", "us-west-2"), regional("kms", "us-west-2")
    src, dst = unique("src"), unique("dst")
    s3.create_bucket(Bucket=src)
    s3w.create_bucket(Bucket=dst, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    for bucket in (src, dst):
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key = kms.create_key()["KeyMetadata"]["Arn"]
    config = {
        "Role": f"arn:aws:iam::{ACCOUNT}:role/replication",
        "Rules": [
            {
                "ID": "novactl-dr-x",
                "Priority": 1,
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "DeleteMarkerReplication": {"Status": "Enabled"},
                "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
                "Destination": {
                    "Bucket": f"arn:aws:s3:::{dst}",
                    "EncryptionConfiguration": {"ReplicaKmsKeyID": key},
                    "ReplicationTime": {"Status": "Enabled", "Time": {"Minutes": 15}},
                    "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}},
                },
            }
        ],
    }
    s3.put_bucket_replication(Bucket=src, ReplicationConfiguration=config)
    settings(replication_delay=delay)
    return s3, s3w, src, dst, key, config


def head_or_none(s3, bucket: str, key: str):  # type: ignore[no-untyped-def]
    try:
        return s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    except ClientError as err:
        if err.response["Error"]["Code"] in ("404", "NoSuchKey"):
            return None
        raise


class S3ReplicationConfigPatchTests(DelaysReset):
    def test_configuration_comes_back_as_written(self) -> None:
        s3, _, src, _, _, config = replicated_pair()
        got = s3.get_bucket_replication(Bucket=src)["ReplicationConfiguration"]
        # moto alone: DeleteMarkerReplication "Disabled", no SourceSelectionCriteria.
        self.assertEqual(got, config)
        s3.delete_bucket_replication(Bucket=src)
        with self.assertRaises(ClientError) as ctx:
            s3.get_bucket_replication(Bucket=src)
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ReplicationConfigurationNotFoundError")

    def test_raw_reply_is_rooted_with_the_s3_namespace(self) -> None:
        _, _, src, _, _, _ = replicated_pair()
        status, _, body = http("GET", f"/{src}?replication", headers={"Authorization": FAKE_AUTH.format(service="s3")})
        self.assertEqual(status, 200, body)
        root = ET.fromstring(body)
        self.assertEqual(root.tag, f"{S3_NS}ReplicationConfiguration")
        self.assertEqual(root.find(f"{S3_NS}Rule/{S3_NS}DeleteMarkerReplication/{S3_NS}Status").text, "Enabled")


class S3ReplicationPatchTests(DelaysReset):
    def test_objects_replicate_after_the_delay_with_statuses_key_version_and_checksum(self) -> None:
        s3, s3w, src, dst, key, _ = replicated_pair(delay=0.6)
        put = s3.put_object(
            Bucket=src, Key="a/canary.json", Body=b"{}", ServerSideEncryption="aws:kms",
            ChecksumAlgorithm="SHA256", Metadata={"who": "test"},
        )
        written = time.monotonic()
        self.assertEqual(s3.head_object(Bucket=src, Key="a/canary.json")["ReplicationStatus"], "PENDING")
        self.assertIsNone(head_or_none(s3w, dst, "a/canary.json"), "no replica before the delay")
        replica = wait_for(lambda: head_or_none(s3w, dst, "a/canary.json"))
        self.assertGreaterEqual(time.monotonic() - written, 0.55)
        self.assertEqual(replica["ReplicationStatus"], "REPLICA")
        self.assertEqual(replica["VersionId"], put["VersionId"])
        self.assertEqual(replica["ChecksumSHA256"], put["ChecksumSHA256"])
        self.assertEqual(replica["SSEKMSKeyId"], key, "re-encrypted with ReplicaKmsKeyID")
        self.assertEqual(replica["Metadata"], {"who": "test"})
        self.assertEqual(s3w.get_object(Bucket=dst, Key="a/canary.json")["Body"].read(), b"{}")
        self.assertEqual(s3.head_object(Bucket=src, Key="a/canary.json")["ReplicationStatus"], "COMPLETED")

    def test_sse_kms_objects_replicate_only_when_the_rule_selects_them(self) -> None:
        s3, s3w, src, dst, _, _ = replicated_pair()
        # A rule for one prefix that does not select SSE-KMS objects.
        s3.put_bucket_replication(
            Bucket=src,
            ReplicationConfiguration={
                "Role": f"arn:aws:iam::{ACCOUNT}:role/replication",
                "Rules": [{"ID": "plain", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": "in/"},
                           "DeleteMarkerReplication": {"Status": "Disabled"},
                           "Destination": {"Bucket": f"arn:aws:s3:::{dst}"}}],
            },
        )
        s3.put_object(Bucket=src, Key="in/plain", Body=b"p")
        s3.put_object(Bucket=src, Key="in/kms", Body=b"k", ServerSideEncryption="aws:kms")
        s3.put_object(Bucket=src, Key="out/plain", Body=b"o")
        wait_for(lambda: head_or_none(s3w, dst, "in/plain"))
        time.sleep(0.2)
        self.assertIsNone(head_or_none(s3w, dst, "in/kms"), "SSE-KMS without SseKmsEncryptedObjects")
        self.assertNotIn("ReplicationStatus", s3.head_object(Bucket=src, Key="in/kms"))
        self.assertIsNone(head_or_none(s3w, dst, "out/plain"), "outside the prefix")

    def test_a_missing_destination_fails_the_replication(self) -> None:
        s3 = client("s3")
        _, _, src, _, _, _ = replicated_pair()
        s3.put_bucket_replication(
            Bucket=src,
            ReplicationConfiguration={
                "Role": f"arn:aws:iam::{ACCOUNT}:role/replication",
                "Rules": [{"ID": "gone", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
                           "DeleteMarkerReplication": {"Status": "Disabled"},
                           "Destination": {"Bucket": f"arn:aws:s3:::{unique('nobucket')}"}}],
            },
        )
        s3.put_object(Bucket=src, Key="x", Body=b"x")
        wait_for(lambda: s3.head_object(Bucket=src, Key="x").get("ReplicationStatus") == "FAILED")


class SageMakerTransitionPatchTests(DelaysReset):
    def setUp(self) -> None:
        self.sm = client("sagemaker")
        self.runtime = client("sagemaker-runtime")
        model, self.config, self.endpoint = unique("m"), unique("cfg"), unique("ep")
        make_model(self.sm, model)
        self.sm.create_endpoint_config(EndpointConfigName=self.config, ProductionVariants=[variant(model, "ml.g5.xlarge")])

    def status(self) -> tuple:
        d = self.sm.describe_endpoint(EndpointName=self.endpoint)
        v = d["ProductionVariants"][0]
        return d["EndpointStatus"], v.get("DesiredInstanceCount"), v.get("CurrentInstanceCount")

    def test_creating_and_updating_last_the_endpoint_delay(self) -> None:
        settings(endpoint_delay=0.5)
        self.sm.create_endpoint(EndpointName=self.endpoint, EndpointConfigName=self.config)
        created = time.monotonic()
        self.assertEqual(self.status()[0], "Creating")
        listed = self.sm.list_endpoints(NameContains=self.endpoint)["Endpoints"][0]
        self.assertEqual(listed["EndpointStatus"], "Creating")
        wait_for(lambda: self.status()[0] == "InService")
        self.assertGreaterEqual(time.monotonic() - created, 0.45)

        self.sm.update_endpoint_weights_and_capacities(
            EndpointName=self.endpoint, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 3}]
        )
        self.assertEqual(self.status(), ("Updating", 3, 1), "current count unchanged while Updating")
        with self.assertRaises(ClientError) as ctx:
            self.sm.update_endpoint_weights_and_capacities(
                EndpointName=self.endpoint, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 2}]
            )
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ValidationException")
        self.assertIn("Cannot update in-progress endpoint", ctx.exception.response["Error"]["Message"])
        wait_for(lambda: self.status() == ("InService", 3, 3))

        self.sm.update_endpoint(EndpointName=self.endpoint, EndpointConfigName=self.config)
        self.assertEqual(self.status()[0], "Updating")
        wait_for(lambda: self.status()[0] == "InService")

    def test_no_delay_keeps_moto_behaviour(self) -> None:
        self.sm.create_endpoint(EndpointName=self.endpoint, EndpointConfigName=self.config)
        self.assertEqual(self.status(), ("InService", 1, 1))
        self.sm.update_endpoint_weights_and_capacities(
            EndpointName=self.endpoint, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 2}]
        )
        self.assertEqual(self.status(), ("InService", 2, 2))

    def test_invoke_endpoint_needs_a_serving_endpoint(self) -> None:
        with self.assertRaises(ClientError) as ctx:
            self.runtime.invoke_endpoint(EndpointName=self.endpoint, Body=b"{}", ContentType="application/json")
        self.assertIn(f"Endpoint {self.endpoint} of account {ACCOUNT} not found", str(ctx.exception))
        settings(endpoint_delay=0.4)
        self.sm.create_endpoint(EndpointName=self.endpoint, EndpointConfigName=self.config)
        with self.assertRaises(ClientError) as ctx:
            self.runtime.invoke_endpoint(EndpointName=self.endpoint, Body=b"{}", ContentType="application/json")
        self.assertIn("is Creating", str(ctx.exception))
        wait_for(lambda: self.status()[0] == "InService")
        answer = self.runtime.invoke_endpoint(EndpointName=self.endpoint, Body=b"{}", ContentType="application/json")
        self.assertEqual(answer["ResponseMetadata"]["HTTPStatusCode"], 200)
        # An endpoint that is Updating still serves, as on AWS.
        self.sm.update_endpoint_weights_and_capacities(
            EndpointName=self.endpoint, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 2}]
        )
        self.assertEqual(self.status()[0], "Updating")
        self.runtime.invoke_endpoint(EndpointName=self.endpoint, Body=b"{}", ContentType="application/json")


def capacity_record(endpoint_arn: str) -> list:
    status, _, body = http("GET", "/novactl-api/sagemaker/capacity")
    if status != 200:
        raise AssertionError(f"capacity: {status} {body!r}")
    return json.loads(body).get(endpoint_arn, {}).get("samples", [])


class SageMakerDeploymentPatchTests(DelaysReset):
    """UpdateEndpoint's DeploymentConfig, RetainAllVariantProperties and the capacity record."""

    def setUp(self) -> None:
        self.sm, self.cw = client("sagemaker"), client("cloudwatch")
        model, self.old, self.new, self.endpoint = unique("m"), unique("old"), unique("new"), unique("ep")
        make_model(self.sm, model)
        four = dict(variant(model, "ml.g5.xlarge"), InitialInstanceCount=4)
        self.sm.create_endpoint_config(EndpointConfigName=self.old, ProductionVariants=[four])
        self.sm.create_endpoint_config(EndpointConfigName=self.new, ProductionVariants=[four])
        self.arn = self.sm.create_endpoint(EndpointName=self.endpoint, EndpointConfigName=self.old)["EndpointArn"]
        self.alarm = unique("alarm")
        self.cw.put_metric_alarm(
            AlarmName=self.alarm, MetricName="ModelError", Namespace="AWS/SageMaker", Statistic="Average",
            Period=60, EvaluationPeriods=1, Threshold=1, ComparisonOperator="GreaterThanThreshold",
        )

    def guarded(self, routing: dict, bake: int = 60) -> dict:
        return {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": routing,
                "TerminationWaitInSeconds": bake,
                "MaximumExecutionTimeoutInSeconds": 3600,
            },
            "AutoRollbackConfiguration": {"Alarms": [{"AlarmName": self.alarm}]},
        }

    def steps(self) -> list:
        return [s["step"] for s in capacity_record(self.arn)]

    def test_retain_all_variant_properties_keeps_the_live_count(self) -> None:
        self.sm.update_endpoint_weights_and_capacities(
            EndpointName=self.endpoint, DesiredWeightsAndCapacities=[{"VariantName": "primary", "DesiredInstanceCount": 6}]
        )
        self.sm.update_endpoint(
            EndpointName=self.endpoint, EndpointConfigName=self.new, RetainAllVariantProperties=True,
            ExcludeRetainedVariantProperties=[{"VariantPropertyType": "DataCaptureConfig"}],
        )
        d = self.sm.describe_endpoint(EndpointName=self.endpoint)
        self.assertEqual((d["EndpointConfigName"], d["ProductionVariants"][0]["DesiredInstanceCount"]), (self.new, 6))
        self.sm.update_endpoint(EndpointName=self.endpoint, EndpointConfigName=self.old)
        d = self.sm.describe_endpoint(EndpointName=self.endpoint)
        self.assertEqual(d["ProductionVariants"][0]["DesiredInstanceCount"], 4, "without retain: the config's count")

    def test_canary_walks_provisioning_canary_baking_and_records_capacity(self) -> None:
        settings(endpoint_delay=0.3)
        self.sm.update_endpoint(
            EndpointName=self.endpoint, EndpointConfigName=self.new,
            DeploymentConfig=self.guarded({"Type": "CANARY", "WaitIntervalInSeconds": 60,
                                           "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 25}}),
        )
        d = self.sm.describe_endpoint(EndpointName=self.endpoint)
        self.assertEqual((d["EndpointStatus"], d["EndpointConfigName"]), ("Updating", self.old), "the old config serves")
        self.assertEqual(d["PendingDeploymentSummary"]["EndpointConfigName"], self.new)
        wait_for(lambda: self.sm.describe_endpoint(EndpointName=self.endpoint)["EndpointStatus"] == "InService")
        d = self.sm.describe_endpoint(EndpointName=self.endpoint)
        self.assertEqual(d["EndpointConfigName"], self.new)
        self.assertEqual(d["LastDeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]["Type"], "CANARY")
        self.assertNotIn("PendingDeploymentSummary", d)
        samples = capacity_record(self.arn)
        self.assertEqual(
            [s["step"] for s in samples],
            ["created", "provisioning the new fleet", "canary 25%", "baking", "done"],
        )
        self.assertEqual(samples[2]["fleets"][self.new], {"instances": 4, "traffic": 25})
        self.assertTrue(all(sum(f["instances"] for f in s["fleets"].values()) >= 4 for s in samples))

    def test_alarm_in_alarm_rolls_back_to_the_old_config(self) -> None:
        settings(endpoint_delay=0.4)
        self.sm.update_endpoint(
            EndpointName=self.endpoint, EndpointConfigName=self.new,
            DeploymentConfig=self.guarded({"Type": "CANARY", "WaitIntervalInSeconds": 120,
                                           "CanarySize": {"Type": "INSTANCE_COUNT", "Value": 1}}),
        )
        wait_for(lambda: "canary 25%" in self.steps())
        self.cw.set_alarm_state(AlarmName=self.alarm, StateValue="ALARM", StateReason="test")
        wait_for(lambda: self.sm.describe_endpoint(EndpointName=self.endpoint)["EndpointStatus"] == "RollingBack")
        wait_for(lambda: self.sm.describe_endpoint(EndpointName=self.endpoint)["EndpointStatus"] == "InService")
        d = self.sm.describe_endpoint(EndpointName=self.endpoint)
        self.assertEqual(d["EndpointConfigName"], self.old)
        self.assertIn(f"alarm {self.alarm} is in ALARM", d["FailureReason"])
        self.assertIn("canary 25%", d["FailureReason"])
        self.assertEqual(self.steps()[-1], "rolled back")
        self.assertNotIn("baking", self.steps())

    def test_linear_walks_its_steps(self) -> None:
        self.sm.update_endpoint(
            EndpointName=self.endpoint, EndpointConfigName=self.new,
            DeploymentConfig=self.guarded({"Type": "LINEAR", "WaitIntervalInSeconds": 0,
                                           "LinearStepSize": {"Type": "CAPACITY_PERCENT", "Value": 25}}, bake=0),
        )
        self.assertEqual(self.steps()[1:], ["provisioning the new fleet", "linear 25%", "linear 50%", "linear 75%", "baking", "done"])

    def test_rolling_replaces_batches_and_keeps_capacity(self) -> None:
        self.sm.update_endpoint(
            EndpointName=self.endpoint, EndpointConfigName=self.new,
            DeploymentConfig={"RollingUpdatePolicy": {"MaximumBatchSize": {"Type": "INSTANCE_COUNT", "Value": 2},
                                                      "WaitIntervalInSeconds": 0}},
        )
        samples = capacity_record(self.arn)
        self.assertEqual([s["step"] for s in samples][1:], ["rolling batch 1 of 2", "rolling batch 2 of 2", "done"])
        self.assertTrue(all(sum(f["instances"] for f in s["fleets"].values()) >= 4 for s in samples))

    def test_unknown_rollback_alarm_is_refused(self) -> None:
        config = self.guarded({"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0})
        config["AutoRollbackConfiguration"]["Alarms"] = [{"AlarmName": unique("nope")}]
        with self.assertRaises(ClientError) as ctx:
            self.sm.update_endpoint(EndpointName=self.endpoint, EndpointConfigName=self.new, DeploymentConfig=config)
        self.assertIn("does not exist", ctx.exception.response["Error"]["Message"])
        self.assertEqual(self.sm.describe_endpoint(EndpointName=self.endpoint)["EndpointStatus"], "InService")


class SettingsEndpointTests(DelaysReset):
    def test_get_and_post(self) -> None:
        self.assertEqual(settings(), {"replication_delay": 0.0, "endpoint_delay": 0.0})
        self.assertEqual(settings(replication_delay=1.5), {"replication_delay": 1.5, "endpoint_delay": 0.0})
        self.assertEqual(settings()["replication_delay"], 1.5)

    def test_bad_settings_are_refused(self) -> None:
        for body in (b'{"nope": 1}', b'{"endpoint_delay": -1}', b'{"endpoint_delay": "2"}', b"[1]", b"{not json"):
            status, _, reply = http("POST", "/novactl-api/config", body, {"Content-Type": "application/json"})
            self.assertEqual(status, 400, body)
            self.assertIn("error", json.loads(reply))
        self.assertEqual(settings(), {"replication_delay": 0.0, "endpoint_delay": 0.0}, "nothing changed")

    def test_launcher_options_set_the_starting_values(self) -> None:
        launcher = Launcher(sys.executable, "--replication-delay", "0.25", "--endpoint-delay", "2")
        try:
            port = launcher.wait_ready()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/novactl-api/config", timeout=30) as resp:
                self.assertEqual(json.loads(resp.read()), {"replication_delay": 0.25, "endpoint_delay": 2.0})
        finally:
            launcher.stop()
        bad = subprocess.run(
            [sys.executable, str(LAUNCHER), "--endpoint-delay", "-1"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
            env=dict(os.environ, NOVACTL_MOTO_VENV=sys.prefix),
        )
        self.assertEqual(bad.returncode, 2)
        self.assertIn(b"--endpoint-delay must be 0 or more", bad.stderr)
# ---------------------------------------------------------------------------
# Options: fault and delay injection (--faults, --fault-seed, --fault-kinds, --delay)
# ---------------------------------------------------------------------------


def faults(change: dict | None = None) -> dict:
    """GET (or POST `change` to) the shared server's /novactl-api/faults."""
    body = json.dumps(change).encode() if change is not None else None
    status, _, reply = http("POST" if body else "GET", "/novactl-api/faults", body=body)
    if status != 200:
        raise AssertionError(f"/novactl-api/faults answered {status}: {reply!r}")
    return json.loads(reply)


def once(service: str):
    """A boto3 client that makes exactly one attempt (a retry would hide the fault)."""
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="dummy-secret",
        config=botocore.config.Config(retries={"total_max_attempts": 1}, s3={"addressing_style": "path"}),
    )


def load_launcher_module():  # type: ignore[no-untyped-def]
    import importlib.util

    spec = importlib.util.spec_from_file_location("moto_launcher_faults_under_test", LAUNCHER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SnsMessagesEndpointTests(unittest.TestCase):
    """`GET /novactl-api/sns/messages`: what was published, per topic ARN (tests read back
    `novactl drift --notify`)."""

    def test_sns_messages_lists_publishes_per_topic_in_order(self) -> None:
        sns = client("sns")
        other = regional("sns", "us-west-2")
        a = sns.create_topic(Name=unique("alerts"))["TopicArn"]
        b = other.create_topic(Name=unique("dr-alerts"))["TopicArn"]
        quiet = sns.create_topic(Name=unique("quiet"))["TopicArn"]
        sns.publish(TopicArn=a, Message="first", Subject="s1")
        sns.publish(TopicArn=a, Message="second")
        other.publish(TopicArn=b, Message="west")
        status, _, body = http("GET", "/novactl-api/sns/messages")
        self.assertEqual(status, 200, body)
        doc = json.loads(body)
        self.assertEqual([(m["message"], m["subject"]) for m in doc[a]], [("first", "s1"), ("second", None)])
        self.assertEqual([m["message"] for m in doc[b]], ["west"])
        self.assertTrue(all(m["message_id"] for m in doc[a] + doc[b]))
        self.assertNotIn(quiet, doc, "topics without messages are left out")

    def test_sns_messages_is_get_only(self) -> None:
        status, _, body = http("POST", "/novactl-api/sns/messages", b"{}", {"Content-Type": "application/json"})
        self.assertEqual(status, 405, body)


class FaultInjectionTests(unittest.TestCase):
    """Scripted faults on the shared server: each rule fires once, on the request it names."""

    def setUp(self) -> None:
        faults({"rate": 0, "delays": {}, "reset_counts": True})

    tearDown = setUp

    def script(self, **rule) -> None:
        faults({"script": [rule]})

    def assert_used(self, kind: str) -> None:
        state = faults()
        self.assertEqual(state["injected"][kind], 1, state)
        self.assertEqual([r["times"] for r in state["script"]], [0], state)

    def test_throttling_in_each_protocol(self) -> None:
        cases = [
            ("kms", lambda: once("kms").list_keys(), "ThrottlingException", 400),  # awsJson
            ("iam", lambda: once("iam").list_roles(), "Throttling", 400),  # awsQuery
            ("sts", lambda: once("sts").get_caller_identity(), "Throttling", 400),
            ("s3", lambda: once("s3").list_buckets(), "SlowDown", 503),  # REST-XML
            # EC2's Query dialect: <Response><Errors>, the code its SDKs retry.
            ("ec2", lambda: once("ec2").describe_vpcs(), "RequestLimitExceeded", 400),
        ]
        for service, call, code, status in cases:
            with self.subTest(service=service):
                self.script(service=service, kind="throttle")
                with self.assertRaises(ClientError) as ctx:
                    call()
                self.assertEqual(ctx.exception.response["Error"]["Code"], code)
                self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], status)
                self.assertIn("Rate exceeded" if service != "s3" else "reduce your request rate",
                              ctx.exception.response["Error"]["Message"])
                call()  # the rule is used up
                faults({"reset_counts": True})

    def test_s3_head_throttling_has_no_body(self) -> None:
        bucket = unique("fault-head")
        once("s3").create_bucket(Bucket=bucket)
        self.script(service="s3", operation="HeadBucket", kind="throttle")
        status, headers, body = http("HEAD", f"/{bucket}", headers={"Authorization": FAKE_AUTH.format(service="s3")})
        self.assertEqual((status, body), (503, b""))
        self.assert_used("throttle")

    def test_cloudwatch_throttling_is_cbor(self) -> None:
        self.script(service="monitoring", operation="DescribeAlarms", kind="throttle")
        status, headers, body = cw_call("DescribeAlarms", {})
        self.assertEqual(status, 400)
        self.assertEqual(headers.get("smithy-protocol"), "rpc-v2-cbor")
        self.assertEqual(headers.get("x-amzn-query-error"), "Throttling;Sender")
        self.assertEqual(cbor2.loads(body)["__type"], "com.amazonaws.cloudwatch#ThrottlingException")
        self.assert_used("throttle")

    def test_server_errors_in_each_protocol(self) -> None:
        cases = [
            ("kms", lambda: once("kms").list_keys(), "InternalFailure"),
            ("iam", lambda: once("iam").list_roles(), "InternalFailure"),
            ("s3", lambda: once("s3").list_buckets(), "InternalError"),
            ("ec2", lambda: once("ec2").describe_vpcs(), "InternalError"),
        ]
        for service, call, code in cases:
            with self.subTest(service=service):
                self.script(service=service, kind="error")
                with self.assertRaises(ClientError) as ctx:
                    call()
                self.assertEqual(ctx.exception.response["Error"]["Code"], code)
                self.assertEqual(ctx.exception.response["ResponseMetadata"]["HTTPStatusCode"], 500)
        self.script(service="monitoring", kind="error")
        status, headers, body = cw_call("ListDashboards", {})
        self.assertEqual(status, 500)
        self.assertEqual(cbor2.loads(body)["__type"], "com.amazonaws.cloudwatch#InternalFailure")

    def test_reset_drops_the_connection_before_moto_sees_the_request(self) -> None:
        from botocore.exceptions import ConnectionClosedError

        bucket = unique("fault-reset")
        self.script(service="s3", operation="CreateBucket", kind="reset")
        with self.assertRaises(ConnectionClosedError):
            once("s3").create_bucket(Bucket=bucket)
        names = [b["Name"] for b in once("s3").list_buckets()["Buckets"]]
        self.assertNotIn(bucket, names, "a reset request is never done")
        self.assert_used("reset")

    def test_lost_answer_after_the_write_was_done(self) -> None:
        from botocore.exceptions import ConnectionClosedError

        role = unique("fault-lost")
        self.script(service="iam", operation="CreateRole", kind="lost")
        with self.assertRaises(ConnectionClosedError):
            once("iam").create_role(RoleName=role, AssumeRolePolicyDocument="{}")
        self.assertEqual(once("iam").get_role(RoleName=role)["Role"]["RoleName"], role, "the write was done")
        with self.assertRaises(ClientError) as ctx:
            once("iam").create_role(RoleName=role, AssumeRolePolicyDocument="{}")
        self.assertEqual(ctx.exception.response["Error"]["Code"], "EntityAlreadyExists")
        self.assert_used("lost")

    def test_operations_are_named_per_protocol(self) -> None:
        bucket = unique("fault-ops")
        s3 = once("s3")
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
        once("kms").list_keys()
        once("iam").list_roles()
        cw_call("ListDashboards", {})
        faults({"rate": 1.0, "kinds": ["throttle"]})
        try:
            for call in (lambda: s3.get_bucket_tagging(Bucket=bucket), lambda: once("sns").list_topics()):
                with self.assertRaises(ClientError):
                    call()
        finally:
            faults({"rate": 0})
        ops = faults()["by_operation"]
        self.assertEqual(ops, {"s3:GetBucketTagging": 1, "sns:ListTopics": 1}, ops)
        module = load_launcher_module()
        names = {
            ("PUT", f"/{bucket}", ""): "CreateBucket",
            ("PUT", f"/{bucket}", "tagging"): "PutBucketTagging",
            ("PUT", f"/{bucket}", "publicAccessBlock"): "PutPublicAccessBlock",
            ("GET", f"/{bucket}", "versioning"): "GetBucketVersioning",
            ("PUT", f"/{bucket}", "lifecycle"): "PutBucketLifecycleConfiguration",
            ("DELETE", f"/{bucket}", "policy"): "DeleteBucketPolicy",
            ("GET", f"/{bucket}", "versions&max-keys=1"): "ListObjectVersions",
            ("POST", f"/{bucket}", "delete"): "DeleteObjects",
            ("HEAD", f"/{bucket}", ""): "HeadBucket",
            ("DELETE", f"/{bucket}", ""): "DeleteBucket",
            ("PUT", f"/{bucket}/a/b.txt", ""): "PutObject",
            ("GET", "/", ""): "ListBuckets",
        }
        for (method, path, query), name in names.items():
            env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
            self.assertEqual(module.s3_operation(env), name, (method, path, query))

    def test_control_endpoints_are_never_faulted(self) -> None:
        faults({"rate": 1.0, "kinds": ["reset"]})
        try:
            for _ in range(5):
                self.assertEqual(faults()["rate"], 1.0)
                status, _, _ = http("GET", "/moto-api/config")
                self.assertLess(status, 300)
        finally:
            faults({"rate": 0})
        self.assertEqual(faults()["total"], 0)

    def test_delay(self) -> None:
        faults({"delays": {"kms": 1500}})
        started = time.monotonic()
        once("kms").list_keys()
        self.assertGreaterEqual(time.monotonic() - started, 1.5)
        started = time.monotonic()
        once("iam").list_roles()
        self.assertLess(time.monotonic() - started, 1.5, "other services are not delayed")

    def test_bad_control_requests(self) -> None:
        for change in ({"rate": 2}, {"kinds": ["meteor"]}, {"script": [{"operation": "X"}]},
                       {"script": [{"kind": "lost", "times": 0}]}, {"delays": {"s3": -1}}):
            with self.subTest(change=change):
                status, _, body = http("POST", "/novactl-api/faults", body=json.dumps(change).encode())
                self.assertEqual(status, 400, body)
        status, _, _ = http("GET", "/novactl-api/nothing")
        self.assertEqual(status, 404)


class FaultGeneratorTests(unittest.TestCase):
    """The random draw, in-process: seeded, about the asked-for share, only the asked-for kinds."""

    def injector(self, **config):  # type: ignore[no-untyped-def]
        module = load_launcher_module()
        base = {"rate": 0.2, "seed": 7, "kinds": list(module.FAULT_KINDS), "services": [], "delays": {}}
        base.update(config)
        return module.FaultInjector(lambda environ, start: [], base)

    def draws(self, injector, n: int = 2000, service: str = "s3") -> list:  # type: ignore[no-untyped-def]
        return [injector.decide(service, "Op")[0] for _ in range(n)]

    def test_same_seed_same_sequence(self) -> None:
        self.assertEqual(self.draws(self.injector()), self.draws(self.injector()))
        self.assertNotEqual(self.draws(self.injector()), self.draws(self.injector(seed=8)))

    def test_share_and_kinds(self) -> None:
        inj = self.injector()
        drawn = [k for k in self.draws(inj) if k]
        self.assertTrue(340 <= len(drawn) <= 460, len(drawn))
        self.assertEqual(set(drawn), {"throttle", "error", "reset", "lost"})
        snap = inj.snapshot()
        self.assertEqual((snap["requests"], snap["total"]), (2000, len(drawn)))
        only = [k for k in self.draws(self.injector(kinds=["lost"])) if k]
        self.assertEqual(set(only), {"lost"})

    def test_services_filter(self) -> None:
        inj = self.injector(rate=1.0, services=["kms"])
        self.assertEqual(set(self.draws(inj, 50, "s3")), {None})
        self.assertEqual(set(self.draws(inj, 50, "kms")), {"throttle", "error", "reset", "lost"})

    def test_bad_options(self) -> None:
        module = load_launcher_module()
        for argv in (["--faults", "1.5"], ["--fault-kinds", "meteor"], ["--delay", "s3"], ["--delay", "s3=x"]):
            with self.subTest(argv=argv), self.assertRaises(ValueError):
                module.fault_config(module.parse_args(argv))


class FaultLauncherTests(unittest.TestCase):
    def test_counts_summary_on_stderr_at_exit(self) -> None:
        launcher = Launcher(sys.executable, "--faults", "0.5", "--fault-seed", "3")
        try:
            port = launcher.wait_ready()
            for _ in range(20):
                try:
                    get(port, "/")  # S3 ListBuckets
                except Exception:
                    pass
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/novactl-api/faults", timeout=30) as resp:
                counts = json.loads(resp.read())
            self.assertEqual(counts["requests"], 20)
            self.assertTrue(0 < counts["total"] < 20, counts)
            launcher.proc.stdin.close()
            self.assertEqual(launcher.proc.wait(15), 0)
            self.assertIn("injecting faults: rate 0.5, seed 3", launcher.stderr())
            self.assertIn(f"faults: {counts['total']} injected in 20 AWS requests", launcher.stderr())
        finally:
            launcher.stop()

    def test_bad_option_exits_2(self) -> None:
        result = subprocess.run(
            [sys.executable, str(LAUNCHER), "--faults", "3"],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
            env=dict(os.environ, NOVACTL_MOTO_VENV=sys.prefix),
        )
        self.assertEqual(result.returncode, 2)
        self.assertIn(b"between 0 and 1", result.stderr)
        self.assertEqual(result.stdout, b"")



def throttle(rates: dict | None = None) -> dict:
    """GET (or POST `rates` to) the shared server's /moto-api/novactl/throttle."""
    body = json.dumps(rates).encode() if rates is not None else None
    status, _, reply = http("POST" if body is not None else "GET", "/moto-api/novactl/throttle", body=body)
    if status != 200:
        raise AssertionError(f"/moto-api/novactl/throttle answered {status}: {reply!r}")
    return json.loads(reply)


class ThrottleTests(unittest.TestCase):
    """--throttle SERVICE=N: N calls per second per API action, beyond it the protocol's own
    throttling error (changed at run time on the shared server)."""

    def setUp(self) -> None:
        throttle({})

    tearDown = setUp

    def burst(self, call, n: int) -> list:  # type: ignore[no-untyped-def]
        """Error codes (None for success) of n back-to-back calls."""
        codes = []
        for _ in range(n):
            try:
                call()
                codes.append(None)
            except ClientError as e:
                codes.append((e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"]))
        return codes

    def test_beyond_the_rate_each_protocol_throttles_as_aws_does(self) -> None:
        cases = [
            ("iam", lambda: once("iam").list_roles(), ("Throttling", 400)),  # awsQuery XML
            ("kms", lambda: once("kms").list_keys(), ("ThrottlingException", 400)),  # awsJson
            ("s3", lambda: once("s3").list_buckets(), ("SlowDown", 503)),  # REST-XML
            ("sagemaker", lambda: once("sagemaker").list_models(), ("ThrottlingException", 400)),
            ("ec2", lambda: once("ec2").describe_vpcs(), ("RequestLimitExceeded", 400)),
        ]
        for service, call, expected in cases:
            with self.subTest(service=service):
                throttle({service: 2})
                codes = self.burst(call, 4)
                self.assertEqual(codes[:2], [None, None], "the first N calls pass")
                self.assertIn(expected, codes[2:], codes)
                state = throttle()
                self.assertGreaterEqual(state["throttled"], 1, state)
                self.assertTrue(all(k.startswith(service + ":") for k in state["by_operation"]), state)

    def test_cloudwatch_by_its_friendly_name_throttles_in_cbor(self) -> None:
        self.assertEqual(throttle({"cloudwatch": 1})["rates"], {"monitoring": 1})
        statuses = [cw_call("ListDashboards", {})[:2] for _ in range(3)]
        self.assertEqual(statuses[0][0], 200)
        throttled = [h for status, h in statuses if status == 400]
        self.assertTrue(throttled, statuses)
        self.assertEqual(throttled[0].get("x-amzn-query-error"), "Throttling;Sender")

    def test_the_rate_is_per_api_action_and_refills(self) -> None:
        throttle({"iam": 2})
        iam = once("iam")
        self.assertIn(("Throttling", 400), self.burst(iam.list_roles, 4))
        self.assertEqual(self.burst(iam.list_users, 2), [None, None], "another action has its own bucket")
        self.assertEqual(self.burst(once("kms").list_keys, 5), [None] * 5, "other services are not throttled")
        time.sleep(1.1)
        self.assertEqual(self.burst(iam.list_roles, 2), [None, None], "the bucket refilled")

    def test_a_retrying_client_converges(self) -> None:
        throttle({"kms": 3})
        kms = boto3.client(
            "kms", endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="dummy-secret",
            config=botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 10}),
        )
        for _ in range(8):
            kms.list_keys()
        self.assertGreaterEqual(throttle()["throttled"], 1)

    def test_off_and_bad_rates(self) -> None:
        throttle({"iam": 1})
        self.assertEqual(throttle({"iam": 0})["rates"], {})
        self.assertEqual(self.burst(once("iam").list_roles, 4), [None] * 4)
        for bad in ({"iam": -1}, {"iam": "fast"}, ["iam"]):
            with self.subTest(bad=bad):
                status, _, body = http("POST", "/moto-api/novactl/throttle", body=json.dumps(bad).encode())
                self.assertEqual(status, 400, body)
        module = load_launcher_module()
        self.assertEqual(module.fault_config(module.parse_args(["--throttle", "iam=5", "--throttle", "KMS=10"]))["throttle"],
                         {"iam": 5, "kms": 10})
        for argv in (["--throttle", "iam"], ["--throttle", "iam=x"], ["--throttle", "=3"]):
            with self.subTest(argv=argv), self.assertRaises(ValueError):
                module.fault_config(module.parse_args(argv))

    def test_launcher_option_sets_the_starting_rates(self) -> None:
        launcher = Launcher(sys.executable, "--throttle", "s3=1")
        try:
            port = launcher.wait_ready()
            s3 = boto3.client(
                "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name=REGION,
                aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="dummy-secret",
                config=botocore.config.Config(retries={"total_max_attempts": 1}),
            )
            self.assertIn(("SlowDown", 503), self.burst(s3.list_buckets, 3))
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/novactl/throttle", timeout=30) as resp:
                state = json.loads(resp.read())
            self.assertEqual(state["rates"], {"s3": 1})
            self.assertIn("throttling (calls per second per API action)", launcher.stderr())
        finally:
            launcher.stop()


if __name__ == "__main__":
    unittest.main()


# ---------------------------------------------------------------------------
# Resource Groups Tagging API (patches tagging_cloudtrail_trails, tagging_s3_bucket_region)
# and the --latency-ms option
# ---------------------------------------------------------------------------


def tagged_arns(region: str, env: str) -> dict:
    """Every ARN GetResources returns for `novactl:environment=env` in `region`, paging through."""
    tagging = boto3.client(
        "resourcegroupstaggingapi",
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="dummy-secret",
    )
    found, pages, token = {}, 0, ""
    while True:
        kwargs = {"TagFilters": [{"Key": "novactl:environment", "Values": [env]}], "ResourcesPerPage": 100}
        if token:
            kwargs["PaginationToken"] = token
        out = tagging.get_resources(**kwargs)
        pages += 1
        for r in out["ResourceTagMappingList"]:
            found[r["ResourceARN"]] = {t["Key"]: t["Value"] for t in r["Tags"]}
        token = out.get("PaginationToken") or ""
        if not token:
            return {"arns": found, "pages": pages}


class TaggingApiTests(unittest.TestCase):
    def test_trails_are_listed_with_their_tags(self) -> None:
        env = unique("env")
        s3, ct = client("s3"), client("cloudtrail")
        bucket = unique("trail-bucket")
        s3.create_bucket(Bucket=bucket)
        name = unique("trail")
        arn = ct.create_trail(
            Name=name, S3BucketName=bucket, TagsList=[{"Key": "novactl:environment", "Value": env}]
        )["TrailARN"]
        other = ct.create_trail(Name=unique("trail"), S3BucketName=bucket)["TrailARN"]
        found = tagged_arns(REGION, env)["arns"]
        self.assertEqual(found.get(arn), {"novactl:environment": env})
        self.assertNotIn(other, found, "untagged trails do not match the filter")
        # Tags added later are seen too (the generator reads ListTags each time).
        ct.add_tags(ResourceId=arn, TagsList=[{"Key": "novactl:address", "Value": "cloudtrail.x"}])
        self.assertEqual(tagged_arns(REGION, env)["arns"][arn]["novactl:address"], "cloudtrail.x")
        ct.delete_trail(Name=name)
        self.assertNotIn(arn, tagged_arns(REGION, env)["arns"])

    def test_buckets_are_listed_only_in_their_region(self) -> None:
        env = unique("env")
        s3 = client("s3")
        east, west = unique("east"), unique("west")
        tags = {"TagSet": [{"Key": "novactl:environment", "Value": env}]}
        s3.create_bucket(Bucket=east)
        s3.create_bucket(Bucket=west, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        for b in (east, west):
            s3.put_bucket_tagging(Bucket=b, Tagging=tags)
        self.assertEqual(set(tagged_arns(REGION, env)["arns"]), {f"arn:aws:s3:::{east}"})
        self.assertEqual(set(tagged_arns("us-west-2", env)["arns"]), {f"arn:aws:s3:::{west}"})

    def test_pages_through_more_than_one_page(self) -> None:
        # Not a patch: moto pages GetResources with tokens (and, as AWS may, ends a page early
        # when TagsPerPage, 100 by default in moto, is reached). Every resource comes back once.
        env = unique("env")
        sns = client("sns")
        arns = {
            sns.create_topic(
                Name=unique("t"),
                Tags=[{"Key": "novactl:environment", "Value": env}]
                + [{"Key": f"k{i}", "Value": "v"} for i in range(4)],
            )["TopicArn"]
            for _ in range(60)
        }
        result = tagged_arns(REGION, env)
        self.assertEqual(set(result["arns"]), arns)
        self.assertGreater(result["pages"], 1)


class LatencyOptionTests(unittest.TestCase):
    def test_every_aws_request_waits_and_concurrent_requests_wait_together(self) -> None:
        launcher = Launcher(sys.executable, "--latency-ms", "200")
        try:
            port = launcher.wait_ready()
            url = f"http://127.0.0.1:{port}"
            sts = boto3.client(
                "sts", endpoint_url=url, region_name=REGION,
                aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="dummy-secret",
            )
            started = time.monotonic()
            sts.get_caller_identity()
            one = time.monotonic() - started
            self.assertGreaterEqual(one, 0.2)
            # Four at once take about one delay, not four.
            threads = [threading.Thread(target=sts.get_caller_identity) for _ in range(4)]
            started = time.monotonic()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            self.assertLess(time.monotonic() - started, 0.75)
            # The control path itself is not delayed, and changes the delay at run time.
            self.assertEqual(json.loads(urllib.request.urlopen(url + "/moto-api/novactl/latency").read()), {"ms": 200})
            req = urllib.request.Request(
                url + "/moto-api/novactl/latency", data=b'{"ms": 0}', method="POST"
            )
            self.assertEqual(json.loads(urllib.request.urlopen(req).read()), {"ms": 0})
            started = time.monotonic()
            sts.get_caller_identity()
            self.assertLess(time.monotonic() - started, 0.15)
            bad = urllib.request.Request(url + "/moto-api/novactl/latency", data=b"{}", method="POST")
            with self.assertRaises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(bad)
            self.assertEqual(err.exception.code, 400)
        finally:
            launcher.stop()

    def test_no_delay_by_default(self) -> None:
        self.assertEqual(json.loads(http("GET", "/moto-api/novactl/latency")[2]), {"ms": 0})


class SageMakerListModelsTests(unittest.TestCase):
    def test_name_contains_filters_the_models(self) -> None:
        sm = client("sagemaker")
        base = unique("listed")
        mine = [f"{base}-{i}" for i in range(2)]
        for name in mine + [unique("other")]:
            make_model(sm, name)
        names = [m["ModelName"] for m in sm.list_models(NameContains=base)["Models"]]
        self.assertEqual(sorted(names), mine)
        # Without the filter every model comes back, as before.
        everything = [m["ModelName"] for m in sm.list_models()["Models"]]
        self.assertTrue(set(mine) < set(everything))


class Ec2EndpointEniGroupsTests(unittest.TestCase):
    """s. patch_ec2_endpoint_eni_groups"""

    def test_interface_endpoint_enis_carry_its_groups(self) -> None:
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.99.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.99.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)
        ]
        sg = ec2.create_security_group(GroupName=unique("ep"), Description="d", VpcId=vpc)["GroupId"]
        ep = ec2.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName=f"com.amazonaws.{REGION}.kms",
            VpcEndpointType="Interface",
            SubnetIds=subnets,
            SecurityGroupIds=[sg],
        )["VpcEndpoint"]
        enis = ec2.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"]
        self.assertEqual(len(enis), 2)
        for eni in enis:
            self.assertEqual([g["GroupId"] for g in eni["Groups"]], [sg])
        # The group is in use: Prowler's ec2_securitygroup_not_used looks it up this way.
        used = ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [sg]}])
        self.assertEqual(len(used["NetworkInterfaces"]), 2)


class Ec2NaclNotFoundTests(unittest.TestCase):
    """t. patch_ec2_nacl_not_found"""

    def test_missing_entry_and_association_are_not_found_not_500(self) -> None:
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.98.0.0/16")["Vpc"]["VpcId"]
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.98.1.0/24")["Subnet"]["SubnetId"]
        acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        ec2.create_network_acl_entry(
            NetworkAclId=acl, RuleNumber=100, Protocol="-1", RuleAction="allow", Egress=False, CidrBlock="10.98.0.0/16"
        )
        ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Egress=False)
        # The same delete again (a resent call): AWS's "not found", not HTTP 500.
        with self.assertRaises(ClientError) as err:
            ec2.delete_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Egress=False)
        self.assertEqual(err.exception.response["Error"]["Code"], "InvalidNetworkAclEntry.NotFound")
        self.assertEqual(err.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

        default = ec2.describe_network_acls(
            Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "default", "Values": ["true"]}]
        )["NetworkAcls"][0]
        assoc = next(a for a in default["Associations"] if a["SubnetId"] == subnet)["NetworkAclAssociationId"]
        new = ec2.replace_network_acl_association(AssociationId=assoc, NetworkAclId=acl)["NewAssociationId"]
        self.assertNotEqual(new, assoc)
        with self.assertRaises(ClientError) as err:
            ec2.replace_network_acl_association(AssociationId=assoc, NetworkAclId=acl)
        self.assertEqual(err.exception.response["Error"]["Code"], "InvalidAssociationID.NotFound")
        # The subnet kept the association the first call made.
        now = ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"][0]["Associations"]
        self.assertEqual([(a["NetworkAclAssociationId"], a["SubnetId"]) for a in now], [(new, subnet)])


class Ec2ClientTokenTests(unittest.TestCase):
    """u. patch_ec2_client_token"""

    def test_same_token_same_resource(self) -> None:
        ec2 = client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.97.0.0/16")["Vpc"]["VpcId"]
        token = unique("tok")
        first = ec2.create_route_table(VpcId=vpc, ClientToken=token)["RouteTable"]["RouteTableId"]
        again = ec2.create_route_table(VpcId=vpc, ClientToken=token)["RouteTable"]["RouteTableId"]
        other = ec2.create_route_table(VpcId=vpc, ClientToken=unique("tok"))["RouteTable"]["RouteTableId"]
        self.assertEqual(first, again)
        self.assertNotEqual(first, other)
        acl_token = unique("tok")
        acls = {ec2.create_network_acl(VpcId=vpc, ClientToken=acl_token)["NetworkAcl"]["NetworkAclId"] for _ in range(2)}
        self.assertEqual(len(acls), 1)
        ep_token = unique("tok")
        eps = {
            ec2.create_vpc_endpoint(
                VpcId=vpc,
                ServiceName=f"com.amazonaws.{REGION}.s3",
                VpcEndpointType="Gateway",
                RouteTableIds=[first],
                ClientToken=ep_token,
            )["VpcEndpoint"]["VpcEndpointId"]
            for _ in range(2)
        }
        self.assertEqual(len(eps), 1)
        listed = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["VpcEndpoints"]
        self.assertEqual([e["VpcEndpointId"] for e in listed], list(eps))
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]
        self.assertEqual(len(tables), 3)  # the main table, `first` and `other`
        # Without a token every call makes one, as before.
        self.assertNotEqual(
            ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"],
            ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"],
        )


class SageMakerEndpointEnisTests(unittest.TestCase):
    """v. patch_sagemaker_endpoint_enis"""

    def test_endpoint_in_a_vpc_holds_interfaces_until_deleted(self) -> None:
        ec2, sm = client("ec2"), client("sagemaker")
        vpc = ec2.create_vpc(CidrBlock="10.96.0.0/16")["Vpc"]["VpcId"]
        subnets = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.96.{i}.0/24")["Subnet"]["SubnetId"] for i in (1, 2)
        ]
        sg = ec2.create_security_group(GroupName=unique("inf"), Description="d", VpcId=vpc)["GroupId"]
        model, plain = unique("vpcmodel"), unique("plainmodel")
        make_model(sm, model, VpcConfig={"SecurityGroupIds": [sg], "Subnets": subnets})
        make_model(sm, plain)
        config, plain_config = unique("cfg"), unique("cfg")
        sm.create_endpoint_config(EndpointConfigName=config, ProductionVariants=[variant(model, "ml.m5.large")])
        sm.create_endpoint_config(EndpointConfigName=plain_config, ProductionVariants=[variant(plain, "ml.m5.large")])
        name = unique("ep")
        sm.create_endpoint(EndpointName=name, EndpointConfigName=config)

        def held() -> list:
            return ec2.describe_network_interfaces(Filters=[{"Name": "group-id", "Values": [sg]}])["NetworkInterfaces"]

        enis = held()
        self.assertEqual(sorted(e["SubnetId"] for e in enis), sorted(subnets))
        for e in enis:
            self.assertEqual(e["Description"], f"SageMaker endpoint {name}")
            self.assertTrue(e["RequesterManaged"])
            self.assertEqual(e["InterfaceType"], "interface")
        # An update to a model outside the VPC releases them; back in, they return.
        sm.update_endpoint(EndpointName=name, EndpointConfigName=plain_config)
        self.assertEqual(held(), [])
        sm.update_endpoint(EndpointName=name, EndpointConfigName=config)
        self.assertEqual(len(held()), 2)
        sm.delete_endpoint(EndpointName=name)
        self.assertEqual(held(), [])
        ec2.delete_security_group(GroupId=sg)
