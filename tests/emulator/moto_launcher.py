#!/usr/bin/env python3
"""Local AWS emulator for novactl's tests: moto, patched where it differs from AWS.

Usage (from anywhere; paths are resolved from this file):

    python3 tests/emulator/moto_launcher.py                 # random free port, dies on stdin EOF
    python3 tests/emulator/moto_launcher.py --port 5000 --no-stdin-watch   # by hand
    python3 tests/emulator/moto_launcher.py --install-only  # just build the venv

What it does:
1. Bootstrap (any python3 >= 3.9, stdlib only): makes sure a venv with
   tests/emulator/requirements.txt exists at $NOVACTL_MOTO_VENV, default
   <repo root>/.moto-venv. A stamp file in the venv holds the sha256 of
   requirements.txt; pip runs only when it is missing or differs. Creation is
   serialised with an fcntl lock, so many test processes may start at once.
   pip's output goes to stderr.
2. Re-execs itself (same pid) with the venv's python.
3. Applies the patches below (each names the moto-notes.md gap it closes; a
   missing patch target aborts start-up), starts moto's WSGI app on
   --host/--port (port 0 = a free port) and, once it answers HTTP, prints
   exactly one line `READY <port>` on stdout. Everything else goes to stderr.
4. Exits on stdin EOF (the parent holds the pipe; when it dies, so do we)
   unless --no-stdin-watch, and on SIGTERM / SIGINT.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SCRIPT = Path(os.path.abspath(__file__))
HERE = SCRIPT.parent
REPO_ROOT = HERE.parent.parent
REQUIREMENTS = HERE / "requirements.txt"
VENV_ENV = "NOVACTL_MOTO_VENV"
IN_VENV_ENV = "NOVACTL_MOTO_LAUNCHER_IN_VENV"
STAMP_NAME = ".novactl-requirements.sha256"


def log(msg: str) -> None:
    sys.stderr.write(f"[moto_launcher] {msg}\n")
    sys.stderr.flush()


def die(msg: str, code: int = 2) -> None:
    log(f"error: {msg}")
    sys.stderr.flush()
    os._exit(code)


# ---------------------------------------------------------------------------
# Bootstrap: the venv (stdlib only; runs on the system python3)
# ---------------------------------------------------------------------------


def venv_dir() -> Path:
    configured = os.environ.get(VENV_ENV)
    return Path(os.path.abspath(configured)) if configured else REPO_ROOT / ".moto-venv"


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def requirements_digest() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def venv_is_current(venv: Path, digest: str) -> bool:
    try:
        stamp = (venv / STAMP_NAME).read_text().strip()
    except OSError:
        return False
    return stamp == digest and os.access(venv_python(venv), os.X_OK)


def ensure_venv() -> Path:
    """Return the venv's python, creating/updating the venv first if needed."""
    import fcntl  # POSIX only, like the rest of the test setup

    venv = venv_dir()
    digest = requirements_digest()
    if venv_is_current(venv, digest):
        return venv_python(venv)

    lock_name = "novactl-moto-venv-%s.lock" % hashlib.sha256(str(venv).encode()).hexdigest()[:16]
    lock_path = Path(tempfile.gettempdir()) / lock_name
    with open(lock_path, "a+") as lock:
        log(f"venv {venv} missing or out of date; taking the lock {lock_path}")
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            # Another process may have built it while we waited.
            if venv_is_current(venv, digest):
                return venv_python(venv)
            build_venv(venv, digest)
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    return venv_python(venv)


def build_venv(venv: Path, digest: str) -> None:
    python = venv_python(venv)
    if venv.exists() and not os.access(python, os.X_OK):
        if (venv / "pyvenv.cfg").exists():
            import shutil

            log(f"removing broken venv {venv}")
            shutil.rmtree(venv)
        elif any(venv.iterdir()):
            die(f"{venv} exists, is not empty and is not a venv; set {VENV_ENV} elsewhere")
    if not os.access(python, os.X_OK):
        log(f"creating venv {venv} with {sys.executable}")
        run_to_stderr(
            [sys.executable, "-m", "venv", str(venv)],
            hint="on Debian/Ubuntu `python3 -m venv` needs the python3-venv package",
        )
    log(f"installing {REQUIREMENTS} into {venv} (pip output follows on stderr)")
    run_to_stderr(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
            "-r",
            str(REQUIREMENTS),
        ]
    )
    tmp = venv / (STAMP_NAME + ".tmp")
    tmp.write_text(digest + "\n")
    os.replace(tmp, venv / STAMP_NAME)
    log("venv ready")


def run_to_stderr(cmd: list, hint: str = "") -> None:
    sys.stderr.flush()
    result = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno(), stderr=sys.stderr.fileno())
    if result.returncode != 0:
        die(f"command failed with exit code {result.returncode}: {' '.join(cmd)}" + (f" ({hint})" if hint else ""))


def running_in_venv() -> bool:
    return os.path.realpath(sys.prefix) == os.path.realpath(str(venv_dir()))


