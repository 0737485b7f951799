//! The monthly cost of an environment and the change a plan makes to it, from a price table
//! (layer 3, beside [`crate::plan`]: it reads a plan's `before`/`after` states, nothing else).
//!
//! The table ships in the binary (`prices/aws-prices.yaml`, with its date and source); a
//! user's file of the same shape (`plan --prices FILE`) overrides or extends it. No price is
//! fetched and none is guessed: what the table lacks is named in [`Cost::unpriced`]. What is
//! billed by usage the spec does not state (log volume, CloudTrail data events, S3 storage) is
//! listed in [`Cost::usage_based`], not estimated.
//!
//! Priced: SageMaker real-time endpoints (instance-hours: the spec's `instance_count`, a DR
//! standby at its standby count, and the autoscaling maximum as a separate ceiling), KMS
//! customer managed keys (DR twins included), CloudWatch alarms (the CIS alarms included),
//! dashboards and interface VPC endpoints (per endpoint and AZ; gateway endpoints are free). A
//! month is [`HOURS_PER_MONTH`] hours.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::plan::{Action, Change, Plan};

/// Hours in the month the estimate prices (365 × 24 / 12).
pub const HOURS_PER_MONTH: f64 = 730.0;

/// The shipped price table.
pub const SHIPPED: &str = include_str!("../../prices/aws-prices.yaml");
const SHIPPED_NAME: &str = "prices/aws-prices.yaml";

/// Prices by region (`"*"`: every region).
type ByRegion = BTreeMap<String, f64>;

/// A price file as written (the shipped table and a `--prices` file alike).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    date: Option<String>,
    source: Option<String>,
    currency: Option<String>,
    /// Region -> instance type -> USD per instance-hour.
    #[serde(default)]
    sagemaker_hosting: BTreeMap<String, ByRegion>,
    #[serde(default)]
    kms_key_month: ByRegion,
    #[serde(default)]
    cloudwatch_alarm_month: ByRegion,
    #[serde(default)]
    cloudwatch_alarm_high_resolution_month: ByRegion,
    #[serde(default)]
    cloudwatch_dashboard_month: ByRegion,
    #[serde(default)]
    logs_ingestion_gb: ByRegion,
    #[serde(default)]
    logs_storage_gb_month: ByRegion,
    /// USD per interface VPC endpoint per AZ (one network interface per subnet) per hour.
    #[serde(default)]
    vpc_interface_endpoint_az_hour: ByRegion,
}

/// The prices an estimate uses: the shipped table, with a user's file laid over it.
#[derive(Debug, Clone)]
pub struct Prices {
    /// The table's date (a user's file's date when it has one).
    pub date: String,
    /// Where the prices come from (the shipped table's source, plus the user's file).
    pub source: String,
    table: PriceFile,
}

impl Prices {
    /// The shipped table (a unit test proves it parses).
    pub fn shipped() -> Prices {
        let table = parse(SHIPPED, SHIPPED_NAME).unwrap_or_default();
        Prices {
            date: table.date.clone().unwrap_or_default(),
            source: table.source.clone().unwrap_or_default(),
            table,
        }
    }

    /// The shipped table, overridden by the file at `path` when given.
    pub fn load(path: Option<&Path>) -> Result<Prices, String> {
        let base = Prices::shipped();
        let Some(path) = path else {
            return Ok(base);
        };
        let name = path.display().to_string();
        let text = crate::spec::input::read_text(path)
            .map_err(|e| format!("--prices {name}: {}", e.message))?;
        base.overridden(&text, &name)
    }

    /// These prices with the file `text` (named `name` in errors) laid over them: its entries
    /// replace or add to the table's.
    pub fn overridden(mut self, text: &str, name: &str) -> Result<Prices, String> {
        let over = parse(text, name)?;
        let t = &mut self.table;
        for (region, types) in over.sagemaker_hosting {
            t.sagemaker_hosting.entry(region).or_default().extend(types);
        }
        t.kms_key_month.extend(over.kms_key_month);
        t.cloudwatch_alarm_month.extend(over.cloudwatch_alarm_month);
        t.cloudwatch_alarm_high_resolution_month
            .extend(over.cloudwatch_alarm_high_resolution_month);
        t.cloudwatch_dashboard_month
            .extend(over.cloudwatch_dashboard_month);
        t.logs_ingestion_gb.extend(over.logs_ingestion_gb);
        t.logs_storage_gb_month.extend(over.logs_storage_gb_month);
        t.vpc_interface_endpoint_az_hour
            .extend(over.vpc_interface_endpoint_az_hour);
        let theirs = match &over.source {
            Some(s) => format!("{name} ({s})"),
            None => name.to_string(),
        };
        match over.date {
            Some(d) => {
                self.source = format!("{theirs}, over the table of {}: {}", self.date, self.source);
                self.date = d;
            }
            None => self.source = format!("{theirs}, over: {}", self.source),
        }
        Ok(self)
    }

