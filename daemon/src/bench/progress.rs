//! `llmsd bench`'s progress line while a point runs, on a terminal only (indicatif draws
//! nothing when stderr is not one, and nothing with `--quiet`): requests done, failed and in
//! flight, output tokens/s, TTFT p50 so far, and the point's ETA.

use super::PointStop;
use crate::loadgen::live::{Live, LiveSnapshot};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the line is redrawn.
const TICK: Duration = Duration::from_millis(200);

/// The line's text after the bar: `12 done, 0 failed, 4 in flight, 532 tok/s, TTFT p50 41.2 ms`.
pub fn line(s: &LiveSnapshot, elapsed_s: f64) -> String {
    let rate = match elapsed_s > 0.0 {
        true => s.tokens as f64 / elapsed_s,
        false => 0.0,
    };
    let ttft = s.ttft_ms.map_or("-".to_owned(), |(p50, _)| {
        format!("{} ms", super::table::num(p50))
    });
    format!(
        "{} done, {} failed, {} in flight, {rate:.0} tok/s, TTFT p50 {ttft}",
        s.done - s.failed,
        s.failed,
        s.in_flight
    )
}

/// One point's line; cleared when dropped.
pub struct PointLine {
    bar: ProgressBar,
    task: tokio::task::JoinHandle<()>,
}

impl PointLine {
    /// Start following `live` for a point named `label` that stops at `stop`; `quiet`: draw
    /// nothing.
    pub fn start(label: String, stop: PointStop, live: Arc<Live>, quiet: bool) -> PointLine {
        let target = match quiet {
            true => ProgressDrawTarget::hidden(),
            false => ProgressDrawTarget::stderr(),
        };
        let (len, by_time) = match stop {
            PointStop::Requests(n) => (n, false),
            PointStop::Duration(d) => (d.as_millis() as u64, true),
        };
        let bar = ProgressBar::with_draw_target(Some(len), target);
        // The message fills what is left of the line and is cut there: no wrapping at 80.
        let template = "{prefix} [{bar:12}] ETA {eta:>3} {wide_msg}";
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label);
        let b = bar.clone();
        let task = tokio::spawn(async move {
            // The clock starts with the first measured request (the warm-up comes before).
            let mut t0: Option<Instant> = None;
            let mut tick = tokio::time::interval(TICK);
            loop {
                tick.tick().await;
                let s = live.snapshot();
                if t0.is_none() && s.in_flight + s.done > 0 {
                    t0 = Some(Instant::now());
                }
                let elapsed = t0.map_or(0.0, |t| t.elapsed().as_secs_f64());
                b.set_position(match by_time {
                    true => ((elapsed * 1000.0) as u64).min(len),
                    false => s.done.min(len),
                });
                b.set_message(line(&s, elapsed));
            }
        });
        PointLine { bar, task }
    }
}

impl Drop for PointLine {
    fn drop(&mut self) {
        self.task.abort();
        self.bar.finish_and_clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_says_done_failed_in_flight_rate_and_ttft() {
        let s = LiveSnapshot {
            tokens: 1064,
            done: 13,
            failed: 1,
            in_flight: 4,
            ttft_ms: Some((41.23, 90.0)),
            ..LiveSnapshot::default()
        };
        assert_eq!(
            line(&s, 2.0),
            "12 done, 1 failed, 4 in flight, 532 tok/s, TTFT p50 41.2 ms"
        );
        let none = LiveSnapshot::default();
        assert_eq!(
            line(&none, 0.0),
            "0 done, 0 failed, 0 in flight, 0 tok/s, TTFT p50 -"
        );
    }
}
