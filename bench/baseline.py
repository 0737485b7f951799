#!/usr/bin/env python3
"""The hand-written way, for the benchmark: one sequential boto3 process that reads (or creates)
the same resources novactl plans, one call after another.

    python baseline.py reads   ENDPOINT PLAN.json   # after apply: read every setting back
    python baseline.py creates ENDPOINT PLAN.json   # on an empty account: create everything

PLAN.json is `novactl plan --json` of the environment (made beforehand, not timed): it names each
resource's kind, physical id and desired settings. The reads are the ones a drift check needs:
every setting novactl compares, one call per setting, as a script would make them (no bulk or
shared reads, no discovery of what left the spec). The creates are the calls novactl's create
makes, in dependency order; an attribute that the plan shows as "(known after apply)" (a key's
ARN) is taken from the key this script created. Prints one line: `calls N`.

Runs in the emulator's venv (boto3 comes with moto).
"""

from __future__ import annotations

import json
import sys

import boto3
import botocore.config
from botocore.exceptions import ClientError

UNKNOWN = "(known after apply)"
CALLS = 0


def counting(client):  # type: ignore[no-untyped-def]
    def count(**_kwargs):  # type: ignore[no-untyped-def]
        global CALLS
        CALLS += 1

    client.meta.events.register("before-send", count)
    return client


class Clients:
    def __init__(self, endpoint: str, region: str):
        self.endpoint = endpoint
        self.region = region
        self.cache: dict = {}

    def __getattr__(self, service: str):  # type: ignore[no-untyped-def]
        names = {"autoscaling": "application-autoscaling"}
        if service not in self.cache:
            self.cache[service] = counting(
                boto3.client(
                    names.get(service, service),
                    endpoint_url=self.endpoint,
                    region_name=self.region,
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    config=botocore.config.Config(
                        retries={"max_attempts": 1}, s3={"addressing_style": "path"}
                    ),
                )
            )
        return self.cache[service]


def missing_ok(call, *codes: str):  # type: ignore[no-untyped-def]
    try:
        return call()
    except ClientError as e:
        if e.response["Error"]["Code"] in codes:
            return None
        raise


# --------------------------------------------------------------------------- reads


def read_role(c: Clients, name: str) -> None:
    c.iam.get_role(RoleName=name)
    for p in c.iam.list_role_policies(RoleName=name)["PolicyNames"]:
        c.iam.get_role_policy(RoleName=name, PolicyName=p)


