//! Traces to replay, in Mooncake's JSONL format: one request per line, with `timestamp` (ms,
//! from any origin, never going back), `input_length` and `output_length` (tokens) and
//! `hash_ids` (the prompt's blocks, each standing for a fixed number of tokens; equal ids are
//! equal blocks, so the requests that share a prefix of ids share that prefix of their
//! prompts). Every line is checked; an error names the file, the line and the field.

use serde_json::Value;
use std::time::Duration;

/// Most requests a trace may hold.
pub const MAX_LINES: usize = 1_000_000;

/// One request of a trace.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceLine {
    /// When it arrives, from the first request's arrival.
    pub at: Duration,
    /// Prompt tokens.
    pub input_length: u32,
    /// Output tokens.
    pub output_length: u32,
    /// The prompt's blocks, in order.
    pub hash_ids: Vec<u64>,
}

/// The requests of the trace `text` (named `name` in messages), in order.
pub fn parse(name: &str, text: &str) -> Result<Vec<TraceLine>, String> {
    let mut out: Vec<TraceLine> = Vec::new();
    let (mut first, mut last) = (None::<f64>, f64::NEG_INFINITY);
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if out.len() == MAX_LINES {
            return Err(format!(
                "{name}: more than {MAX_LINES} requests; replay a part of it"
            ));
        }
        let at = |m: String| format!("{name} line {n}: {m}");
        let v: Value = serde_json::from_str(line).map_err(|e| at(format!("not JSON ({e})")))?;
        let Value::Object(m) = v else {
            return Err(at("not a JSON object".into()));
        };
        let ts = m
            .get("timestamp")
            .and_then(Value::as_f64)
            .filter(|t| t.is_finite() && *t >= 0.0)
            .ok_or_else(|| at("timestamp: missing, or not a number of ms at or above 0".into()))?;
        if ts < last {
            return Err(at(format!(
                "timestamp {ts} is before the line before's {last}: a trace's times never go back"
            )));
        }
        last = ts;
        let t0 = *first.get_or_insert(ts);
        let length = |key: &str| {
            m.get(key)
                .and_then(Value::as_u64)
                .and_then(|v| u32::try_from(v).ok())
                .filter(|v| *v >= 1)
                .ok_or_else(|| {
                    at(format!(
                        "{key}: missing, or not a whole number of tokens above 0"
                    ))
                })
        };
        let (input_length, output_length) = (length("input_length")?, length("output_length")?);
        let hash_ids = match m.get("hash_ids") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(ids)) => ids
                .iter()
                .map(Value::as_u64)
                .collect::<Option<Vec<u64>>>()
                .ok_or_else(|| at("hash_ids: not a list of whole numbers".into()))?,
            Some(_) => return Err(at("hash_ids: not a list of whole numbers".into())),
        };
        out.push(TraceLine {
            at: Duration::from_secs_f64((ts - t0) / 1e3),
            input_length,
            output_length,
            hash_ids,
        });
    }
    if out.is_empty() {
        return Err(format!("{name}: holds no requests"));
    }
    Ok(out)
}

/// Replay: request `i` (template `i`) is due at `offsets[i] / speed` from the point's start,
/// for every offset (up to `requests`, and no request due after `duration`), at most
/// `max_concurrency` in flight. Returns the records, in trace order.
pub(super) async fn replay(
    w: &super::runner::Workload,
    offsets: &[Duration],
    spec: &super::runner::PointSpec,
    clock: super::client::Clock,
    speed: f64,
    last: &super::runner::LastSent,
) -> Vec<llms_shared::RequestRecord> {
    let at: Vec<Duration> = offsets.iter().map(|a| a.div_f64(speed.max(1e-9))).collect();
    let due_rx =
        match super::runner::pace(at.into_iter(), spec.requests, spec.duration, clock.epoch) {
            Ok(rx) => rx,
            Err(why) => return vec![super::runner::internal(String::new(), why)],
        };
    super::runner::arrivals(due_rx, spec, last, |i, due| {
        let w = w.clone();
        async move { vec![(i, w.send_template(i, clock, due).await)] }
    })
    .await
    .0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mooncake_trace_parses_with_times_from_its_first_request() {
        let t = "{\"timestamp\": 1000, \"input_length\": 600, \"output_length\": 20, \"hash_ids\": [0, 1]}\n\
                 \n\
                 {\"timestamp\": 1250.5, \"input_length\": 40, \"output_length\": 3}\n\
                 {\"timestamp\": 1250.5, \"input_length\": 513, \"output_length\": 1, \"hash_ids\": [0, 2]}\n";
        let v = parse("t.jsonl", t).unwrap();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].at, Duration::ZERO);
        assert_eq!(v[1].at, Duration::from_secs_f64(0.2505));
        assert_eq!((v[2].input_length, v[2].output_length), (513, 1));
        assert_eq!(
            (v[0].hash_ids.clone(), v[1].hash_ids.clone()),
            (vec![0, 1], vec![])
        );
    }

    #[test]
    fn bad_lines_are_named_by_file_line_and_field() {
        let ok = "{\"timestamp\": 5, \"input_length\": 4, \"output_length\": 2}\n";
        for (bad, want) in [
            ("not json", "t.jsonl line 2: not JSON"),
            ("[1, 2]", "t.jsonl line 2: not a JSON object"),
            (
                "{\"input_length\": 4, \"output_length\": 2}",
                "t.jsonl line 2: timestamp: missing",
            ),
            (
                "{\"timestamp\": 4, \"input_length\": 4, \"output_length\": 2}",
                "t.jsonl line 2: timestamp 4 is before the line before's 5",
            ),
            (
                "{\"timestamp\": 6, \"input_length\": 0, \"output_length\": 2}",
                "t.jsonl line 2: input_length: missing, or not a whole number",
            ),
            (
                "{\"timestamp\": 6, \"input_length\": 4, \"output_length\": -2}",
                "t.jsonl line 2: output_length: missing",
            ),
            (
                "{\"timestamp\": 6, \"input_length\": 4, \"output_length\": 2, \"hash_ids\": [1, \"x\"]}",
                "t.jsonl line 2: hash_ids: not a list of whole numbers",
            ),
        ] {
            let e = parse("t.jsonl", &format!("{ok}{bad}\n")).unwrap_err();
            assert!(e.starts_with(want), "{e}");
        }
        assert_eq!(
            parse("t.jsonl", "\n \n").unwrap_err(),
            "t.jsonl: holds no requests"
        );
    }
}
