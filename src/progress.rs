//! What a person sees while a run works: on a terminal, one live line per
//! running resource with its elapsed time; otherwise, one plain line per
//! finished resource. Both end with the same summary.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use stack_engine::duration;
use stack_engine::execute::{Observer, Outcome, Report, ResourceReport};
use stack_engine::plan::{Action, Style};
use stack_engine::ResourceId;

pub struct Progress {
    style: Style,
    live: Option<MultiProgress>,
    bars: Mutex<HashMap<ResourceId, (ProgressBar, Action)>>,
    /// What has started and not finished, for the message on Ctrl-C.
    running: Mutex<std::collections::BTreeMap<ResourceId, Action>>,
}

impl Progress {
    /// A live view on a terminal, plain lines elsewhere.
    pub fn new(style: Style, terminal: bool) -> Progress {
        let live = terminal.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Progress {
            style,
            live,
            bars: Mutex::new(HashMap::new()),
            running: Mutex::default(),
        }
    }

    /// What is running now, as "deleting dev/namespace/apps".
    pub fn running(&self) -> Vec<String> {
        self.running
            .lock()
            .map(|r| {
                r.iter()
                    .map(|(id, action)| format!("{} {id}", verb(*action)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Says on Ctrl-C what the run waits for before it stops.
    pub fn interrupted(&self) {
        let running = self.running();
        let waiting = match running.len() {
            0 => "nothing is running".to_string(),
            1 => format!("waiting for 1 running resource ({})", running[0]),
            n => format!("waiting for {n} running resources ({})", running.join(", ")),
        };
        self.line(format!(
            "\nInterrupted: {waiting}; starting nothing new; the state is saved before exit."
        ));
    }

    fn line(&self, text: String) {
        match &self.live {
            Some(live) => {
                let _ = live.println(text);
            }
            None => eprintln!("{text}"),
        }
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Adopt => "adopting",
        Action::Update => "updating",
        Action::Replace => "replacing",
        Action::Delete => "deleting",
        Action::NoOp => "checking",
    }
}

impl Observer for Progress {
    fn started(&self, id: &ResourceId, action: Action) {
        if let Ok(mut running) = self.running.lock() {
            running.insert(id.clone(), action);
        }
        let Some(live) = &self.live else { return };
        let bar = live.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template("  {spinner} {msg} {elapsed:.dim}")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(format!("{} {id}", verb(action)));
        bar.enable_steady_tick(Duration::from_millis(120));
        if let Ok(mut bars) = self.bars.lock() {
            bars.insert(id.clone(), (bar, action));
        }
    }

    /// On a terminal, the running resource's line says what its provider
    /// is waiting for (`node group default: CREATING`); plain output stays
    /// one line per finished resource.
    fn progress(&self, id: &ResourceId, text: &str) {
        if let Some((bar, action)) = self.bars.lock().ok().and_then(|b| b.get(id).cloned()) {
            bar.set_message(format!("{} {id} — {}", verb(action), self.style.dim(text)));
        }
    }

    fn finished(&self, report: &ResourceReport) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&report.id);
        }
        if let Some((bar, _)) = self.bars.lock().ok().and_then(|mut b| b.remove(&report.id)) {
            bar.finish_and_clear();
            if let Some(live) = &self.live {
                live.remove(&bar);
            }
        }
        let s = self.style;
        let took = duration::elapsed(report.duration);
        let text = match &report.outcome {
            Outcome::Unchanged => return,
            Outcome::Created => format!(
                "  {} {} ({took}){}",
                s.green("created"),
                report.id,
                resolved(report, s)
            ),
            Outcome::Adopted => format!(
                "  {} {} ({took}){}",
                s.green("adopted"),
                report.id,
                resolved(report, s)
            ),
            Outcome::Updated => format!(
                "  {} {} ({took}){}",
                s.yellow("updated"),
                report.id,
                resolved(report, s)
            ),
            Outcome::Replaced => format!(
                "  {} {} ({took}){}",
                s.magenta("replaced"),
                report.id,
                resolved(report, s)
            ),
            Outcome::Deleted => format!("  {} {} ({took})", s.red("deleted"), report.id),
            Outcome::Failed(e) => format!(
                "  {} {}: {} ({took})",
                s.red("failed"),
                report.id,
                e.message()
            ),
            Outcome::Skipped { because } => format!(
                "  {} {} (needs {because}, which failed)",
                s.dim("skipped"),
                report.id
            ),
            Outcome::Cancelled => format!("  {} {}", s.dim("not started"), report.id),
        };
        self.line(text);
    }
}

/// The outputs that were `(known after apply)` in the plan, on lines below
/// the resource, for every kind: where a cluster's API is, a chart's
/// health and revision, the issuer of an identity provider. Empty, long (a
/// CA bundle), structured and secret values are left out.
fn resolved(report: &ResourceReport, s: Style) -> String {
    report
        .outputs
        .iter()
        .filter(|(name, _)| !report.kind.output(name).is_some_and(|o| o.secret))
        .filter_map(|(name, value)| {
            let value = match value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Number(_) | serde_json::Value::Bool(_) => value.to_string(),
                _ => return None,
            };
            (!value.is_empty()
                && value.len() <= SHOWN_OUTPUT_LENGTH
                && !value.contains('\n')
                && !stack_engine::value::is_hidden(&value))
            .then(|| format!("\n      {} = {value}", s.dim(name)))
        })
        .collect()
}

/// The longest output value shown after apply: a URL fits, a CA bundle does not.
const SHOWN_OUTPUT_LENGTH: usize = 120;

/// The closing summary of a run.
pub fn summary(report: &Report, style: Style) -> String {
    let n = |f: fn(&Outcome) -> bool| report.count(f);
    let created = n(|o| matches!(o, Outcome::Created));
    let updated = n(|o| matches!(o, Outcome::Updated));
    let replaced = n(|o| matches!(o, Outcome::Replaced));
    let deleted = n(|o| matches!(o, Outcome::Deleted));
    let unchanged = n(|o| matches!(o, Outcome::Unchanged));
    let failed = n(|o| matches!(o, Outcome::Failed(_)));
    let skipped = n(|o| matches!(o, Outcome::Skipped { .. }));
    let cancelled = n(|o| matches!(o, Outcome::Cancelled));
    let adopted = n(|o| matches!(o, Outcome::Adopted));
    let adopted = if adopted > 0 {
        format!(", {adopted} adopted")
    } else {
        String::new()
    };
    let mut text = format!(
        "{}: {created} created{adopted}, {updated} updated, {replaced} replaced, {deleted} deleted, {unchanged} unchanged, {failed} failed, {skipped} skipped",
        if report.cancelled {
            style.yellow("Interrupted")
        } else if report.failed() {
            style.red("Failed")
        } else {
            style.green("Done")
        }
    );
    if cancelled > 0 {
        text.push_str(&format!(", {cancelled} not started"));
    }
    text.push_str(&format!(" in {}.", duration::elapsed(report.elapsed)));
    text
}
