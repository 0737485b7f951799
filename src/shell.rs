//! The one place novactl writes to the terminal: data (plans, reports, JSON) on stdout,
//! everything for humans (progress, warnings, errors, summaries) on stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use console::Style;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Shell {
    pub quiet: bool,
    pub verbose: u8,
    stderr_tty: bool,
    multi: MultiProgress,
    lock: Mutex<()>,
    /// (address, outcome, time) of every finished task, for the closing summary table.
    finished: Mutex<Vec<(String, String, Duration)>>,
}

/// `4.2s`, or `1m02s` from a minute on: the one clock format of progress lines and summaries.
pub fn clock(d: Duration) -> String {
    let secs = d.as_secs();
    if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

impl Shell {
    pub fn new(quiet: bool, verbose: u8, no_color: bool) -> Shell {
        let allowed = color_allowed(no_color);
        console::set_colors_enabled(allowed && std::io::stdout().is_terminal());
        console::set_colors_enabled_stderr(allowed && std::io::stderr().is_terminal());
        // A dumb terminal cannot redraw a line: it gets plain lines, like a pipe.
        let stderr_tty = std::io::stderr().is_terminal() && !dumb_terminal();
        let multi = if stderr_tty && !quiet {
            MultiProgress::with_draw_target(ProgressDrawTarget::stderr())
        } else {
            MultiProgress::with_draw_target(ProgressDrawTarget::hidden())
        };
        Shell {
            quiet,
            verbose,
            stderr_tty,
            multi,
            lock: Mutex::new(()),
            finished: Mutex::new(Vec::new()),
        }
    }

    /// Data for stdout (a plan, a report, JSON). Never suppressed by `-q`.
    pub fn out(&self, text: &str) {
        let text = &*crate::redact::scrub(text);
        let _g = self.lock.lock();
        let mut o = std::io::stdout().lock();
        let _ = o.write_all(text.as_bytes());
        if !text.ends_with('\n') {
            let _ = o.write_all(b"\n");
        }
        let _ = o.flush();
    }

    /// A status line for humans on stderr; `-q` hides it.
    pub fn status(&self, text: &str) {
        if !self.quiet {
            self.err_line(text);
        }
    }

    /// A closing summary for humans on stderr; shown with `-q` too.
    pub fn summary(&self, text: &str) {
        self.err_line(text);
    }

    pub fn warn(&self, text: &str) {
        self.err_line(&format!("{} {text}", self.yellow("warning:")));
    }

    pub fn error(&self, text: &str) {
        self.err_line(&format!("{} {text}", self.red("error:")));
    }

    /// A line on stderr that `-q` does not hide (what an interrupt is doing).
    pub fn notice(&self, text: &str) {
        self.err_line(text);
    }

    pub fn stderr_is_terminal(&self) -> bool {
        self.stderr_tty
    }

    fn err_line(&self, text: &str) {
        let text = &*crate::redact::scrub(text);
        let _g = self.lock.lock();
        let _ = self.multi.suspend(|| writeln!(std::io::stderr(), "{text}"));
    }

    /// Colours on stderr: a terminal, and neither `--no-color` nor `NO_COLOR`.
    pub fn stderr_colors(&self) -> bool {
        self.stderr_tty && console::colors_enabled_stderr()
    }

    pub fn stdin_is_terminal(&self) -> bool {
        std::io::stdin().is_terminal()
    }

    /// Asks on stderr and reads one line from stdin; `None` when an interrupt asks to stop
    /// first. The time spent here is not counted in the run's timings.
    pub async fn ask(&self, question: &str) -> Option<String> {
        let asked = Instant::now();
        let answer = self.read_answer(question).await;
        crate::clock::add_prompt_time(asked.elapsed());
        answer
    }

    /// The prompt itself (the read is left to a thread that dies with the process). It waits
    /// without holding the runtime's one thread, so that the signal listener and the state
    /// lock's lease renewal go on meanwhile.
    async fn read_answer(&self, question: &str) -> Option<String> {
        let _ = write!(std::io::stderr(), "{question} ");
        let _ = std::io::stderr().flush();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            let _ = tx.send(line);
        });
        loop {
            match rx.try_recv() {
                Ok(line) => {
                    // Ctrl-C on a terminal also ends the read (with nothing read): give the
                    // signal a moment to arrive before taking that as an answer.
                    if line.is_empty() {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    if crate::interrupt::stopping() {
                        let _ = writeln!(std::io::stderr());
                        return None;
                    }
                    return Some(line.trim().to_string());
                }
                Err(std::sync::mpsc::TryRecvError::Empty) if !crate::interrupt::stopping() => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(_) => {
                    let _ = writeln!(std::io::stderr());
                    return None;
                }
            }
        }
    }

    /// (address, outcome, time) of every task finished so far, in the order they finished.
    pub fn finished(&self) -> Vec<(String, String, Duration)> {
        self.finished.lock().map(|f| f.clone()).unwrap_or_default()
    }

    /// Progress for one resource (`address`, shown as `label`): a spinner line with one clock
    /// on a terminal, a line when it starts and one when it ends otherwise; `-q` shows neither.
    pub fn task(&self, address: &str, label: &str) -> Task<'_> {
        let bar = if self.stderr_tty && !self.quiet {
            let pb = self.multi.add(ProgressBar::new_spinner());
            pb.set_style(
                ProgressStyle::with_template("{spinner} {msg} {clock}")
                    .map(|s| {
                        s.with_key(
                            "clock",
                            |st: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                                let _ = write!(w, "{}", clock(st.elapsed()));
                            },
                        )
                    })
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            pb.enable_steady_tick(Duration::from_millis(120));
            pb.set_message(label.to_string());
            Some(pb)
        } else {
            self.status(&format!("{label} ..."));
            None
        };
        Task {
            shell: self,
            bar,
            address: address.to_string(),
            label: label.to_string(),
            started: Instant::now(),
        }
    }

    fn paint(&self, s: &str, style: Style) -> String {
        style.apply_to(s).to_string()
    }
    pub fn green(&self, s: &str) -> String {
        self.paint(s, Style::new().green())
    }
    pub fn red(&self, s: &str) -> String {
        self.paint(s, Style::new().red())
    }
    pub fn yellow(&self, s: &str) -> String {
        self.paint(s, Style::new().yellow())
    }
    pub fn bold(&self, s: &str) -> String {
        self.paint(s, Style::new().bold())
    }
}