    fn hosting(&self, region: &str, instance_type: &str) -> Option<f64> {
        [region, "*"]
            .iter()
            .find_map(|r| self.table.sagemaker_hosting.get(*r)?.get(instance_type))
            .copied()
    }
}

fn in_region(m: &ByRegion, region: &str) -> Option<f64> {
    m.get(region).or_else(|| m.get("*")).copied()
}

/// Parses and checks a price file: `FILE:LINE:COL: key: message` on an error.
fn parse(text: &str, name: &str) -> Result<PriceFile, String> {
    let (locator, _) = crate::spec::locate::scan(text);
    let at = |key: &str, msg: String| match locator.find(key) {
        Some((l, c)) => format!("{name}:{l}:{c}: {key}: {msg}"),
        None => format!("{name}: {key}: {msg}"),
    };
    let f: PriceFile = serde_yaml::from_str(text).map_err(|e| match e.location() {
        Some(l) => format!("{name}:{}:{}: {e}", l.line(), l.column()),
        None => format!("{name}: {e}"),
    })?;
    if let Some(c) = &f.currency {
        if c != "USD" {
            return Err(at(
                "currency",
                format!("`{c}`: only USD prices are supported"),
            ));
        }
    }
    if let Some(d) = &f.date {
        if chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").is_err() {
            return Err(at("date", format!("`{d}` is not a date (YYYY-MM-DD)")));
        }
    }
    let extra = std::env::var(crate::aws::regions::EXTRA_ENV).ok();
    let region_ok = |r: &str| r == "*" || crate::aws::regions::is_known(r, extra.as_deref());
    let price_ok = |key: String, v: f64| {
        if v.is_finite() && v >= 0.0 {
            Ok(())
        } else {
            Err(at(
                &key,
                format!("{v} is not a price (a number of USD, 0 or more)"),
            ))
        }
    };
    for (region, types) in &f.sagemaker_hosting {
        if !region_ok(region) {
            let key = format!("sagemaker_hosting.{region}");
            return Err(at(&key, format!("`{region}` is not an AWS region")));
        }
        for (t, v) in types {
            let key = format!("sagemaker_hosting.{region}.{t}");
            if !t.starts_with("ml.") {
                return Err(at(
                    &key,
                    format!("`{t}` is not a SageMaker instance type (ml.<family>.<size>)"),
                ));
            }
            price_ok(key, *v)?;
        }
    }
    let flat = [
        ("kms_key_month", &f.kms_key_month),
        ("cloudwatch_alarm_month", &f.cloudwatch_alarm_month),
        (
            "cloudwatch_alarm_high_resolution_month",
            &f.cloudwatch_alarm_high_resolution_month,
        ),
        ("cloudwatch_dashboard_month", &f.cloudwatch_dashboard_month),
        ("logs_ingestion_gb", &f.logs_ingestion_gb),
        ("logs_storage_gb_month", &f.logs_storage_gb_month),
        (
            "vpc_interface_endpoint_az_hour",
            &f.vpc_interface_endpoint_az_hour,
        ),
    ];
    for (section, m) in flat {
        for (region, v) in m {
            let key = format!("{section}.{region}");
            if !region_ok(region) {
                return Err(at(&key, format!("`{region}` is not an AWS region")));
            }
            price_ok(key, *v)?;
        }
    }
    Ok(f)
}

/// The estimate a plan carries (`Plan::cost`): the environment's monthly cost as it is live
/// (`monthly_before`) and as the spec wants it (`monthly_after`), in USD.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cost {
    pub currency: String,
    pub hours_per_month: f64,
    pub prices_date: String,
    pub prices_source: String,
    pub monthly_before: f64,
    pub monthly_after: f64,
    /// `monthly_after - monthly_before`.
    pub monthly_change: f64,
    /// `monthly_after` with every autoscaled endpoint at its maximum (when it differs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_after_ceiling: Option<f64>,
    /// What the table has no price for (`ml.foo.xlarge in eu-west-1`): left out of the totals.
    pub unpriced: Vec<String>,
    /// What is billed by usage the spec does not state, each with its address: not estimated.
    pub usage_based: Vec<String>,
    pub breakdown: Vec<Item>,
}

/// One priced item of one address.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub address: String,
    pub region: String,
    /// What is billed (`SageMaker hosting ml.g5.2xlarge`, `KMS key`, `CloudWatch alarm`).
    pub item: String,
    /// The unit the price is per (`instance-hour`, `key-month`, `alarm-month`, ...).
    pub unit: String,
    /// USD per unit; `null` when the table has none.
    pub unit_price: Option<f64>,
    /// How many (instances, keys, alarms) live and as the spec wants them.
    pub quantity_before: f64,
    pub quantity_after: f64,
    pub monthly_before: f64,
    pub monthly_after: f64,
    /// An autoscaled endpoint's monthly cost at its maximum instance count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monthly_after_ceiling: Option<f64>,
}