def read(c: Clients, change: dict) -> None:
    kind, pid, before = change["kind"], change["physical_id"], change.get("before") or {}
    if kind == "kms":
        c.kms.describe_key(KeyId=before["alias"])
        c.kms.get_key_rotation_status(KeyId=pid)
        c.kms.list_resource_tags(KeyId=pid)
        c.kms.get_key_policy(KeyId=pid, PolicyName="default")
    elif kind == "s3":
        c.s3.head_bucket(Bucket=pid)
        c.s3.get_bucket_tagging(Bucket=pid)
        c.s3.get_bucket_encryption(Bucket=pid)
        c.s3.get_bucket_versioning(Bucket=pid)
        c.s3.get_public_access_block(Bucket=pid)
        missing_ok(lambda: c.s3.get_bucket_lifecycle_configuration(Bucket=pid), "NoSuchLifecycleConfiguration")
        c.s3.get_bucket_policy(Bucket=pid)
        if before.get("logging"):
            c.s3.get_bucket_logging(Bucket=pid)
        if before.get("object_ownership"):
            c.s3.get_bucket_ownership_controls(Bucket=pid)
        if before.get("replication"):
            missing_ok(lambda: c.s3.get_bucket_replication(Bucket=pid), "ReplicationConfigurationNotFoundError")
            role = (before.get("replication_role") or {}).get("name") or before["replication"].get("role_arn", "").rsplit("/", 1)[-1]
            if role:
                read_role(c, role)
    elif kind == "iam":
        read_role(c, pid)
    elif kind == "sns":
        c.sns.get_topic_attributes(TopicArn=pid)
        c.sns.list_tags_for_resource(ResourceArn=pid)
    elif kind == "cloudwatch_alarm":
        a = c.cloudwatch.describe_alarms(AlarmNames=[pid])["MetricAlarms"][0]
        c.cloudwatch.list_tags_for_resource(ResourceARN=a["AlarmArn"])
    elif kind == "cloudwatch_dashboard":
        c.cloudwatch.get_dashboard(DashboardName=pid)
    elif kind == "log_group":
        g = c.logs.describe_log_groups(logGroupNamePrefix=pid)["logGroups"][0]
        c.logs.list_tags_for_resource(resourceArn=g["arn"].removesuffix(":*"))
        read_role(c, before["role"]["name"])
    elif kind == "cloudtrail":
        arn = c.cloudtrail.get_trail(Name=pid)["Trail"]["TrailARN"]
        c.cloudtrail.get_trail_status(Name=arn)
        c.cloudtrail.get_event_selectors(TrailName=arn)
        c.cloudtrail.list_tags(ResourceIdList=[arn])
    elif kind == "sagemaker_model":
        base = pid.rsplit("-", 1)[0]
        for m in c.sagemaker.list_models(NameContains=base)["Models"]:
            if m["ModelName"].startswith(base + "-"):  # this model's versions only
                c.sagemaker.list_tags(ResourceArn=m["ModelArn"])
        c.sagemaker.describe_model(ModelName=pid)
    elif kind == "sagemaker_endpoint":
        e = c.sagemaker.describe_endpoint(EndpointName=pid)
        c.sagemaker.list_tags(ResourceArn=e["EndpointArn"])
        c.sagemaker.describe_endpoint_config(EndpointConfigName=e["EndpointConfigName"])
        rid = f"endpoint/{pid}/variant/{before.get('variant_name', 'default')}"
        c.autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker", ResourceIds=[rid])
        c.autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker", ResourceId=rid)
    elif kind == "network":
        vpc = {"Name": "vpc-id", "Values": [pid]}
        c.ec2.describe_vpcs(VpcIds=[pid])
        c.ec2.describe_vpc_attribute(VpcId=pid, Attribute="enableDnsSupport")
        c.ec2.describe_vpc_attribute(VpcId=pid, Attribute="enableDnsHostnames")
        c.ec2.describe_subnets(Filters=[vpc])
        c.ec2.describe_route_tables(Filters=[vpc])
        c.ec2.describe_network_acls(Filters=[vpc])
        c.ec2.describe_security_groups(Filters=[vpc])
        c.ec2.describe_vpc_endpoints(Filters=[vpc])
        flow = before.get("flow_logs") or {}
        if flow:
            c.ec2.describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [pid]}])
            if flow.get("log_group"):
                c.logs.describe_log_groups(logGroupNamePrefix=flow["log_group"])
            if (flow.get("role") or {}).get("name"):
                read_role(c, flow["role"]["name"])
    elif kind == "security_group":
        c.ec2.describe_security_groups(GroupIds=[pid])
    else:
        raise SystemExit(f"baseline: no reads for kind {kind}")


# --------------------------------------------------------------------------- creates


def tag_list(tags: dict, key: str = "Key", value: str = "Value") -> list:
    return [{key: k, value: v} for k, v in sorted(tags.items())]


def resolve(v, key_arn: str):  # type: ignore[no-untyped-def]
    if isinstance(v, str):
        return v.replace(UNKNOWN, key_arn) if UNKNOWN in v else v
    if isinstance(v, list):
        return [resolve(x, key_arn) for x in v]
    if isinstance(v, dict):
        return {k: resolve(x, key_arn) for k, x in v.items()}
    return v


