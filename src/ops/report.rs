//! `report`: the evidence report from live reads (see [`crate::compliance::report`]).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::compliance::report;
use crate::ops::check::{live_of, write_out};
use crate::ops::options::GlobalOptions;
use crate::ops::session::{self, Session};
use crate::ops::Failure;
use crate::shell::Shell;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Md,
    Html,
    Json,
}

pub struct Options {
    pub format: Format,
    pub out: Option<PathBuf>,
    pub parallelism: usize,
    /// How many audit records the run history shows.
    pub history: usize,
}

pub async fn report(g: &GlobalOptions, o: &Options, sh: &Shell) -> Result<ExitCode, Failure> {
    let spec_file = session::spec_path(g)?.display().to_string();
    let s = Session::connect(g, sh).await?;
    let started = crate::state::now_rfc3339();
    let obs = s
        .observe(o.parallelism, crate::discovery::Mode::Off)
        .await?;
    let (eval, missing) = live_of(&s, &obs, &spec_file, sh)?;
    let finished = crate::state::now_rfc3339();
    let drill = match s.state.get_doc("last-drill").await {
        Ok(d) => d,
        Err(e) => {
            sh.warn(&format!("the last drill report could not be read: {e}"));
            None
        }
    };
    let history = match s.state.audit_list(o.history).await {
        Ok(h) => h,
        Err(e) => {
            sh.warn(&format!("the run history could not be read: {e}"));
            Vec::new()
        }
    };
    let calls = s.aws.stats.calls();
    let networks = crate::compliance::report_network::section(&s.model, &obs, &calls);
    let cx = report::Context {
        region: s.model.spec.spec.region.clone(),
        generated_at: crate::state::now_rfc3339(),
        read_started: started,
        read_finished: finished,
        calls,
        missing,
        drill,
        history,
        networks,
    };
    let m = report::model(&eval, &cx);
    let text = match o.format {
        Format::Md => report::markdown(&m),
        Format::Html => report::html(&m),
        Format::Json => serde_json::to_string_pretty(&m).expect("JSON"),
    };
    write_out(&o.out, &text, sh)?;
    sh.status(&s.aws.summary());
    Ok(ExitCode::SUCCESS)
}
