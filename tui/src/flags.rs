//! What a point's validity flags mean, in a sentence each, for the dashboard's point view
//! and the command line.

/// The meaning of a flag the daemon sets on a point (see `PointResult::flags`); an unknown
/// flag (from a newer daemon) says so.
pub fn meaning(flag: &str) -> &'static str {
    match flag {
        "client_bound" => {
            "the load generator could not keep up (scheduling lag p99 over 1 ms, or its CPU \
             saturated): the figures describe the client more than the engine"
        }
        "load_not_achieved" => {
            "the load really put on the engine was more than 5 % off the load set \
             (requests in flight, or the rate sent against the schedule)"
        }
        "tokens_estimated" => {
            "the engine reported no token counts: tokens were counted from the streamed \
             events, an estimate"
        }
        "input_tokens_unknown" => "the engine reported no prompt token counts",
        "output_tokens_mismatch" => {
            "some requests got a different number of output tokens than asked for \
             (ignore_eos not honoured?)"
        }
        "input_tokens_mismatch" => {
            "some prompts were not the length asked for once the engine tokenized them"
        }
        "error_rate_exceeded" => "more requests failed than the sweep's max_error_rate allows",
        "server_count_mismatch" => {
            "the engine's own token counters disagree with what the client received"
        }
        "engine_restarted" => {
            "the engine restarted during the point (its counters went back): its figures \
             mix two processes"
        }
        "prefix_cache_hits" => {
            "the engine served prompt tokens from its prefix cache beyond the shared \
             prefix: prompts were not as unique as meant"
        }
        "point_cut" => {
            "requests still running after the last was sent hit their timeout: the point \
             was cut short and they count as failed"
        }
        _ => "a flag this llms does not know (a newer llmsd?)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_the_daemon_sets_has_a_meaning() {
        let unknown = meaning("no_such_flag");
        for f in [
            "client_bound",
            "load_not_achieved",
            "tokens_estimated",
            "input_tokens_unknown",
            "output_tokens_mismatch",
            "input_tokens_mismatch",
            "error_rate_exceeded",
            "server_count_mismatch",
            "engine_restarted",
            "prefix_cache_hits",
            "point_cut",
        ] {
            assert_ne!(meaning(f), unknown, "{f}");
        }
    }
}