/// What one side (live or desired) of a change bills.
struct Billed {
    item: String,
    unit: &'static str,
    /// The unit price, and whether it is per hour (else per month).
    price: Option<(f64, bool)>,
    unpriced: String,
    quantity: f64,
    ceiling: Option<f64>,
}

/// The estimate for `plan` at `prices`.
pub fn estimate(plan: &Plan, prices: &Prices) -> Cost {
    let mut items: Vec<Item> = Vec::new();
    let mut unpriced: Vec<String> = Vec::new();
    let mut usage: Vec<String> = Vec::new();
    for c in &plan.changes {
        // A conflict's live resource is not the environment's; a delete wants nothing.
        let before = (c.action != Action::Conflict)
            .then_some(c.before.as_ref())
            .flatten();
        let after = (c.action != Action::Delete)
            .then_some(c.after.as_ref())
            .flatten();
        for (side, state) in [(0, before), (1, after)] {
            let Some(state) = state.filter(|s| s.is_object()) else {
                continue;
            };
            if let Some(u) = usage_based(c, state) {
                let u = format!("{u} ({})", c.address);
                if !usage.contains(&u) {
                    usage.push(u);
                }
            }
            let Some(b) = billed(c, state, prices) else {
                continue;
            };
            if b.price.is_none() && !unpriced.contains(&b.unpriced) {
                unpriced.push(b.unpriced.clone());
            }
            let i = match items
                .iter()
                .position(|i| i.address == c.address && i.item == b.item)
            {
                Some(i) => i,
                None => {
                    items.push(Item {
                        address: c.address.clone(),
                        region: c.region.clone(),
                        item: b.item.clone(),
                        unit: b.unit.to_string(),
                        unit_price: b.price.map(|p| p.0),
                        quantity_before: 0.0,
                        quantity_after: 0.0,
                        monthly_before: 0.0,
                        monthly_after: 0.0,
                        monthly_after_ceiling: None,
                    });
                    items.len() - 1
                }
            };
            let monthly = |q: f64| match b.price {
                Some((p, hourly)) => cents(q * p * if hourly { HOURS_PER_MONTH } else { 1.0 }),
                None => 0.0,
            };
            let it = &mut items[i];
            if side == 0 {
                it.quantity_before = b.quantity;
                it.monthly_before = monthly(b.quantity);
            } else {
                it.quantity_after = b.quantity;
                it.monthly_after = monthly(b.quantity);
                it.monthly_after_ceiling = b.ceiling.map(monthly);
            }
        }
    }
    unpriced.sort();
    usage.sort();
    let before = cents(items.iter().map(|i| i.monthly_before).sum());
    let after = cents(items.iter().map(|i| i.monthly_after).sum());
    let ceiling = cents(
        items
            .iter()
            .map(|i| i.monthly_after_ceiling.unwrap_or(i.monthly_after))
            .sum(),
    );
    Cost {
        currency: "USD".into(),
        hours_per_month: HOURS_PER_MONTH,
        prices_date: prices.date.clone(),
        prices_source: prices.source.clone(),
        monthly_before: before,
        monthly_after: after,
        monthly_change: cents(after - before),
        monthly_after_ceiling: (ceiling > after).then_some(ceiling),
        unpriced,
        usage_based: usage,
        breakdown: items,
    }
}

