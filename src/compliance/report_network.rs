//! The evidence report's network section: per spec network (twins included) what was read
//! live — the VPC, its private subnets, route tables, NACL, endpoints, flow logs and security
//! groups (the default group, the endpoint group and the spec's groups in it) — each row citing
//! the API call that read it, only when this run made it (as the controls' evidence does).

use serde_json::{json, Value};

use crate::engine::{Model, Observations};

/// One row: the part of the network, what was read, and the call (`null`: not made this run).
fn row(part: String, read: String, call: &str, calls: &[String]) -> Value {
    json!({
        "part": part,
        "read": read,
        "api_call": super::report::was_made(calls, call).then_some(call),
    })
}

fn rules_text(r: &Value) -> String {
    let one = |dir: &str| -> Vec<String> {
        r[dir]
            .as_array()
            .into_iter()
            .flatten()
            .map(|x| {
                format!(
                    "{dir} {} {} {}",
                    x["protocol"].as_str().unwrap_or_default(),
                    x["ports"].as_str().unwrap_or_default(),
                    x["peer"].as_str().unwrap_or_default()
                )
            })
            .collect()
    };
    let all: Vec<String> = one("ingress").into_iter().chain(one("egress")).collect();
    if all.is_empty() {
        "no rules".into()
    } else {
        all.join("; ")
    }
}

/// A policy in one line: each statement's effect, actions and resources.
fn policy_summary(p: &Value) -> String {
    if p.is_null() {
        return "AWS default (full access)".into();
    }
    let sts: Vec<&Value> = match &p["Statement"] {
        Value::Array(a) => a.iter().collect(),
        Value::Null => Vec::new(),
        one => vec![one],
    };
    let list = |v: &Value| -> String {
        match v {
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            Value::String(s) => s.clone(),
            _ => String::new(),
        }
    };
    let parts: Vec<String> = sts
        .iter()
        .map(|s| {
            format!(
                "{} {} on {}",
                s["Effect"].as_str().unwrap_or("?"),
                list(&s["Action"]),
                list(&s["Resource"])
            )
        })
        .collect();
    format!("{} statement(s): {}", parts.len(), parts.join("; "))
}