def parse_args(argv: list) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Start moto, patched for novactl's tests.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--install-only", action="store_true", help="make sure the venv exists, then exit 0")
    parser.add_argument(
        "--no-stdin-watch",
        action="store_true",
        help="do not exit on stdin EOF (for running by hand); stop it with SIGTERM/SIGINT",
    )
    parser.add_argument(
        "--replication-delay",
        type=float,
        default=0.0,
        metavar="SECS",
        help="S3 replication copies an object this long after it was written (default 0)",
    )
    parser.add_argument(
        "--endpoint-delay",
        type=float,
        default=0.0,
        metavar="SECS",
        help="SageMaker endpoints stay Creating/Updating this long (default 0: InService at once)",
    )
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        metavar="N",
        help="delay every AWS request by N ms, as AWS's round trip would (default 0); "
        "changeable at run time through POST /moto-api/novactl/latency {\"ms\": N}",
    )
    add_fault_arguments(parser)
    args = parser.parse_args(argv)
    for name in ("replication_delay", "endpoint_delay"):
        if getattr(args, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be 0 or more seconds")
    return args


def main(argv: list) -> None:
    args = parse_args(argv)
    if sys.version_info < (3, 9):
        die("python >= 3.9 is required")
    try:
        fault_config(args)
    except ValueError as exc:
        die(str(exc))
    if os.environ.pop(IN_VENV_ENV, None) == "1":
        # Re-exec'd by ourselves: the parent image already checked the venv.
        run_server(args)
        return
    # Started by hand or by a test (possibly already with the venv's python): check the
    # stamp (cheap) and install if needed, then make sure the server runs in the venv.
    python = ensure_venv()
    if args.install_only:
        return
    if running_in_venv():
        run_server(args)
        return
    env = dict(os.environ)
    env[IN_VENV_ENV] = "1"
    sys.stderr.flush()
    os.execve(str(python), [str(python), str(SCRIPT)] + list(argv), env)


# ---------------------------------------------------------------------------
# Patches (run inside the venv). Each closes one row of shared/moto-notes.md.
# ---------------------------------------------------------------------------


class PatchTargetMissing(RuntimeError):
    pass


def _require(owner: object, name: str, present: bool = True) -> None:
    if hasattr(owner, name) != present:
        what = "no longer has" if present else "now has"
        raise PatchTargetMissing(
            f"moto changed: {getattr(owner, '__module__', '')}.{getattr(owner, '__name__', owner)} "
            f"{what} {name!r}; re-check this patch against the installed moto"
        )


S3_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
MFA_DELETE_ATTR = "_novactl_mfa_delete"


def patch_s3_get_bucket_versioning() -> None:
    """Close: | S3 `GetBucketVersioning` answers with root `<GetBucketVersioningResponse>` |
    the Rust SDK fails to parse it | 5.2.x (5.1.22 is fine) |

    moto 5.2.5's S3Response.get_bucket_versioning serialises {"Status": ...} through its
    generic serializer, which names the root after the operation. AWS (and the Rust SDK's
    parser) use `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`
    with optional `<Status>` and `<MfaDelete>`. moto also never stores MfaDelete, so the
    PutBucketVersioning handler is wrapped to remember it on the bucket.
    """
    import re
    from xml.sax.saxutils import escape

    from moto.s3.responses import S3Response

    _require(S3Response, "get_bucket_versioning")
    _require(S3Response, "_bucket_response_put")
    original_put = S3Response._bucket_response_put

    def get_bucket_versioning(self):  # type: ignore[no-untyped-def]
        self.data["Action"] = "GetBucketVersioning"
        status = self.backend.get_bucket_versioning(self.bucket_name)
        mfa_delete = getattr(self.backend.get_bucket(self.bucket_name), MFA_DELETE_ATTR, None)
        inner = ""
        if status:
            inner += f"<Status>{escape(status)}</Status>"
        if mfa_delete:
            inner += f"<MfaDelete>{escape(mfa_delete)}</MfaDelete>"
        body = '<?xml version="1.0" encoding="UTF-8"?>\n'
        body += f'<VersioningConfiguration xmlns="{S3_XMLNS}">{inner}</VersioningConfiguration>'
        return 200, {"Content-Type": "application/xml"}, body

    def _bucket_response_put(self, request, bucket_name, querystring):  # type: ignore[no-untyped-def]
        result = original_put(self, request, bucket_name, querystring)
        if querystring and "versioning" in querystring:
            status = result[0] if isinstance(result, tuple) else 200
            if int(status) == 200:
                body = self.body.decode("utf-8") if isinstance(self.body, bytes) else str(self.body or "")
                found = re.search(r"<MfaDelete>\s*(Enabled|Disabled)\s*</MfaDelete>", body)
                if found:
                    setattr(self.backend.get_bucket(bucket_name), MFA_DELETE_ATTR, found.group(1))
        return result

    S3Response.get_bucket_versioning = get_bucket_versioning
    S3Response._bucket_response_put = _bucket_response_put


def _is_tls_only_condition(condition: object) -> bool:
    """True for exactly `{"Bool": {"aws:SecureTransport": "false"}}` (value as string, bool or 1-list)."""
    if not isinstance(condition, dict) or list(condition.keys()) != ["Bool"]:
        return False
    test = condition["Bool"]
    if not isinstance(test, dict) or len(test) != 1:
        return False
    key, value = next(iter(test.items()))
    if key.lower() != "aws:securetransport":
        return False
    if isinstance(value, list):
        if len(value) != 1:
            return False
        value = value[0]
    return value is False or (isinstance(value, str) and value.lower() == "false")


def patch_s3_bucket_policy_secure_transport() -> None:
    """Close: | S3 bucket policies: moto ignores `Condition`, so any conditional Deny denies
    everything | object calls get bare 403 | all |

    moto evaluates bucket policies in FakeBucket.get_permission via IAMPolicy, which has no
    request context, so a TLS-only statement (Deny s3:* when Bool aws:SecureTransport is
    "false") matches every call. The emulator's clients stand in for TLS clients, i.e.
    aws:SecureTransport is "true": statements whose Condition is only
    `Bool aws:SecureTransport false` are dropped before moto evaluates the policy. Every other
    statement is evaluated by moto exactly as before.
    """
    import json

    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    _require(FakeBucket, "get_permission")
    _require(IAMPolicy, "is_action_permitted")

    def get_permission(self, action, resource):  # type: ignore[no-untyped-def]
        if self.policy is None:
            return PermissionResult.NEUTRAL
        raw = self.policy.decode() if isinstance(self.policy, bytes) else self.policy
        document = json.loads(raw)
        statements = document.get("Statement", [])
        if isinstance(statements, dict):
            statements = [statements]
        kept = [s for s in statements if not _is_tls_only_condition(s.get("Condition"))]
        if not kept:
            return PermissionResult.NEUTRAL
        document["Statement"] = kept
        return IAMPolicy(json.dumps(document)).is_action_permitted(action, resource)

    FakeBucket.get_permission = get_permission


CONDITIONAL_HEADERS = ("If-Match", "If-None-Match")


def patch_s3_conditional_writes_atomic() -> None:
    """Close: | S3 conditional writes are not atomic: moto checks `If-None-Match` / `If-Match`
    and then writes in two steps on a threaded server | two writers can both pass the check
    (a lock taken twice) | all |

    S3Response.put_object and .delete_object read the current object, compare, and only then
    store or delete it; AWS does both in one step (the loser of a race gets 412, or 409
    ConditionalRequestConflict). Requests that carry a conditional header run under one
    process-wide lock, so the check and the write are one step, as on AWS. Unconditional
    requests are untouched.
    """
    import threading
    from functools import wraps

    from moto.s3.responses import S3Response

    _require(S3Response, "put_object")
    _require(S3Response, "delete_object")
    lock = threading.Lock()

    def serialised(original):  # type: ignore[no-untyped-def]
        @wraps(original)
        def handler(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            if any(self.headers.get(h) for h in CONDITIONAL_HEADERS):
                with lock:
                    return original(self, *args, **kwargs)
            return original(self, *args, **kwargs)

        return handler

    S3Response.put_object = serialised(S3Response.put_object)
    S3Response.delete_object = serialised(S3Response.delete_object)


def patch_sagemaker_instance_types() -> None:
    """Close: | SageMaker endpoint config rejects `ml.g5.*`, `ml.g6.*`, `ml.p5.*` (stale enum) |
    ValidationException; `ml.g4dn.*` is accepted | all |

    FakeEndpointConfig.validate_instance_type checks a hard-coded list; accept any type that
    starts with `ml.` and leave the original error for anything else.
    """
    from moto.sagemaker.models import FakeEndpointConfig

    _require(FakeEndpointConfig, "validate_instance_type")
    original = FakeEndpointConfig.validate_instance_type

    def validate_instance_type(self, instance_type):  # type: ignore[no-untyped-def]
        if isinstance(instance_type, str) and instance_type.startswith("ml."):
            return None
        return original(self, instance_type)

    FakeEndpointConfig.validate_instance_type = validate_instance_type


def patch_sagemaker_network_isolation() -> None:
    """Close: | SageMaker `CreateModel` drops `EnableNetworkIsolation` (always false on
    describe) | endless drift on a correct model | all |

    SageMakerResponse.create_model never reads the parameter and Model.__init__ hard-codes
    enable_network_isolation = False; DescribeModel/ListModels serialise that attribute.
    After the original handler ran, set the attribute from the request.
    """
    from moto.sagemaker.models import Model
    from moto.sagemaker.responses import SageMakerResponse

    _require(SageMakerResponse, "create_model")
    _require(SageMakerResponse, "sagemaker_backend")
    _require(Model, "response_object")
    original = SageMakerResponse.create_model

    def create_model(self):  # type: ignore[no-untyped-def]
        result = original(self)
        flag = self._get_param("EnableNetworkIsolation")
        if flag is not None:
            model = self.sagemaker_backend.describe_model(self._get_param("ModelName"))
            model.enable_network_isolation = flag if isinstance(flag, bool) else str(flag).lower() == "true"
        return result

    SageMakerResponse.create_model = create_model


def patch_sagemaker_update_endpoint() -> None:
    """Close: | SageMaker `UpdateEndpoint` not implemented | HTTP 500 (HTML body) | all |

    Adds SageMakerModelBackend.update_endpoint and SageMakerResponse.update_endpoint: the
    endpoint must exist and so must the new endpoint config (ValidationException otherwise,
    worded like AWS); the endpoint switches to the new config (EndpointConfigName,
    ProductionVariants, DataCaptureConfig), LastModifiedTime is bumped. The switch itself (steps
    over time, `DeploymentConfig`, `RetainAllVariantProperties`, rollbacks) is `_deploy`'s: see
    `patch_sagemaker_deployments`.
    """
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig, SageMakerModelBackend
    from moto.sagemaker.responses import SageMakerResponse

    _require(SageMakerResponse, "update_endpoint", present=False)
    _require(SageMakerModelBackend, "update_endpoint", present=False)
    _require(FakeEndpoint, "_process_production_variants")
    _require(FakeEndpoint, "arn_formatter")
    _require(FakeEndpointConfig, "arn_formatter")

    def backend_update_endpoint(  # type: ignore[no-untyped-def]
        self,
        endpoint_name,
        endpoint_config_name,
        retain_all_variant_properties=False,
        exclude_retained_variant_properties=None,
        deployment_config=None,
    ):
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            arn = FakeEndpoint.arn_formatter(endpoint_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Could not find endpoint "{arn}".')
        config = self.endpoint_configs.get(endpoint_config_name)
        if config is None:
            arn = FakeEndpointConfig.arn_formatter(endpoint_config_name, self.account_id, self.region_name)
            raise ValidationError(message=f'Could not find endpoint configuration "{arn}".')
        variants = endpoint._process_production_variants(config.production_variants)
        capture = config.data_capture_config
        if retain_all_variant_properties:
            excluded = {e.get("VariantPropertyType") for e in exclude_retained_variant_properties or []}
            old = {v["VariantName"]: v for v in endpoint.production_variants}
            for v in variants:
                live = old.get(v["VariantName"], {})
                for prop, keys in (
                    ("DesiredInstanceCount", ("DesiredInstanceCount", "CurrentInstanceCount")),
                    ("DesiredWeight", ("DesiredWeight", "CurrentWeight")),
                ):
                    if prop not in excluded and live.get(prop) is not None:
                        for k in keys:
                            v[k] = live[prop]
            if "DataCaptureConfig" not in excluded:
                capture = endpoint.data_capture_config
        endpoint.failure_reason = None
        endpoint.last_modified_time = utcnow()
        _deploy(self, endpoint, endpoint_config_name, variants, capture, deployment_config)
        return endpoint

    def response_update_endpoint(self):  # type: ignore[no-untyped-def]
        endpoint = self.sagemaker_backend.update_endpoint(
            endpoint_name=self._get_param("EndpointName"),
            endpoint_config_name=self._get_param("EndpointConfigName"),
            retain_all_variant_properties=bool(self._get_param("RetainAllVariantProperties")),
            exclude_retained_variant_properties=self._get_param("ExcludeRetainedVariantProperties"),
            deployment_config=self._get_param("DeploymentConfig"),
        )
        return ActionResult({"EndpointArn": endpoint.arn})

    SageMakerModelBackend.update_endpoint = backend_update_endpoint
    SageMakerResponse.update_endpoint = response_update_endpoint


# --- CloudWatch: Smithy rpc-v2-cbor in front of moto's awsJson1.0 handlers -----------------

# Smithy service shape name -> (botocore service, SigV4 signing name, Smithy namespace)
RPCV2_CBOR_SERVICES = {
    "GraniteServiceVersion20100801": ("cloudwatch", "monitoring", "com.amazonaws.cloudwatch"),
}


def patch_autoscaling_object_not_found() -> None:
    """Close: | Application Auto Scaling answers DeregisterScalableTarget and DeleteScalingPolicy
    for a target or policy that is not there with `ValidationException`; AWS answers
    `ObjectNotFoundException` (the error the SDK models as "already gone") | a delete that meets
    a part removed meanwhile fails on moto but succeeds on AWS | all |

    Wraps ApplicationAutoscalingBackend.deregister_scalable_target and delete_scaling_policy:
    moto's own "No scalable target found" / "No scaling policy found" answer becomes an
    `ObjectNotFoundException` with the same message. Every other error is unchanged.
    """
    from moto.applicationautoscaling.exceptions import AWSValidationException
    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
    from moto.core.exceptions import JsonRESTError

    for name, prefix in (
        ("deregister_scalable_target", "No scalable target found"),
        ("delete_scaling_policy", "No scaling policy found"),
    ):
        _require(ApplicationAutoscalingBackend, name)
        original = getattr(ApplicationAutoscalingBackend, name)

        def wrapped(self, *args, __original=original, __prefix=prefix, **kwargs):  # type: ignore[no-untyped-def]
            try:
                return __original(self, *args, **kwargs)
            except AWSValidationException as e:
                if not str(e.message).startswith(__prefix):
                    raise
                raise JsonRESTError("ObjectNotFoundException", e.message) from None

        setattr(ApplicationAutoscalingBackend, name, wrapped)


def patch_cloudwatch_rpcv2_cbor():  # type: ignore[no-untyped-def]
    """Close: | CloudWatch: aws-sdk-cloudwatch ≥ 1.100.0 speaks the smithy **rpc-v2-cbor**
    protocol; moto only speaks Query/JSON for CloudWatch (maintainers: no CBOR planned,
    getmoto/moto#9195) | every CloudWatch call gets an HTML 404 | all moto versions |

    Returns a WSGI middleware that takes `POST .../service/GraniteServiceVersion20100801/
    operation/<Op>`, decodes the CBOR input, re-issues it to moto as awsJson1.0
    (`X-Amz-Target: GraniteServiceVersion20100801.<Op>`, which moto 5.2.5's CloudWatchResponse
    parses and answers in JSON) and re-encodes moto's answer as CBOR, typed by botocore's
    CloudWatch model (timestamps as tag 1 + float, doubles as floats, blobs as bytes, unknown
    keys dropped). Errors become `{"__type": "com.amazonaws.cloudwatch#<ErrorShape>",
    "message": ...}` plus the awsQueryCompatible `x-amzn-query-error: <Code>;<Sender|Receiver>`
    header, as AWS sends them.
    """
    import botocore.session
    import cbor2  # noqa: F401  (fail at start-up, not on the first request)
    from botocore.model import OperationNotFoundError  # noqa: F401
    from moto.cloudwatch.responses import CloudWatchResponse

    for op in (
        "put_metric_alarm",
        "describe_alarms",
        "delete_alarms",
        "put_dashboard",
        "get_dashboard",
        "list_dashboards",
        "delete_dashboards",
        "tag_resource",
        "untag_resource",
        "list_tags_for_resource",
    ):
        _require(CloudWatchResponse, op)
    session = botocore.session.get_session()
    models = {}
    for smithy_name, (service, _signing, _ns) in RPCV2_CBOR_SERVICES.items():
        model = session.get_service_model(service)
        if "json" not in model.metadata.get("protocols", [model.protocol]):
            raise PatchTargetMissing(f"botocore's {service} model no longer lists the json protocol")
        if model.metadata.get("targetPrefix") != smithy_name:
            raise PatchTargetMissing(f"botocore's {service} targetPrefix is not {smithy_name}")
        models[smithy_name] = model
    return lambda app: RpcV2CborBridge(app, models)


class RpcV2CborBridge:
    """WSGI middleware: Smithy rpc-v2-cbor requests -> moto awsJson1.0 -> rpc-v2-cbor replies."""

    def __init__(self, app, models):  # type: ignore[no-untyped-def]
        import re

        self.app = app
        self.models = models
        self.path_re = re.compile(r"^(?:/.*)?/service/([^/]+)/operation/([^/]+)/?$")
        self.credential_re = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/,\s]+)/[^/,\s]+/aws4_request")

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        path = environ.get("PATH_INFO", "")
        match = self.path_re.match(path)
        if not match or environ.get("REQUEST_METHOD", "").upper() != "POST":
            return self.app(environ, start_response)
        # A prefixed path (allowed by the spec) must also carry the protocol header, so that
        # e.g. an S3 key named ".../service/X/operation/Y" is left alone.
        if not path.startswith("/service/") and environ.get("HTTP_SMITHY_PROTOCOL", "").lower() != "rpc-v2-cbor":
            return self.app(environ, start_response)
        # Spec: the service segment may also be the absolute shape id with '#' -> '.'.
        smithy_name = match.group(1).rsplit(".", 1)[-1]
        if smithy_name not in self.models:
            return self.app(environ, start_response)
        operation = match.group(2)
        try:
            return self.handle(environ, start_response, smithy_name, operation)
        except Exception as exc:  # never let a bridge bug turn into an HTML page
            import traceback

            traceback.print_exc(file=sys.stderr)
            return self.reply_error(
                start_response, smithy_name, 500, "InternalFailure", f"emulator rpc-v2-cbor bridge: {exc!r}", None
            )

    # -- request ------------------------------------------------------------------------

    def handle(self, environ, start_response, smithy_name, operation):  # type: ignore[no-untyped-def]
        import io
        import json

        import cbor2
        from botocore.model import OperationNotFoundError

        model = self.models[smithy_name]
        service, signing_name, _ns = RPCV2_CBOR_SERVICES[smithy_name]
        try:
            op_model = model.operation_model(operation)
        except OperationNotFoundError:
            return self.reply_error(
                start_response, smithy_name, 404, "UnknownOperationException", f"unknown operation {operation}", None
            )

        body = self.read_body(environ)
        if "gzip" in environ.get("HTTP_CONTENT_ENCODING", "").lower() and body:
            import gzip

            body = gzip.decompress(body)
        try:
            params = cbor2.loads(body) if body else {}
        except Exception as exc:
            return self.reply_error(start_response, smithy_name, 400, "SerializationException", f"bad CBOR: {exc}", None)
        if params is None:
            params = {}
        if not isinstance(params, dict):
            return self.reply_error(
                start_response, smithy_name, 400, "SerializationException", "the CBOR body must be a map", None
            )
        json_body = json.dumps(to_json_value(params, op_model.input_shape)).encode("utf-8")

        inner = dict(environ)
        for key in ("HTTP_SMITHY_PROTOCOL", "HTTP_CONTENT_ENCODING", "HTTP_ACCEPT", "HTTP_X_AMZN_QUERY_MODE"):
            inner.pop(key, None)
        for key in [k for k in inner if k.startswith("werkzeug.")]:
            inner.pop(key, None)
        inner["REQUEST_METHOD"] = "POST"
        inner["PATH_INFO"] = "/"
        inner["RAW_URI"] = inner["REQUEST_URI"] = "/"
        inner["QUERY_STRING"] = ""
        inner["CONTENT_TYPE"] = "application/x-amz-json-1.0"
        inner["CONTENT_LENGTH"] = str(len(json_body))
        inner["wsgi.input"] = io.BytesIO(json_body)
        inner["HTTP_X_AMZ_TARGET"] = f"{smithy_name}.{operation}"
        inner["HTTP_AUTHORIZATION"] = self.inner_authorization(environ.get("HTTP_AUTHORIZATION", ""), signing_name)

        captured = {}

        def capture(status, headers, exc_info=None):  # type: ignore[no-untyped-def]
            captured["status"] = status
            captured["headers"] = headers
            return lambda data: None

        chunks = self.app(inner, capture)
        try:
            reply = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        status = int(str(captured.get("status", "500")).split()[0])
        headers = {k.lower(): v for k, v in captured.get("headers", [])}
        request_id = headers.get("x-amzn-requestid")

        if status == 200:
            if op_model.output_shape is None:
                # Spec: operations without output send no body and no Content-Type.
                return self.reply(start_response, 200, None, request_id, {})
            try:
                document = json.loads(reply) if reply.strip() else {}
            except ValueError:
                return self.reply_error(
                    start_response, smithy_name, 500, "InternalFailure",
                    f"moto sent a non-JSON reply to {operation}: {reply[:200]!r}", request_id,
                )
            out = to_cbor_value(document, op_model.output_shape)
            return self.reply(start_response, 200, cbor2.dumps(out if out is not None else {}), request_id, {})

        return self.translate_error(start_response, smithy_name, op_model, status, headers, reply, request_id)

    @staticmethod
    def read_body(environ):  # type: ignore[no-untyped-def]
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH")
        if length:
            return stream.read(int(length))
        if environ.get("wsgi.input_terminated"):
            return stream.read()
        return b""

    def inner_authorization(self, auth: str, signing_name: str) -> str:
        """A SigV4-shaped header that makes moto route to the service and keep key/region."""
        access_key, date, region = "AKIAIOSFODNN7EXAMPLE", "20000101", "us-east-1"
        found = self.credential_re.search(auth)
        if found:
            access_key, date, region = found.group(1), found.group(2), found.group(3)
        return (
            f"AWS4-HMAC-SHA256 Credential={access_key}/{date}/{region}/{signing_name}/aws4_request, "
            "SignedHeaders=host, Signature=0"
        )

    # -- replies ------------------------------------------------------------------------

    def translate_error(self, start_response, smithy_name, op_model, status, headers, reply, request_id):  # type: ignore[no-untyped-def]
        import json

        try:
            document = json.loads(reply)
            if not isinstance(document, dict):
                document = None
        except ValueError:
            document = None
        query_error = headers.get("x-amzn-query-error")
        if document is None:
            # moto answered with HTML/text (e.g. an operation moto does not implement).
            text = reply.decode("utf-8", "replace")[:300]
            message = f"moto answered {op_model.name} with HTTP {status} (not implemented in moto?): {text}"
            if status >= 500:
                return self.reply_error(start_response, smithy_name, status, "InternalServiceError", message, request_id)
            return self.reply_error(start_response, smithy_name, status, "InvalidRequest", message, request_id)
        raw_type = str(document.get("__type") or document.get("code") or document.get("Code") or "")
        code = query_error.split(";")[0] if query_error else sanitize_error_code(raw_type)
        message = document.get("message") or document.get("Message") or ""
        return self.reply_error(
            start_response, smithy_name, status, code or "InternalFailure", str(message), request_id,
            op_model=op_model, query_error=query_error,
        )

    def reply_error(self, start_response, smithy_name, status, code, message, request_id, op_model=None, query_error=None):  # type: ignore[no-untyped-def]
        import cbor2

        model = self.models[smithy_name]
        namespace = RPCV2_CBOR_SERVICES[smithy_name][2]
        shape_name = error_shape_name(model, op_model, code)
        body = cbor2.dumps({"__type": f"{namespace}#{shape_name}", "message": message})
        fault = "Sender" if status < 500 else "Receiver"
        extra = {"x-amzn-query-error": query_error or f"{code};{fault}"}
        return self.reply(start_response, status, body, request_id, extra)

    @staticmethod
    def reply(start_response, status, body, request_id, extra):  # type: ignore[no-untyped-def]
        from http import HTTPStatus

        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Unknown"
        headers = [("smithy-protocol", "rpc-v2-cbor")]
        if body is not None:
            headers.append(("Content-Type", "application/cbor"))
        headers.append(("Content-Length", str(len(body or b""))))
        if request_id:
            headers.append(("x-amzn-requestid", request_id))
        headers.extend(extra.items())
        start_response(f"{status} {phrase}", headers)
        return [body or b""]


def sanitize_error_code(raw: str) -> str:
    """Same trimming as the SDKs: drop a ':...' suffix, then a 'namespace#' prefix."""
    raw = raw.split(":", 1)[0]
    return raw.rsplit("#", 1)[-1]


def error_shape_name(model, op_model, code: str) -> str:  # type: ignore[no-untyped-def]
    """Map an awsQuery error code (what moto reports) to the modelled error shape's name.

    The operation's own errors win (GetDashboard's "ResourceNotFound" is the shape
    DashboardNotFoundError), then any error shape of the service, then the code itself.
    """
    groups = [list(op_model.error_shapes) if op_model is not None else [], list(model.error_shapes)]
    for shapes in groups:
        for shape in shapes:
            if shape.name == code:
                return shape.name
        for shape in shapes:
            if (shape.metadata.get("error") or {}).get("code") == code:
                return shape.name
    return code


def _epoch_seconds(value):  # type: ignore[no-untyped-def]
    import datetime

    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        parsed = datetime.datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=datetime.timezone.utc)
        return parsed.timestamp()
    raise ValueError(f"not a timestamp: {value!r}")


