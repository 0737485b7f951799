//! The AWS regions novactl knows, to refuse a misspelt region before any call is made (a
//! region that does not exist otherwise shows up as a DNS failure deep inside the first call).
//!
//! The list is the SDK's own partition data (aws-sdk-sts 1.124: aws, aws-cn, aws-us-gov,
//! aws-eusc, aws-iso*). A region newer than this build can be allowed with
//! `NOVACTL_EXTRA_REGIONS=r1,r2`. The check holds with an endpoint override too (an
//! emulator, a VPC endpoint): a misspelt region is a typo there as well, and the variable is
//! the escape for a name only such an endpoint knows.

pub const KNOWN: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "cn-north-1",
    "cn-northwest-1",
    "us-gov-east-1",
    "us-gov-west-1",
    "eusc-de-east-1",
    "us-iso-east-1",
    "us-iso-west-1",
    "us-isob-east-1",
    "us-isob-west-1",
    "eu-isoe-west-1",
    "us-isof-east-1",
    "us-isof-south-1",
];

pub const EXTRA_ENV: &str = "NOVACTL_EXTRA_REGIONS";

pub fn is_known(region: &str, extra: Option<&str>) -> bool {
    KNOWN.contains(&region)
        || extra.is_some_and(|e| e.split(',').map(str::trim).any(|r| r == region))
}

/// Why `region` is refused (with the nearest known names), or `None` when it is known.
pub fn check(region: &str, extra: Option<&str>) -> Option<String> {
    if is_known(region, extra) {
        return None;
    }
    let mut near: Vec<(usize, &str)> = KNOWN
        .iter()
        .map(|k| (strsim::levenshtein(region, k), *k))
        .filter(|(d, _)| *d <= 3)
        .collect();
    near.sort();
    let suggestion = match near.first() {
        Some((d, _)) => {
            let best: Vec<&str> = near
                .iter()
                .filter(|(x, _)| x == d)
                .map(|(_, k)| *k)
                .collect();
            format!("did you mean {}? ", best.join(" or "))
        }
        None => String::new(),
    };
    Some(format!(
        "`{region}` is not an AWS region; {suggestion}(a region newer than this novactl can be \
         allowed with {EXTRA_ENV}={region})"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_unknown_and_allowed_regions() {
        assert_eq!(check("us-east-1", None), None);
        assert_eq!(check("eusc-de-east-1", None), None);
        let e = check("us-esat-1", None).expect("misspelt");
        assert!(e.contains("did you mean us-east-1"), "{e}");
        let e = check("us-east-7", None).expect("no such region");
        assert!(e.contains("us-east-1 or us-east-2"), "{e}");
        let e = check("mars-north-9", None).expect("far from all");
        assert!(!e.contains("did you mean"), "{e}");
        assert!(e.contains("NOVACTL_EXTRA_REGIONS=mars-north-9"), "{e}");
        assert_eq!(check("ap-southeast-9", Some("x-1, ap-southeast-9")), None);
    }
}