/// The section as data: one entry per network that exists live.
pub fn section(model: &Model, obs: &Observations, calls: &[String]) -> Value {
    let mut out = Vec::new();
    for d in model.decls.iter().filter(|d| d.kind == "network") {
        let Some(o) = obs.by_address.get(&d.address) else {
            continue;
        };
        let Some(st) = &o.state else {
            continue;
        };
        let mut rows = vec![row(
            "VPC".into(),
            format!(
                "{} {} (DNS support {}, DNS hostnames {})",
                o.outputs["vpc_id"].as_str().unwrap_or(&o.physical_id),
                st["cidr"].as_str().unwrap_or_default(),
                on(&st["dns_support"]),
                on(&st["dns_hostnames"])
            ),
            "ec2:DescribeVpcs",
            calls,
        )];
        for (n, s) in st["subnets"].as_object().into_iter().flatten() {
            rows.push(row(
                format!("subnet {n}"),
                format!(
                    "{} in {}, public IP on launch {}",
                    s["cidr"].as_str().unwrap_or_default(),
                    s["az"].as_str().unwrap_or_default(),
                    on(&s["map_public_ip_on_launch"])
                ),
                "ec2:DescribeSubnets",
                calls,
            ));
            let routes: Vec<&str> = s["routes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            rows.push(row(
                format!("route table of {n}"),
                format!(
                    "{} table; routes: local, gateway endpoints{}",
                    s["route_table"].as_str().unwrap_or_default(),
                    if routes.is_empty() {
                        String::new()
                    } else {
                        format!(", {}", routes.join(", "))
                    }
                ),
                "ec2:DescribeRouteTables",
                calls,
            ));
        }
        let nacl: Vec<&str> = st["network_acl"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        rows.push(row(
            "network ACL".into(),
            if nacl.is_empty() {
                "none (the VPC's default NACL)".into()
            } else {
                nacl.join("; ")
            },
            "ec2:DescribeNetworkAcls",
            calls,
        ));
        for (n, e) in st["endpoints"].as_object().into_iter().flatten() {
            rows.push(row(
                format!("endpoint {n}"),
                format!(
                    "{} {}, private DNS {}, policy: {}",
                    e["service"].as_str().unwrap_or_default(),
                    e["kind"].as_str().unwrap_or_default(),
                    on(&e["private_dns"]),
                    policy_summary(&e["policy"])
                ),
                "ec2:DescribeVpcEndpoints",
                calls,
            ));
        }
        let f = &st["flow_logs"];
        if f.is_null() {
            rows.push(row(
                "flow logs".into(),
                "none".into(),
                "ec2:DescribeFlowLogs",
                calls,
            ));
        } else {
            rows.push(row(
                "flow logs".into(),
                format!(
                    "{} traffic to log group {}",
                    f["traffic_type"].as_str().unwrap_or_default(),
                    f["log_group"].as_str().unwrap_or_default()
                ),
                "ec2:DescribeFlowLogs",
                calls,
            ));
            let key = f["kms_key_id"].as_str().unwrap_or_default();
            rows.push(row(
                "flow logs' log group".into(),
                format!(
                    "KMS key {}, retention {} days",
                    if key.is_empty() { "none" } else { key },
                    f["retention_days"]
                ),
                "logs:DescribeLogGroups",
                calls,
            ));
        }
        rows.push(row(
            "default security group".into(),
            rules_text(&st["default_security_group"]),
            "ec2:DescribeSecurityGroups",
            calls,
        ));
        rows.push(row(
            "endpoint security group".into(),
            rules_text(&st["endpoint_security_group"]),
            "ec2:DescribeSecurityGroups",
            calls,
        ));
        // The spec's security groups in this network (twins in the twin network).
        let twin = d.address.starts_with("dr.");
        for g in model.decls.iter().filter(|g| g.kind == "security_group") {
            let in_net = model
                .spec
                .spec
                .security_groups
                .get(&g.name)
                .is_some_and(|sg| sg.network == d.name);
            if !in_net || g.address.starts_with("dr.") != twin {
                continue;
            }
            let Some(gs) = obs
                .by_address
                .get(&g.address)
                .and_then(|o| o.state.as_ref())
            else {
                continue;
            };
            rows.push(row(
                format!(
                    "security group {}",
                    gs["group_name"].as_str().unwrap_or(&g.name)
                ),
                rules_text(gs),
                "ec2:DescribeSecurityGroups",
                calls,
            ));
        }
        out.push(json!({
            "address": d.address,
            "region": d.region,
            "vpc_id": o.outputs["vpc_id"],
            "rows": rows,
        }));
    }
    Value::Array(out)
}

fn on(v: &Value) -> &'static str {
    if v == true {
        "on"
    } else {
        "off"
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn markdown(nets: &Value) -> String {
    let mut s = String::from("\n## Network\n\n");
    let list = nets.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        s.push_str("The spec has no managed network (or it does not exist live).\n");
        return s;
    }
    for n in list {
        s.push_str(&format!(
            "### `{}` ({}, {})\n\n| Part | Read | API call |\n|---|---|---|\n",
            n["address"].as_str().unwrap_or_default(),
            n["vpc_id"].as_str().unwrap_or_default(),
            n["region"].as_str().unwrap_or_default()
        ));
        for r in n["rows"].as_array().into_iter().flatten() {
            s.push_str(&format!(
                "| {} | {} | {} |\n",
                cell(r["part"].as_str().unwrap_or_default()),
                cell(r["read"].as_str().unwrap_or_default()),
                r["api_call"]
                    .as_str()
                    .map_or("—".to_string(), |c| format!("`{c}`"))
            ));
        }
        s.push('\n');
    }
    s
}

pub fn html(nets: &Value, esc: fn(&str) -> String) -> String {
    let mut s = String::from("<h2>Network</h2>\n");
    let list = nets.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        s.push_str("<p>The spec has no managed network (or it does not exist live).</p>\n");
        return s;
    }
    for n in list {
        s.push_str(&format!(
            "<h3><code>{}</code> ({}, {})</h3>\n<table><tr><th>Part</th><th>Read</th><th>API call</th></tr>\n",
            esc(n["address"].as_str().unwrap_or_default()),
            esc(n["vpc_id"].as_str().unwrap_or_default()),
            esc(n["region"].as_str().unwrap_or_default())
        ));
        for r in n["rows"].as_array().into_iter().flatten() {
            s.push_str(&format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>\n",
                esc(r["part"].as_str().unwrap_or_default()),
                esc(r["read"].as_str().unwrap_or_default()),
                r["api_call"]
                    .as_str()
                    .map_or("—".to_string(), |c| format!("<code>{}</code>", esc(c)))
            ));
        }
        s.push_str("</table>\n");
    }
    s
}