/// Rounded to cents (what the estimate shows and compares).
fn cents(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// What a resource's state bills at a fixed rate, if anything.
fn billed(c: &Change, s: &Value, prices: &Prices) -> Option<Billed> {
    let region = c.region.as_str();
    let t = &prices.table;
    match c.kind.as_str() {
        "sagemaker_endpoint" => {
            let ty = s.get("instance_type")?.as_str()?;
            let int = |k: &str| s.get(k).and_then(Value::as_i64);
            // The live (or, for a standby, held) capacity; else the config's count.
            let count = int("capacity").or_else(|| int("instance_count"))?.max(0) as f64;
            let scaling = s.get("autoscaling");
            let max = scaling
                .filter(|a| a.get("registered").and_then(Value::as_bool) == Some(true))
                .and_then(|a| a.get("max")?.as_i64())
                .map(|m| m as f64)
                .filter(|m| *m > count);
            Some(Billed {
                item: format!("SageMaker hosting {ty}"),
                unit: "instance-hour",
                price: prices.hosting(region, ty).map(|p| (p, true)),
                unpriced: format!("{ty} in {region}"),
                quantity: count,
                ceiling: max,
            })
        }
        "kms" => {
            // A key pending deletion is not billed.
            if s.get("key_state").and_then(Value::as_str) == Some("PendingDeletion") {
                return None;
            }
            Some(Billed {
                item: "KMS customer managed key".into(),
                unit: "key-month",
                price: in_region(&t.kms_key_month, region).map(|p| (p, false)),
                unpriced: format!("KMS keys in {region}"),
                quantity: 1.0,
                ceiling: None,
            })
        }
        "cloudwatch_alarm" => {
            let high = s
                .get("period")
                .and_then(Value::as_i64)
                .is_some_and(|p| p < 60);
            let (item, m) = match high {
                true => (
                    "CloudWatch alarm (high resolution)",
                    &t.cloudwatch_alarm_high_resolution_month,
                ),
                false => ("CloudWatch alarm", &t.cloudwatch_alarm_month),
            };
            Some(Billed {
                item: item.into(),
                unit: "alarm-month",
                price: in_region(m, region).map(|p| (p, false)),
                unpriced: format!("{item}s in {region}"),
                quantity: 1.0,
                ceiling: None,
            })
        }
        "cloudwatch_dashboard" => Some(Billed {
            item: "CloudWatch dashboard".into(),
            unit: "dashboard-month",
            price: in_region(&t.cloudwatch_dashboard_month, region).map(|p| (p, false)),
            unpriced: format!("CloudWatch dashboards in {region}"),
            quantity: 1.0,
            ceiling: None,
        }),
        "network" => {
            // Gateway endpoints (S3, DynamoDB) are free; an interface endpoint bills per AZ it
            // has a network interface in, that is per subnet it is attached to.
            let azs: usize = s
                .get("endpoints")?
                .as_object()?
                .values()
                .filter(|e| e.get("kind").and_then(Value::as_str) == Some("Interface"))
                .filter_map(|e| e.get("attached_to")?.as_array().map(Vec::len))
                .sum();
            (azs > 0).then(|| Billed {
                item: "VPC interface endpoint".into(),
                unit: "endpoint-AZ-hour",
                price: in_region(&t.vpc_interface_endpoint_az_hour, region).map(|p| (p, true)),
                unpriced: format!("VPC interface endpoints in {region}"),
                quantity: azs as f64,
                ceiling: None,
            })
        }
        _ => None,
    }
}

/// What a resource bills by usage the spec does not state.
fn usage_based(c: &Change, s: &Value) -> Option<&'static str> {
    match c.kind.as_str() {
        "log_group" => Some("CloudWatch Logs ingestion and storage"),
        "s3" => Some("S3 storage and requests"),
        "network" => Some("VPC endpoint data processing and flow-log delivery"),
        "cloudtrail" => {
            let data = s
                .get("event_selectors")?
                .as_array()?
                .iter()
                .filter_map(|sel| sel.get("data_resources")?.as_array())
                .any(|d| !d.is_empty());
            data.then_some("CloudTrail data events")
        }
        _ => None,
    }
}

impl Cost {
    /// The one line `plan` prints: `Cost: $A/month -> $B/month (+$C/month; ...)`.
    pub fn line(&self) -> String {
        let mut s = if self.monthly_before == self.monthly_after {
            format!("Cost: {}/month (no change", usd(self.monthly_after))
        } else {
            let sign = if self.monthly_change >= 0.0 { "+" } else { "-" };
            format!(
                "Cost: {}/month -> {}/month ({sign}{}/month",
                usd(self.monthly_before),
                usd(self.monthly_after),
                usd(self.monthly_change.abs())
            )
        };
        if let Some(c) = self.monthly_after_ceiling {
            s.push_str(&format!(
                "; up to {}/month at the autoscaling maximum",
                usd(c)
            ));
        }
        s.push_str(&format!("; prices of {}", self.prices_date));
        if !self.unpriced.is_empty() {
            s.push_str(&format!("; unpriced: {}", self.unpriced.join(", ")));
        }
        let mut kinds: Vec<&str> = Vec::new();
        for u in &self.usage_based {
            let k = u.split(" (").next().unwrap_or(u);
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
        if !kinds.is_empty() {
            s.push_str(&format!(
                "; usage-based, not estimated: {}",
                kinds.join(", ")
            ));
        }
        s.push(')');
        s
    }
}

/// `$1,234.50`.
pub fn usd(x: f64) -> String {
    let whole = format!("{:.2}", x.abs());
    let (int, frac) = whole.split_once('.').unwrap_or((&whole, "00"));
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if x < 0.0 && whole != "0.00" { "-" } else { "" };
    format!("{sign}${grouped}.{frac}")
}

#[cfg(test)]
mod tests;
