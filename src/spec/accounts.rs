//! Offline checks of `aws:` and `state.s3.assume_role` (no AWS call): the role ARN's shape,
//! the session name's characters and length, the duration's range.

use super::model::AssumeRole;
use super::{LoadedSpec, SpecErrors};

/// STS's limits on a session: `[\w+=,.@-]{2,64}`, 900 to 43200 seconds.
const SESSION_NAME_MAX: usize = 64;
pub const DURATION_RANGE: std::ops::RangeInclusive<i32> = 900..=43_200;

/// Pushes every problem of the spec's `aws:` and `state.s3.assume_role` onto `errs`.
pub fn check(spec: &LoadedSpec, errs: &mut SpecErrors) {
    let s = &spec.spec;
    if let Some(aws) = &s.aws {
        if let Some(p) = &aws.profile {
            if p.trim().is_empty() || p.chars().any(char::is_whitespace) {
                errs.push(spec.error(
                    "aws.profile",
                    "must be a profile name of the AWS config (no spaces)",
                ));
            }
        }
        if let Some(r) = &aws.assume_role {
            check_role(spec, "aws.assume_role", r, errs);
            let role_acct = role_arn_problem(&r.role_arn)
                .ok()
                .and(role_account(&r.role_arn));
            if let (Some(want), Some(got)) = (&s.account_id, role_acct) {
                if want != got {
                    errs.push(spec.error(
                        "aws.assume_role.role_arn",
                        format!(
                            "the role is in account {got}, but `account_id` is {want}: the run \
                             would work in the role's account"
                        ),
                    ));
                }
            }
        }
    }
    if let Some(r) = s
        .state
        .as_ref()
        .and_then(|st| st.s3.as_ref())
        .and_then(|s3| s3.assume_role.as_ref())
    {
        check_role(spec, "state.s3.assume_role", r, errs);
    }
}

fn check_role(spec: &LoadedSpec, at: &str, r: &AssumeRole, errs: &mut SpecErrors) {
    if let Err(why) = role_arn_problem(&r.role_arn) {
        errs.push(spec.error(
            &format!("{at}.role_arn"),
            format!(
                "`{}` is not an IAM role ARN ({why}; e.g. \
                 arn:aws:iam::123456789012:role/novactl-deployer)",
                r.role_arn
            ),
        ));
    }
    if let Some(n) = &r.session_name {
        if !session_name_ok(n) {
            errs.push(spec.error(
                &format!("{at}.session_name"),
                format!(
                    "`{n}` is not a session name STS accepts (2 to {SESSION_NAME_MAX} letters, \
                     digits and + = , . @ _ -)"
                ),
            ));
        }
    }
    if let Some(e) = &r.external_id {
        let ok = (2..=1224).contains(&e.len())
            && e.chars()
                .all(|c| c.is_ascii_alphanumeric() || "+=,.@:/-_".contains(c));
        if !ok {
            errs.push(spec.error(
                &format!("{at}.external_id"),
                "must be 2 to 1224 letters, digits and + = , . @ : / - _",
            ));
        }
    }
    if let Some(d) = r.duration_seconds {
        if !DURATION_RANGE.contains(&d) {
            errs.push(spec.error(
                &format!("{at}.duration_seconds"),
                format!(
                    "{d} is out of range: STS grants {} to {} seconds (and no more than the \
                     role's maximum session duration)",
                    DURATION_RANGE.start(),
                    DURATION_RANGE.end()
                ),
            ));
        }
    }
}

/// `Err(why)` unless `arn` is `arn:<partition>:iam::<12 digits>:role/<name>`.
pub fn role_arn_problem(arn: &str) -> Result<(), &'static str> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6 || parts[0] != "arn" {
        return Err("it must start with arn: and have six :-separated parts");
    }
    if !matches!(
        parts[1],
        "aws" | "aws-us-gov" | "aws-cn" | "aws-iso" | "aws-iso-b"
    ) {
        return Err("unknown partition");
    }
    if parts[2] != "iam" || !parts[3].is_empty() {
        return Err("the service must be iam, with no region");
    }
    if parts[4].len() != 12 || !parts[4].chars().all(|c| c.is_ascii_digit()) {
        return Err("the account must be 12 digits");
    }
    let Some(name) = parts[5].strip_prefix("role/") else {
        return Err("the resource must be role/<name>");
    };
    let last = name.rsplit('/').next().unwrap_or_default();
    let ok = !last.is_empty()
        && last.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-/".contains(c));
    if !ok {
        return Err("the role name must be 1 to 64 letters, digits and + = , . @ _ -");
    }
    Ok(())
}

/// The account id of a role ARN already checked by [`role_arn_problem`].
pub fn role_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4)
}

pub fn session_name_ok(n: &str) -> bool {
    (2..=SESSION_NAME_MAX).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || "+=,.@_-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert!(role_arn_problem("arn:aws:iam::123456789012:role/deployer").is_ok());
        assert!(role_arn_problem("arn:aws-us-gov:iam::123456789012:role/a/b/deployer").is_ok());
        assert!(role_arn_problem("arn:aws:iam::12345678901:role/x").is_err());
        assert!(role_arn_problem("arn:aws:iam::123456789012:user/x").is_err());
        assert!(role_arn_problem("arn:aws:sts::123456789012:role/x").is_err());
        assert!(role_arn_problem("arn:aws:iam:us-east-1:123456789012:role/x").is_err());
        assert!(role_arn_problem("deployer").is_err());
        assert!(role_arn_problem("arn:aws:iam::123456789012:role/").is_err());
        assert_eq!(
            role_account("arn:aws:iam::123456789012:role/x"),
            Some("123456789012")
        );
    }

    #[test]
    fn session_names() {
        assert!(session_name_ok("novactl-3f2a"));
        assert!(!session_name_ok("a"));
        assert!(!session_name_ok("has space"));
        assert!(!session_name_ok(&"x".repeat(65)));
    }
}