/// Colours may be used (on a terminal): not with `--no-color`, a non-empty `NO_COLOR`, or
/// `TERM=dumb`. Clap's own messages (usage errors, help) follow the same rule.
pub fn color_allowed(no_color_flag: bool) -> bool {
    !no_color_flag && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && !dumb_terminal()
}

fn dumb_terminal() -> bool {
    std::env::var_os("TERM").is_some_and(|t| t == "dumb")
}

pub struct Task<'a> {
    shell: &'a Shell,
    bar: Option<ProgressBar>,
    address: String,
    label: String,
    started: Instant,
}

impl Task<'_> {
    /// Updates the progress line's status (e.g. the endpoint's while waiting); the task's own
    /// clock is the only time shown.
    pub fn set_message(&self, msg: &str) {
        if let Some(b) = &self.bar {
            b.set_message(crate::redact::scrub(&format!("{}: {msg}", self.label)).into_owned());
        } else if self.shell.verbose > 0 {
            self.shell.status(&format!(
                "{}: {msg} [{}]",
                self.label,
                clock(self.started.elapsed())
            ));
        }
    }

    pub fn finish(mut self, outcome: &str) {
        let took = self.started.elapsed();
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        self.shell
            .status(&format!("{}: {outcome} in {}", self.label, clock(took)));
        if let Ok(mut f) = self.shell.finished.lock() {
            f.push((self.address.clone(), outcome.to_string(), took));
        }
    }
}

impl Drop for Task<'_> {
    /// A task dropped unfinished (an aborted run) leaves no spinner behind.
    fn drop(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

/// The plan's text view paints with the shell's colours.
impl crate::plan::render::Paint for Shell {
    fn green(&self, s: &str) -> String {
        Shell::green(self, s)
    }
    fn red(&self, s: &str) -> String {
        Shell::red(self, s)
    }
    fn yellow(&self, s: &str) -> String {
        Shell::yellow(self, s)
    }
    fn bold(&self, s: &str) -> String {
        Shell::bold(self, s)
    }
}