def create_role(c: Clients, d: dict) -> None:
    kwargs = {
        "RoleName": d["name"],
        "AssumeRolePolicyDocument": json.dumps(d["trust_policy"]),
        "Tags": tag_list(d["tags"]),
    }
    if d.get("description"):
        kwargs["Description"] = d["description"]
    c.iam.create_role(**kwargs)
    for pname, doc in sorted((d.get("inline_policies") or {}).items()):
        c.iam.put_role_policy(RoleName=d["name"], PolicyName=pname, PolicyDocument=json.dumps(doc))


def create_log_group(c: Clients, name: str, kms_key_id, retention_days, tags: dict) -> None:  # type: ignore[no-untyped-def]
    kwargs = {"logGroupName": name, "tags": tags}
    if kms_key_id:
        kwargs["kmsKeyId"] = kms_key_id
    c.logs.create_log_group(**kwargs)
    if retention_days:
        c.logs.put_retention_policy(logGroupName=name, retentionInDays=retention_days)


def create(c: Clients, change: dict, key_arns: dict) -> None:
    kind = change["kind"]
    kms_dep = next((a for a in change.get("depends_on", []) if ".kms." in "." + a), "")
    d = resolve(change["after"], key_arns.get(kms_dep, ""))
    if kind == "kms":
        kwargs = {"Description": d["description"], "Tags": tag_list(d["tags"], "TagKey", "TagValue")}
        if d.get("policy"):
            kwargs["Policy"] = json.dumps(d["policy"])
        meta = c.kms.create_key(**kwargs)["KeyMetadata"]
        if d["rotation"]:
            c.kms.enable_key_rotation(KeyId=meta["KeyId"])
        c.kms.create_alias(AliasName=d["alias"], TargetKeyId=meta["KeyId"])
        key_arns[change["address"]] = meta["Arn"]
    elif kind == "s3":
        b = d["name"]
        if d["region"] == "us-east-1":
            c.s3.create_bucket(Bucket=b)
        else:
            c.s3.create_bucket(Bucket=b, CreateBucketConfiguration={"LocationConstraint": d["region"]})
        c.s3.put_bucket_tagging(Bucket=b, Tagging={"TagSet": tag_list(d["tags"])})
        pab = d["public_access_block"]
        c.s3.put_public_access_block(
            Bucket=b,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": pab["block_public_acls"],
                "IgnorePublicAcls": pab["ignore_public_acls"],
                "BlockPublicPolicy": pab["block_public_policy"],
                "RestrictPublicBuckets": pab["restrict_public_buckets"],
            },
        )
        enc = d["encryption"]
        c.s3.put_bucket_encryption(
            Bucket=b,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {
                            "SSEAlgorithm": enc["algorithm"],
                            **({"KMSMasterKeyID": enc["kms_key_arn"]} if enc.get("kms_key_arn") else {}),
                        },
                        "BucketKeyEnabled": enc["bucket_key"],
                    }
                ]
            },
        )
        if d["versioning"]:
            c.s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
        if d["lifecycle"]:
            rules = []
            for r in d["lifecycle"]:
                rule = {"ID": r["id"], "Filter": {"Prefix": r["prefix"]}, "Status": "Enabled" if r["enabled"] else "Disabled"}
                if r.get("expire_days"):
                    rule["Expiration"] = {"Days": r["expire_days"]}
                if r.get("transitions"):
                    rule["Transitions"] = [{"Days": t["days"], "StorageClass": t["storage_class"]} for t in r["transitions"]]
                if r.get("noncurrent_expire_days"):
                    rule["NoncurrentVersionExpiration"] = {"NoncurrentDays": r["noncurrent_expire_days"]}
                rules.append(rule)
            c.s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": rules})
        c.s3.put_bucket_policy(Bucket=b, Policy=json.dumps(d["policy"]))
        if d.get("object_ownership"):
            c.s3.put_bucket_ownership_controls(
                Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": d["object_ownership"]}]}
            )
        log = d.get("logging") or {}
        if log.get("enabled"):
            c.s3.put_bucket_logging(
                Bucket=b,
                BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": log["target_bucket"], "TargetPrefix": log["target_prefix"]}},
            )
        if d.get("replication"):
            create_role(c, d["replication_role"])
            rep = d["replication"]
            rules = []
            for r in rep["rules"]:
                rule = {
                    "ID": r["id"], "Priority": r["priority"], "Status": r["status"],
                    "Filter": {"Prefix": r["prefix"]},
                    "DeleteMarkerReplication": {"Status": "Enabled" if r["delete_marker_replication"] else "Disabled"},
                    "Destination": {"Bucket": r["destination_bucket"]},
                }
                if r.get("replica_kms_key_id"):
                    rule["Destination"]["EncryptionConfiguration"] = {"ReplicaKmsKeyID": r["replica_kms_key_id"]}
                    rule["SourceSelectionCriteria"] = {"SseKmsEncryptedObjects": {"Status": "Enabled"}}
                rules.append(rule)
            c.s3.put_bucket_replication(Bucket=b, ReplicationConfiguration={"Role": rep["role_arn"], "Rules": rules})
    elif kind == "iam":
        create_role(c, d)
    elif kind == "sns":
        attrs = {"KmsMasterKeyId": d["kms_master_key_id"]} if d.get("kms_master_key_id") else {}
        c.sns.create_topic(Name=d["name"], Attributes=attrs, Tags=tag_list(d["tags"]))
    elif kind == "cloudwatch_alarm":
        c.cloudwatch.put_metric_alarm(
            AlarmName=d["name"],
            AlarmDescription=d.get("description") or "",
            Namespace=d["namespace"],
            MetricName=d["metric"],
            Statistic=d["statistic"],
            Dimensions=[{"Name": k, "Value": v} for k, v in sorted(d["dimensions"].items())],
            Period=d["period"],
            EvaluationPeriods=d["evaluation_periods"],
            Threshold=d["threshold"],
            ComparisonOperator=d["comparison"],
            TreatMissingData=d["treat_missing_data"],
            ActionsEnabled=True,
            AlarmActions=d["actions"],
            Tags=tag_list(d["tags"]),
        )
    elif kind == "cloudwatch_dashboard":
        body = dict(d["options"])
        body["widgets"] = list(d["widgets"].values())
        c.cloudwatch.put_dashboard(DashboardName=d["name"], DashboardBody=json.dumps(body))
    elif kind == "log_group":
        create_log_group(c, d["name"], d.get("kms_key_id"), d.get("retention_days"), d["tags"])
        create_role(c, d["role"])
    elif kind == "cloudtrail":
        kwargs = {
            "Name": d["name"],
            "S3BucketName": d["bucket"],
            "S3KeyPrefix": d["prefix"],
            "IsMultiRegionTrail": d["multi_region"],
            "EnableLogFileValidation": d["log_file_validation"],
            "TagsList": tag_list(d["tags"]),
        }
        if d.get("kms_key_id"):
            kwargs["KmsKeyId"] = d["kms_key_id"]
        cwl = d.get("cloud_watch_logs") or {}
        if cwl.get("log_group_arn"):
            kwargs["CloudWatchLogsLogGroupArn"] = cwl["log_group_arn"]
            kwargs["CloudWatchLogsRoleArn"] = cwl["role_arn"]
        arn = c.cloudtrail.create_trail(**kwargs)["TrailARN"]
        if d.get("event_selectors"):
            c.cloudtrail.put_event_selectors(
                TrailName=arn,
                EventSelectors=[
                    {
                        "ReadWriteType": e["read_write_type"],
                        "IncludeManagementEvents": e["include_management_events"],
                        "DataResources": [{"Type": r["type"], "Values": r["values"]} for r in e["data_resources"]],
                    }
                    for e in d["event_selectors"]
                ],
            )
        if d.get("logging"):
            c.cloudtrail.start_logging(Name=arn)
    elif kind == "sagemaker_model":
        kwargs = {
            "ModelName": d["name"],
            "PrimaryContainer": {
                "Image": d["image"],
                "ModelDataUrl": d["model_data"],
                "Environment": d.get("environment") or {},
            },
            "ExecutionRoleArn": d["role_arn"],
            "EnableNetworkIsolation": d.get("network_isolation", False),
            "Tags": tag_list(d["tags"]),
        }
        if d.get("vpc"):
            kwargs["VpcConfig"] = {"SecurityGroupIds": d["vpc"]["security_groups"], "Subnets": d["vpc"]["subnets"]}
        c.sagemaker.create_model(**kwargs)
        key_arns[change["address"]] = d["name"]
    elif kind == "sagemaker_endpoint":
        if UNKNOWN in change["after"]["model_name"]:
            model = next((a for a in change.get("depends_on", []) if ".sagemaker_model." in "." + a), "")
            d["model_name"] = key_arns.get(model, d["model_name"])
        config = d["config_name"] if UNKNOWN not in change["after"]["config_name"] else d["name"] + "-cfg"
        kwargs = {
            "EndpointConfigName": config,
            "ProductionVariants": [
                {
                    "VariantName": d["variant_name"],
                    "ModelName": d["model_name"],
                    "InstanceType": d["instance_type"],
                    "InitialInstanceCount": d["instance_count"],
                }
            ],
            "Tags": tag_list(d["tags"]),
        }
        if d.get("kms_key_arn"):
            kwargs["KmsKeyId"] = d["kms_key_arn"]
        dc = d.get("data_capture") or {}
        if dc.get("enabled"):
            kwargs["DataCaptureConfig"] = {
                "EnableCapture": True,
                "InitialSamplingPercentage": dc["sampling_percent"],
                "DestinationS3Uri": dc["destination"],
                "CaptureOptions": [{"CaptureMode": m} for m in dc["capture"]],
            }
        c.sagemaker.create_endpoint_config(**kwargs)
        c.sagemaker.create_endpoint(EndpointName=d["name"], EndpointConfigName=config, Tags=tag_list(d["tags"]))
        c.sagemaker.describe_endpoint(EndpointName=d["name"])  # the wait for InService
        sc = d.get("autoscaling") or {}
        if sc.get("registered"):
            rid = f"endpoint/{d['name']}/variant/{d['variant_name']}"
            dim = "sagemaker:variant:DesiredInstanceCount"
            c.autoscaling.register_scalable_target(
                ServiceNamespace="sagemaker", ResourceId=rid, ScalableDimension=dim,
                MinCapacity=sc["min"], MaxCapacity=sc["max"],
            )
            cfg = {
                "TargetValue": sc["target_invocations_per_instance"],
                "PredefinedMetricSpecification": {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"},
            }
            if sc.get("scale_in_cooldown") is not None:
                cfg["ScaleInCooldown"] = sc["scale_in_cooldown"]
            if sc.get("scale_out_cooldown") is not None:
                cfg["ScaleOutCooldown"] = sc["scale_out_cooldown"]
            c.autoscaling.put_scaling_policy(
                PolicyName=f"{d['name']}-invocations", ServiceNamespace="sagemaker", ResourceId=rid,
                ScalableDimension=dim, PolicyType="TargetTrackingScaling",
                TargetTrackingScalingPolicyConfiguration=cfg,
            )
    elif kind == "network":
        key_arns[change["address"]] = create_network(c, d, change.get("region") or c.region)
    elif kind == "security_group":
        net = next((a for a in change.get("depends_on", []) if ".network." in "." + a), "")
        kwargs = {"GroupName": d["group_name"], "Description": d["description"],
                  "TagSpecifications": tag_spec("security-group", d["tags"])}
        if key_arns.get(net):
            kwargs["VpcId"] = key_arns[net]
        gid = c.ec2.create_security_group(**kwargs)["GroupId"]
        set_group_rules(c, gid, d.get("ingress") or [], d.get("egress") or [])
    else:
        raise SystemExit(f"baseline: no create for kind {kind}")


def tag_spec(resource: str, tags: dict) -> list:
    return [{"ResourceType": resource, "Tags": tag_list(tags)}]


PROTOCOLS = {"all": "-1", "tcp": "6", "udp": "17", "icmp": "1"}


PREFIX_LISTS: dict = {}


def prefix_list_id(c, name: str) -> str:  # type: ignore[no-untyped-def]
    """A gateway service's prefix list (`pl:s3`) in the client's region, looked up once."""
    if name.startswith("pl-"):
        return name
    region = c.ec2.meta.region_name
    key = (region, name)
    if key not in PREFIX_LISTS:
        lists = c.ec2.describe_prefix_lists(
            Filters=[{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{region}.{name}"]}]
        )["PrefixLists"]
        PREFIX_LISTS[key] = lists[0]["PrefixListId"]
    return PREFIX_LISTS[key]


def permission(rule: dict, c=None) -> dict:  # type: ignore[no-untyped-def]
    lo, _, hi = str(rule.get("ports") or "0").partition("-")
    p = {"IpProtocol": PROTOCOLS.get(rule["protocol"], rule["protocol"])}
    if p["IpProtocol"] != "-1":
        p.update(FromPort=int(lo), ToPort=int(hi or lo))
    peer = rule["peer"]
    if peer.startswith("sg-"):
        p["UserIdGroupPairs"] = [{"GroupId": peer}]
    elif peer.startswith("pl:"):
        p["PrefixListIds"] = [{"PrefixListId": prefix_list_id(c, peer[3:])}]
    else:
        p["IpRanges"] = [{"CidrIp": peer}]
    return p


def set_group_rules(c: Clients, gid: str, ingress: list, egress: list) -> None:
    # A new group allows all egress: the spec's egress replaces that rule.
    c.ec2.revoke_security_group_egress(
        GroupId=gid, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    )
    if ingress:
        c.ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[permission(r, c) for r in ingress])
    if egress:
        c.ec2.authorize_security_group_egress(GroupId=gid, IpPermissions=[permission(r, c) for r in egress])


def create_network(c: Clients, d: dict, region: str) -> str:
    """The VPC, its subnets, route tables, network ACL, default and endpoint groups, VPC
    endpoints and flow logs, the way a script would make them. Returns the VPC id."""
    ec2 = c.ec2
    vpc = ec2.create_vpc(CidrBlock=d["cidr"], TagSpecifications=tag_spec("vpc", d["tags"]))["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsSupport={"Value": d["dns_support"]})
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": d["dns_hostnames"]})
    subnets, tables = {}, {}
    for i, (name, sn) in enumerate(sorted(d["subnets"].items())):
        az = sn["az"] if sn["az"].startswith(region) and " " not in sn["az"] else region + "abcdef"[i % 6]
        sid = ec2.create_subnet(VpcId=vpc, CidrBlock=sn["cidr"], AvailabilityZone=az,
                                TagSpecifications=tag_spec("subnet", d["tags"]))["Subnet"]["SubnetId"]
        subnets[name] = sid
        if sn.get("map_public_ip_on_launch"):
            ec2.modify_subnet_attribute(SubnetId=sid, MapPublicIpOnLaunch={"Value": True})
        if sn.get("route_table") == "own":
            rt = ec2.create_route_table(VpcId=vpc, TagSpecifications=tag_spec("route-table", d["tags"]))
            tables[name] = rt["RouteTable"]["RouteTableId"]
            ec2.associate_route_table(RouteTableId=tables[name], SubnetId=sid)
            for r in sn.get("routes") or []:
                ec2.create_route(RouteTableId=tables[name], DestinationCidrBlock=r.get("destination", "0.0.0.0/0"),
                                 GatewayId=r.get("target", "local"))
    if d.get("network_acl"):
        acl = ec2.create_network_acl(VpcId=vpc, TagSpecifications=tag_spec("network-acl", d["tags"]))
        acl_id = acl["NetworkAcl"]["NetworkAclId"]
        for text in d["network_acl"]:
            direction, number, action, proto, ports, cidr = text.split()
            entry = {"NetworkAclId": acl_id, "RuleNumber": int(number), "Egress": direction == "egress",
                     "RuleAction": action, "Protocol": PROTOCOLS.get(proto, proto), "CidrBlock": cidr}
            if ports != "all":
                lo, _, hi = ports.partition("-")
                entry["PortRange"] = {"From": int(lo), "To": int(hi or lo)}
            ec2.create_network_acl_entry(**entry)
        private = [subnets[n] for n, sn in d["subnets"].items() if sn.get("network_acl") == "private"]
        if private:
            current = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": private}])
            for a in (x for n in current["NetworkAcls"] for x in n["Associations"]):
                if a["SubnetId"] in private:
                    ec2.replace_network_acl_association(AssociationId=a["NetworkAclAssociationId"], NetworkAclId=acl_id)
    default = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    dsg = d.get("default_security_group") or {}
    if not dsg.get("ingress") and not dsg.get("egress"):
        c.ec2.revoke_security_group_egress(
            GroupId=default, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        )
        missing_ok(lambda: c.ec2.revoke_security_group_ingress(
            GroupId=default, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": default}]}]
        ), "InvalidPermission.NotFound")
    endpoint_group = None
    esg = d.get("endpoint_security_group")
    if esg and any(e.get("endpoint_security_group") for e in d.get("endpoints", {}).values()):
        endpoint_group = ec2.create_security_group(
            GroupName=f"{d['tags'].get('Name', vpc)}-endpoints", Description="VPC endpoints", VpcId=vpc,
            TagSpecifications=tag_spec("security-group", d["tags"]),
        )["GroupId"]
        set_group_rules(c, endpoint_group, esg.get("ingress") or [], esg.get("egress") or [])
    for name, e in sorted((d.get("endpoints") or {}).items()):
        kwargs = {"VpcId": vpc, "ServiceName": e["service"], "VpcEndpointType": e["kind"],
                  "TagSpecifications": tag_spec("vpc-endpoint", d["tags"])}
        if e.get("policy"):
            kwargs["PolicyDocument"] = json.dumps(e["policy"])
        if e["kind"] == "Gateway":
            kwargs["RouteTableIds"] = [tables[s] for s in e["attached_to"] if s in tables]
        else:
            kwargs["SubnetIds"] = [subnets[s] for s in e["attached_to"]]
            kwargs["PrivateDnsEnabled"] = e.get("private_dns", False)
            if endpoint_group and e.get("endpoint_security_group"):
                kwargs["SecurityGroupIds"] = [endpoint_group]
        ec2.create_vpc_endpoint(**kwargs)
    flow = d.get("flow_logs")
    if flow:
        create_log_group(c, flow["log_group"], flow.get("kms_key_id"), flow.get("retention_days"), d["tags"])
        create_role(c, flow["role"])
        ec2.create_flow_logs(
            ResourceIds=[vpc], ResourceType="VPC", TrafficType=flow["traffic_type"],
            LogDestinationType="cloud-watch-logs", LogGroupName=flow["log_group"],
            DeliverLogsPermissionArn=flow["deliver_role_arn"],
            TagSpecifications=tag_spec("vpc-flow-log", d["tags"]),
        )
    return vpc


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] not in ("reads", "creates"):
        raise SystemExit(__doc__)
    mode, endpoint, plan_file = sys.argv[1:]
    with open(plan_file) as f:
        plan = json.load(f)
    clients = {}

    def region_clients(region: str) -> Clients:
        return clients.setdefault(region, Clients(endpoint, region))

    # Like novactl, check whose credentials these are first.
    region_clients(plan["region"]).sts.get_caller_identity()
    key_arns: dict = {}
    for change in plan["changes"]:
        c = region_clients(change.get("region") or plan["region"])
        if mode == "reads":
            read(c, change)
        else:
            create(c, change, key_arns)
    print(f"calls {CALLS}")


if __name__ == "__main__":
    main()
