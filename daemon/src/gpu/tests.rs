//! The handle with the fake source. Timeouts are failure guards only; nothing asserts speed.
#![allow(clippy::unwrap_used)]

use super::fake::PROCESS_BYTES;
use super::sampler::RING_MAX_ROUNDS;
use super::*;

const GUARD: Duration = Duration::from_secs(20);

fn fake(gpus: u32) -> (GpuHandle, CancellationToken) {
    let cancel = CancellationToken::new();
    (
        spawn(Some(Box::new(FakeSource::new(gpus))), cancel.clone()),
        cancel,
    )
}

fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[tokio::test]
async fn rounds_advance() {
    let (gpu, cancel) = fake(2);
    assert_eq!(gpu.count(), 2);
    assert_eq!(gpu.latest().len(), 2);
    let mut rounds = gpu.subscribe();
    let first = *rounds.borrow_and_update();
    assert!(first >= 1);
    let _meter = gpu.begin_point(None, vec![]);
    for _ in 0..3 {
        tokio::time::timeout(GUARD, rounds.changed())
            .await
            .unwrap()
            .unwrap();
    }
    let now = *rounds.borrow();
    assert!(now >= first + 3);
    // Round `now` and any taken since: one sample per GPU each.
    let newest = gpu.since(now - 1);
    let after = *rounds.borrow();
    assert!(newest.len() >= 2 && newest.len() as u64 <= 2 * (after - now + 1));
    assert!(gpu.since(u64::MAX).is_empty());
    cancel.cancel();
}

#[tokio::test]
async fn ring_is_bounded() {
    let (gpu, cancel) = fake(1);
    // Each call takes a round; far more rounds than the ring holds.
    for _ in 0..RING_MAX_ROUNDS + 100 {
        gpu.pids_holding_memory(vec![]).await;
    }
    // At most the ring's rounds (exactly so unless this took over a minute).
    let all = gpu.since(0);
    assert!(
        all.len() <= RING_MAX_ROUNDS && all.len() > 100,
        "{}",
        all.len()
    );
    let n = *gpu.subscribe().borrow();
    assert!(n > RING_MAX_ROUNDS as u64 + 100);
    cancel.cancel();
}

#[tokio::test]
async fn short_point_has_two_rounds_and_figures() {
    let (gpu, cancel) = fake(2);
    let meter = gpu.begin_point(None, vec![]);
    let (fig, samples) = gpu.end_point(meter, 100);
    let fig = fig.unwrap();
    assert!(fig.samples >= 2, "{fig:?}");
    assert_eq!(samples.len(), 2 * fig.samples as usize);
    assert_eq!(fig.gpus.len(), 2);
    for g in &fig.gpus {
        // No idle power was measured on purpose: no idle share, however idle the round
        // taken at spawn was.
        assert_eq!(g.idle_power_w, None, "{g:?}");
        assert!(
            g.energy_j.is_some() && g.energy_above_idle_j.is_none(),
            "{g:?}"
        );
        assert!(g.mean_power_w.is_some() && g.peak_mem_used.is_some());
        assert_eq!(g.engine_mem_peak, None);
    }
    cancel.cancel();
}

#[tokio::test]
async fn point_on_some_gpus_only() {
    let (gpu, cancel) = fake(3);
    let meter = gpu.begin_point(Some(vec![1]), vec![]);
    let mut rounds = gpu.subscribe();
    for _ in 0..2 {
        tokio::time::timeout(GUARD, rounds.changed())
            .await
            .unwrap()
            .unwrap();
    }
    let (fig, samples) = gpu.end_point(meter, 10);
    let fig = fig.unwrap();
    assert_eq!(
        fig.gpus.iter().map(|g| g.index).collect::<Vec<_>>(),
        vec![1]
    );
    assert!(samples.iter().all(|s| s.index == 1));
    assert_eq!(samples.len(), fig.samples as usize);
    cancel.cancel();
}

#[tokio::test]
async fn live_pid_holds_memory_dead_one_does_not() {
    let (gpu, cancel) = fake(2);
    let (me, dead) = (std::process::id(), dead_pid());
    let meter = gpu.begin_point(None, vec![dead]);
    gpu.set_pids(&meter, vec![me, dead]);
    assert_eq!(gpu.pids_holding_memory(vec![me, dead]).await, vec![me]);
    let (fig, _) = gpu.end_point(meter, 1);
    for g in fig.unwrap().gpus {
        assert!(
            g.engine_mem_peak.is_some_and(|b| b <= PROCESS_BYTES),
            "{g:?}"
        );
    }
    // Not registered with any point: the fake does not report it.
    let (gpu2, cancel2) = fake(1);
    assert!(gpu2.pids_holding_memory(vec![me]).await.is_empty());
    cancel.cancel();
    cancel2.cancel();
}

#[tokio::test]
async fn no_gpus_reports_nothing() {
    let gpu = spawn(None, CancellationToken::new());
    assert_eq!(gpu.count(), 0);
    assert!(gpu.latest().is_empty() && gpu.since(0).is_empty());
    assert_eq!(*gpu.subscribe().borrow(), 0);
    let meter = gpu.begin_point(None, vec![std::process::id()]);
    assert_eq!(gpu.end_point(meter, 5), (None, Vec::new()));
    assert!(
        gpu.pids_holding_memory(vec![std::process::id()])
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn dropped_meter_is_forgotten_and_cancel_stops() {
    let (gpu, cancel) = fake(1);
    drop(gpu.begin_point(None, vec![]));
    let mut rounds = gpu.subscribe();
    let meter = gpu.begin_point(None, vec![]);
    assert_eq!(gpu.shared.lock().meters.len(), 1);
    // The second round to finish began after `begin_point` (the first may have been running).
    for _ in 0..2 {
        tokio::time::timeout(GUARD, rounds.changed())
            .await
            .unwrap()
            .unwrap();
    }
    cancel.cancel();
    // Stopped: the round count stays put even though a meter wants 10 Hz.
    let stopped = tokio::time::timeout(GUARD, async {
        loop {
            let before = *rounds.borrow();
            tokio::time::sleep(Duration::from_millis(300)).await;
            if *rounds.borrow() == before {
                break;
            }
        }
    });
    stopped.await.unwrap();
    // Ending after the stop still gives the figures of the rounds it had.
    let (fig, _) = gpu.end_point(meter, 1);
    assert!(fig.is_some());
}

/// A baseline measured on purpose is the one every later point subtracts, whatever the rounds
/// between points looked like (on a real GPU they carry the next point's warm-up).
#[tokio::test]
async fn an_idle_baseline_measured_on_purpose_is_used_by_later_points() {
    let (gpu, cancel) = fake(1);
    let idle = gpu.idle_baseline(None, Duration::from_millis(300)).await;
    assert_eq!(idle.len(), 1);
    let (index, watts) = idle[0];
    assert_eq!(index, 0);
    // The fake's power: 60 W + 2.4 W per util percent.
    assert!((60.0..=300.0).contains(&watts), "{watts}");
    for _ in 0..2 {
        let meter = gpu.begin_point(None, vec![]);
        tokio::time::sleep(Duration::from_millis(250)).await;
        let (fig, _) = gpu.end_point(meter, 10);
        assert_eq!(fig.unwrap().gpus[0].idle_power_w, Some(watts));
    }
    let none = spawn(None, CancellationToken::new());
    assert!(
        none.idle_baseline(None, Duration::from_millis(10))
            .await
            .is_empty()
    );
    cancel.cancel();
}