def to_json_value(value, shape):  # type: ignore[no-untyped-def]
    """CBOR-decoded request value -> what moto's awsJson parser expects."""
    import base64
    import datetime

    import cbor2

    if isinstance(value, cbor2.CBORTag):
        value = value.value
    if value is cbor2.undefined:
        return None
    type_name = getattr(shape, "type_name", None)
    if isinstance(value, dict):
        if type_name == "structure":
            return {k: to_json_value(v, shape.members.get(k)) for k, v in value.items()}
        if type_name == "map":
            return {k: to_json_value(v, shape.value) for k, v in value.items()}
        return {k: to_json_value(v, None) for k, v in value.items()}
    if isinstance(value, list):
        member = shape.member if type_name == "list" else None
        return [to_json_value(v, member) for v in value]
    if isinstance(value, datetime.datetime) or type_name == "timestamp":
        return _epoch_seconds(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def to_cbor_value(value, shape):  # type: ignore[no-untyped-def]
    """moto's JSON reply value -> the CBOR type the Rust SDK's strict decoder expects."""
    import base64

    import cbor2

    if value is None:
        return None
    type_name = getattr(shape, "type_name", None)
    if type_name == "structure":
        if not isinstance(value, dict):
            return None
        out = {}
        for key, item in value.items():
            member = shape.members.get(key)
            if member is None:
                continue  # unknown to the model: the SDK would skip it anyway
            converted = to_cbor_value(item, member)
            if converted is not None:
                out[key] = converted
        return out
    if type_name == "list":
        items = value if isinstance(value, list) else [value]
        return [v for v in (to_cbor_value(i, shape.member) for i in items) if v is not None]
    if type_name == "map":
        return {k: v for k, v in ((k, to_cbor_value(i, shape.value)) for k, i in value.items()) if v is not None}
    if type_name == "timestamp":
        return cbor2.CBORTag(1, float(_epoch_seconds(value)))
    if type_name in ("double", "float"):
        return float(value)
    if type_name in ("integer", "long", "short", "byte"):
        return int(value)
    if type_name == "boolean":
        return value if isinstance(value, bool) else str(value).lower() == "true"
    if type_name == "blob":
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        return base64.b64decode(value)
    if type_name == "string":
        return value if isinstance(value, str) else str(value)
    return value


def patch_tagging_cloudtrail_trails() -> None:
    """Close: | Resource Groups Tagging API `GetResources` does not return CloudTrail trails (AWS
    does) | discovery through the tagging API cannot find a trail that left the spec | 5.2.5 |

    moto's CloudTrailBackend does not take part in the tagging API (it lacks moto's
    TaggableResourcesMixin). The backend class behind `cloudtrail_backends` is replaced by a
    subclass that does: it yields every trail of its region with the tags ListTags returns,
    resource type `cloudtrail:trail`, as AWS lists them.
    """
    from moto.cloudtrail import models as ct
    from moto.core.resource_tagging import TaggableResourcesMixin, TaggedResource

    _require(ct, "cloudtrail_backends")
    _require(ct.CloudTrailBackend, "list_tags")
    backends = ct.cloudtrail_backends
    if not isinstance(backends.backend, type) or issubclass(backends.backend, TaggableResourcesMixin):
        raise PatchTargetMissing("moto's CloudTrailBackend now takes part in the tagging API; drop this patch")

    class TaggableCloudTrailBackend(backends.backend, TaggableResourcesMixin):  # type: ignore[misc, name-defined]
        SERVICE_NAMESPACE = "cloudtrail"

        def iter_tagged_resources(self):  # type: ignore[no-untyped-def]
            for trail in list(self.trails.values()):
                tags = self.list_tags([trail.arn])[0]["TagsList"]
                yield TaggedResource(
                    arn=trail.arn,
                    tags={t["Key"]: t.get("Value", "") for t in tags},
                    resource_type="cloudtrail:trail",
                )

    # moto finds a backend's URL module from the class's module name.
    TaggableCloudTrailBackend.__module__ = backends.backend.__module__
    backends.backend = TaggableCloudTrailBackend


def patch_tagging_s3_bucket_region() -> None:
    """Close: | Resource Groups Tagging API `GetResources` returns every S3 bucket of the account
    in every region; AWS returns the resources "located in the specified Region" | a regional
    query sees other regions' buckets | 5.2.5 |

    moto's S3 backend is global (one per partition), so its `iter_tagged_resources` yields all
    buckets whatever region was asked. The tagging backend's resource generator is wrapped to
    drop `s3:bucket` resources whose bucket lives in another region than the request's.
    """
    from moto.resourcegroupstaggingapi.models import ResourceGroupsTaggingAPIBackend
    from moto.s3.models import s3_backends

    _require(ResourceGroupsTaggingAPIBackend, "_get_resources_generator")
    original = ResourceGroupsTaggingAPIBackend._get_resources_generator

    def _get_resources_generator(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        for resource in original(self, *args, **kwargs):
            if resource.resource_type == "s3:bucket":
                name = resource.arn.split(":::", 1)[-1]
                bucket = s3_backends[self.account_id]["global"].buckets.get(name)
                if bucket is not None and bucket.region_name != self.region_name:
                    continue
            yield resource

    ResourceGroupsTaggingAPIBackend._get_resources_generator = _get_resources_generator


def patch_sagemaker_list_models_name_contains() -> None:
    """Close: | SageMaker `ListModels` ignores `NameContains` and returns every model of the
    region | a lookup of one model's versions reads the whole account (and a client that reads
    each listed model's tags pays for every model) | 5.2.5 |

    moto's `SageMakerResponse.list_models` passes no parameters to the backend. The response
    is wrapped to keep the models whose name contains `NameContains`, as AWS does (the other
    filters and paging are left as moto has them: one page).
    """
    from moto.sagemaker.responses import SageMakerResponse

    _require(SageMakerResponse, "list_models")
    original = SageMakerResponse.list_models

    def list_models(self):  # type: ignore[no-untyped-def]
        result = original(self)
        contains = self._get_param("NameContains")
        if contains:
            models = result.result if hasattr(result, "result") else result
            kept = [m for m in models["Models"] if contains in m.get("ModelName", "")]
            models["Models"] = kept
        return result

    SageMakerResponse.list_models = list_models


LATENCY_PATH = "/moto-api/novactl/latency"


class Latency:
    """Option `--latency-ms N`: a fixed delay before every AWS request, to stand for the 20-100
    ms a call costs on AWS (moto answers in a few ms, which hides what concurrency buys).

    The server is threaded and the delay is a sleep, so concurrent requests wait concurrently,
    as they would on AWS. Requests to `/moto-api/` (reset, config) are not delayed. The delay can
    be read and changed while the server runs: `GET /moto-api/novactl/latency` answers
    `{"ms": N}`; `POST` the same body to set it (the benchmark switches between 0 and 50 on one
    server).
    """

    def __init__(self, app, ms: int):  # type: ignore[no-untyped-def]
        self.app = app
        self.ms = max(0, int(ms))

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        import json

        path = environ.get("PATH_INFO", "")
        if path == LATENCY_PATH:
            if environ.get("REQUEST_METHOD") == "POST":
                length = int(environ.get("CONTENT_LENGTH") or 0)
                try:
                    self.ms = max(0, int(json.loads(environ["wsgi.input"].read(length))["ms"]))
                except (ValueError, KeyError, TypeError) as exc:
                    start_response("400 Bad Request", [("Content-Type", "application/json")])
                    return [json.dumps({"error": f"want {{\"ms\": N}}: {exc}"}).encode()]
                log(f"latency now {self.ms} ms per request")
            start_response("200 OK", [("Content-Type", "application/json")])
            return [json.dumps({"ms": self.ms}).encode()]
        if self.ms and not path.startswith(("/moto-api/", CONTROL_PREFIX)):
            time.sleep(self.ms / 1000.0)
        return self.app(environ, start_response)


def patch_logs_put_metric_filter_replaces() -> None:
    """Close: | CloudWatch Logs `PutMetricFilter` appends a second filter of the same name
    instead of replacing it (AWS: "creates or updates") | an updated filter reads back twice,
    the old definition first | 5.2.5 |

    MetricFilters.add_filter appends to a list. Drop any filter of the same name on the same
    log group first, so a put replaces it in place (as on AWS).
    """
    from moto.logs.metric_filters import MetricFilters

    _require(MetricFilters, "add_filter")
    original = MetricFilters.add_filter

    def add_filter(self, filter_name, filter_pattern, log_group_name, metric_transformations):  # type: ignore[no-untyped-def]
        self.metric_filters = [
            f
            for f in self.metric_filters
            if not (f["filterName"] == filter_name and f["logGroupName"] == log_group_name)
        ]
        return original(self, filter_name, filter_pattern, log_group_name, metric_transformations)

    MetricFilters.add_filter = add_filter


def patch_s3_logging_policy_principal_star() -> None:
    """Close: | S3 `PutBucketLogging` answers HTTP 500 when the target bucket's policy has a
    statement whose `Principal` is the string `"*"` (a TLS-only Deny, say) | access logging to
    a TLS-only bucket cannot be turned on | 5.2.5 |

    FakeBucket._log_permissions_enabled_policy calls `stmt.get("Principal", {}).get("Service")`,
    which fails on a string principal. Check the policy with those statements left out (a
    `"*"` principal never names the log-delivery service); the stored policy is unchanged.
    """
    import json

    from moto.s3.models import FakeBucket

    _require(FakeBucket, "_log_permissions_enabled_policy")
    original = FakeBucket._log_permissions_enabled_policy

    class _View:
        def __init__(self, bucket, policy):  # type: ignore[no-untyped-def]
            self._bucket = bucket
            self.policy = policy

        def __getattr__(self, name):  # type: ignore[no-untyped-def]
            return getattr(self._bucket, name)

    def check(target_bucket, target_prefix):  # type: ignore[no-untyped-def]
        raw = target_bucket.policy
        if raw:
            document = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
            statements = document.get("Statement", [])
            if isinstance(statements, dict):
                statements = [statements]
            document["Statement"] = [s for s in statements if isinstance(s.get("Principal"), dict)]
            target_bucket = _View(target_bucket, json.dumps(document).encode())
        return original(target_bucket=target_bucket, target_prefix=target_prefix)

    FakeBucket._log_permissions_enabled_policy = staticmethod(check)


# --- DR: replication, endpoint transitions, the canary's InvokeEndpoint, runtime settings ---------

# Settings the DR patches read at the moment they act; set from --replication-delay and
# --endpoint-delay, changed at run time with POST /novactl-api/config.
DR_SETTINGS = {"replication_delay": 0.0, "endpoint_delay": 0.0}
REPLICATION_STATUS_ATTR = "_novactl_replication_status"
REPLICATION_XML_ATTR = "_novactl_replication_xml"


def patch_s3_replication_config_as_written() -> None:
    """Close: | S3 GetBucketReplication hands back hard-coded `DeleteMarkerReplication:
    Disabled` and `Filter: {Prefix: ""}` and drops `SourceSelectionCriteria` | false drift on
    a correct replication rule | 5.2.5 |

    PutBucketReplication is wrapped to keep the request body as written on the bucket (moto
    still parses and stores it as before); GetBucketReplication answers with that document
    (rooted `<ReplicationConfiguration xmlns=...>`, as AWS does) while moto has a
    configuration for the bucket, and with moto's own answer (ReplicationConfigurationNotFound
    after DeleteBucketReplication) otherwise.
    """
    import re

    from moto.s3.responses import S3Response

    _require(S3Response, "get_bucket_replication")
    _require(S3Response, "_bucket_response_put")
    original_get = S3Response.get_bucket_replication
    original_put = S3Response._bucket_response_put

    def _bucket_response_put(self, request, bucket_name, querystring):  # type: ignore[no-untyped-def]
        result = original_put(self, request, bucket_name, querystring)
        if querystring and "replication" in querystring:
            status = result[0] if isinstance(result, tuple) else 200
            if int(status) == 200:
                body = self.body.decode("utf-8") if isinstance(self.body, bytes) else str(self.body or "")
                setattr(self.backend.get_bucket(bucket_name), REPLICATION_XML_ATTR, body)
        return result

    def get_bucket_replication(self):  # type: ignore[no-untyped-def]
        bucket = self.backend.get_bucket(self.bucket_name)
        written = getattr(bucket, REPLICATION_XML_ATTR, None)
        if not written or not self.backend.get_bucket_replication(self.bucket_name):
            return original_get(self)
        inner = re.sub(r"^\s*<\?xml[^>]*\?>", "", written).strip()
        if "xmlns=" not in inner.split(">", 1)[0]:
            inner = inner.replace("<ReplicationConfiguration", f'<ReplicationConfiguration xmlns="{S3_XMLNS}"', 1)
        body = '<?xml version="1.0" encoding="UTF-8"?>\n' + inner
        return 200, {"Content-Type": "application/xml"}, body

    S3Response._bucket_response_put = _bucket_response_put
    S3Response.get_bucket_replication = get_bucket_replication


def _replication_rule_for(bucket, key) -> dict | None:  # type: ignore[no-untyped-def]
    """The enabled rule of the bucket's replication configuration that selects `key`."""
    config = getattr(bucket, "replication", None)
    if not config:
        return None
    rules = config.get("Rule") or []
    if isinstance(rules, dict):
        rules = [rules]
    chosen = None
    for rule in rules:
        if rule.get("Status") != "Enabled":
            continue
        filt = rule.get("Filter") or {}
        prefix = filt.get("Prefix") or (filt.get("And") or {}).get("Prefix") or rule.get("Prefix") or ""
        if not key.name.startswith(prefix):
            continue
        if key.encryption == "aws:kms":
            selection = ((rule.get("SourceSelectionCriteria") or {}).get("SseKmsEncryptedObjects") or {})
            if selection.get("Status") != "Enabled":
                continue  # AWS replicates SSE-KMS objects only when the rule selects them
        if chosen is None or int(rule.get("Priority") or 0) > int(chosen.get("Priority") or 0):
            chosen = rule
    return chosen


def patch_s3_replicate_objects() -> None:
    """Close: | S3 replication: moto stores a replication configuration but never copies an
    object and sets no `x-amz-replication-status` | a DR drill (RPO) cannot be measured |
    all |

    `S3Backend.put_object` (PutObject, CopyObject and CompleteMultipartUpload all end there) is
    wrapped: an object that an enabled rule selects (prefix; SSE-KMS objects only when the rule
    has `SourceSelectionCriteria/SseKmsEncryptedObjects` Enabled) gets replication status
    PENDING, and `replication_delay` seconds later (DR_SETTINGS, read when the object is
    written) it is copied into the rule's destination bucket: same key, bytes, metadata,
    checksum and version id, encrypted with the rule's `ReplicaKmsKeyID` (else as the source),
    status REPLICA; the source becomes COMPLETED (FAILED when the destination bucket is missing
    or not versioned). HeadObject/GetObject return `x-amz-replication-status`. Delete markers
    are not replicated.
    """
    from moto.s3.models import FakeKey, S3Backend

    _require(S3Backend, "put_object")
    _require(S3Backend, "get_object")
    _require(FakeKey, "response_dict")
    original_put = S3Backend.put_object
    original_response_dict = FakeKey.response_dict.fget

    def replicate(backend, bucket_name, key_name, version_id, rule):  # type: ignore[no-untyped-def]
        try:
            source = backend.get_object(bucket_name, key_name, version_id=version_id)
            if source is None:
                return
            dest_name = str(rule["Destination"]["Bucket"]).split(":::")[-1]
            try:
                dest = backend.get_bucket(dest_name)
            except Exception:
                dest = None
            if dest is None or not dest.is_versioned:
                setattr(source, REPLICATION_STATUS_ATTR, "FAILED")
                return
            replica_key = ((rule["Destination"].get("EncryptionConfiguration") or {}).get("ReplicaKmsKeyID"))
            encryption, kms_key_id = source.encryption, source.kms_key_id
            if replica_key and source.encryption == "aws:kms":
                kms_key_id = replica_key
            replica = original_put(
                backend,
                dest_name,
                key_name,
                source.value,
                encryption=encryption,
                kms_key_id=kms_key_id,
                checksum_value=source.checksum_value,
                disable_notification=True,
            )
            replica.set_metadata(source.metadata)
            replica.checksum_algorithm = source.checksum_algorithm
            replica._version_id = source.version_id
            setattr(replica, REPLICATION_STATUS_ATTR, "REPLICA")
            setattr(source, REPLICATION_STATUS_ATTR, "COMPLETED")
        except Exception as exc:  # never kill the timer thread silently
            log(f"replication of s3://{bucket_name}/{key_name} failed: {exc!r}")

    def put_object(self, bucket_name, key_name, value, *args, **kwargs):  # type: ignore[no-untyped-def]
        key = original_put(self, bucket_name, key_name, value, *args, **kwargs)
        rule = _replication_rule_for(self.get_bucket(bucket_name), key)
        if rule is not None:
            setattr(key, REPLICATION_STATUS_ATTR, "PENDING")
            timer = threading.Timer(
                float(DR_SETTINGS["replication_delay"]),
                replicate,
                args=(self, bucket_name, key_name, key.version_id, rule),
            )
            timer.daemon = True
            timer.start()
        return key

    def response_dict(self):  # type: ignore[no-untyped-def]
        res = original_response_dict(self)
        status = getattr(self, REPLICATION_STATUS_ATTR, None)
        if status:
            res["x-amz-replication-status"] = status
        return res

    S3Backend.put_object = put_object
    FakeKey.response_dict = property(response_dict)


# Endpoints in a transition: endpoint -> {"until": monotonic time, "current": {variant: count}}.
_TRANSITIONS: "weakref.WeakKeyDictionary" = None  # type: ignore[assignment]


def _settle(endpoint) -> None:  # type: ignore[no-untyped-def]
    """Ends the endpoint's transition once its time is up: InService, current counts final."""
    t = _TRANSITIONS.get(endpoint)
    if t is None or time.monotonic() < t["until"]:
        return
    for v in endpoint.production_variants:
        if v.get("VariantName") in t["current"]:
            v["CurrentInstanceCount"] = t["current"][v["VariantName"]]
    endpoint.endpoint_status = "InService"
    _TRANSITIONS.pop(endpoint, None)


def _transition(endpoint, status, before) -> None:  # type: ignore[no-untyped-def]
    """Puts the endpoint in `status` for endpoint_delay seconds; variants keep the current
    counts `before` (variant -> count) until then."""
    delay = float(DR_SETTINGS["endpoint_delay"])
    if delay <= 0:
        return
    final = {v["VariantName"]: v.get("CurrentInstanceCount") for v in endpoint.production_variants}
    for v in endpoint.production_variants:
        v["CurrentInstanceCount"] = before.get(v["VariantName"], 0)
    endpoint.endpoint_status = status
    _TRANSITIONS[endpoint] = {"until": time.monotonic() + delay, "current": final}


def patch_sagemaker_endpoint_transitions() -> None:
    """Close: | SageMaker endpoints are `InService` at once (no Creating/Updating/Failed) |
    waiters and rollback paths cannot be exercised on moto | all |

    With `endpoint_delay` > 0 (DR_SETTINGS): CreateEndpoint leaves the endpoint `Creating`
    (current instance counts 0), UpdateEndpointWeightsAndCapacities leaves it `Updating`
    (current counts as before), for that many seconds (UpdateEndpoint: `_deploy`'s steps, the
    first of which lasts as long); then it is InService with
    the new counts. Either update of an endpoint that is not InService is refused with
    ValidationException "Cannot update in-progress endpoint", as AWS does. The state is
    settled whenever the endpoint is read (Describe/List) or updated. Must run after
    `patch_sagemaker_update_endpoint`.
    """
    import weakref

    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend

    global _TRANSITIONS
    _TRANSITIONS = weakref.WeakKeyDictionary()
    for name in ("create_endpoint", "update_endpoint", "update_endpoint_weights_and_capacities", "summary"):
        _require(SageMakerModelBackend if name != "summary" else FakeEndpoint, name)
    _require(FakeEndpoint, "response_object")
    original_create = SageMakerModelBackend.create_endpoint
    original_update = SageMakerModelBackend.update_endpoint
    original_weights = SageMakerModelBackend.update_endpoint_weights_and_capacities
    original_summary = FakeEndpoint.summary
    original_response = FakeEndpoint.response_object.fget

    def refuse_busy(self, endpoint_name):  # type: ignore[no-untyped-def]
        endpoint = self.endpoints.get(endpoint_name)
        if endpoint is None:
            return None
        _settle(endpoint)
        if endpoint.endpoint_status != "InService":
            raise ValidationError(message=f'Cannot update in-progress endpoint "{endpoint.arn}".')
        return endpoint

    def current_counts(endpoint):  # type: ignore[no-untyped-def]
        return {v["VariantName"]: v.get("CurrentInstanceCount") for v in endpoint.production_variants}

    def create_endpoint(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        endpoint = original_create(self, *args, **kwargs)
        _transition(endpoint, "Creating", {})
        return endpoint

    def update_endpoint(self, endpoint_name, *args, **kwargs):  # type: ignore[no-untyped-def]
        # The deployment (`_deploy`) keeps the endpoint Updating for its own steps.
        refuse_busy(self, endpoint_name)
        return original_update(self, endpoint_name, *args, **kwargs)

    def update_weights(self, endpoint_name, *args, **kwargs):  # type: ignore[no-untyped-def]
        endpoint = refuse_busy(self, endpoint_name)
        before = current_counts(endpoint) if endpoint is not None else {}
        arn = original_weights(self, endpoint_name, *args, **kwargs)
        _transition(self.endpoints[endpoint_name], "Updating", before)
        return arn

    def summary(self):  # type: ignore[no-untyped-def]
        _settle(self)
        return original_summary(self)

    def response_object(self):  # type: ignore[no-untyped-def]
        _settle(self)
        return original_response(self)

    SageMakerModelBackend.create_endpoint = create_endpoint
    SageMakerModelBackend.update_endpoint = update_endpoint
    SageMakerModelBackend.update_endpoint_weights_and_capacities = update_weights
    FakeEndpoint.summary = summary
    FakeEndpoint.response_object = property(response_object)


# --- SageMaker deployments: UpdateEndpoint's DeploymentConfig walked over time -----------------

# Every endpoint's capacity record: endpoint ARN -> {"name", "samples": [...]}; a sample is
# {"t": unix time, "status", "step", "fleets": {config name: {"instances", "traffic"}}}.
_CAPACITY: dict = {}
_DEPLOY_LOCK = threading.RLock()
PENDING_ATTR = "_novactl_pending_deployment"
LAST_DEPLOYMENT_ATTR = "_novactl_last_deployment_config"


def _record(endpoint, status: str, step: str, fleets: dict) -> None:  # type: ignore[no-untyped-def]
    with _DEPLOY_LOCK:
        entry = _CAPACITY.setdefault(endpoint.arn, {"name": endpoint.endpoint_name, "samples": []})
        entry["samples"].append({"t": time.time(), "status": status, "step": step, "fleets": fleets})


def _fleet_size(variants) -> int:  # type: ignore[no-untyped-def]
    return sum(int(v.get("DesiredInstanceCount") or 0) for v in variants)


def _capacity_size(size, total: int) -> int:  # type: ignore[no-untyped-def]
    """A CapacitySize ({Type: INSTANCE_COUNT | CAPACITY_PERCENT, Value}) in instances (>= 1)."""
    import math

    value = float((size or {}).get("Value") or 0)
    if (size or {}).get("Type") == "CAPACITY_PERCENT":
        return max(1, min(total, math.ceil(total * value / 100.0)))
    return max(1, min(total, int(value)))


def _steps(deployment_config, old_name: str, old_n: int, new_name: str, new_n: int, delay: float):  # type: ignore[no-untyped-def]
    """The deployment's steps: (step name, variant status, seconds, fleets). One AWS minute of
    waiting lasts `delay` seconds (the endpoint delay); provisioning a fleet lasts `delay`."""
    scale = delay / 60.0
    dc = deployment_config or {}
    rolling = dc.get("RollingUpdatePolicy")

    def fleets(old_i, old_t, new_i, new_t):  # type: ignore[no-untyped-def]
        out = {}
        if old_i or old_t:
            out[old_name] = {"instances": old_i, "traffic": old_t}
        out[new_name] = {"instances": new_i, "traffic": new_t}
        return out

    steps = []
    if rolling:
        batch = _capacity_size(rolling.get("MaximumBatchSize"), new_n)
        wait = float(rolling.get("WaitIntervalInSeconds") or 0) * scale
        done, k = 0, 0
        batches = -(-new_n // batch)
        while done < new_n:
            k += 1
            new_i = min(new_n, done + batch)
            old_i = max(0, old_n - done)  # the batch is up before old instances go
            share = round(100.0 * new_i / max(1, new_i + max(0, old_n - new_i)))
            steps.append((f"rolling batch {k} of {batches}", "ActivatingTraffic", delay + wait,
                          fleets(old_i, 100 - share, new_i, share)))
            done = new_i
        return steps
    bg = dc.get("BlueGreenUpdatePolicy") or {}
    routing = bg.get("TrafficRoutingConfiguration") or {"Type": "ALL_AT_ONCE"}
    wait = float(routing.get("WaitIntervalInSeconds") or 0) * scale
    bake = float(bg.get("TerminationWaitInSeconds") or 0) * scale
    steps.append(("provisioning the new fleet", "Creating", delay, fleets(old_n, 100, new_n, 0)))
    kind = routing.get("Type")

    def share_of(size):  # type: ignore[no-untyped-def]
        # A percent is the traffic share; a count of instances its share of the new fleet.
        if (size or {}).get("Type") == "CAPACITY_PERCENT":
            return max(1, min(100, int(size.get("Value") or 0)))
        return round(100.0 * _capacity_size(size, new_n) / max(1, new_n))

    if kind == "CANARY":
        share = share_of(routing.get("CanarySize"))
        steps.append((f"canary {share}%", "ActivatingTraffic", wait, fleets(old_n, 100 - share, new_n, share)))
    elif kind == "LINEAR":
        step = share_of(routing.get("LinearStepSize"))
        share = step
        while share < 100:
            steps.append((f"linear {share}%", "ActivatingTraffic", wait, fleets(old_n, 100 - share, new_n, share)))
            share += step
    steps.append(("baking", "Baking", bake, fleets(old_n, 0, new_n, 100)))
    return steps


def _alarm_in_alarm(backend, names):  # type: ignore[no-untyped-def]
    """The first of the named CloudWatch alarms (same account and region) in ALARM."""
    from moto.cloudwatch.models import cloudwatch_backends

    alarms = cloudwatch_backends[backend.account_id][backend.region_name].alarms
    for name in names:
        alarm = alarms.get(name)
        if alarm is not None and alarm.state_value == "ALARM":
            return name
    return None


def _deploy(backend, endpoint, config_name, variants, capture, deployment_config) -> None:  # type: ignore[no-untyped-def]
    """Walks the deployment: Updating through the steps (PendingDeploymentSummary names the
    step), the named alarms checked at the end of each step; a fired alarm or running past
    MaximumExecutionTimeoutInSeconds rolls back (RollingBack, then InService on the old config
    with FailureReason); otherwise the new config serves, LastDeploymentConfig set."""
    from moto.core.utils import utcnow
    from moto.sagemaker.exceptions import ValidationError

    dc = deployment_config or {}
    alarms = [a.get("AlarmName") for a in (dc.get("AutoRollbackConfiguration") or {}).get("Alarms") or []]
    from moto.cloudwatch.models import cloudwatch_backends

    known = cloudwatch_backends[backend.account_id][backend.region_name].alarms
    for name in alarms:
        if name not in known:
            raise ValidationError(message=f"The alarm {name} does not exist.")
    delay = float(DR_SETTINGS["endpoint_delay"])
    old_name, old_variants = endpoint.endpoint_config_name, endpoint.production_variants
    old_n, new_n = _fleet_size(old_variants), _fleet_size(variants)
    steps = _steps(dc, old_name, old_n, config_name, new_n, delay)
    policy = dc.get("RollingUpdatePolicy") or dc.get("BlueGreenUpdatePolicy") or {}
    limit = policy.get("MaximumExecutionTimeoutInSeconds")
    limit = float(limit) * delay / 60.0 if limit and delay > 0 else None
    started = time.monotonic()

    def pending(step, status):  # type: ignore[no-untyped-def]
        setattr(endpoint, PENDING_ATTR, {
            "EndpointConfigName": config_name,
            "StartTime": endpoint.last_modified_time,
            "ProductionVariants": [
                dict(v, VariantStatus=[{"Status": status, "StatusMessage": step, "StartTime": utcnow()}])
                for v in variants
            ],
        })

    def finish() -> None:
        endpoint.endpoint_config_name = config_name
        endpoint.production_variants = variants
        endpoint.data_capture_config = capture
        endpoint.endpoint_status = "InService"
        endpoint.failure_reason = None
        setattr(endpoint, LAST_DEPLOYMENT_ATTR, deployment_config)
        setattr(endpoint, PENDING_ATTR, None)
        _record(endpoint, "InService", "done", {config_name: {"instances": new_n, "traffic": 100}})

    def roll_back(step, why) -> None:  # type: ignore[no-untyped-def]
        endpoint.endpoint_status = "RollingBack"
        _record(endpoint, "RollingBack", step, {old_name: {"instances": old_n, "traffic": 100},
                                                config_name: {"instances": new_n, "traffic": 0}})
        if delay > 0:
            time.sleep(delay)
        with _DEPLOY_LOCK:
            endpoint.endpoint_status = "InService"
            endpoint.failure_reason = f"Deployment rolled back during step '{step}': {why}"
            setattr(endpoint, PENDING_ATTR, None)
            _record(endpoint, "InService", "rolled back", {old_name: {"instances": old_n, "traffic": 100}})

    def walk() -> None:
        try:
            for step, status, seconds, fleets in steps:
                with _DEPLOY_LOCK:
                    pending(step, status)
                    _record(endpoint, "Updating", step, fleets)
                if seconds > 0:
                    time.sleep(seconds)
                fired = _alarm_in_alarm(backend, alarms)
                if fired:
                    return roll_back(step, f"alarm {fired} is in ALARM")
                if limit is not None and time.monotonic() - started > limit:
                    return roll_back(step, "the deployment ran past MaximumExecutionTimeoutInSeconds")
            with _DEPLOY_LOCK:
                finish()
        except Exception as exc:  # never kill the thread silently
            log(f"deployment of {endpoint.endpoint_name} failed: {exc!r}")

    endpoint.endpoint_status = "Updating"
    if delay <= 0:
        walk()
        return
    threading.Thread(target=walk, name=f"deploy-{endpoint.endpoint_name}", daemon=True).start()


def patch_sagemaker_deployments() -> None:
    """Close: | SageMaker `UpdateEndpoint` ignores `DeploymentConfig` (blue/green canary and
    linear traffic shifting, bake time, rolling batches, auto-rollback on CloudWatch alarms)
    and `RetainAllVariantProperties`; DescribeEndpoint has no `PendingDeploymentSummary` or
    `LastDeploymentConfig` | guarded updates and their rollbacks cannot be exercised | all |

    UpdateEndpoint (see `patch_sagemaker_update_endpoint`) walks `_steps`: blue/green
    provisions the new fleet at its full size (`endpoint_delay` seconds), shifts traffic (a
    canary step, linear steps, or all at once; each `WaitIntervalInSeconds`), bakes
    (`TerminationWaitInSeconds`), then the new config serves; rolling replaces
    `MaximumBatchSize` instances per batch. One AWS minute lasts `endpoint_delay` seconds
    (with no delay the walk is instant). At the end of each step the alarms of
    `AutoRollbackConfiguration` (moto's CloudWatch, same account and region) are read: one in
    ALARM rolls back (RollingBack, then InService on the old config, `FailureReason` naming the
    alarm and the step). An alarm that does not exist is a ValidationException. With
    `RetainAllVariantProperties` the new fleet keeps the live DesiredInstanceCount, weight and
    data capture (less those in `ExcludeRetainedVariantProperties`). DescribeEndpoint answers
    `PendingDeploymentSummary` (the step in the variant's `VariantStatus`) while Updating and
    `LastDeploymentConfig` after. Every fleet's capacity and traffic share over time is at
    `GET /novactl-api/sagemaker/capacity` (`CapacityRecord`); UpdateEndpointWeightsAndCapacities
    and CreateEndpoint add samples. Must run after `patch_sagemaker_endpoint_transitions`.
    """
    from moto.sagemaker.models import FakeEndpoint, SageMakerModelBackend

    _require(FakeEndpoint, "response_object")
    _require(SageMakerModelBackend, "create_endpoint")
    _require(SageMakerModelBackend, "update_endpoint_weights_and_capacities")
    original_response = FakeEndpoint.response_object.fget
    original_create = SageMakerModelBackend.create_endpoint
    original_weights = SageMakerModelBackend.update_endpoint_weights_and_capacities

    def response_object(self):  # type: ignore[no-untyped-def]
        with _DEPLOY_LOCK:
            out = original_response(self)
            pending = getattr(self, PENDING_ATTR, None)
            if pending:
                out["PendingDeploymentSummary"] = pending
            last = getattr(self, LAST_DEPLOYMENT_ATTR, None)
            if last:
                out["LastDeploymentConfig"] = last
            return out

    def sample(endpoint, step):  # type: ignore[no-untyped-def]
        n = sum(int(v.get("DesiredInstanceCount") or 0) for v in endpoint.production_variants)
        _record(endpoint, endpoint.endpoint_status, step, {endpoint.endpoint_config_name: {"instances": n, "traffic": 100}})

    def create_endpoint(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        endpoint = original_create(self, *args, **kwargs)
        sample(endpoint, "created")
        return endpoint

    def update_weights(self, endpoint_name, *args, **kwargs):  # type: ignore[no-untyped-def]
        arn = original_weights(self, endpoint_name, *args, **kwargs)
        sample(self.endpoints[endpoint_name], "capacity")
        return arn

    FakeEndpoint.response_object = property(response_object)
    SageMakerModelBackend.create_endpoint = create_endpoint
    SageMakerModelBackend.update_endpoint_weights_and_capacities = update_weights


class CapacityRecord:
    """WSGI middleware: `GET /novactl-api/sagemaker/capacity` answers every endpoint's capacity
    record (`patch_sagemaker_deployments`): `{"<endpoint ARN>": {"name", "samples": [{"t",
    "status", "step", "fleets": {"<config>": {"instances", "traffic"}}}]}}`. Read-only."""

    PATH = "/novactl-api/sagemaker/capacity"

    def __init__(self, app):  # type: ignore[no-untyped-def]
        self.app = app

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        import copy

        if environ.get("PATH_INFO", "").rstrip("/") != self.PATH:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD", "GET").upper() != "GET":
            return NovactlControl.reply(start_response, "405 Method Not Allowed", {"error": "GET only"})
        with _DEPLOY_LOCK:
            doc = copy.deepcopy(_CAPACITY)
        return NovactlControl.reply(start_response, "200 OK", doc)


def patch_sagemaker_runtime_invoke_endpoint() -> None:
    """Close: | SageMaker Runtime `InvokeEndpoint` answers for any endpoint name, existing or
    not, serving or not (moto does not even read the name from the path) | a DR drill's
    canary proves nothing | all |

    SageMakerRuntimeResponse.invoke_endpoint first reads the endpoint name from the request
    path (`/endpoints/<name>/invocations`) and looks it up in the SageMaker backend of the same
    account and region: a missing one is a ValidationError "Endpoint <name> of account
    <account> not found." (as AWS words it), one that is not serving (Creating, Failed,
    OutOfService, Deleting; Updating endpoints still serve) a ValidationError naming its
    status. Otherwise moto's canned answer.
    """
    import urllib.parse

    from moto.core.exceptions import JsonRESTError
    from moto.sagemaker.models import sagemaker_backends
    from moto.sagemakerruntime.responses import SageMakerRuntimeResponse

    _require(SageMakerRuntimeResponse, "invoke_endpoint")
    original = SageMakerRuntimeResponse.invoke_endpoint

    def invoke_endpoint(self):  # type: ignore[no-untyped-def]
        parts = urllib.parse.urlparse(self.path).path.split("/")
        name = urllib.parse.unquote(parts[2]) if len(parts) > 2 else ""
        endpoint = sagemaker_backends[self.current_account][self.region].endpoints.get(name)
        if endpoint is None:
            raise JsonRESTError("ValidationError", f"Endpoint {name} of account {self.current_account} not found.")
        _settle(endpoint)
        if endpoint.endpoint_status not in ("InService", "Updating", "SystemUpdating"):
            raise JsonRESTError("ValidationError", f"Endpoint {name} is {endpoint.endpoint_status}: it serves no requests.")
        return original(self)

    SageMakerRuntimeResponse.invoke_endpoint = invoke_endpoint


def json_object_body(environ) -> dict:  # type: ignore[no-untyped-def]
    """A control request's body, a JSON object (empty body: {}); ValueError otherwise."""
    import json

    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


class NovactlControl:
    """WSGI middleware: `GET /novactl-api/config` shows DR_SETTINGS, `POST` (a JSON object of
    some of its keys, each a number >= 0) changes them for everything that happens next."""

    PATH = "/novactl-api/config"

    def __init__(self, app):  # type: ignore[no-untyped-def]
        self.app = app

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        if environ.get("PATH_INFO", "") != self.PATH:
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "POST":
            try:
                update = json_object_body(environ)
                for key, value in update.items():
                    if key not in DR_SETTINGS:
                        raise ValueError(f"unknown setting {key!r}; known: {sorted(DR_SETTINGS)}")
                    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                        raise ValueError(f"{key} must be a number >= 0")
            except (ValueError, KeyError) as exc:
                return self.reply(start_response, "400 Bad Request", {"error": str(exc)})
            DR_SETTINGS.update({k: float(v) for k, v in update.items()})
            log(f"settings changed: {DR_SETTINGS}")
        elif method != "GET":
            return self.reply(start_response, "405 Method Not Allowed", {"error": "GET or POST"})
        return self.reply(start_response, "200 OK", DR_SETTINGS)

    @staticmethod
    def reply(start_response, status, doc):  # type: ignore[no-untyped-def]
        import json

        body = json.dumps(doc).encode("utf-8")
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


class SnsMessages:
    """WSGI middleware: `GET /novactl-api/sns/messages` answers every message published to an
    SNS topic (moto keeps them on the topic, `sent_notifications`, and exposes them nowhere):
    `{"<topic ARN>": [{"message_id", "subject", "message"}, ...]}`, in publish order, topics
    of every account and region. Only topics with messages are listed. Read-only."""

    PATH = "/novactl-api/sns/messages"

    def __init__(self, app):  # type: ignore[no-untyped-def]
        self.app = app

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        if environ.get("PATH_INFO", "").rstrip("/") != self.PATH:
            return self.app(environ, start_response)
        if environ.get("REQUEST_METHOD", "GET").upper() != "GET":
            return NovactlControl.reply(start_response, "405 Method Not Allowed", {"error": "GET only"})
        return NovactlControl.reply(start_response, "200 OK", self.messages())

    @staticmethod
    def messages() -> dict:
        from moto.sns.models import sns_backends

        out: dict = {}
        for _account, regions in list(sns_backends.items()):
            for _region, backend in list(regions.items()):
                for arn, topic in list(backend.topics.items()):
                    sent = [
                        {"message_id": n[0], "message": n[1], "subject": n[2]}
                        for n in list(topic.sent_notifications)
                    ]
                    if sent:
                        out[arn] = sent
        return out


def patch_sagemaker_add_tags_overwrites() -> None:
    """Close: | SageMaker `AddTags` appends a second tag with the same key instead of
    overwriting its value (AWS: "If you specify a key that already exists, the value is
    replaced") | a re-tagged endpoint or model lists the old value first | 5.2.5 |

    SageMakerModelBackend.add_tags extends the resource's tag list. Drop the tags whose keys
    the request sets first, so a new value replaces the old one (as on AWS).
    """
    from moto.sagemaker.models import SageMakerModelBackend

    _require(SageMakerModelBackend, "add_tags")
    original = SageMakerModelBackend.add_tags

    def add_tags(self, arn, tags):  # type: ignore[no-untyped-def]
        keys = {t.get("Key") for t in tags or []}
        resource = self._get_resource_from_arn(arn)
        resource.tags = [t for t in resource.tags if t.get("Key") not in keys]
        return original(self, arn, tags)

    SageMakerModelBackend.add_tags = add_tags


def patch_dispatch_lookups_cached() -> None:
    """Close: | moto's request dispatch lists its own package directory (`listdir` and a
    `stat` per entry, twice a request) and runs `inspect.getmembers` on the service's response
    class for every request | about a third of the server's time per call in a profile of an
    apply (AWS has no such cost) | 5.2.5 |

    `moto.backends.list_of_moto_modules` is computed once (the installed package does not
    change while the server runs) and `method_names_from_class`, as moto.core.responses uses
    it, is remembered per class. Every patch is applied before the server takes its first
    request, so the classes are final by then.
    """
    import moto.backends as moto_backends
    import moto.core.responses as core_responses

    _require(moto_backends, "list_of_moto_modules")
    _require(core_responses, "method_names_from_class")
    modules = tuple(moto_backends.list_of_moto_modules())
    original_names = core_responses.method_names_from_class
    names: dict = {}

    def list_of_moto_modules():  # type: ignore[no-untyped-def]
        return modules

    def method_names_from_class(clazz):  # type: ignore[no-untyped-def]
        found = names.get(clazz)
        if found is None:
            found = names[clazz] = frozenset(original_names(clazz))
        return found

    moto_backends.list_of_moto_modules = list_of_moto_modules
    core_responses.method_names_from_class = method_names_from_class


class _LazyPrivateKey:
    """A KMS key's signing key pair, made the first time something uses it."""

    def __init__(self, make, key_spec: str):  # type: ignore[no-untyped-def]
        self._make = make
        self._key_spec = key_spec
        self._key = None
        self._lock = threading.Lock()

    def made(self) -> bool:
        return self._key is not None

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        if name.startswith("_"):
            raise AttributeError(name)
        with self._lock:
            if self._key is None:
                self._key = self._make(self._key_spec)
        return getattr(self._key, name)


def patch_kms_key_pair_on_use() -> None:
    """Close: | KMS `CreateKey` makes an RSA-2048 key pair for every key, symmetric ones
    included, which never use it (AWS makes no such pair) | 30-100 ms of the server's CPU per
    key, paid by the call (and by whatever waits behind it) | 5.2.5 |

    moto's Key.__init__ calls `generate_private_key(key_spec)`. The name is replaced in
    moto.kms.models by one that returns a proxy making the real pair on first use (Sign,
    Verify, GetPublicKey), so asymmetric keys behave as before and symmetric keys skip it.
    """
    import moto.kms.models as kms_models

    _require(kms_models, "generate_private_key")
    original = kms_models.generate_private_key

    def generate_private_key(key_spec):  # type: ignore[no-untyped-def]
        return _LazyPrivateKey(original, key_spec)

    kms_models.generate_private_key = generate_private_key


def patch_ec2_endpoint_eni_groups() -> None:
    """Close: | EC2 `CreateVpcEndpoint` (Interface) makes one network interface per subnet but
    gives it none of the endpoint's security groups (AWS: the endpoint's groups) | an outside
    scanner sees the endpoint security group as unused (Prowler's `ec2_securitygroup_not_used`) |
    5.2.5 |

    Wrap VPCBackend.create_vpc_endpoint: after moto made the endpoint, set each of its network
    interfaces' groups to the endpoint's `SecurityGroupIds` (unknown ids are skipped).
    """
    from moto.ec2.models.vpcs import VPCBackend

    _require(VPCBackend, "create_vpc_endpoint")
    original = VPCBackend.create_vpc_endpoint

    def create_vpc_endpoint(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        endpoint = original(self, *args, **kwargs)
        groups = [
            g
            for g in (self.get_security_group_from_id(i) for i in kwargs.get("security_group_ids") or [])
            if g is not None
        ]
        for eni_id in endpoint.network_interface_ids or []:
            self.get_network_interface(eni_id)._group_set = list(groups)
        return endpoint

    VPCBackend.create_vpc_endpoint = create_vpc_endpoint


def patch_ec2_nacl_not_found() -> None:
    """Close: | EC2 `DeleteNetworkAclEntry` of a missing entry and `ReplaceNetworkAclAssociation`
    of a missing association id answer HTTP 500 (a StopIteration inside moto) | a call resent
    after a lost answer (its first attempt did the work) fails the apply | 5.2.5 |

    Wrap the two NetworkAclBackend methods: a missing entry is `InvalidNetworkAclEntry.NotFound`
    and a missing association `InvalidAssociationID.NotFound`, AWS's codes (HTTP 400); the rest
    is moto's.
    """
    from moto.ec2.exceptions import EC2ClientError, InvalidAssociationIdError
    from moto.ec2.models.network_acls import NetworkAclBackend

    _require(NetworkAclBackend, "delete_network_acl_entry")
    _require(NetworkAclBackend, "replace_network_acl_association")
    delete_entry = NetworkAclBackend.delete_network_acl_entry
    replace_association = NetworkAclBackend.replace_network_acl_association

    def delete_network_acl_entry(self, network_acl_id, rule_number, egress):  # type: ignore[no-untyped-def]
        acl = self.get_network_acl(network_acl_id)
        if not any(e.egress == egress and e.rule_number == rule_number for e in acl.network_acl_entries):
            raise EC2ClientError(
                "InvalidNetworkAclEntry.NotFound",
                f"The network ACL entry identified by {rule_number} ({'egress' if str(egress).lower() == 'true' else 'ingress'}) "
                f"does not exist in {network_acl_id}.",
            )
        return delete_entry(self, network_acl_id, rule_number, egress)

    def replace_network_acl_association(self, association_id, network_acl_id):  # type: ignore[no-untyped-def]
        if not any(association_id in acl._associations for acl in self.network_acls.values()):
            raise InvalidAssociationIdError(association_id)
        return replace_association(self, association_id, network_acl_id)

    NetworkAclBackend.delete_network_acl_entry = delete_network_acl_entry
    NetworkAclBackend.replace_network_acl_association = replace_network_acl_association


# (account, region, action, client token) -> the first answer (`patch_ec2_client_token`).
_EC2_TOKENS: dict = {}
_EC2_TOKEN_ACTIONS = ("create_route_table", "create_network_acl", "create_vpc_endpoint")


def patch_ec2_client_token() -> None:
    """Close: | EC2 `CreateRouteTable`, `CreateNetworkAcl` and `CreateVpcEndpoint` ignore
    `ClientToken` (AWS: a request with the token of an earlier successful one answers with
    that request's resource, nothing new is made) | a create resent after a lost answer makes a
    second route table, NACL or endpoint | 5.2.5 |

    Wrap the three EC2Response handlers: the first successful answer for an (account, region,
    action, ClientToken) is kept and a later request with the same token gets it again without
    reaching the backend. Requests without a token are unchanged.
    """
    import functools

    from moto.ec2.responses import EC2Response

    for action in _EC2_TOKEN_ACTIONS:
        _require(EC2Response, action)

    def idempotent(action, original):  # type: ignore[no-untyped-def]
        @functools.wraps(original)
        def handler(self):  # type: ignore[no-untyped-def]
            token = self._get_param("ClientToken")
            if not token:
                return original(self)
            key = (self.current_account, self.region, action, token)
            if key not in _EC2_TOKENS:
                _EC2_TOKENS[key] = original(self)
            return _EC2_TOKENS[key]

        return handler

    for action in _EC2_TOKEN_ACTIONS:
        setattr(EC2Response, action, idempotent(action, getattr(EC2Response, action)))


# (account, region, endpoint name) -> the ENI ids made for it (`patch_sagemaker_endpoint_enis`).
_SAGEMAKER_ENIS: dict = {}


def patch_sagemaker_endpoint_enis() -> None:
    """Close: | SageMaker `CreateEndpoint` / `UpdateEndpoint` of an endpoint whose model has a
    `VpcConfig` makes no network interface (AWS: the endpoint's instances get requester-managed
    interfaces in the model's subnets with its security groups, removed after DeleteEndpoint) |
    the model's groups read as unused (Prowler's `ec2_securitygroup_not_used`) and a network
    destroy never meets an interface SageMaker holds | 5.2.5 |

    Wrap SageMakerModelBackend.create_endpoint, update_endpoint and delete_endpoint: after a
    create or update, the endpoint's interfaces are made again from its (new) config's
    variants: one per subnet of each variant's model `VpcConfig`, with the model's
    `SecurityGroupIds`, description `SageMaker endpoint <name>`, `RequesterManaged` true,
    `InterfaceType` `interface` and a SageMaker requester id; delete removes them (at once: the
    endpoint is gone when DeleteEndpoint answers here). Endpoints of models without a VPC get
    none, as before.
    """
    from moto.ec2.models import ec2_backends
    from moto.ec2.utils import random_private_ip
    from moto.sagemaker.models import SageMakerModelBackend

    for name in ("create_endpoint", "update_endpoint", "delete_endpoint"):
        _require(SageMakerModelBackend, name)
    original_create = SageMakerModelBackend.create_endpoint
    original_update = SageMakerModelBackend.update_endpoint
    original_delete = SageMakerModelBackend.delete_endpoint

    def release(backend, endpoint_name):  # type: ignore[no-untyped-def]
        ec2 = ec2_backends[backend.account_id][backend.region_name]
        for eni_id in _SAGEMAKER_ENIS.pop((backend.account_id, backend.region_name, endpoint_name), []):
            ec2.enis.pop(eni_id, None)

    def attach(backend, endpoint_name):  # type: ignore[no-untyped-def]
        release(backend, endpoint_name)
        endpoint = backend.endpoints.get(endpoint_name)
        config = backend.endpoint_configs.get(getattr(endpoint, "endpoint_config_name", None))
        if config is None:
            return
        ec2 = ec2_backends[backend.account_id][backend.region_name]
        made = []
        for variant in config.production_variants or []:
            model = backend._models.get(variant.get("ModelName"))
            vpc = (getattr(model, "vpc_config", None) or {}) if model else {}
            groups = [g for g in (ec2.get_security_group_from_id(i) for i in vpc.get("SecurityGroupIds") or []) if g]
            for subnet_id in vpc.get("Subnets") or []:
                try:
                    subnet = ec2.get_subnet(subnet_id)
                except Exception:  # noqa: BLE001 - a literal id moto does not know: no interface
                    continue
                eni = ec2.create_network_interface(
                    subnet,
                    random_private_ip(subnet.cidr_block),
                    description=f"SageMaker endpoint {endpoint_name}",
                )
                eni._group_set = list(groups)
                eni.requester_managed = True
                eni.requester_id = "sagemaker.amazonaws.com"
                eni.interface_type = "interface"
                made.append(eni.id)
        if made:
            _SAGEMAKER_ENIS[(backend.account_id, backend.region_name, endpoint_name)] = made

    def create_endpoint(self, endpoint_name, *args, **kwargs):  # type: ignore[no-untyped-def]
        endpoint = original_create(self, endpoint_name, *args, **kwargs)
        attach(self, endpoint_name)
        return endpoint

    def update_endpoint(self, endpoint_name, *args, **kwargs):  # type: ignore[no-untyped-def]
        out = original_update(self, endpoint_name, *args, **kwargs)
        attach(self, endpoint_name)
        return out

    def delete_endpoint(self, endpoint_name):  # type: ignore[no-untyped-def]
        out = original_delete(self, endpoint_name)
        release(self, endpoint_name)
        return out

    SageMakerModelBackend.create_endpoint = create_endpoint
    SageMakerModelBackend.update_endpoint = update_endpoint
    SageMakerModelBackend.delete_endpoint = delete_endpoint


PATCHES = (
    patch_s3_get_bucket_versioning,
    patch_s3_bucket_policy_secure_transport,
    patch_s3_conditional_writes_atomic,
    patch_sagemaker_instance_types,
    patch_sagemaker_network_isolation,
    patch_sagemaker_update_endpoint,
    patch_tagging_cloudtrail_trails,
    patch_tagging_s3_bucket_region,
    patch_sagemaker_list_models_name_contains,
    patch_logs_put_metric_filter_replaces,
    patch_s3_logging_policy_principal_star,
    patch_s3_replication_config_as_written,
    patch_s3_replicate_objects,
    patch_sagemaker_endpoint_transitions,
    patch_sagemaker_deployments,
    patch_sagemaker_runtime_invoke_endpoint,
    patch_autoscaling_object_not_found,
    patch_sagemaker_add_tags_overwrites,
    patch_ec2_endpoint_eni_groups,
    patch_ec2_nacl_not_found,
    patch_ec2_client_token,
    patch_sagemaker_endpoint_enis,
    patch_kms_key_pair_on_use,
    patch_dispatch_lookups_cached,
)


def apply_patches():  # type: ignore[no-untyped-def]
    """Apply every patch; return the WSGI middleware list. Any missing target aborts."""
    for patch in PATCHES:
        patch()
        log(f"patch applied: {patch.__name__}")
    middlewares = [patch_cloudwatch_rpcv2_cbor(), NovactlControl, SnsMessages, CapacityRecord]
    log("patch applied: patch_cloudwatch_rpcv2_cbor")
    return middlewares


# ---------------------------------------------------------------------------
# Options: fault and delay injection (not patches: moto never throttles or fails, AWS does)
# ---------------------------------------------------------------------------

FAULT_KINDS = ("throttle", "error", "reset", "lost")
CONTROL_PREFIX = "/novactl-api/"


def add_fault_arguments(parser: argparse.ArgumentParser) -> None:
    """The fault and delay options (stdlib only: parsed before the re-exec into the venv)."""
    parser.add_argument(
        "--faults",
        type=float,
        default=0.0,
        metavar="RATE",
        help="answer this share (0..1) of AWS requests with a fault (see --fault-kinds); default 0",
    )
    parser.add_argument(
        "--fault-seed",
        type=int,
        default=0,
        metavar="N",
        help="seed of the fault generator (same seed, same sequence of decisions); default 0",
    )
    parser.add_argument(
        "--fault-kinds",
        default=",".join(FAULT_KINDS),
        metavar="LIST",
        help="comma-separated kinds to draw from, equally likely: throttle (the protocol's own "
        "throttling error), error (HTTP 500), reset (connection dropped before moto sees the "
        "request), lost (moto does the request, then the connection is dropped); default all",
    )
    parser.add_argument(
        "--fault-services",
        default="",
        metavar="LIST",
        help="comma-separated signing names (s3, kms, iam, monitoring, ...) faults are limited "
        "to; default every service",
    )
    parser.add_argument(
        "--delay",
        action="append",
        default=[],
        metavar="SERVICE=MS",
        help="every request to SERVICE (its signing name, or * for all) waits MS milliseconds "
        "before moto answers it; repeatable",
    )
    parser.add_argument(
        "--throttle",
        action="append",
        default=[],
        metavar="SERVICE=N",
        help="at most N requests per second to each API action of SERVICE (signing name, e.g. "
        "iam, kms, sagemaker, s3, monitoring or cloudwatch, ec2; * for all); beyond the rate the "
        "request is answered with that protocol's throttling error, as AWS does; repeatable; "
        "changeable at run time through POST /moto-api/novactl/throttle {\"iam\": 5, ...}",
    )


def parse_delays(items: list) -> dict:
    delays = {}
    for item in items:
        service, sep, ms = item.partition("=")
        if not sep or not service.strip():
            raise ValueError(f"--delay {item!r}: expected SERVICE=MS")
        try:
            value = int(ms)
        except ValueError:
            raise ValueError(f"--delay {item!r}: {ms!r} is not a whole number of milliseconds") from None
        if value < 0:
            raise ValueError(f"--delay {item!r}: the delay cannot be negative")
        delays[service.strip()] = value
    return delays


# Friendly names for --throttle: the SigV4 signing name is what the request carries.
THROTTLE_ALIASES = {"cloudwatch": "monitoring", "autoscaling": "application-autoscaling"}
THROTTLE_PATH = "/moto-api/novactl/throttle"


def parse_throttles(items: list) -> dict:
    """`SERVICE=N` items (or a {service: N} dict) -> {signing name: N calls per second}; a rate
    of 0 drops the service's throttle. ValueError when invalid."""
    if isinstance(items, dict):
        items = [f"{k}={v}" for k, v in items.items()]
    rates = {}
    for item in items:
        service, sep, n = str(item).partition("=")
        service = service.strip().lower()
        if not sep or not service:
            raise ValueError(f"--throttle {item!r}: expected SERVICE=N")
        try:
            value = float(n)
        except ValueError:
            raise ValueError(f"--throttle {item!r}: {n!r} is not a number of calls per second") from None
        if value < 0 or value != value:
            raise ValueError(f"--throttle {item!r}: the rate cannot be negative")
        service = THROTTLE_ALIASES.get(service, service)
        if value:
            rates[service] = value
        else:
            rates.pop(service, None)
    return rates


def parse_list(text: str, allowed: tuple | None = None, what: str = "") -> list:
    items = [i.strip() for i in text.split(",") if i.strip()]
    if allowed is not None:
        for i in items:
            if i not in allowed:
                raise ValueError(f"{what}: unknown kind {i!r} (known: {', '.join(allowed)})")
    return items


def fault_config(args: argparse.Namespace) -> dict:
    """The initial fault/delay settings from the command line; ValueError when invalid."""
    if not 0.0 <= args.faults <= 1.0:
        raise ValueError(f"--faults {args.faults}: the rate must be between 0 and 1")
    kinds = parse_list(args.fault_kinds, FAULT_KINDS, "--fault-kinds")
    if not kinds:
        raise ValueError("--fault-kinds: name at least one kind")
    return {
        "rate": args.faults,
        "seed": args.fault_seed,
        "kinds": kinds,
        "services": parse_list(args.fault_services),
        "delays": parse_delays(args.delay),
        "throttle": parse_throttles(args.throttle),
    }


def parse_rule(rule) -> dict:  # type: ignore[no-untyped-def]
    """A scripted fault: `kind` (required), optional `service` and `operation`, `times` (1)."""
    if not isinstance(rule, dict) or rule.get("kind") not in FAULT_KINDS:
        raise ValueError(f"script rule {rule!r}: needs a kind, one of {', '.join(FAULT_KINDS)}")
    unknown = set(rule) - {"kind", "service", "operation", "times"}
    if unknown:
        raise ValueError(f"script rule {rule!r}: unknown keys {sorted(unknown)}")
    times = int(rule.get("times", 1))
    if times < 1:
        raise ValueError(f"script rule {rule!r}: times must be 1 or more")
    out = {"kind": rule["kind"], "times": times}
    for key in ("service", "operation"):
        if key in rule:
            out[key] = str(rule[key])
    return out


class _DroppedConnection(ConnectionError):
    """Raised to make werkzeug drop the connection without writing a response."""


SIGNING_SERVICE_RE = None


def signing_service(environ) -> str:  # type: ignore[no-untyped-def]
    """The SigV4 signing name from the Authorization header (`s3`, `kms`, `monitoring`...)."""
    import re

    global SIGNING_SERVICE_RE
    if SIGNING_SERVICE_RE is None:
        SIGNING_SERVICE_RE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")
    found = SIGNING_SERVICE_RE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return found.group(1) if found else ""


def request_protocol(environ, service: str) -> str:  # type: ignore[no-untyped-def]
    """Which AWS protocol a request speaks: cbor (Smithy rpc-v2-cbor), json (awsJson, by
    X-Amz-Target), s3 (REST-XML), query (awsQuery: form-encoded), ec2 (EC2's Query dialect),
    or rest (restJson)."""
    if environ.get("HTTP_SMITHY_PROTOCOL", "").lower() == "rpc-v2-cbor" or environ.get("PATH_INFO", "").startswith("/service/"):
        return "cbor"
    if environ.get("HTTP_X_AMZ_TARGET"):
        return "json"
    if service == "s3":
        return "s3"
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        # EC2 speaks its own dialect of Query: the same requests, another error shape.
        return "ec2" if service == "ec2" else "query"
    return "rest"


S3_SUBRESOURCES = {
    # query key -> operation name without the Get/Put/Delete prefix
    "tagging": "BucketTagging",
    "encryption": "BucketEncryption",
    "versioning": "BucketVersioning",
    "publicAccessBlock": "PublicAccessBlock",
    "lifecycle": "BucketLifecycleConfiguration",
    "policy": "BucketPolicy",
    "replication": "BucketReplication",
    "acl": "BucketAcl",
    "logging": "BucketLogging",
    "ownershipControls": "BucketOwnershipControls",
    "notification": "BucketNotificationConfiguration",
    "cors": "BucketCors",
    "website": "BucketWebsite",
}


def s3_operation(environ) -> str:  # type: ignore[no-untyped-def]
    """The S3 operation of a path-style request, from its method, path and query keys."""
    from urllib.parse import parse_qs

    method = environ.get("REQUEST_METHOD", "GET").upper()
    parts = [p for p in environ.get("PATH_INFO", "").split("/") if p]
    keys = set(parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if not parts:
        return "ListBuckets"
    if len(parts) == 1:
        if "versions" in keys:
            return "ListObjectVersions"
        if "delete" in keys and method == "POST":
            return "DeleteObjects"
        if "location" in keys:
            return "GetBucketLocation"
        for key, name in S3_SUBRESOURCES.items():
            if key in keys:
                return {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}.get(method, method.title()) + name
        return {"PUT": "CreateBucket", "DELETE": "DeleteBucket", "HEAD": "HeadBucket"}.get(method, "ListObjects")
    return {"GET": "GetObject", "PUT": "PutObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(
        method, method.title() + "Object"
    )


def request_operation(environ, protocol: str) -> str:  # type: ignore[no-untyped-def]
    """The AWS operation name of a request (`CreateAlias`, `CreateBucket`, ...); "" if unknown.
    A Query-protocol body is read for its Action and put back for moto."""
    import io
    from urllib.parse import parse_qs

    if protocol == "json":
        return environ.get("HTTP_X_AMZ_TARGET", "").rsplit(".", 1)[-1]
    if protocol == "cbor":
        return environ.get("PATH_INFO", "").rstrip("/").rsplit("/", 1)[-1]
    if protocol == "s3":
        return s3_operation(environ)
    if protocol in ("query", "ec2"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        action = parse_qs(body.decode("utf-8", "replace")).get("Action", [""])[0]
        return action or parse_qs(environ.get("QUERY_STRING", "")).get("Action", [""])[0]
    return ""


def fault_reply(protocol: str, kind: str, method: str, request_id: str):  # type: ignore[no-untyped-def]
    """(status line, headers, body) of an injected throttling error or HTTP 500, in the
    request's own protocol, worded as AWS words them."""
    throttle = kind == "throttle"
    note = " (injected by the novactl test emulator)"
    headers = [("x-amzn-RequestId", request_id)]
    if protocol == "s3":
        code, message = ("SlowDown", "Please reduce your request rate.") if throttle else (
            "InternalError", "We encountered an internal error. Please try again.")
        status = "503 Slow Down" if throttle else "500 Internal Server Error"
        headers = [("x-amz-request-id", request_id)]
        if method == "HEAD":
            # S3 sends no body for HEAD requests, errors included.
            return status, headers + [("Content-Length", "0")], b""
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}{note}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        return status, headers + [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))], body
    status = "400 Bad Request" if throttle else "500 Internal Server Error"
    text = f"Rate exceeded{note}" if throttle else f"We encountered an internal error. Please try again.{note}"
    if protocol == "ec2":
        # EC2's error document: <Response><Errors><Error>, its throttling code
        # RequestLimitExceeded (what the SDKs retry), RequestID spelt so.
        code = "RequestLimitExceeded" if throttle else "InternalError"
        body = (
            f"<Response><Errors><Error><Code>{code}</Code><Message>{text}</Message></Error>"
            f"</Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        return status, headers + [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))], body
    if protocol == "query":
        code, fault = ("Throttling", "Sender") if throttle else ("InternalFailure", "Receiver")
        body = (
            f"<ErrorResponse><Error><Type>{fault}</Type><Code>{code}</Code>"
            f"<Message>{text}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        return status, headers + [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))], body
    if protocol == "cbor":
        import cbor2

        code = "ThrottlingException" if throttle else "InternalFailure"
        query_code = "Throttling;Sender" if throttle else "InternalFailure;Receiver"
        service_ns = "com.amazonaws.cloudwatch"
        body = cbor2.dumps({"__type": f"{service_ns}#{code}", "message": text})
        return status, headers + [
            ("smithy-protocol", "rpc-v2-cbor"),
            ("Content-Type", "application/cbor"),
            ("Content-Length", str(len(body))),
            ("x-amzn-query-error", query_code),
        ], body
    import json

    code = "ThrottlingException" if throttle else "InternalFailure"
    body = json.dumps({"__type": code, "message": text}).encode()
    content_type = "application/x-amz-json-1.1" if protocol == "json" else "application/json"
    return status, headers + [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
        ("x-amzn-ErrorType", code),
    ], body


class FaultInjector:
    """WSGI middleware in front of everything else: delays and faults for AWS requests.

    A request to moto's own `/moto-api/` or to `/novactl-api/` is never delayed or faulted
    (`/novactl-api/config`, the DR settings, is passed on to `NovactlControl`).
    `GET /novactl-api/faults` returns the settings and counts as JSON; `POST` with a JSON
    object changes settings (`rate`, `kinds`, `services`, `delays`, `seed`), queues scripted
    faults (`script`: a list of `{"service", "operation", "kind", "times"}`, each optional
    but `kind`; the first rule matching a request fires, before any random draw) and, with
    `"reset_counts": true`, zeroes the counts.

    The API-rate throttle (`--throttle SERVICE=N`): each API action of a throttled service
    (signing name and operation) has a token bucket of N tokens refilled at N per second, as
    AWS's per-API rate limits work (a burst of N, then N a second); a request finding the bucket
    empty gets the protocol's throttling error and never reaches moto. `GET
    /moto-api/novactl/throttle` answers `{"rates": {service: N}, "throttled": count,
    "by_operation": {"service:Operation": count}}`; `POST` a `{service: N}` object to replace the
    rates (N = 0 or `{}` lifts them; the counts are zeroed).
    """

    def __init__(self, app, config: dict):  # type: ignore[no-untyped-def]
        import random

        self.app = app
        self.lock = threading.Lock()
        self.config = dict(config)
        self.rng = random.Random(config["seed"])
        self.config.setdefault("throttle", {})
        self.reset_counts()

    def reset_counts(self) -> None:
        self.requests = 0
        self.injected = {k: 0 for k in FAULT_KINDS}
        self.by_service: dict = {}
        self.by_operation: dict = {}
        self.script: list = []
        self.reset_throttle_counts()

    def reset_throttle_counts(self) -> None:
        self.buckets: dict = {}  # (service, operation) -> [tokens, monotonic time of last fill]
        self.throttled = 0
        self.throttled_by_operation: dict = {}

    def rate_limited(self, service: str, operation: str) -> bool:
        """Takes a token from this API action's bucket (lock held); True when there is none."""
        rates = self.config["throttle"]
        rate = rates.get(service, rates.get("*"))
        if not rate:
            return False
        now = time.monotonic()
        bucket = self.buckets.setdefault((service, operation), [rate, now])
        bucket[0] = min(rate, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        if bucket[0] >= 1.0:
            bucket[0] -= 1.0
            return False
        self.throttled += 1
        key = f"{service}:{operation}"
        self.throttled_by_operation[key] = self.throttled_by_operation.get(key, 0) + 1
        return True

    def throttle_snapshot(self) -> dict:
        with self.lock:
            return {
                "rates": dict(self.config["throttle"]),
                "throttled": self.throttled,
                "by_operation": dict(self.throttled_by_operation),
            }

    def snapshot(self) -> dict:
        with self.lock:
            return {
                "rate": self.config["rate"],
                "seed": self.config["seed"],
                "kinds": list(self.config["kinds"]),
                "services": list(self.config["services"]),
                "delays": dict(self.config["delays"]),
                "requests": self.requests,
                "injected": dict(self.injected),
                "total": sum(self.injected.values()),
                "by_service": {k: dict(v) for k, v in self.by_service.items()},
                "by_operation": dict(self.by_operation),
                "script": [dict(r) for r in self.script],
            }

    def summary(self) -> str:
        s = self.snapshot()
        kinds = ", ".join(f"{s['injected'][k]} {k}" for k in FAULT_KINDS)
        line = f"faults: {s['total']} injected in {s['requests']} AWS requests ({kinds}); rate {s['rate']}, seed {s['seed']}"
        t = self.throttle_snapshot()
        if t["rates"] or t["throttled"]:
            line += f"; throttled {t['throttled']} (rates {t['rates']})"
        return line

    def decide(self, service: str, operation: str):  # type: ignore[no-untyped-def]
        """(fault kind or None, delay in ms) for one request; counts it."""
        with self.lock:
            c = self.config
            delay = c["delays"].get(service, c["delays"].get("*", 0))
            self.requests += 1
            per = self.by_service.setdefault(service or "unknown", {"requests": 0, "injected": 0})
            per["requests"] += 1
            kind = self.scripted(service, operation)
            if kind is None and self.rate_limited(service, operation):
                per["throttled"] = per.get("throttled", 0) + 1
                return "throttle", delay
            if kind is None:
                if c["rate"] <= 0 or (c["services"] and service not in c["services"]):
                    return None, delay
                if self.rng.random() >= c["rate"]:
                    return None, delay
                kind = self.rng.choice(c["kinds"])
            self.injected[kind] += 1
            per["injected"] += 1
            key = f"{service}:{operation}"
            self.by_operation[key] = self.by_operation.get(key, 0) + 1
            return kind, delay

    def scripted(self, service: str, operation: str):  # type: ignore[no-untyped-def]
        """The kind of the first scripted rule this request matches (using it up), or None."""
        for rule in self.script:
            if rule["times"] <= 0:
                continue
            if rule.get("service") not in (None, service) or rule.get("operation") not in (None, operation):
                continue
            rule["times"] -= 1
            return rule["kind"]
        return None

    def __call__(self, environ, start_response):  # type: ignore[no-untyped-def]
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self.control(environ, start_response, path[len(CONTROL_PREFIX):])
        if path == THROTTLE_PATH:
            return self.throttle_control(environ, start_response)
        if path.startswith("/moto-api/"):
            return self.app(environ, start_response)
        service = signing_service(environ)
        protocol = request_protocol(environ, service)
        kind, delay = self.decide(service, request_operation(environ, protocol))
        if delay:
            time.sleep(delay / 1000.0)
        if kind is None:
            return self.app(environ, start_response)
        if kind == "reset":
            self.drop(environ)  # raises: werkzeug then closes the connection, writing nothing
        if kind == "lost":
            # moto does the work; the answer never arrives.
            chunks = self.app(environ, lambda status, headers, exc_info=None: (lambda data: None))
            try:
                for _ in chunks:
                    pass
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
            self.drop(environ)
        import uuid

        status, headers, body = fault_reply(
            protocol, kind, environ.get("REQUEST_METHOD", "GET").upper(), str(uuid.uuid4())
        )
        start_response(status, headers)
        return [body]

    @staticmethod
    def drop(environ) -> None:  # type: ignore[no-untyped-def]
        """Close the connection at once (RST: linger 0), without a response."""
        import socket
        import struct

        sock = environ.get("werkzeug.socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        raise _DroppedConnection("injected fault: connection dropped")

    def throttle_control(self, environ, start_response):  # type: ignore[no-untyped-def]
        """GET/POST /moto-api/novactl/throttle (see the class comment)."""
        import json

        status = "200 OK"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "POST":
            try:
                rates = parse_throttles(json_object_body(environ))
                with self.lock:
                    self.config = dict(self.config, throttle=rates)
                    self.reset_throttle_counts()
                log(f"throttle now {rates or 'off'} (calls per second per API action)")
            except (ValueError, TypeError) as exc:
                status, document = "400 Bad Request", {"error": str(exc)}
        elif method != "GET":
            status, document = "405 Method Not Allowed", {"error": "GET or POST"}
        if status == "200 OK":
            document = self.throttle_snapshot()
        body = json.dumps(document, sort_keys=True).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]

    def control(self, environ, start_response, name: str):  # type: ignore[no-untyped-def]
        import json

        def reply(status: str, document: dict):  # type: ignore[no-untyped-def]
            body = json.dumps(document, sort_keys=True).encode()
            start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]

        if name.rstrip("/") != "faults":
            # Another control endpoint (the DR settings, `NovactlControl`) sits inside: pass
            # the request on, never faulted; an unknown one is answered 404 below.
            if name.rstrip("/") in (
                NovactlControl.PATH[len(CONTROL_PREFIX):],
                SnsMessages.PATH[len(CONTROL_PREFIX):],
                CapacityRecord.PATH[len(CONTROL_PREFIX):],
            ):
                return self.app(environ, start_response)
            return reply("404 Not Found", {"error": f"no such control endpoint: {CONTROL_PREFIX}{name}"})
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if method == "POST":
            import random

            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                change = json.loads(environ["wsgi.input"].read(length) or b"{}")
                if not isinstance(change, dict):
                    raise ValueError("the body must be a JSON object")
                with self.lock:
                    new = dict(self.config)
                    if "rate" in change:
                        rate = float(change["rate"])
                        if not 0.0 <= rate <= 1.0:
                            raise ValueError("rate must be between 0 and 1")
                        new["rate"] = rate
                    if "kinds" in change:
                        new["kinds"] = parse_list(",".join(change["kinds"]), FAULT_KINDS, "kinds")
                        if not new["kinds"]:
                            raise ValueError("name at least one kind")
                    if "services" in change:
                        new["services"] = [str(s) for s in change["services"]]
                    if "delays" in change:
                        new["delays"] = parse_delays([f"{k}={v}" for k, v in dict(change["delays"]).items()])
                    if "seed" in change:
                        new["seed"] = int(change["seed"])
                        self.rng = random.Random(new["seed"])
                    script = [parse_rule(r) for r in change.get("script", [])]
                    self.config = new
                    if change.get("reset_counts"):
                        self.reset_counts()
                    self.script.extend(script)
            except (ValueError, TypeError, KeyError) as exc:
                return reply("400 Bad Request", {"error": str(exc)})
        elif method != "GET":
            return reply("405 Method Not Allowed", {"error": "GET or POST"})
        return reply("200 OK", self.snapshot())


# ---------------------------------------------------------------------------
# Server (inside the venv)
# ---------------------------------------------------------------------------


def keep_alive_handler(base):  # type: ignore[no-untyped-def]
    """Patch w: keep-alive connections, as AWS endpoints have.

    Werkzeug's dev server (3.1) answers every request with `Connection: close` and then drains
    the socket, because http.server cannot tell a request's unread body from the next request
    line. So every call cost its client (and the server) a new TCP connection, which AWS does not:
    its endpoints keep HTTP/1.1 connections open and the SDKs pool them. This handler is
    werkzeug 3.1.9's `run_wsgi` (pinned in requirements.txt) with two changes: no forced
    `Connection: close`, and instead of draining the socket it reads what is left of this
    request's own body (Content-Length or chunked), so the next request on the connection starts
    where it should. A connection is closed as before when the client asks for it (HTTP/1.0 or
    `Connection: close`), when an error cut a chunked answer short, and when a fault drops it.
    """
    from werkzeug.exceptions import InternalServerError
    from werkzeug.serving import connection_dropped_errors
    from werkzeug.wsgi import LimitedStream

    class KeepAliveRequestHandler(base):  # type: ignore[misc, valid-type]
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes; with Nagle's algorithm on, the body of a
        # kept-alive answer would wait for the client's delayed ACK (~40 ms a call).
        disable_nagle_algorithm = True

        def make_environ(self):  # type: ignore[no-untyped-def]
            environ = super().make_environ()
            body = environ["wsgi.input"]
            if not environ.get("wsgi.input_terminated"):
                try:
                    length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
                except ValueError:
                    length = 0
                body = LimitedStream(body, length)
                environ["wsgi.input"] = body
            self._request_body = body
            return environ

        def _finish_body(self) -> None:
            """Read what the application left of the request's body (bounded, like werkzeug)."""
            body = getattr(self, "_request_body", None)
            self._request_body = None
            if body is None:
                return
            total = 0
            try:
                while True:
                    chunk = body.read(1 << 16)
                    if not chunk:
                        return
                    total += len(chunk)
                    if total > 100_000_000:
                        self.close_connection = True
                        return
            except Exception:  # the client went away mid-body (werkzeug's ClientDisconnected)
                self.close_connection = True

        def connection_dropped(self, error, environ=None):  # type: ignore[no-untyped-def]
            self.close_connection = True

        def run_wsgi(self) -> None:  # noqa: C901  (werkzeug's own shape)
            if self.headers.get("Expect", "").lower().strip(" \t") == "100-continue":
                self.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")

            self.environ = environ = self.make_environ()
            status_set = None
            headers_set = None
            status_sent = None
            headers_sent = None
            chunk_response = False

            def write(data: bytes) -> None:
                nonlocal status_sent, headers_sent, chunk_response
                assert status_set is not None, "write() before start_response"
                assert headers_set is not None, "write() before start_response"
                if status_sent is None:
                    status_sent = status_set
                    headers_sent = headers_set
                    try:
                        code_str, msg = status_sent.split(None, 1)
                    except ValueError:
                        code_str, msg = status_sent, ""
                    code = int(code_str)
                    self.send_response(code, msg)
                    header_keys = set()
                    for key, value in headers_sent:
                        self.send_header(key, value)
                        header_keys.add(key.lower())
                    if (
                        not (
                            "content-length" in header_keys
                            or environ["REQUEST_METHOD"] == "HEAD"
                            or (100 <= code < 200)
                            or code in {204, 304}
                        )
                        and self.protocol_version >= "HTTP/1.1"
                    ):
                        chunk_response = True
                        self.send_header("Transfer-Encoding", "chunked")
                    if self.close_connection:
                        self.send_header("Connection", "close")
                    self.end_headers()

                assert isinstance(data, bytes), "applications must write bytes"
                if data:
                    if chunk_response:
                        self.wfile.write(hex(len(data))[2:].encode())
                        self.wfile.write(b"\r\n")
                    self.wfile.write(data)
                    if chunk_response:
                        self.wfile.write(b"\r\n")
                self.wfile.flush()

            def start_response(status, headers, exc_info=None):  # type: ignore[no-untyped-def]
                nonlocal status_set, headers_set
                if exc_info:
                    try:
                        if headers_sent:
                            raise exc_info[1].with_traceback(exc_info[2])
                    finally:
                        exc_info = None
                elif headers_set:
                    raise AssertionError("Headers already set")
                status_set = status
                headers_set = headers
                return write

            def execute(app) -> None:  # type: ignore[no-untyped-def]
                application_iter = app(environ, start_response)
                try:
                    for data in application_iter:
                        write(data)
                    if not headers_sent:
                        write(b"")
                    if chunk_response:
                        self.wfile.write(b"0\r\n\r\n")
                        self.wfile.flush()
                finally:
                    if hasattr(application_iter, "close"):
                        application_iter.close()

            try:
                execute(self.server.app)
                self._finish_body()
            except connection_dropped_errors as e:
                self.connection_dropped(e, environ)
            except Exception as e:
                if self.server.passthrough_errors:
                    raise
                # The answer may be cut short and the body unread: this connection ends here.
                self.close_connection = True
                try:
                    if status_sent is None:
                        status_set = None
                        headers_set = None
                    execute(InternalServerError())
                except Exception:
                    pass
                from werkzeug.debug.tbtools import DebugTraceback

                msg = DebugTraceback(e).render_traceback_text()
                self.server.log("error", f"Error on request:\n{msg}")

    return KeepAliveRequestHandler



def run_server(args: argparse.Namespace) -> None:
    import logging
    import urllib.request

    # stdout carries exactly one line, READY <port>. Keep a private handle on it and point
    # fd 1 (and sys.stdout) at stderr, so stray prints from moto cannot get in the way.
    ready_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    # moto fills every region's EC2 backend with ~1,300 public AMIs (and a snapshot each) the
    # first time the region is used after a start or reset: ~280 ms of the server's CPU, paid
    # by whichever call comes first (novactl never reads images). Off unless asked for.
    os.environ.setdefault("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")

    started = time.monotonic()
    DR_SETTINGS["replication_delay"] = args.replication_delay
    DR_SETTINGS["endpoint_delay"] = args.endpoint_delay
    try:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        middlewares = apply_patches()
    except PatchTargetMissing as exc:
        die(str(exc))
    except ImportError as exc:
        die(f"cannot import moto's server ({exc}); delete the venv at {venv_dir()} to rebuild it")

    app = DomainDispatcherApplication(create_backend_app)
    for middleware in middlewares:
        app = middleware(app)
    # Faults first (inside), so that a fault answers in the protocol the client spoke (CBOR
    # included); latency outermost, so every request pays it once, faulted or not.
    injector = FaultInjector(app, fault_config(args))
    app = Latency(injector, args.latency_ms)
    try:
        server = make_server(
            args.host, args.port, app, threaded=True, request_handler=keep_alive_handler(MotoRequestHandler)
        )
    except OSError as exc:
        die(f"cannot bind {args.host}:{args.port}: {exc}")
    port = server.server_port
    os.environ["MOTO_PORT"] = str(port)

    stop = threading.Event()

    def on_signal(signum, frame):  # type: ignore[no-untyped-def]
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    threading.Thread(target=server.serve_forever, name="moto-server", daemon=True).start()

    probe_host = args.host if args.host not in ("", "0.0.0.0", "::") else "127.0.0.1"
    if ":" in probe_host:
        probe_host = f"[{probe_host}]"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"http://{probe_host}:{port}/moto-api/config", timeout=5) as resp:
                resp.read()
            break
        except Exception as exc:
            if time.monotonic() > deadline:
                die(f"server did not answer HTTP on port {port}: {exc}")
            time.sleep(0.05)

    log(f"moto listening on http://{args.host}:{port} (started in {time.monotonic() - started:.2f}s)")
    if injector.config["throttle"]:
        log(f"throttling (calls per second per API action): {injector.config['throttle']}")
    if injector.config["rate"] > 0 or injector.config["delays"]:
        c = injector.config
        log(f"injecting faults: rate {c['rate']}, seed {c['seed']}, kinds {','.join(c['kinds'])}"
            + (f", services {','.join(c['services'])}" if c["services"] else "")
            + (f"; delays {c['delays']}" if c["delays"] else ""))
    ready_out.write(f"READY {port}\n")
    ready_out.flush()

    if not args.no_stdin_watch:

        def watch_stdin() -> None:
            try:
                while os.read(0, 65536):
                    pass
            except OSError:
                pass
            log("stdin closed; shutting down")
            stop.set()

        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()

    while not stop.wait(0.5):
        pass
    log(injector.summary())
    log("stopping")
    shutdown = threading.Thread(target=server.shutdown, daemon=True)
    shutdown.start()
    shutdown.join(5)
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
